"""The summary across seeds: summary.csv (one row per method and seed) and summary.md.

The CSV holds the per-seed numbers exactly as the result files have them; the markdown
aggregates them (mean ± std per method, the paired NAS − baseline difference), adds the
ensemble of each method's seeds as an extra row (its numbers are ensemble.csv, built by
darts_bohb.report.ensemble), puts them beside the published results, lists the seconds of every
stage and links the figures. Every table says how many seeds it comes from, and a missing part
(no baseline seeds, no seeds in common, no benchmark file) is stated in words instead of left
out silently.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from darts_bohb.report.collect import (
    METHOD_LABELS,
    METHODS,
    METRIC_LABELS,
    SCORE_METRICS,
    STAGE_RULES,
    STAGES,
    SeedsByMethod,
    seeds_phrase,
)
from darts_bohb.report.references import SOURCE, PublishedResult

SUMMARY_COLUMNS = [
    "method", "seed", "val_metric", "val_score",
    *(f"val_{metric}" for metric in SCORE_METRICS),
    *(f"test_{metric}" for metric in SCORE_METRICS),
    "search_epochs_run", "search_epochs_planned", "stop_reason", "bohb_trials",
    *(f"seconds_{stage}" for stage in STAGES), "seconds_total",
]
# What each figure shows, and which methods' seeds it is drawn from.
FIGURES = {
    "bohb_progress": ("BOHB incumbent validation score over wall-clock and epochs", ("nas", "baseline")),
    "arch_weights": ("Operation probabilities per node over the DARTS search", ("nas",)),
    "cells": ("Derived cell of each seed", ("nas",)),
    "scores": ("Test scores per seed with the published references", ("nas", "baseline")),
}
PRIMARY_METRIC = "accuracy"


def build_summary(metrics: pd.DataFrame, incumbents: pd.DataFrame, trials: pd.DataFrame,
                  search_runs: pd.DataFrame, stage_seconds: pd.DataFrame) -> pd.DataFrame:
    """Join the frames of darts_bohb.report.collect into one row per method and seed.

    val_score is the incumbent's validation score of the metric BOHB maximised (val_metric);
    it also fills that metric's val_<metric> column, the others come from metrics.json's
    optional "validation" object. Search columns are empty for the baseline, which has no search.
    """
    keys = ["method", "seed"]
    frame = metrics.merge(incumbents, on=keys, how="left", validate="one_to_one")
    for metric in SCORE_METRICS:
        chosen = frame["metric"] == metric
        frame.loc[chosen, f"val_{metric}"] = frame.loc[chosen, "validation_score"]
    frame = frame.rename(columns={"metric": "val_metric", "validation_score": "val_score"})
    frame = frame.merge(trials, on=keys, how="left", validate="one_to_one")
    search = search_runs.rename(columns={"epochs_run": "search_epochs_run",
                                         "epochs_planned": "search_epochs_planned"}).assign(method="nas")
    frame = frame.merge(search[[*keys, "search_epochs_run", "search_epochs_planned", "stop_reason"]],
                        on=keys, how="left", validate="one_to_one")
    frame = frame.merge(_seconds_wide(stage_seconds), on=keys, how="left", validate="one_to_one")
    for column in ("seed", "search_epochs_run", "search_epochs_planned", "bohb_trials"):
        frame[column] = frame[column].astype("Int64")
    frame["method"] = pd.Categorical(frame["method"], categories=METHODS, ordered=True)
    frame = frame.sort_values(keys, ignore_index=True)
    frame["method"] = frame["method"].astype(str)
    return frame[SUMMARY_COLUMNS]


def _seconds_wide(stage_seconds: pd.DataFrame) -> pd.DataFrame:
    """One column per stage, and the total over the method's stages (blank if one is unknown)."""
    wide = stage_seconds.pivot(index=["method", "seed"], columns="stage", values="seconds")
    wide = wide.reindex(columns=list(STAGES)).add_prefix("seconds_")
    by_run = stage_seconds.groupby(["method", "seed"])
    # Blank where a benchmark is missing, since a partial sum would understate the cost; rounded
    # to the 4 decimals of the benchmark files, so that the float noise of the sum does not show.
    wide["seconds_total"] = by_run["seconds"].sum().round(4).where(by_run["present"].all())
    return wide.reset_index()


