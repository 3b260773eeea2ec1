"""The leaderboard across data sets, read from each data set's summary.csv and comparisons.csv alone, so
that the two cannot disagree: per data set, method and output the test ACC and AUC over the seeds, the
best published rows from scratch and pretrained, and on NAS+BOHB's rows the verdict of NAS − random."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import seaborn as sns

from darts_bohb.io import write_csv, write_text
from darts_bohb.methods import METHODS
from darts_bohb.report import references as published
from darts_bohb.report.comparisons import Verdict, verdict
from darts_bohb.report.run import METHOD_LABELS, METRIC_LABELS, OUTPUT_LABELS, OUTPUTS, seeds_phrase
from darts_bohb.report.style import METHOD_COLORS, save_figure
from darts_bohb.report.summary import table, verdict_sentence

KINDS = {"scratch": published.FROM_SCRATCH, "pretrained": published.PRETRAINED}  # column prefix: training
METRICS = ("accuracy", "auc")
REFERENCES = [(kind, metric) for metric in METRICS for kind in KINDS]
VERDICT = "nas_vs_random"  # the prefix of the verdict's columns


def leaderboard_rows(entry: dict, summary: pd.DataFrame, verdicts: list[Verdict]) -> pd.DataFrame:
    # An undefined AUC is NaN, left out of its mean and std: n_auc says how many seeds they are of.
    board = summary.groupby(["method", "output"], sort=False).agg(n=("seed", "size"), n_auc=("test_auc", "count"), **{
        f"test_{m}{suffix}": (f"test_{m}", how) for m in METRICS for suffix, how in (("", "mean"), ("_std", "std"))})
    # A data set of one's own (its task given) has no published results, whatever its name.
    references = () if entry.get("task") else published.published_results(entry["flag"], entry["size"])
    for kind, metric in REFERENCES:
        ref, column = published.best_published(references, metric)[KINDS[kind]], f"{kind}_{metric}"
        board[f"{column}_reference"] = (f"{ref.label} ({ref.training}, {ref.resolution}; {ref.source})" if ref else
                                        "none: a data set of one's own" if entry.get("task") else
                                        f"none in the reference table for {entry['flag']} at {entry['size']} px")
        board[column] = getattr(ref, metric) if ref else float("nan")
        board[f"{column}_difference"] = board[f"test_{metric}"] - board[column]
    # One row per verdict; grouped by output, each metric fills its own columns.
    columns = pd.DataFrame([{"method": "nas", "output": v.output, f"{VERDICT}_seeds": v.n_seeds,
                             f"{VERDICT}_basis": v.basis, f"{VERDICT}_{v.metric}": v.outcome} | {
        f"{VERDICT}_{v.metric}_{key}": getattr(v, key) for key in ("difference", "ci_low", "ci_high")}
        for v in verdicts]).groupby(["method", "output"]).first()
    board = board.join(columns, how="left").reset_index().astype({f"{VERDICT}_seeds": "Int64"})
    return board.assign(dataset=entry["flag"], size=entry["size"])[["dataset", "size", *board.columns]]


def write_leaderboard(entries: list[dict], outputs: list[str]) -> None:
    files = {Path(path).suffix: path for path in outputs}
    here = Path(files[".md"]).parent  # links in the markdown are relative to its folder
    figures = [path for path in outputs if path.endswith((".png", ".svg"))]
    summaries, verdicts, links, boards = {}, {}, {}, []
    for entry in entries:
        folder, name = Path(entry["reports"]), f"{entry['flag']} {entry['size']} px"
        summaries[name] = pd.read_csv(folder / "summary.csv")
        comparisons = pd.read_csv(folder / "comparisons.csv", dtype={"level": str})
        verdicts[name] = [verdict(comparisons, "nas", "random", o, m) for o in OUTPUTS for m in METRICS]
        links[name] = f"[{name}]({os.path.relpath(folder / 'summary.md', here)})"
        boards.append(leaderboard_rows(entry, summaries[name], verdicts[name]))
    board = pd.concat(boards, ignore_index=True)
    save_figure(plot_leaderboard(summaries, board), figures)
    write_csv(files[".csv"], board)
    write_text(files[".md"], render_leaderboard(board, links, verdicts, os.path.relpath(figures[0], here)))


def render_leaderboard(board: pd.DataFrame, links: dict, verdicts: dict[str, list[Verdict]], figure: str) -> str:
    """`links`: the markdown link of each data set's summary.md, by "flag size px"."""
    def scores(row, metric: str, n: int) -> str:  # mean ± std over n seeds (one seed has no spread)
        text = f"{row[f'test_{metric}']:.4f}" + (f" ± {row[f'test_{metric}_std']:.4f}" if n > 1 else "") if n else "—"
        return text + (f" ({row['n'] - n} undefined left out)" if n < row["n"] else "")

    records = [(links[f"{row['dataset']} {row['size']} px"], row) for row in board.to_dict("records")]
    rows = [[link, f"{METHOD_LABELS[row['method']]}, {OUTPUT_LABELS[row['output']]}", seeds_phrase(row["n"]),
             scores(row, "accuracy", row["n"]), scores(row, "auc", row["n_auc"]),
             *("—" if pd.isna(d := row[f"{k}_{m}_difference"]) else f"{d:+.4f}" for k, m in REFERENCES)]
            for link, row in records]
    best = {link: "; ".join(f"{METRIC_LABELS[m]}, {KINDS[k]}: {row[f'{k}_{m}_reference']}" + (
        "" if pd.isna(row[f"{k}_{m}"]) else f" {row[f'{k}_{m}']:g}") for k, m in REFERENCES) for link, row in records}
    unchecked = board.filter(like="_reference").apply(lambda refs: refs.str.contains(published.UNCHECKED_MARK))
    return "\n".join([
        "# Leaderboard across data sets", "",
        "Each method's incumbent and per-seed ensemble per data set and image size: test scores as mean ± std over the "
        "seeds (n − 1) of each seed's `metrics.json` and `ensemble/metrics.json` (via the data set's `summary.csv`), "
        "and that mean minus the best published row of each kind of training (—: the reference table has none).", "",
        table(["data set", "method, output", "seeds", "test ACC", "test AUC",
               *(f"{METRIC_LABELS[m]} − best {KINDS[k]}" for k, m in REFERENCES)], rows), "",
        f"![Test ACC and AUC per data set]({figure})", "",
        "## Best published results", "", f"From {published.SOURCE}; each is one row of its source.", "",
        *(f"- {link}: {text}." for link, text in best.items()),
        *(["", published.UNCHECKED_NOTE + "."] if unchecked.any(axis=None) else []), "",
        "## Does the search beat random cells?", "",
        "Read off the paired bootstrap 95% intervals over the test images (each data set's `comparisons.csv`).", "",
        *(f"- {links[name]}: {verdict_sentence(v)}" for name, found in verdicts.items() for v in found)]) + "\n"


