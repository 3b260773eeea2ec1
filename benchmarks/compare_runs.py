"""Two finished runs of the workflow side by side, paired by seed: what did the second one change?

Reads the per-seed rows of both summary.csv files (the report rule's) and prints, per method and
output (incumbent, per-seed ensemble), the mean of each run, the mean paired difference (second -
first) with its 95% t-interval over the seeds both runs have, and on how many seeds the second
run was higher. For the selection estimate (train+val only) and the test scores alike: the seeds
pair the same searches, folds and test images, so the difference is the runs' settings' and the
seeds' interaction with them, nothing else.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from scipy import stats

COLUMNS = ("selection_estimate", "test_accuracy", "test_auc")


def per_seed(path: Path) -> pd.DataFrame:
    rows = pd.read_csv(path)
    rows = rows[pd.to_numeric(rows["seed"], errors="coerce").notna()].astype({"seed": int})
    return rows.set_index(["method", "output", "seed"])[list(COLUMNS)]


def paired(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    both = first.add_suffix("_first").join(second.add_suffix("_second"), how="inner")
    rows = []
    for (method, output), group in both.groupby(level=["method", "output"], sort=False):
        for column in COLUMNS:
            difference = group[f"{column}_second"] - group[f"{column}_first"]
            low, high = stats.ttest_1samp(difference, 0).confidence_interval()  # 95%, NaN for one seed
            rows.append({"method": method, "output": output, "score": column, "seeds": len(difference),
                         "first": group[f"{column}_first"].mean(), "second": group[f"{column}_second"].mean(),
                         "difference": difference.mean(), "ci_low": low, "ci_high": high,
                         "second_higher": int((difference > 0).sum())})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path, help="summary.csv of the first run")
    parser.add_argument("second", type=Path, help="summary.csv of the second run")
    args = parser.parse_args()
    table = paired(per_seed(args.first), per_seed(args.second))
    print(f"first: {args.first}\nsecond: {args.second}\n"
          "difference = second - first, mean over the seeds both runs have, with its 95% t-interval")
    print(table.to_string(index=False, float_format="%.4f"))


if __name__ == "__main__":
    main()
