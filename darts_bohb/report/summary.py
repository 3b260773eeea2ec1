"""summary.csv: every seed's numbers as its result files have them, for both outputs. summary.md: the
verdicts and the means over seeds first, then links to the other outputs and what no CSV holds."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from darts_bohb.methods import METHODS
from darts_bohb.report.comparisons import COMPARISONS, ENSEMBLE, MIN_SEEDS, Verdict, verdict
from darts_bohb.report.references import SOURCE, best_published, published_results, unchecked_note
from darts_bohb.report.run import (
    METHOD_LABELS,
    METRIC_LABELS,
    OUTPUT_LABELS,
    OUTPUTS,
    SCORE_METRICS,
    Run,
    seeds_phrase,
)
from darts_bohb.report.search import alpha_epochs_run, node_agreement, seed_diagnostics

STAGES = ("search", "bohb", "final")  # of the seconds per stage, from Snakemake's benchmark files
SUMMARY_COLUMNS = [
    "method", "seed", "output", "val_metric", "val_score",
    *(f"val_{metric}" for metric in SCORE_METRICS),
    *(f"test_{metric}" for metric in SCORE_METRICS),
    "selection_estimate", "selection_std_error", "selection_gap", "selection_method", "n_models", "members",
    "search_epochs_run", "search_epochs_planned", "alpha_epochs_run", "stop_reason", "bohb_trials",
    *(f"seconds_{stage}" for stage in STAGES), "seconds_total",
]
# What each linked file holds; for a figure, its title and the methods whose seeds it draws.
FILES = {
    "summary": "every seed's numbers, one row per method, seed and output",
    "comparisons": "both outputs of each pair of methods per seed, ensemble and mean, with intervals and McNemar",
    "ensemble": f"per method with at least {MIN_SEEDS} seeds, its incumbents' mean probabilities scored as one model",
    "search": "each seed's searched cell, per node",
}
FIGURES = {
    "bohb_progress": ("BOHB incumbent score (val, or CV at max budget) over wall-clock and epochs", METHODS),
    "arch_weights": ("Operation probabilities per node over the DARTS search", ("nas",)),
    "cells": ("Derived cell of each seed", ("nas",)),
    "scores": ("Test scores per seed with the published references", METHODS),
}
PRIMARY_METRIC = "accuracy"


def build_summary(run: Run, scores: pd.DataFrame, genotypes: Mapping) -> pd.DataFrame:
    """read_scores' rows with the columns of the run itself (search epochs, BOHB trials, job seconds) on
    the incumbent's row only, so that a sum over the file counts each job once."""
    jobs = []
    for files in run.runs:
        row = {"method": files["method"], "seed": files["seed"], "output": "incumbent",
               "bohb_trials": len(pd.read_csv(files["runhistory"]))}
        for stage in STAGES:
            if f"benchmark_{stage}" in files:
                row[f"seconds_{stage}"] = pd.read_csv(files[f"benchmark_{stage}"], sep="\t")["s"].mean()
        if files["method"] == "nas":
            genotype = genotypes[files["seed"]]
            row |= {"search_epochs_run": genotype.epochs_run, "search_epochs_planned": genotype.epochs_planned,
                    "alpha_epochs_run": alpha_epochs_run(genotype), "stop_reason": genotype.stop_reason}
        jobs.append(row)
    frame = scores.merge(pd.DataFrame(jobs), on=["method", "seed", "output"], how="left", validate="one_to_one")
    frame = frame.reindex(columns=SUMMARY_COLUMNS).assign(val_metric=run.metric)
    frame[f"val_{run.metric}"] = frame["val_score"]
    frame["selection_gap"] = frame["selection_estimate"] - frame[f"test_{run.metric}"]
    # Rounded to the 4 decimals of the benchmark files, so that the float noise of the sum does not show.
    frame["seconds_total"] = frame[[f"seconds_{stage}" for stage in STAGES]].sum(axis=1, min_count=1).round(4)
    order = {name: position for position, name in enumerate([*OUTPUTS, *METHODS])}
    frame = frame.sort_values(["output", "method", "seed"], key=lambda column: column.map(lambda v: order.get(v, v)),
                              ignore_index=True)
    return frame.astype({column: "Int64" for column in ("seed", "search_epochs_run", "search_epochs_planned",
                                                        "alpha_epochs_run", "bohb_trials", "n_models")})