def plot_leaderboard(summaries: dict[str, pd.DataFrame], board: pd.DataFrame):
    """Per metric and output, each method's seeds as mean ± std per data set, with its best published rows."""
    scores = pd.concat([summary.assign(dataset=name) for name, summary in summaries.items()], ignore_index=True)
    seeds = scores.groupby("method")["seed"].nunique()  # the same in every data set of a run (METHOD_SEEDS)
    methods = {m: f"{METHOD_LABELS[m]} ({seeds_phrase(seeds[m])})" for m in METHODS if m in seeds}
    scores = scores.assign(method=scores["method"].map(methods), output=scores["output"].map(OUTPUT_LABELS)).rename(
        columns=lambda column: column.removeprefix("test_")).melt(["dataset", "method", "output"], METRICS, "metric")
    # One panel a row, as wide as the data sets need: a run may hold all 48 of MedMNIST 2D.
    scores["panel"] = "test " + scores["metric"].map(METRIC_LABELS) + ", " + scores["output"]
    grid = sns.catplot(scores, x="dataset", y="value", hue="method", row="panel", kind="point", errorbar="sd",
                       dodge=0.4, linestyle="none", capsize=0.1, sharey=False, height=3, aspect=max(2.8, len(
                           summaries) / 7), palette={label: METHOD_COLORS[m] for m, label in methods.items()})
    references = board.drop_duplicates(["dataset", "size"], ignore_index=True)
    for panel, axis in grid.axes_dict.items():
        metric = scores.loc[scores["panel"] == panel, "metric"].iloc[0]
        for kind, style in zip(KINDS, ("--", ":")):  # at each data set's x, where the table has a row
            axis.hlines(references[f"{kind}_{metric}"], references.index - 0.45, references.index + 0.45,
                        color="dimgrey", linestyles=style)
        axis.set(title=panel, xlabel="", ylabel="")
        axis.tick_params("x", rotation=90 if len(references) > 6 else 0)
    grid.figure.suptitle("Mean ± std over seeds; grey: the best published result, -- from scratch, ··· pretrained")
    grid.tight_layout()
    return grid.figure
