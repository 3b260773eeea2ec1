"""The default's place on its own quality-versus-cost curve: one knob at a time, the others at
their defaults, measured on train+val only (no test image is read). EXPERIMENTS.md (issue 25) has
the commands as run.

`subsample` keeps a stratified, seeded fraction of the train split (val and test whole), a data set
of one's own for the check of epoch_size: its `run` compares one epoch as a pass over the smaller
train split (min_images 1) with the default unit (at least 1,000 images), for one method.

`run` gives each point a folder of its own under ROOT and runs the workflow there (config.yaml with
the point's value) up to each NAS seed's ensemble.pt: the search and BOHB, never a final training.
Points that change only BOHB start from a copy of the first point's searches (the same settings,
so Snakemake reruns none). `table` reads every point back: per seed the per-seed ensemble's
cross-validation estimate and its standard error, the incumbent's, the candidates the ensemble was
chosen from (the cross-validated configurations), the α epochs the search ran, and the jobs' wall
and CPU seconds from Snakemake's benchmark files (the search's counted in every point that uses
it). It writes curve.csv and curve.png (estimate ± SE against core-minutes, one line per knob) and
prints the verdict of the rule in benchmarks/EXPERIMENTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from scipy import stats  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MARGIN = 0.01  # the loss of CV accuracy a cheaper point may have against the default (EXPERIMENTS.md)


def seed_list(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def point_config(knob: str, value: str, data: Path, seeds: list[int], flag: str) -> dict:
    section, key = knob.split(".")
    dataset = {"flag": flag, "size": 28, "source": str(data)} | ({} if flag == "retinamnist" else
                                                                   {"task": "ordinal-regression"})
    return {"datasets": [dataset], "seeds": seeds, "baseline": {"seeds": seeds}, section: {key: yaml.safe_load(value)}}


def method_folder(method: str) -> str:
    return "bohb" if method == "nas" else f"{method}/bohb"


def run(root: Path, data: Path, seeds: list[int], points: list[str], cores: int, flag: str, method: str) -> None:
    run_folder = f"results/{flag}_28"
    first = None
    for spec in points:
        knob, _, values = spec.partition("=")
        for value in values.split(","):
            folder = root / f"{knob}={value}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "point.yaml").write_text(yaml.safe_dump(point_config(knob, value, data, seeds, flag)))
            if knob.startswith("hpo.") and first is not None and not (folder / run_folder).exists():
                for shared in ("data.npz", "search", "benchmarks/darts_search", "logs/darts_search"):
                    (folder / run_folder / shared).parent.mkdir(parents=True, exist_ok=True)
                    copy = shutil.copytree if (first / run_folder / shared).is_dir() else shutil.copy2
                    copy(first / run_folder / shared, folder / run_folder / shared)
            targets = [f"{run_folder}/{method_folder(method)}/seed{seed}/ensemble.pt" for seed in seeds]
            # The rules' `python` is this interpreter's, which has the package.
            env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
            subprocess.run([sys.executable, "-m", "snakemake", *targets, "--cores", str(cores), "-s",
                            str(REPO / "Snakefile"), "-d", str(folder), "--configfile", str(REPO / "config.yaml"),
                            str(folder / "point.yaml")], check=True, env=env)
            first = first or (folder if knob.startswith("hpo.") else None)


def seconds(folder: Path, rule: str, seed: int) -> tuple[float, float]:
    """Wall and CPU seconds of a job; none for a search that the method does not run."""
    path = folder / "benchmarks" / rule / f"seed{seed}.tsv"
    if not path.is_file():
        return 0.0, 0.0
    record = pd.read_csv(path, sep="\t").iloc[0]
    return float(record["s"]), float(record["cpu_time"])


def table(root: Path, method: str) -> pd.DataFrame:
    rows = []
    for folder in sorted(path for path in root.iterdir() if (path / "point.yaml").is_file()):
        knob, _, value = folder.name.partition("=")
        config = yaml.safe_load((folder / "point.yaml").read_text())
        max_budget = yaml.safe_load((REPO / "config.yaml").read_text())["hpo"]["max_budget"]
        results = folder / "results" / f"{config['datasets'][0]['flag']}_28"
        rule = "bohb" if method == "nas" else f"{method}_bohb"
        for seed in config["seeds"]:
            bohb = results / method_folder(method) / f"seed{seed}"
            ensemble = torch.load(bohb / "ensemble.pt", weights_only=True)
            incumbent = json.loads((bohb / "incumbent.json").read_text())
            trials = pd.read_csv(bohb / "runhistory.csv")
            search = results / "search" / f"seed{seed}" / "search.json"
            alpha_epochs = json.loads(search.read_text())["alpha_epochs_run"] if search.is_file() else None
            (search_s, search_cpu), (bohb_s, bohb_cpu) = (seconds(results, name, seed) for name in ("darts_search",
                                                                                                      rule))
            rows.append({
                "knob": knob, "value": yaml.safe_load(value), "seed": seed,
                "estimate": ensemble["selection_estimate"], "std_error": ensemble["selection_std_error"],
                "incumbent_estimate": incumbent["selection_estimate"],
                "candidates": int(((trials["budget"] == max_budget) & trials["std_error"].notna()).sum()),
                "alpha_epochs_run": alpha_epochs,
                "job_seconds": search_s + bohb_s, "cpu_seconds": search_cpu + bohb_cpu,
            })
    curve = pd.DataFrame(rows)
    # The point with every knob at its default is the reference of each knob: one run serves all.
    defaults = default_values(curve["knob"].unique())
    at_default = curve[curve["value"] == curve["knob"].map(defaults)].drop_duplicates("seed")
    shared = [at_default.assign(knob=knob, value=value) for knob, value in defaults.items()
              if not ((curve["knob"] == knob) & (curve["value"] == value)).any()]
    return pd.concat([curve, *shared], ignore_index=True)


def default_values(knobs) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    return {knob: config[knob.split(".")[0]][knob.split(".")[1]] for knob in knobs}


def verdict(curve: pd.DataFrame, defaults: dict) -> list[str]:
    """The rule written down before the run: per knob, against the default's per-seed estimates."""
    lines = []
    for knob, points in curve.groupby("knob"):
        reference = points[points["value"] == defaults[knob]].set_index("seed")
        cost = points.groupby("value")["cpu_seconds"].mean()
        chosen = defaults[knob]
        for value, point in points.groupby("value"):
            if value == defaults[knob]:
                continue
            difference = point.set_index("seed")["estimate"] - reference["estimate"]
            low, high = stats.ttest_1samp(difference, 0, nan_policy="omit").confidence_interval()
            gain = stats.ttest_1samp(difference, 0, nan_policy="omit", alternative="greater")  # one-sided 95% bound
            mean, one_sided = difference.mean(), difference.mean() - gain.confidence_interval().low
            if cost[value] < cost[defaults[knob]]:
                passes = -mean + one_sided < MARGIN  # the loss's one-sided upper bound
                test = f"loss upper bound {-mean + one_sided:+.4f} {'<' if passes else '>='} {MARGIN}"
                if passes and cost[value] < cost[chosen]:
                    chosen = value
            else:
                passes = mean - one_sided > 0  # the gain's one-sided lower bound
                test = f"gain lower bound {mean - one_sided:+.4f} {'>' if passes else '<='} 0"
                if passes and chosen == defaults[knob]:
                    chosen = value
            lines.append(f"{knob}={value}: {mean:+.4f} CV accuracy against {defaults[knob]} (95% CI {low:+.4f} to "
                         f"{high:+.4f}, n={len(difference)}), {cost[value] / 60:.1f} against "
                         f"{cost[defaults[knob]] / 60:.1f} core-minutes a seed; {test}")
        lines.append(f"{knob}: the rule keeps {chosen}" if chosen == defaults[knob] else f"{knob}: the rule moves "
                     f"the default from {defaults[knob]} to {chosen}")
    return lines