def paired_differences(summary: pd.DataFrame, first: str, second: str, output: str = "incumbent") -> pd.DataFrame:
    """first − second of one output's test scores per seed both ran: index seed, a column per metric."""
    outputs = summary[summary["output"] == output].set_index("seed")
    a, b = (outputs.loc[outputs["method"] == method, [f"test_{m}" for m in SCORE_METRICS]]
            for method in (first, second))
    return (a - b).loc[a.index.intersection(b.index)].rename(columns=lambda column: column.removeprefix("test_"))


def render_markdown(run: Run, summary: pd.DataFrame, comparisons: pd.DataFrame, genotypes: Mapping,
                    links: Mapping[str, Path], markdown_path: Path) -> str:
    """`links` maps the keys of FILES and FIGURES to the files, linked relative to markdown_path's folder."""
    link = {key: Path(os.path.relpath(Path(path).resolve(), Path(markdown_path).resolve().parent)).as_posix()
            for key, path in links.items()}
    sections = [_header(run, summary), _verdicts(comparisons), _means(run, summary), _files(run, link),
                _paired(summary), _search(genotypes), _references(run, summary), _seconds(summary)]
    return "\n\n".join(section.rstrip() for section in sections) + "\n"


def table(header: list[str], rows: Iterable[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(row) for row in rows)])


def mean_std(values: pd.Series, signed: bool = False) -> str:
    """Mean ± std (n − 1) of the defined values (an undefined AUC is NaN), saying how many were left out."""
    undefined, values = int(values.isna().sum()), values.dropna()
    if values.empty:
        return "—"
    sign = "+" if signed else ""
    left_out = f"{undefined} undefined left out" if undefined else ""
    if len(values) == 1:
        return f"{values.iloc[0]:{sign}.4f} (one seed, no spread{'; ' + left_out if left_out else ''})"
    return f"{values.mean():{sign}.4f} ± {values.std(ddof=1):.4f}" + (f" ({left_out})" if left_out else "")


def number(value: float, digits: int = 4) -> str:
    return "—" if math.isnan(value) else f"{value:.{digits}f}"


def _header(run: Run, summary: pd.DataFrame) -> str:
    seeds = "; ".join(f"{METHOD_LABELS[m]}: {', '.join(map(str, run.seeds[m])) or 'none'} "
                      f"({seeds_phrase(len(run.seeds[m]))})" for m in METHODS)
    estimates = "; ".join(f"`{text}`" for text in dict.fromkeys(summary["selection_method"]))
    return (f"# darts-bohb results: {run.dataset} {run.size}×{run.size}\n\n"
            f"Seeds — {seeds}. BOHB maximised {METRIC_LABELS[run.metric]}; each output was chosen by its selection "
            f"estimate, {estimates}, from train+val only; the test scores are those of each seed's final training.")


def _verdicts(comparisons: pd.DataFrame) -> str:
    return "\n".join([
        "## Verdict", "",
        f"On test {METRIC_LABELS[PRIMARY_METRIC]} of both outputs, the single incumbent (`predictions.csv`) and the "
        "per-seed ensemble (`ensemble/predictions.csv`), read off the paired bootstrap 95% intervals over the test "
        f"images (`comparisons.csv`) of the ensembles of the seeds both methods ran (at least {MIN_SEEDS}), else of "
        "their one common seed. An interval that includes 0 shows no difference, whatever the mean; ± is its "
        "half-width, the size of difference this run could have shown; Paired differences shows the seeds.", "",
        *(f"- {verdict_sentence(verdict(comparisons, first, second, output, PRIMARY_METRIC))}"
          for output in OUTPUTS for first, second in COMPARISONS)])


