"""What the report scripts share: seeds and per-seed file arguments, and error handling.

Files are given per seed, in the order of the seeds (as Snakemake's expand() lists them), so a
script reads exactly the files its rule declares as inputs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from darts_bohb.cli import run_script
from darts_bohb.report.collect import METHODS, STAGE_RULES, ReportInputError, RunKey, SeedsByMethod

# The methods besides NAS, each with its own --METHOD-seeds and --METHOD-KIND options.
OTHER_METHODS = tuple(method for method in METHODS if method != "nas")
SEED_KEYS = {"random": "random.seeds", "baseline": "baseline.seeds"}


def add_seed_arguments(parser: argparse.ArgumentParser, baseline: bool = True) -> None:
    """--seeds for NAS+BOHB and, unless `baseline` is False, --random-seeds and --baseline-seeds."""
    parser.add_argument("--seeds", type=int, nargs="+", required=True,
                        help="seeds of the NAS+BOHB runs (config key seeds)")
    if baseline:
        for method in OTHER_METHODS:
            parser.add_argument(f"--{method}-seeds", type=int, nargs="*", default=[],
                                help=f"seeds of the {method} runs (config key {SEED_KEYS[method]}); none is allowed")


def add_file_arguments(parser: argparse.ArgumentParser, kind: str, what: str, baseline: bool = True,
                       required: bool = True) -> None:
    """--KIND: one file per NAS+BOHB seed; --random-KIND and --baseline-KIND: one per seed of those.
    An underscore in `kind` is a hyphen in the options; with required=False --KIND may be left out."""
    option = kind.replace("_", "-")
    parser.add_argument(f"--{option}", type=Path, nargs="+" if required else "*", required=required,
                        default=None if required else [],
                        help=f"{what} of each NAS+BOHB seed, in the order of --seeds")
    if baseline:
        for method in OTHER_METHODS:
            parser.add_argument(f"--{method}-{option}", type=Path, nargs="*", default=[],
                                help=f"{what} of each {method} seed, in the order of --{method}-seeds")


def add_benchmark_arguments(parser: argparse.ArgumentParser) -> None:
    """--RULE-benchmarks per stage rule; optional, since only Snakemake writes benchmark files."""
    for method, stages in STAGE_RULES.items():
        for rule in stages.values():
            parser.add_argument(f"--{rule.replace('_', '-')}-benchmarks", type=Path, nargs="*", default=[],
                                help=f"Snakemake benchmark file of rule {rule} per {method} seed (optional)")


def seeds_from(args: argparse.Namespace) -> SeedsByMethod:
    return SeedsByMethod(nas=tuple(args.seeds), baseline=tuple(getattr(args, "baseline_seeds", ())),
                         random=tuple(getattr(args, "random_seeds", ())))


def files_by_seed(parser: argparse.ArgumentParser, seeds: tuple[int, ...], files: list[Path],
                  option: str) -> dict[int, Path]:
    if len(files) != len(seeds):
        parser.error(f"{option}: expected one file per seed ({len(seeds)} seeds: {list(seeds)}), got {len(files)}")
    return dict(zip(seeds, files))


def files_by_run(parser: argparse.ArgumentParser, args: argparse.Namespace, kind: str) -> dict[RunKey, Path]:
    """The --KIND, --random-KIND and --baseline-KIND files keyed by (method, seed)."""
    seeds = seeds_from(args)
    runs: dict[RunKey, Path] = {}
    for method in METHODS:
        option = kind if method == "nas" else f"{method}_{kind}"
        files = files_by_seed(parser, seeds.of(method), getattr(args, option), f"--{option.replace('_', '-')}")
        runs.update({(method, seed): path for seed, path in files.items()})
    return runs


def optional_files_by_run(parser: argparse.ArgumentParser, args: argparse.Namespace,
                          kind: str) -> dict[RunKey, Path] | None:
    """files_by_run for files that results from before them lack: None when no --*KIND option was
    given, else one file per seed of every method, as for a required kind."""
    options = [kind if method == "nas" else f"{method}_{kind}" for method in METHODS]
    if not any(getattr(args, option) for option in options):
        return None
    return files_by_run(parser, args, kind)


def benchmark_files(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[tuple[str, int, str], Path]:
    """Benchmark files keyed by (method, seed, stage); a rule given no files has none."""
    seeds = seeds_from(args)
    found: dict[tuple[str, int, str], Path] = {}
    for method, stages in STAGE_RULES.items():
        for stage, rule in stages.items():
            files = getattr(args, f"{rule}_benchmarks")
            if files:
                by_seed = files_by_seed(parser, seeds.of(method), files, f"--{rule.replace('_', '-')}-benchmarks")
                found.update({(method, seed, stage): path for seed, path in by_seed.items()})
    return found


def run_reporting(task: Callable[[], None]) -> int:
    """Run one report script's work; a bad result file ends it with its message and exit code 1."""
    return run_script(task, (ReportInputError,))