def paired_differences(summary: pd.DataFrame) -> pd.DataFrame:
    """NAS − baseline per common seed and test metric: columns seed, metric, nas, baseline, difference."""
    nas = summary[summary["method"] == "nas"].set_index("seed")
    baseline = summary[summary["method"] == "baseline"].set_index("seed")
    common = [seed for seed in nas.index if seed in baseline.index]
    rows = [
        {"seed": int(seed), "metric": metric, "nas": nas.at[seed, f"test_{metric}"],
         "baseline": baseline.at[seed, f"test_{metric}"],
         "difference": nas.at[seed, f"test_{metric}"] - baseline.at[seed, f"test_{metric}"]}
        for metric in SCORE_METRICS for seed in common
    ]
    return pd.DataFrame(rows, columns=["seed", "metric", "nas", "baseline", "difference"])


def render_markdown(summary: pd.DataFrame, stage_seconds: pd.DataFrame, ensemble: pd.DataFrame,
                    seeds: SeedsByMethod, dataset: str, size: int, references: tuple[PublishedResult, ...],
                    figures: Mapping[str, Path], markdown_path: Path) -> str:
    """The whole summary.md; `ensemble` is ensemble_scores' frame; figure links are relative
    to markdown_path's folder."""
    sections = [
        _header(summary, seeds, dataset, size),
        _means_section(summary, seeds),
        _ensemble_section(ensemble, seeds),
        _paired_section(summary, seeds),
        _reference_section(summary, ensemble, dataset, size, references),
        _per_seed_section(summary, seeds),
        _seconds_section(stage_seconds, seeds),
        _figures_section(figures, seeds, markdown_path),
    ]
    return "\n\n".join(section.rstrip() for section in sections) + "\n"


def _validation_metric(summary: pd.DataFrame) -> str:
    """The metric BOHB maximised, in words; every seed of a run maximises the same one."""
    return ", ".join(METRIC_LABELS[m] for m in sorted(set(summary["val_metric"].dropna()))) or "score"


def _header(summary: pd.DataFrame, seeds: SeedsByMethod, dataset: str, size: int) -> str:
    runs = "; ".join(
        f"{METHOD_LABELS[m]}: {_seed_list(seeds.of(m))} ({seeds_phrase(len(seeds.of(m)))})" if seeds.of(m)
        else f"{METHOD_LABELS[m]}: no seeds"
        for m in METHODS
    )
    return (f"# darts-bohb results: {dataset} {size}×{size}\n\n"
            f"Seeds — {runs}.\n"
            f"BOHB maximised the validation {_validation_metric(summary)}; "
            f"the test scores come from each seed's final training (`metrics.json`), "
            f"the ensemble rows from their test probabilities (`predictions.csv`).")


def _means_section(summary: pd.DataFrame, seeds: SeedsByMethod) -> str:
    header = ["method", "seeds", *(f"test {METRIC_LABELS[m]}" for m in SCORE_METRICS),
              f"validation {_validation_metric(summary)} (incumbent)"]
    rows = []
    for method in METHODS:
        values = summary[summary["method"] == method]
        if values.empty:
            continue
        rows.append([METHOD_LABELS[method], seeds_phrase(len(values)),
                     *(_mean_std(values[f"test_{m}"]) for m in SCORE_METRICS), _mean_std(values["val_score"])])
    lines = ["## Test scores per method (mean ± std over seeds)", "",
             "Std is the sample standard deviation over seeds (n − 1).", "", _table(header, rows)]
    if not seeds.baseline:
        lines += ["", "No baseline seeds were given (`baseline.seeds`), so there is no baseline row."]
    return "\n".join(lines)


def _ensemble_section(ensemble: pd.DataFrame, seeds: SeedsByMethod) -> str:
    lines = ["## Ensemble of each method's seeds (an extra row, not a seed)", "",
             "The final models of a method's seeds as one model: the mean of their test class "
             "probabilities, scored like a single model. A plain average with equal weights, so nothing "
             "is chosen on the validation or test split. The per-seed rows and the mean ± std above stay "
             "as they are; `ensemble.csv` holds these numbers."]
    by_method = ensemble.set_index("method")
    rows = [[_ensemble_label(method, int(by_method.at[method, "n_seeds"])),
             _seed_list(by_method.at[method, "seeds"].split()),
             *(_number(by_method.at[method, f"test_{m}"]) for m in SCORE_METRICS)]
            for method in METHODS if method in by_method.index]
    if rows:
        header = ["ensemble", "seeds", *(f"test {METRIC_LABELS[m]}" for m in SCORE_METRICS)]
        lines += ["", _table(header, rows)]
    for method in METHODS:
        if method not in by_method.index:
            count = len(seeds.of(method))
            lines += ["", f"No ensemble for {METHOD_LABELS[method]}: "
                          f"{seeds_phrase(count) if count else 'no seeds'}; an ensemble needs at least 2."]
    return "\n".join(lines)