def draw(curve: pd.DataFrame, path: Path) -> None:
    means = curve.groupby(["knob", "value"]).agg(estimate=("estimate", "mean"), std_error=("std_error", "mean"),
                                                 minutes=("cpu_seconds", lambda s: s.mean() / 60),
                                                 n=("seed", "count")).reset_index()
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for knob, points in means.groupby("knob"):
        points = points.sort_values("minutes")
        axis.errorbar(points["minutes"], points["estimate"], yerr=points["std_error"], marker="o", capsize=3,
                      label=f"{knob} (n={points['n'].min()} seeds)")
        for _, point in points.iterrows():
            axis.annotate(f"{point['value']}", (point["minutes"], point["estimate"]), textcoords="offset points",
                          xytext=(4, 4), fontsize=8)
    axis.set_xlabel("core-minutes per seed (search + BOHB, CPU time)")
    axis.set_ylabel("per-seed ensemble, CV accuracy ± SE (train+val)")
    axis.set_title("RetinaMNIST 28 px: quality against cost, one knob at a time")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=150)


def subsample(data: Path, fraction: float, out: Path) -> None:
    """A stratified, seeded `fraction` of the train split; val and test whole."""
    arrays = dict(np.load(data))
    total = len(arrays["train_labels"])
    keep, _ = train_test_split(np.arange(total), train_size=fraction, random_state=0,
                               stratify=arrays["train_labels"][:, 0])
    arrays |= {key: arrays[key][np.sort(keep)] for key in ("train_images", "train_labels")}
    np.savez_compressed(out, **arrays)
    print(f"{out}: {len(keep)} of {total} train images kept")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("run", "table", "subsample"))
    parser.add_argument("root", type=Path, nargs="?")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--flag", default="retinamnist", help="a subsample's own flag (its task: ordinal)")
    parser.add_argument("--method", default="nas", choices=("nas", "random", "baseline"))
    parser.add_argument("--fraction", type=float, help="subsample: the share of the train split kept")
    parser.add_argument("--seeds", default="1-5")
    parser.add_argument("--points", nargs="+", default=["hpo.total_epochs=160,54,80,320", "search.epochs=15"],
                        metavar="SECTION.KEY=VALUE,...")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "budget-curve")
    args = parser.parse_args()
    if args.command == "subsample":
        subsample(args.data, args.fraction, args.out)
        return
    if args.command == "run":
        run(args.root.resolve(), args.data.resolve(), seed_list(args.seeds), args.points, args.cores, args.flag,
            args.method)
        return
    curve = table(args.root, args.method)
    args.out.mkdir(parents=True, exist_ok=True)
    curve.to_csv(args.out / "curve.csv", index=False)
    draw(curve, args.out / "curve.png")
    defaults = default_values(curve["knob"].unique())
    print(curve.groupby(["knob", "value"])[["estimate", "std_error", "incumbent_estimate", "candidates",
                                            "alpha_epochs_run", "cpu_seconds"]].mean().round(4).to_string())
    print("\n".join(verdict(curve, defaults)))


if __name__ == "__main__":
    main()
