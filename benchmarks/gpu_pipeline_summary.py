"""Seconds per stage and test scores of a pipeline run, beside the recorded CPU run.

Reads Snakemake's benchmark records (PIPELINE_DIR/results/retinamnist_28/benchmarks/{rule}/*.tsv: one per job)
and the final trainings' metrics.json, and writes DIR/pipeline_stages.tsv (per rule: jobs, sum,
mean and max of the jobs' seconds) and DIR/pipeline_scores.tsv (per method, seed and output, the
incumbent or the seed's ensemble: test accuracy and AUC). Jobs run side by side, so the sum of
a rule's seconds exceeds its share of the wall-clock. The CPU reference, the recorded run of the
same config on 2 cores, is benchmarks/results/retinamnist-default/summary.csv unless --reference
names another (a preset's run); a reference that does not exist is left out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

REFERENCE = Path(__file__).resolve().parent / "results" / "retinamnist-default" / "summary.csv"
RUN = Path("results") / "retinamnist_28"  # the data set gpu_check.sh runs
FINAL_FOLDERS = {"nas": RUN / "final", "random": RUN / "random" / "final", "baseline": RUN / "baseline" / "final"}


def stage_seconds(pipeline: Path) -> pd.DataFrame:
    records = [(tsv.parent.name, float(pd.read_csv(tsv, sep="\t")["s"].iloc[0]))
               for tsv in sorted((pipeline / RUN / "benchmarks").glob("*/*.tsv"))]
    jobs = pd.DataFrame(records, columns=["rule", "seconds"])
    return (jobs.groupby("rule")["seconds"].agg(jobs="count", sum_s="sum", mean_s="mean", max_s="max")
            .round(1).reset_index())


OUTPUTS = {"incumbent": "metrics.json", "seed_ensemble": "ensemble/metrics.json"}


def test_scores(pipeline: Path) -> pd.DataFrame:
    rows = []
    for method, folder in FINAL_FOLDERS.items():
        for seed_folder in sorted((pipeline / folder).glob("seed*")):
            for output, name in OUTPUTS.items():
                if not (seed_folder / name).is_file():
                    continue
                metrics = json.loads((seed_folder / name).read_text())
                rows.append({"method": method, "output": output, "seed": int(seed_folder.name.removeprefix("seed")),
                             "test_accuracy": metrics.get("accuracy"), "test_auc": metrics.get("auc")})
    return pd.DataFrame(rows, columns=["method", "output", "seed", "test_accuracy", "test_auc"])


def spread(scores: pd.DataFrame) -> pd.DataFrame:
    return (scores.groupby(["method", "output"])[["test_accuracy", "test_auc"]]
            .agg(["mean", "std", "count"]).round(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipeline", type=Path, help="the folder Snakemake ran in")
    parser.add_argument("--wall-clock", type=float, required=True, help="seconds the pipeline took")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--reference", type=Path, default=REFERENCE,
                        help="summary.csv of the recorded CPU run of the same config")
    args = parser.parse_args()

    stages = stage_seconds(args.pipeline)
    stages.to_csv(args.out / "pipeline_stages.tsv", sep="\t", index=False)
    print(f"wall-clock of the pipeline: {args.wall_clock:.0f} s ({args.wall_clock / 60:.1f} min)")
    if stages.empty:
        print(f"no job finished: no benchmark record under {RUN}/benchmarks/")
    else:
        print("seconds per stage (jobs run side by side; sum_s adds up all jobs of a rule):")
        print(stages.to_string(index=False))

    scores = test_scores(args.pipeline)
    scores.to_csv(args.out / "pipeline_scores.tsv", sep="\t", index=False)
    if scores.empty:
        print("no final metrics.json: the pipeline did not reach the final trainings")
        return
    print("\ntest scores of this run, per method (mean, std over seeds, seeds):")
    print(spread(scores).to_string())
    if not args.reference.is_file():
        print(f"\nno recorded CPU run of this config to compare with ({args.reference} does not exist)")
    else:
        reference = pd.read_csv(args.reference)
        reference = reference[pd.to_numeric(reference["seed"], errors="coerce").notna()]
        print(f"\nthe recorded CPU run of the same config ({args.reference}):")
        print(spread(reference[["method", "output", "test_accuracy", "test_auc"]]).to_string())


if __name__ == "__main__":
    main()