def _ensemble_label(method: str, n_seeds: int) -> str:
    return (f"{METHOD_LABELS[method]}: ensemble of the {n_seeds} seeds' final models "
            "(mean of test probabilities); an extra row, not a seed")


def _paired_section(summary: pd.DataFrame, seeds: SeedsByMethod) -> str:
    lines = ["## NAS+BOHB − baseline, paired by seed", ""]
    differences = paired_differences(summary)
    if differences.empty:
        reason = ("no baseline seeds were given" if not seeds.baseline else
                  f"the seeds have none in common (NAS+BOHB: {_seed_list(seeds.nas)}; "
                  f"baseline: {_seed_list(seeds.baseline)})")
        lines.append(f"No paired comparison: {reason}. Whether NAS+BOHB beats the baseline is not shown by this run.")
        return "\n".join(lines)
    common = sorted(differences["seed"].unique())
    lines += [_verdict(differences[differences["metric"] == PRIMARY_METRIC].set_index("seed")["difference"]), ""]
    header = ["test metric", "mean ± std of NAS+BOHB − baseline", "NAS+BOHB better on",
              *(f"seed {seed}" for seed in common)]
    rows = []
    for metric in SCORE_METRICS:
        per_seed = differences[differences["metric"] == metric].set_index("seed")["difference"]
        rows.append([METRIC_LABELS[metric], _mean_std(per_seed, signed=True),
                     f"{int((per_seed > 0).sum())} of {len(per_seed)} seeds",
                     *(f"{per_seed[seed]:+.4f}" for seed in common)])
    lines += [f"Over the {seeds_phrase(len(common))} both methods ran ({_seed_list(common)}):", "",
              _table(header, rows)]
    unpaired = {m: sorted(set(seeds.of(m)) - set(common)) for m in METHODS}
    left_out = "; ".join(f"{METHOD_LABELS[m]} {_seed_list(s)}" for m, s in unpaired.items() if s)
    if left_out:
        lines += ["", f"Seeds without a partner are not in this comparison: {left_out}."]
    lines += ["", f"With {seeds_phrase(len(common))} this describes these runs; it is not a significance test."]
    return "\n".join(lines)


def _verdict(per_seed: pd.Series) -> str:
    """The plain answer on the primary metric: does NAS+BOHB beat the baseline, and by how much."""
    mean = float(per_seed.mean())
    label = METRIC_LABELS[PRIMARY_METRIC]
    basis = (f"mean over {seeds_phrase(len(per_seed))}, paired by seed; "
             f"NAS+BOHB better on {int((per_seed > 0).sum())} of them")
    wins = int((per_seed > 0).sum())
    spread = float(per_seed.std()) if len(per_seed) > 1 else 0.0
    if mean > 0 and (2 * wins <= len(per_seed) or mean <= spread):
        # A mean carried by one seed, or smaller than the seed-to-seed spread, is not a win to claim.
        return (f"**NAS+BOHB is ahead of the baseline on test {label} only in the mean: by {mean:+.4f} "
                f"({basis}), less than the spread over seeds (std {spread:.4f}) or on no more than half "
                f"of them: no clear win.**")
    if mean > 0:
        return f"**NAS+BOHB beats the baseline on test {label}: by {mean:+.4f} ({basis}).**"
    if mean < 0:
        return f"**NAS+BOHB does not beat the baseline on test {label}: it is {-mean:.4f} lower ({basis}).**"
    return f"**NAS+BOHB does not beat the baseline on test {label}: they tie ({basis}).**"


def _reference_section(summary: pd.DataFrame, ensemble: pd.DataFrame, dataset: str, size: int,
                       references: tuple[PublishedResult, ...]) -> str:
    lines = ["## Published results", ""]
    if not references:
        lines.append(f"No published results are listed for {dataset} at {size}×{size} "
                     f"(the table here is {SOURCE}), so none are compared.")
        return "\n".join(lines)
    rows = [[ref.model, f"{ref.accuracy:.3f}", f"{ref.auc:.3f}"] for ref in references]
    for method in METHODS:
        values = summary[summary["method"] == method]
        if not values.empty:
            rows.append([f"**{METHOD_LABELS[method]}, this run (mean, {seeds_phrase(len(values))})**",
                         f"{values['test_accuracy'].mean():.3f}", f"{values['test_auc'].mean():.3f}"])
    for _, row in ensemble.iterrows():
        rows.append([f"**{_ensemble_label(row['method'], int(row['n_seeds']))}**",
                     _number(row["test_accuracy"], 3), _number(row["test_auc"], 3)])
    lines += [f"{SOURCE}; no macro F1 is published.", "",
              _table(["model", "test ACC", "test AUC"], rows)]
    return "\n".join(lines)