def verdict_sentence(verdict: Verdict) -> str:
    a, b = METHOD_LABELS[verdict.first], METHOD_LABELS[verdict.second]
    subject = f"**{a} − {b}, {OUTPUT_LABELS[verdict.output]}: "
    if verdict.outcome == "not compared":
        return subject + "not compared** (no seed in common)."
    half = f"±{verdict.half_width:.4f}"
    outcome = {"better": f"{a} is better ({half})", "worse": f"{a} is worse ({half})"}.get(
        verdict.outcome, f"{verdict.outcome} at {half}" if verdict.half_width > 0
        else "no difference: the two agree on every test image")
    basis = (f"ensembles of the {seeds_phrase(verdict.n_seeds)} in common" if verdict.basis == ENSEMBLE
             else f"{seeds_phrase(1)} in common, seed {verdict.basis}")
    return (f"{subject}{outcome}** ({verdict.difference:+.4f} test {METRIC_LABELS[verdict.metric]}, 95% CI "
            f"{verdict.ci_low:+.4f} to {verdict.ci_high:+.4f} over the test images, {basis}).")


def _means(run: Run, summary: pd.DataFrame) -> str:
    metric = METRIC_LABELS[run.metric]
    header = ["method, output", "seeds", *(f"test {METRIC_LABELS[m]}" for m in SCORE_METRICS),
              f"selection estimate ± SE ({metric})", f"estimate − test ({metric})"]
    rows = [[f"{METHOD_LABELS[method]}, {OUTPUT_LABELS[output]}", seeds_phrase(len(values)),
             *(mean_std(values[f"test_{m}"]) for m in SCORE_METRICS),
             f"{values['selection_estimate'].mean():.4f} ± {values['selection_std_error'].mean():.4f}",
             mean_std(values["selection_gap"], signed=True)]
            for (output, method), values in summary.groupby(["output", "method"], sort=False)]
    lines = ["## Test scores per method (mean ± std over seeds)", "", table(header, rows), "",
             "Mean ± std over seeds (n − 1). The incumbent is the one configuration BOHB chose, retrained on "
             "train+val; the per-seed ensemble averages the probabilities of the fold models of the configurations "
             "that greedy ensemble selection chose on out-of-fold predictions. The selection estimate is the score an "
             "output was chosen by, from train+val only, never the test split: the mean over seeds, ± the mean of the "
             "estimates' own standard errors, not a spread over seeds. A positive estimate − test is the selection "
             "bias of choosing the best of many noisy estimates: the chosen one's is high partly by luck, which its "
             "test score does not share."]
    if without := [METHOD_LABELS[m] for m in METHODS if not run.seeds[m]]:
        lines += ["", f"No seeds were given for {', '.join(without)}, so no row or comparison shows "
                      f"{'it' if len(without) == 1 else 'them'}."]
    return "\n".join(lines)


def _files(run: Run, link: Mapping[str, str]) -> str:
    lines = ["## Files and figures", "", *(f"- [`{link[key]}`]({link[key]}): {text}." for key, text in FILES.items())]
    for key, (title, methods) in FIGURES.items():
        counts = run.describe(method for method in methods if run.seeds[method])
        lines += ["", f"### {title} ({counts})", "", f"![{title}]({link[key]})"]
    return "\n".join(lines)


def _paired(summary: pd.DataFrame) -> str:
    rows = []
    for output, first, second in ((o, *pair) for o in OUTPUTS for pair in COMPARISONS):
        differences = paired_differences(summary, first, second, output)
        if len(differences):
            rows.append([f"{METHOD_LABELS[first]} − {METHOD_LABELS[second]}, {OUTPUT_LABELS[output]}",
                         f"{', '.join(map(str, differences.index))} ({seeds_phrase(len(differences))})",
                         *(f"{mean_std(differences[m], signed=True)}; higher on {int((differences[m] > 0).sum())} "
                           f"of {int(differences[m].notna().sum())}" for m in SCORE_METRICS)])
    return "\n".join(["## Paired differences", "",
                      "First − second, per output and seed both methods ran (each seed's `metrics.json` and "
                      "`ensemble/metrics.json`): mean ± std over those seeds, and on how many of them the first is "
                      "higher. Seeds without a partner are left out.", "",
                      table(["first − second, output", "seeds both ran",
                             *(f"test {METRIC_LABELS[m]}" for m in SCORE_METRICS)], rows)])


