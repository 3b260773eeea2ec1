"""The two outputs of every run and the score each was chosen by, against its test score.

Each method's final rule scores two outputs per seed: the incumbent (the one configuration BOHB
chose, retrained on train+val: metrics.json) and the per-seed ensemble (the fold models of the
configurations greedy ensemble selection chose, their probabilities averaged: ensemble/metrics.json).
Each carries its selection estimate, the score it was chosen by, computed on train+val only,
with its standard error. The gap estimate − test shows how far that estimate can be trusted:
the best of many noisy estimates is high partly by luck, and the test split does not share it.
"""

from __future__ import annotations

import pandas as pd

from darts_bohb.report.collect import METHOD_LABELS, METHODS, METRIC_LABELS, SeedsByMethod, seeds_phrase
from darts_bohb.report.markdown import number, table

INCUMBENT = "incumbent"
SEED_ENSEMBLE = "seed_ensemble"
# The values of summary.csv's column `output`, in the order the report lists them, and their words.
OUTPUT_LABELS = {INCUMBENT: "incumbent", SEED_ENSEMBLE: "per-seed ensemble"}


def output_label(method: str, output: str) -> str:
    return f"{METHOD_LABELS[method]}, {OUTPUT_LABELS[output]}"


def chosen_metric(summary: pd.DataFrame) -> str:
    """The metric BOHB maximised, in words; every seed of a run maximises the same one."""
    return ", ".join(METRIC_LABELS[m] for m in sorted(set(summary["val_metric"].dropna()))) or "score"


def estimated_test_scores(frame: pd.DataFrame) -> pd.Series:
    """Per row, the test score of the metric the selection estimate is of (val_metric)."""
    test = pd.Series(float("nan"), index=frame.index)
    for metric in frame["val_metric"].dropna().unique():
        chosen = frame["val_metric"] == metric
        test[chosen] = frame.loc[chosen, f"test_{metric}"].astype(float)
    return test


def selection_gaps(frame: pd.DataFrame) -> pd.Series:
    """selection_estimate − the test score of the same metric, per row; NaN where either is
    undefined (no estimate in a result file from before it existed, an undefined test AUC)."""
    return frame["selection_estimate"].astype(float) - estimated_test_scores(frame)


def selection_methods(summary: pd.DataFrame) -> list[str]:
    """How the estimates were made (selection_method), each wording once, in order of appearance."""
    return list(dict.fromkeys(summary["selection_method"].dropna()))


def estimate_cell(runs: pd.DataFrame) -> str:
    """The mean selection estimate ± the mean of its standard errors over the runs that have one."""
    defined = runs[runs["selection_estimate"].notna()]
    if defined.empty:
        return "—"
    left_out = len(runs) - len(defined)
    cell = f"{defined['selection_estimate'].mean():.4f} ± {defined['selection_std_error'].mean():.4f}"
    return cell + (f" ({left_out} without an estimate left out)" if left_out else "")


def selection_section(summary: pd.DataFrame, seeds: SeedsByMethod) -> str:
    """Per method, output and seed: estimate, standard error, test score and gap; then the mean gap."""
    metric = chosen_metric(summary)
    lines = ["## Selection estimate against test score", "",
             "The selection estimate is the score an output was chosen by: the incumbent's is BOHB's score of "
             "the configuration, the per-seed ensemble's its own out-of-fold score. Both read only train+val, "
             "never the test split; SE is the estimate's standard error (a bootstrap over the out-of-fold images). "
             "A positive gap (estimate − test) is the selection bias of choosing the best of many noisy estimates: "
             "the chosen one's estimate is high partly by luck, which its test score does not share. Each bold row "
             "is the mean over the seeds with both numbers, with their count."]
    if summary["selection_estimate"].isna().all():
        lines += ["", "No result file carries a selection estimate (they were written before it existed), "
                      "so none is set against the test scores."]
        return "\n".join(lines)
    lines += ["", "How the estimates were made: " + "; ".join(f"`{text}`" for text in selection_methods(summary))
              + "."]
    header = ["output", "seed", "models", f"selection estimate ({metric})", "SE", f"test {metric}", "estimate − test"]
    tests, gaps = estimated_test_scores(summary), selection_gaps(summary)
    for method in METHODS:
        runs = summary[summary["method"] == method]
        if runs.empty:
            continue
        rows = []
        for output in OUTPUT_LABELS:
            of_output = runs[runs["output"] == output]
            if of_output.empty:
                continue
            rows += [[OUTPUT_LABELS[output], str(row["seed"]), _models(row), number(row["selection_estimate"]),
                      number(row["selection_std_error"]), number(tests[index]), number(gaps[index], signed=True)]
                     for index, row in of_output.iterrows()]
            rows.append(_mean_row(output, of_output, tests[of_output.index], gaps[of_output.index]))
        lines += ["", f"### {METHOD_LABELS[method]} ({seeds_phrase(len(seeds.of(method)))})", "", table(header, rows)]
    return "\n".join(lines)


def _models(row: pd.Series) -> str:
    if row["output"] == INCUMBENT:
        return "1"
    configurations = len(str(row["members"]).split())
    return f"{row['n_models']} (fold models of {configurations} configuration{'s' if configurations > 1 else ''})"


def _mean_row(output: str, runs: pd.DataFrame, tests: pd.Series, gaps: pd.Series) -> list[str]:
    """Estimate, SE, test score and gap averaged over the same seeds (those with a gap), so that the
    mean gap is the mean estimate minus the mean test score."""
    with_gap = gaps.notna()
    count = seeds_phrase(int(with_gap.sum())) if with_gap.any() else "no seed"
    left_out = f"; {int((~with_gap).sum())} without an estimate or test score left out" if not with_gap.all() else ""
    mean = {column: values[with_gap].mean() if with_gap.any() else None for column, values in (
        ("estimate", runs["selection_estimate"]), ("error", runs["selection_std_error"]), ("test", tests),
        ("gap", gaps))}
    return [f"**{OUTPUT_LABELS[output]}, mean**", f"**{count}{left_out}**", "", number(mean["estimate"]),
            number(mean["error"]), number(mean["test"]), f"**{number(mean['gap'], signed=True)}**"]