def _per_seed_section(summary: pd.DataFrame, seeds: SeedsByMethod) -> str:
    header = ["method", "seed", "validation score", *(f"test {METRIC_LABELS[m]}" for m in SCORE_METRICS),
              "search epochs", "stop reason", "BOHB trials"]
    rows = []
    for _, row in summary.iterrows():
        epochs = ("—" if pd.isna(row["search_epochs_run"])
                  else f"{row['search_epochs_run']} of {row['search_epochs_planned']}")
        rows.append([METHOD_LABELS[row["method"]], str(row["seed"]),
                     f"{_number(row['val_score'])} ({row['val_metric']})",
                     *(_number(row[f"test_{m}"]) for m in SCORE_METRICS), epochs,
                     "—" if pd.isna(row["stop_reason"]) else str(row["stop_reason"]), str(row["bohb_trials"])])
    return "\n".join([f"## Per seed ({seeds.describe()}; the numbers of summary.csv)", "",
                      _table(header, rows)])


def _seconds_section(stage_seconds: pd.DataFrame, seeds: SeedsByMethod) -> str:
    lines = ["## Seconds per stage", "",
             "Wall-clock seconds of each job from Snakemake's benchmark files "
             "(`results/benchmarks/{rule}/seed{seed}.tsv`, column `s`)."]
    for method in METHODS:
        method_seeds = seeds.of(method)
        if not method_seeds:
            continue
        stages = list(STAGE_RULES[method])
        frame = stage_seconds[stage_seconds["method"] == method]
        header = ["seed", *(f"{stage} (`{STAGE_RULES[method][stage]}`)" for stage in stages), "all stages"]
        rows = []
        for seed in method_seeds:
            per_stage = frame[frame["seed"] == seed].set_index("stage")["seconds"]
            rows.append([str(seed), *(_number(per_stage.get(stage), 1) for stage in stages),
                         _number(per_stage.sum(skipna=False), 1)])
        totals = frame.groupby("stage")["seconds"].sum(min_count=len(method_seeds))
        rows.append([f"**sum, {seeds_phrase(len(method_seeds))}**",
                     *(_number(totals.get(stage), 1) for stage in stages),
                     _number(totals.reindex(stages).sum(skipna=False), 1)])
        lines += ["", f"### {METHOD_LABELS[method]} ({seeds_phrase(len(method_seeds))})", "", _table(header, rows)]
    overall = stage_seconds["seconds"].sum(skipna=False)
    lines += ["", f"All jobs together: {_number(overall, 1)} s of job time; the pipeline's wall-clock is "
                  "shorter where jobs ran side by side."]
    missing = stage_seconds.loc[~stage_seconds["present"], "benchmark"].tolist()
    if missing:
        lines += ["", f"Missing benchmark files ({len(missing)}; those jobs did not run under Snakemake, so "
                      f"their seconds and every sum that includes them are unknown, shown as —): "
                      + ", ".join(f"`{path}`" for path in missing) + "."]
    return "\n".join(lines)


def _figures_section(figures: Mapping[str, Path], seeds: SeedsByMethod, markdown_path: Path) -> str:
    lines = ["## Figures"]
    for kind, path in figures.items():
        title, methods = FIGURES[kind]
        counts = ", ".join(f"{METHOD_LABELS[m]}: {seeds_phrase(len(seeds.of(m)))}" for m in methods)
        link = Path(os.path.relpath(Path(path).resolve(), Path(markdown_path).resolve().parent)).as_posix()
        lines += ["", f"### {title} ({counts})", "", f"![{title}]({link})"]
    return "\n".join(lines)


def _table(header: list[str], rows: Iterable[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(row) for row in rows)])


def _mean_std(values: pd.Series, signed: bool = False) -> str:
    values = values.dropna()
    if values.empty:
        return "—"
    sign = "+" if signed else ""
    if len(values) == 1:
        return f"{values.iloc[0]:{sign}.4f} (one seed, no spread)"
    return f"{values.mean():{sign}.4f} ± {values.std(ddof=1):.4f}"


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "—"
    return f"{value:.{digits}f}"


def _seed_list(seeds: Iterable[int]) -> str:
    return ", ".join(str(seed) for seed in seeds)
