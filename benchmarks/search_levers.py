"""How far a DARTS search separates the operations, for settings that differ from config.yaml, and
when early-stopping rules would end it.

Runs the real search (darts_bohb.darts.run_search, train split only) per seed with the search
section of config.yaml changed by each --set (dotted key = YAML value), and prints per seed the
share of the derived operation among the non-Zero ones, p(derived) / (1 − p(zero)), per node and
averaged (uniform α gives 0.25), next to p(zero), the stop reason, the last epoch's accuracy on
the α half of train, and the seconds. Nothing here reads the val or test split.

--stop-rules RATIO:PATIENCE... runs every search to its last epoch (early stopping off) and replays
each rule (early_stopping.skip_ratio and patience, the other keys as configured) on its α
trajectory, epoch by epoch, as the search would have: per rule and seed, the epoch it stops at,
the α epochs run, and the mean derived share of the genotype it would have exported. A stop only
truncates the trajectory, so one full search per seed serves every rule. --keep DIR saves each
seed's alphas.csv and search.json there; --replay reads them back instead of searching.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from darts_bohb.darts import run_search, skip_nodes, skip_threshold
from darts_bohb.export import genotype_from_search
from darts_bohb.ops import OPERATIONS
from darts_bohb.runtime import make_runtime
from darts_bohb.search_space import SuperNet
from darts_bohb.settings import SearchSettings, from_dict

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


def search_section(overrides: list[str]) -> dict:
    section = copy.deepcopy(yaml.safe_load(CONFIG.read_text())["search"])
    for override in overrides:
        dotted, _, value = override.partition("=")
        *parents, key = dotted.split(".")
        node = section
        for parent in parents:
            node = node[parent]
        if key not in node:
            raise SystemExit(f"--set {override}: search.{dotted} is not a key of config.yaml")
        node[key] = yaml.safe_load(value)
    return section


def seed_list(text: list[str]) -> list[int]:
    """'1 2 5-8' -> [1, 2, 5, 6, 7, 8]"""
    seeds = []
    for part in text:
        first, _, last = part.partition("-")
        seeds += list(range(int(first), int(last or first) + 1))
    return seeds


def derived_shares(alphas: pd.DataFrame, summary: dict) -> dict[str, tuple[str, float, float]]:
    """Per node: the derived operation, its share among the non-Zero ones, and p(zero)."""
    genotype = genotype_from_search(alphas, summary)
    shares = {}
    for node in genotype.topology.node_names:
        probabilities = genotype.probabilities[node]
        derived = genotype.derived(node)
        shares[node] = (derived, probabilities[derived] / (1.0 - probabilities["zero"]), probabilities["zero"])
    return shares


def mean_share(alphas: pd.DataFrame, summary: dict) -> float:
    shares = derived_shares(alphas, summary)
    return sum(value[1] for value in shares.values()) / len(shares)


def replay(alphas: pd.DataFrame, summary: dict, settings: SearchSettings, ratio: float, patience: int) -> int:
    """The epoch after which the rule (ratio, patience) would have stopped the search; the last one if never."""
    rule = {**settings.to_dict()["early_stopping"], "enabled": True, "skip_ratio": ratio, "patience": patience}
    replayed = from_dict(SearchSettings, {**settings.to_dict(), "early_stopping": rule}, "search")
    net = SuperNet(3, 5, settings.channels, settings.pool, settings.kernel_sizes, settings.surrogate_skip.mode,
                   include_zero=settings.include_zero)
    names = net.topology.node_names
    counted = net.parameter_free_skip_nodes() if rule["parameter_free_only"] else None
    counts = []
    for epoch in range(1, summary["epochs_run"] + 1):
        table = alphas[alphas.epoch == epoch].pivot(index="node", columns="operation", values="probability")
        probabilities = torch.tensor(table.loc[list(names), list(OPERATIONS)].to_numpy())
        counts.append(len(skip_nodes(probabilities, names, skip_threshold(replayed), counted)))
        recent = counts[-patience:]
        if len(recent) == patience and min(recent) >= rule["max_skips"]:
            return epoch
    return summary["epochs_run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--seeds", nargs="+", default=["1"], help="seeds, or ranges such as 1-12")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--stop-rules", nargs="+", default=[], metavar="RATIO:PATIENCE")
    parser.add_argument("--keep", type=Path, help="folder for each seed's alphas.csv and search.json")
    parser.add_argument("--replay", action="store_true", help="read the searches kept in --keep instead of searching")
    args = parser.parse_args()
    rules = [(float(ratio), int(patience)) for ratio, patience in (rule.split(":") for rule in args.stop_rules)]
    overrides = args.set + (["early_stopping.enabled=false"] if rules else [])
    settings = from_dict(SearchSettings, search_section(overrides), "search")
    runtime = make_runtime("cpu", "auto", args.threads)
    print(f"settings changed: {overrides or 'none'}; torch threads {torch.get_num_threads()}")
    shares, replayed = [], []
    for seed in seed_list(args.seeds):
        started = time.perf_counter()
        kept = args.keep / f"seed{seed}" if args.keep else None
        if args.replay:
            alphas, summary = pd.read_csv(kept / "alphas.csv"), json.loads((kept / "search.json").read_text())
        else:
            with tempfile.TemporaryDirectory() as state_dir:
                result = run_search(args.data, seed, "retinamnist", 28, settings, runtime, state_dir)
            alphas, summary = result.alphas, result.summary
            if kept:
                kept.mkdir(parents=True, exist_ok=True)
                alphas.to_csv(kept / "alphas.csv", index=False)
                (kept / "search.json").write_text(json.dumps(summary, indent=2))
            last = result.epochs.iloc[-1]
            print(f"seed {seed}: epochs {summary['epochs_run']}/{summary['epochs_planned']}  arch-half acc "
                  f"{last['arch_acc']:.3f}  {time.perf_counter() - started:.0f} s  stop: {summary['stop_reason']}")
        per_node = derived_shares(alphas, summary)
        share = sum(value[1] for value in per_node.values()) / len(per_node)
        shares.append(share)
        print(f"seed {seed}: mean share {share:.3f}  mean p_zero "
              f"{sum(value[2] for value in per_node.values()) / len(per_node):.3f}")
        print("    " + "  ".join(f"{node}:{derived}={value:.2f}" for node, (derived, value, _) in per_node.items()))
        for ratio, patience in rules:
            stop = replay(alphas, summary, settings, ratio, patience)
            replayed.append({"ratio": ratio, "patience": patience, "seed": seed, "stop_epoch": stop,
                             "alpha_epochs": stop - settings.arch.warmup_epochs,
                             "share": mean_share(alphas[alphas.epoch <= stop], {**summary, "epochs_run": stop})})
    print(f"mean share over seeds {sum(shares) / len(shares):.3f}, min {min(shares):.3f}")
    if replayed:
        table = pd.DataFrame(replayed)
        print("\nper rule and seed, the α epochs a search would have run (its stop epoch less the warm-up):")
        print(table.pivot(index=["ratio", "patience"], columns="seed", values="alpha_epochs").to_string())
        summary_table = table.groupby(["ratio", "patience"]).agg(
            mean_share=("share", "mean"), min_share=("share", "min"), min_alpha_epochs=("alpha_epochs", "min"),
            mean_alpha_epochs=("alpha_epochs", "mean"),
            stopped=("stop_epoch", lambda stops: int((stops < settings.epochs).sum())))
        print("\nper rule: mean and least derived share at the stop, α epochs run, seeds stopped early:")
        print(summary_table.round(3).to_string())


if __name__ == "__main__":
    main()