def _search(genotypes: Mapping) -> str:
    seeds = [[str(row.seed), f"{alpha_epochs_run(genotypes[row.seed])} of {genotypes[row.seed].epochs_run}",
              number(row.mean_p_derived, 3), number(row.mean_derived_share, 3),
              number(row.mean_p_zero, 3), f"{number(row.mean_entropy, 3)} ({number(row.uniform_entropy, 3)})"]
             for row in seed_diagnostics(genotypes).itertuples()]
    nodes = [[row.node, row.most_derived, f"{row.agreeing_seeds} of {row.n_seeds}",
              f"{row.chance_expected:.2f} (of {row.n_derivable} operations)", f"{row.chance_p_at_least:.3f}"]
             for row in node_agreement(genotypes).itertuples()]
    return "\n".join([
        "## DARTS search: did it separate the operations?", "",
        "Per seed, the epochs that updated α (after the weight-only warm-up) of those run, the means over the cell's "
        "nodes (`search.csv`) of the derived operation's probability, of its share among the non-Zero operations "
        "p(derived) / (1 − p(zero)), of Zero's probability and of the entropy (nats; a uniform α's beside it).", "",
        table(["seed", "α epochs", "p(derived)", "share of non-Zero", "p(zero)", "entropy (uniform)"], seeds), "",
        "Per node, how many seeds derived the same operation, next to chance: if every seed derived one of the "
        "derivable operations uniformly at random, the expected largest agreement, and the probability of at least "
        "the agreement seen.", "",
        table(["node", "most derived", "seeds agreeing", "expected by chance", "P(at least this many by chance)"],
              nodes)])


def _references(run: Run, summary: pd.DataFrame) -> str:
    references = published_results(run.dataset, run.size)
    if not references:
        return (f"## Published results\n\nNo published results are listed for {run.dataset} at {run.size}×{run.size} "
                f"(the table here is {SOURCE}), so none are compared.")
    lines = ["## Published results", "",
             f"{SOURCE}; no macro F1 is published. Each row is one row of its source.", "",
             table(["model", "training", "resolution", "source", "test ACC", "test AUC"],
                   [[ref.label, ref.training, ref.resolution, ref.source, ref.value("accuracy"), ref.value("auc")]
                    for ref in references])]
    if note := unchecked_note(references):
        lines += ["", note + "."]
    means = summary.groupby(["output", "method"], sort=False)[["test_accuracy", "test_auc"]].mean()
    lines += ["", "Against the best published row of each metric and kind of training (the AutoML services state "
                  "none), of the means over seeds in the first table:", ""]
    for metric in ("accuracy", "auc"):
        parts = []
        for kind, best in best_published(references, metric).items():
            above = [f"{METHOD_LABELS[method]}, {OUTPUT_LABELS[output]}" for (output, method), row in means.iterrows()
                     if best and row[f"test_{metric}"] > getattr(best, metric)]
            parts.append(f"{kind}: best {best.label} ({best.training}, {best.resolution}; {best.source}) "
                         f"{best.value(metric)}, above it: {'; '.join(above) or 'none'}" if best
                         else f"{kind}: no row published here")
        lines.append(f"- test {METRIC_LABELS[metric]}: {'. '.join(parts)}.")
    return "\n".join(lines)


def _seconds(summary: pd.DataFrame) -> str:
    columns = [f"seconds_{stage}" for stage in STAGES]
    jobs = summary[summary["output"] == "incumbent"].groupby("method", sort=False)
    seeds, sums = jobs.size(), jobs[columns].sum(min_count=1)
    rows = [[METHOD_LABELS[method], seeds_phrase(seeds[method]), *(number(value, 1) for value in row),
             number(row.sum(), 1)] for method, row in sums.iterrows()]
    return "\n".join(["## Seconds per stage", "",
                      "Job seconds summed over each method's seeds, from Snakemake's benchmark files (`summary.csv` "
                      "has each seed's).", "", table(["method", "seeds", *STAGES, "all stages"], rows), "",
                      f"All jobs together: {number(summary[columns].sum().sum(), 1)} s of job time; the pipeline's "
                      "wall-clock is shorter where jobs ran side by side."])
