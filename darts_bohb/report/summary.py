"""The summary across seeds: summary.csv (one row per method, seed and output) and summary.md.

The CSV holds the per-seed numbers exactly as the result files have them, for both outputs of a
run: the incumbent and the per-seed ensemble (darts_bohb.report.selection); the markdown
states the verdict of each comparison of methods from its bootstrap intervals (comparisons.csv,
built by darts_bohb.report.comparisons, of the incumbents), aggregates the per-seed numbers (mean
± std per method and output, the paired differences), sets each output's selection estimate against
its test score, adds the ensemble of each method's seeds as an extra row (ensemble.csv,
built by darts_bohb.report.ensemble), summarises the search (search.csv, darts_bohb.report.search),
puts the scores beside the published results, lists the seconds of every stage and links the
figures. Every table says how many seeds it comes from, and a missing part
(no baseline seeds, no seeds in common, no benchmark file) is stated in words instead of left
out silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

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
from darts_bohb.report.comparisons import (
    COMPARISON_COLUMNS,
    COMPARISONS,
    ENSEMBLE,
    MEAN_OF_SEEDS,
    comparison_name,
    verdict,
)
from darts_bohb.report.ensemble import MIN_SEEDS
from darts_bohb.report.markdown import mean_std, number, seed_list, table
from darts_bohb.report.references import SOURCE, PublishedResult, unchecked_note
from darts_bohb.report.search import SearchDiagnostics
from darts_bohb.report.selection import (
    INCUMBENT,
    OUTPUT_LABELS,
    SEED_ENSEMBLE,
    chosen_metric,
    estimate_cell,
    output_label,
    selection_gaps,
    selection_methods,
    selection_section,
)

SUMMARY_COLUMNS = [
    "method", "seed", "output", "val_metric", "val_score",
    *(f"val_{metric}" for metric in SCORE_METRICS),
    *(f"test_{metric}" for metric in SCORE_METRICS),
    "selection_estimate", "selection_std_error", "selection_gap", "selection_method", "n_models", "members",
    "search_epochs_run", "search_epochs_planned", "stop_reason", "bohb_trials",
    *(f"seconds_{stage}" for stage in STAGES), "seconds_total",
]
# What each figure shows, and which methods' seeds it is drawn from.
FIGURES = {
    "bohb_progress": ("BOHB incumbent validation score over wall-clock and epochs", METHODS),
    "arch_weights": ("Operation probabilities per node over the DARTS search", ("nas",)),
    "cells": ("Derived cell of each seed", ("nas",)),
    "scores": ("Test scores per seed with the published references", METHODS),
}
PRIMARY_METRIC = "accuracy"


def build_summary(metrics: pd.DataFrame, incumbents: pd.DataFrame, trials: pd.DataFrame,
                  search_runs: pd.DataFrame, stage_seconds: pd.DataFrame,
                  seed_ensembles: pd.DataFrame | None = None) -> pd.DataFrame:
    """Join the frames of darts_bohb.report.collect into one row per method, seed and output:
    the incumbents (metrics.json) first, in the order of the rows before there were two outputs,
    then the per-seed ensembles (ensemble/metrics.json; none when `seed_ensembles` is None).

    val_score is the score the output was chosen by, of the metric BOHB maximised (val_metric): the
    incumbent's validation_score, the ensemble's selection estimate. It also fills that metric's
    val_<metric> column, the others come from metrics.json's optional "validation" object.
    selection_gap is selection_estimate − test_<val_metric>. The columns of the run rather than the
    output (search, BOHB trials, seconds) are on the incumbent's row only, so that a sum over the
    file counts each job once; search columns are empty for the methods without a search.
    """
    keys = ["method", "seed"]
    frame = metrics.merge(incumbents, on=keys, how="left", validate="one_to_one").assign(
        output=INCUMBENT, n_models=1, members=None)
    frame = frame.merge(trials, on=keys, how="left", validate="one_to_one")
    search = search_runs.rename(columns={"epochs_run": "search_epochs_run",
                                         "epochs_planned": "search_epochs_planned"}).assign(method="nas")
    frame = frame.merge(search[[*keys, "search_epochs_run", "search_epochs_planned", "stop_reason"]],
                        on=keys, how="left", validate="one_to_one")
    frame = frame.merge(_seconds_wide(stage_seconds), on=keys, how="left", validate="one_to_one")
    if seed_ensembles is not None and not seed_ensembles.empty:
        # The ensemble is chosen by the metric BOHB maximised, so it is scored against that one too.
        ensembles = seed_ensembles.merge(incumbents[[*keys, "metric"]], on=keys, how="left", validate="one_to_one")
        ensembles = ensembles.assign(output=SEED_ENSEMBLE, validation_score=ensembles["selection_estimate"])
        frame = pd.concat([frame, ensembles.reindex(columns=frame.columns.union(ensembles.columns))],
                          ignore_index=True)
    for metric in SCORE_METRICS:
        chosen = frame["metric"] == metric
        frame.loc[chosen, f"val_{metric}"] = frame.loc[chosen, "validation_score"]
    frame = frame.rename(columns={"metric": "val_metric", "validation_score": "val_score"})
    frame["selection_gap"] = selection_gaps(frame)
    for column in ("seed", "search_epochs_run", "search_epochs_planned", "bohb_trials", "n_models"):
        frame[column] = frame[column].astype("Int64")
    for column, order in (("output", list(OUTPUT_LABELS)), ("method", list(METHODS))):
        frame[column] = pd.Categorical(frame[column], categories=order, ordered=True)
    frame = frame.sort_values(["output", *keys], ignore_index=True)
    frame = frame.astype({"output": str, "method": str})
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


def paired_differences(summary: pd.DataFrame, first: str = "nas", second: str = "baseline") -> pd.DataFrame:
    """first − second per common seed and test metric, of the incumbents: columns seed, metric,
    <first>, <second>, difference."""
    summary = incumbent_rows(summary)
    a = summary[summary["method"] == first].set_index("seed")
    b = summary[summary["method"] == second].set_index("seed")
    common = [seed for seed in a.index if seed in b.index]
    rows = [
        {"seed": int(seed), "metric": metric, first: a.at[seed, f"test_{metric}"],
         second: b.at[seed, f"test_{metric}"],
         "difference": a.at[seed, f"test_{metric}"] - b.at[seed, f"test_{metric}"]}
        for metric in SCORE_METRICS for seed in common
    ]
    return pd.DataFrame(rows, columns=["seed", "metric", first, second, "difference"])


def incumbent_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """The rows of the single incumbents, which the comparisons are of."""
    return summary[summary["output"] == INCUMBENT]


def render_markdown(summary: pd.DataFrame, stage_seconds: pd.DataFrame, ensemble: pd.DataFrame,
                    seeds: SeedsByMethod, dataset: str, size: int, references: tuple[PublishedResult, ...],
                    figures: Mapping[str, Path], markdown_path: Path, comparisons: pd.DataFrame | None = None,
                    search: SearchDiagnostics | None = None) -> str:
    """The whole summary.md; `ensemble` is ensemble_scores' frame, `comparisons` comparison_table's
    and `search` the search diagnostics (None: not summarised); figure links are relative to
    markdown_path's folder."""
    if comparisons is None:
        comparisons = pd.DataFrame(columns=COMPARISON_COLUMNS)
    sections = [
        _header(summary, seeds, dataset, size),
        _verdicts_section(comparisons, seeds),
        _means_section(summary, seeds),
        selection_section(summary, seeds),
        _ensemble_section(ensemble, seeds),
        _comparisons_section(incumbent_rows(summary), comparisons, seeds),
        _search_section(search),
        _reference_section(summary, ensemble, dataset, size, references),
        _per_seed_section(summary, seeds),
        _seconds_section(stage_seconds, seeds),
        _figures_section(figures, seeds, markdown_path),
    ]
    return "\n\n".join(section.rstrip() for section in sections) + "\n"


def _verdicts_section(comparisons: pd.DataFrame, seeds: SeedsByMethod) -> str:
    """The answers first: does the search beat random cells, and do both beat the plain CNN."""
    lines = ["## Verdict", "",
             f"On test {METRIC_LABELS[PRIMARY_METRIC]}, from the paired bootstrap 95% intervals over the test images "
             "(details under Comparisons). The verdicts and `comparisons.csv` compare the single incumbents "
             "(each seed's `predictions.csv`), not the per-seed ensembles.", ""]
    pairs = [(first, second) for first, second in COMPARISONS if seeds.of(first) and seeds.of(second)]
    lines += [f"- {verdict(comparisons, first, second, PRIMARY_METRIC)}" for first, second in pairs]
    if not pairs:
        lines.append("- No two methods ran, so nothing is compared.")
    return "\n".join(lines)


def _header(summary: pd.DataFrame, seeds: SeedsByMethod, dataset: str, size: int) -> str:
    runs = "; ".join(
        f"{METHOD_LABELS[m]}: {seed_list(seeds.of(m))} ({seeds_phrase(len(seeds.of(m)))})" if seeds.of(m)
        else f"{METHOD_LABELS[m]}: no seeds"
        for m in METHODS
    )
    estimates = selection_methods(summary)
    chosen = ("each output was chosen by its selection estimate, " + "; ".join(f"`{text}`" for text in estimates)
              if estimates else "the incumbents were chosen on the validation split")
    return (f"# darts-bohb results: {dataset} {size}×{size}\n\n"
            f"Seeds — {runs}.\n"
            f"BOHB maximised {chosen_metric(summary)}, and {chosen}; "
            f"the test scores come from each seed's final training (`metrics.json` of the incumbent, "
            f"`ensemble/metrics.json` of the per-seed ensemble), the cross-seed ensemble rows from the incumbents' "
            f"test probabilities (`predictions.csv`).")


def _runs_by_output(summary: pd.DataFrame) -> Iterator[tuple[str, str, pd.DataFrame]]:
    """(method, output, its rows) for every method and output that has rows, in report order."""
    for method in METHODS:
        for output in OUTPUT_LABELS:
            values = summary[(summary["method"] == method) & (summary["output"] == output)]
            if not values.empty:
                yield method, output, values


def _means_section(summary: pd.DataFrame, seeds: SeedsByMethod) -> str:
    metric = chosen_metric(summary)
    header = ["method, output", "seeds", *(f"test {METRIC_LABELS[m]}" for m in SCORE_METRICS),
              f"selection estimate ± SE ({metric})", f"estimate − test ({metric})"]
    rows = [[output_label(method, output), seeds_phrase(len(values)),
             *(mean_std(values[f"test_{m}"]) for m in SCORE_METRICS), estimate_cell(values),
             mean_std(values["selection_gap"], signed=True)]
            for method, output, values in _runs_by_output(summary)]
    lines = ["## Test scores per method (mean ± std over seeds)", "",
             "Std is the sample standard deviation over seeds (n − 1). Each method has two outputs per seed: the "
             "incumbent, the one configuration BOHB chose, retrained on train+val; and the per-seed ensemble, the "
             "averaged probabilities of the fold models of the configurations that greedy ensemble selection chose "
             "on out-of-fold predictions. In the selection column the number before ± is the mean over seeds of "
             "the selection estimate (the score the output was chosen by, from train+val only) and the number after "
             "it the mean of the estimates' own standard errors, not a spread over seeds; estimate − test is the "
             "mean ± std over seeds of that estimate minus the test score of the same metric.", "",
             table(header, rows)]
    if not seeds.baseline:
        lines += ["", "No baseline seeds were given (`baseline.seeds`), so there is no baseline row."]
    without = [METHOD_LABELS[m] for m in METHODS
               if seeds.of(m) and not ((summary["method"] == m) & (summary["output"] == SEED_ENSEMBLE)).any()]
    if without:
        lines += ["", f"No per-seed ensembles were given for {', '.join(without)} (results from before they "
                      "existed), so there is no per-seed ensemble row for them."]
    return "\n".join(lines)


def _ensemble_section(ensemble: pd.DataFrame, seeds: SeedsByMethod) -> str:
    lines = ["## Ensemble of each method's seeds (an extra row, not a seed)", "",
             "The incumbents' final models of a method's seeds as one model: the mean of their test class "
             "probabilities (each seed's `predictions.csv`, not its per-seed ensemble), scored like a single "
             "model. A plain average with equal weights, so nothing is chosen on the validation or test split. "
             "The per-seed rows and the mean ± std above stay as they are; `ensemble.csv` holds these numbers."]
    by_method = ensemble.set_index("method")
    rows = [[_ensemble_label(method, int(by_method.at[method, "n_seeds"])),
             seed_list(by_method.at[method, "seeds"].split()),
             *(number(by_method.at[method, f"test_{m}"]) for m in SCORE_METRICS)]
            for method in METHODS if method in by_method.index]
    if rows:
        header = ["ensemble", "seeds", *(f"test {METRIC_LABELS[m]}" for m in SCORE_METRICS)]
        lines += ["", table(header, rows)]
    for method in METHODS:
        if method not in by_method.index:
            count = len(seeds.of(method))
            lines += ["", f"No ensemble for {METHOD_LABELS[method]}: "
                          f"{seeds_phrase(count) if count else 'no seeds'}; an ensemble needs at least 2."]
    return "\n".join(lines)


def _ensemble_label(method: str, n_seeds: int) -> str:
    return (f"{METHOD_LABELS[method]}: ensemble of the {n_seeds} seeds' final models "
            "(mean of test probabilities); an extra row, not a seed")


def _comparisons_section(summary: pd.DataFrame, comparisons: pd.DataFrame, seeds: SeedsByMethod) -> str:
    """Per pair of methods: the verdict from the bootstrap intervals, then the per-seed means."""
    lines = ["## Comparisons, paired by seed and by test image", "",
             "Each verdict is read off the paired bootstrap 95% interval over the test images "
             "(`comparisons.csv`): of the two seed ensembles where both methods have at least "
             f"{MIN_SEEDS} seeds, else of every seed pair, which must then all lie on one side of 0. "
             "A difference whose interval includes 0 is not told from noise, whatever its mean. McNemar's "
             "exact test gives each seed pair's p-value for test accuracy."]
    for first, second in COMPARISONS:
        without = [method for method in (first, second) if not seeds.of(method)]
        if without:
            lines += ["", f"No {METHOD_LABELS[first]} − {METHOD_LABELS[second]} comparison: "
                          f"{' and '.join(METHOD_LABELS[m] for m in without)} has no seeds."]
            continue
        lines += ["", f"### {METHOD_LABELS[first]} − {METHOD_LABELS[second]}", ""]
        differences = paired_differences(summary, first, second)
        if differences.empty:
            lines.append(f"No paired comparison: the seeds have none in common ({METHOD_LABELS[first]}: "
                         f"{seed_list(seeds.of(first))}; {METHOD_LABELS[second]}: {seed_list(seeds.of(second))}).")
            continue
        lines += [verdict(comparisons, first, second, PRIMARY_METRIC), "", _interval_table(comparisons, first, second),
                  ""]
        common = sorted(differences["seed"].unique())
        header = ["test metric", f"mean ± std of {METHOD_LABELS[first]} − {METHOD_LABELS[second]}",
                  f"{METHOD_LABELS[first]} better on", *(f"seed {seed}" for seed in common)]
        rows = []
        for metric in SCORE_METRICS:
            per_seed = differences[differences["metric"] == metric].set_index("seed")["difference"]
            rows.append([METRIC_LABELS[metric], mean_std(per_seed, signed=True),
                         f"{int((per_seed > 0).sum())} of {int(per_seed.notna().sum())} seeds",
                         *(number(per_seed[seed], 4, signed=True) for seed in common)])
        lines += [f"Mean over the {seeds_phrase(len(common))} both methods ran ({seed_list(common)}), "
                  "from each seed's `metrics.json`:", "", table(header, rows)]
        left_out = "; ".join(f"{METHOD_LABELS[m]} {seed_list(sorted(set(seeds.of(m)) - set(common)))}"
                             for m in (first, second) if set(seeds.of(m)) - set(common))
        if left_out:
            lines += ["", f"Seeds without a partner are not in this comparison: {left_out}."]
    return "\n".join(lines)


def _interval_table(comparisons: pd.DataFrame, first: str, second: str) -> str:
    rows = comparisons[(comparisons["comparison"] == comparison_name(first, second))
                       & (comparisons["level"] != MEAN_OF_SEEDS)]
    header = ["level", "test metric", "difference", "95% interval", "McNemar p (first only / second only right)"]
    lines = []
    for _, row in rows.iterrows():
        level = "ensembles" if row["level"] == ENSEMBLE else f"seed {row['level']}"
        test = ("—" if pd.isna(row["p_value"]) else
                f"{row['p_value']:.3g} ({row['first_only_correct']} / {row['second_only_correct']})")
        lines.append([level, METRIC_LABELS[row["metric"]], number(row["difference"], 4, signed=True),
                      f"[{number(row['ci_low'], 4, signed=True)}, {number(row['ci_high'], 4, signed=True)}]", test])
    return table(header, lines)


def _search_section(diagnostics: SearchDiagnostics | None) -> str:
    lines = ["## DARTS search: did it separate the operations?", ""]
    if diagnostics is None:
        lines.append("No genotypes were given, so the search is not summarised here.")
        return "\n".join(lines)
    per_seed, agreement = diagnostics
    lines += ["Per seed, the means over the cell's nodes of the derived operation's probability, of its share "
              "among the non-Zero operations p(derived) / (1 − p(zero)), of Zero's probability and of the "
              "entropy of the operation probabilities (nats; a uniform α has the entropy given beside it). "
              "`search.csv` holds the per-node numbers.", ""]
    header = ["seed", "epochs", "stop reason", "p(derived)", "share of non-Zero", "p(zero)", "entropy (uniform)"]
    rows = [[str(row["seed"]), f"{row['epochs_run']} of {row['epochs_planned']}", str(row["stop_reason"]),
             number(row["mean_p_derived"], 3), number(row["mean_derived_share"], 3), number(row["mean_p_zero"], 3),
             f"{number(row['mean_entropy'], 3)} ({number(row['uniform_entropy'], 3)})"]
            for _, row in per_seed.iterrows()]
    lines += [table(header, rows), ""]
    lines += ["Per node, how many seeds derived the same operation, next to chance: if every seed derived one of "
              "the derivable operations uniformly at random, the expected largest agreement, and the probability "
              "of at least the agreement seen.", ""]
    header = ["node", "most derived", "seeds agreeing", "expected by chance", "P(at least this many by chance)"]
    rows = [[row["node"], row["most_derived"], f"{row['agreeing_seeds']} of {row['n_seeds']}",
             f"{row['chance_expected']:.2f} (of {row['n_derivable']} operations)", f"{row['chance_p_at_least']:.3f}"]
            for _, row in agreement.iterrows()]
    lines.append(table(header, rows))
    return "\n".join(lines)


def _reference_section(summary: pd.DataFrame, ensemble: pd.DataFrame, dataset: str, size: int,
                       references: tuple[PublishedResult, ...]) -> str:
    lines = ["## Published results", ""]
    if not references:
        lines.append(f"No published results are listed for {dataset} at {size}×{size} "
                     f"(the table here is {SOURCE}), so none are compared.")
        return "\n".join(lines)
    rows = [[ref.label, f"{ref.accuracy:.3f}", f"{ref.auc:.3f}"] for ref in references]
    means = [(f"{output_label(method, output)}, this run (mean, {seeds_phrase(len(values))})",
              values["test_accuracy"].mean(), values["test_auc"].mean())
             for method, output, values in _runs_by_output(summary)]
    rows += [[f"**{label}**", f"{accuracy:.3f}", f"{auc:.3f}"] for label, accuracy, auc in means]
    for _, row in ensemble.iterrows():
        rows.append([f"**{_ensemble_label(row['method'], int(row['n_seeds']))}**",
                     number(row["test_accuracy"], 3), number(row["test_auc"], 3)])
    lines += [f"{SOURCE}; no macro F1 is published.", "",
              table(["model", "test ACC", "test AUC"], rows)]
    if note := unchecked_note(references):
        lines += ["", note + "."]
    best = max(references, key=lambda ref: (ref.accuracy, ref.auc))
    above = [label for label, accuracy, auc in means if accuracy > best.accuracy and auc > best.auc]
    lines += ["", f"Against the best published entry, {best.label} ({best.accuracy:.4f} ACC, {best.auc:.4f} AUC), "
                  "of the means over seeds (the cross-seed ensembles are extra rows, not counted): "
              + (f"above it in both ACC and AUC: {'; '.join(above)}." if above
                 else "none is above it in both ACC and AUC.")]
    return "\n".join(lines)


def _per_seed_section(summary: pd.DataFrame, seeds: SeedsByMethod) -> str:
    header = ["method", "seed", "output", "chosen by (± SE)", *(f"test {METRIC_LABELS[m]}" for m in SCORE_METRICS),
              "search epochs", "stop reason", "BOHB trials"]
    rows = []
    for _, row in summary.iterrows():
        epochs = ("—" if pd.isna(row["search_epochs_run"])
                  else f"{row['search_epochs_run']} of {row['search_epochs_planned']}")
        error = "" if pd.isna(row["selection_std_error"]) else f" ± {number(row['selection_std_error'])}"
        rows.append([METHOD_LABELS[row["method"]], str(row["seed"]), OUTPUT_LABELS[row["output"]],
                     f"{number(row['val_score'])}{error} ({row['val_metric']})",
                     *(number(row[f"test_{m}"]) for m in SCORE_METRICS), epochs,
                     "—" if pd.isna(row["stop_reason"]) else str(row["stop_reason"]),
                     "—" if pd.isna(row["bohb_trials"]) else str(row["bohb_trials"])])
    return "\n".join([f"## Per seed ({seeds.describe()}; the numbers of summary.csv)", "",
                      "Chosen by: the score each output was chosen by (`val_score`: the selection estimate, or in "
                      "results from before it the validation split's score). The search, trials and seconds are "
                      "of the run, so they stand on the incumbent's row only.", "", table(header, rows)])


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
            rows.append([str(seed), *(number(per_stage.get(stage), 1) for stage in stages),
                         number(per_stage.sum(skipna=False), 1)])
        totals = frame.groupby("stage")["seconds"].sum(min_count=len(method_seeds))
        rows.append([f"**sum, {seeds_phrase(len(method_seeds))}**",
                     *(number(totals.get(stage), 1) for stage in stages),
                     number(totals.reindex(stages).sum(skipna=False), 1)])
        lines += ["", f"### {METHOD_LABELS[method]} ({seeds_phrase(len(method_seeds))})", "", table(header, rows)]
    overall = stage_seconds["seconds"].sum(skipna=False)
    lines += ["", f"All jobs together: {number(overall, 1)} s of job time; the pipeline's wall-clock is "
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
        counts = ", ".join(f"{METHOD_LABELS[m]}: {seeds_phrase(len(seeds.of(m)))}" for m in methods if seeds.of(m))
        link = Path(os.path.relpath(Path(path).resolve(), Path(markdown_path).resolve().parent)).as_posix()
        lines += ["", f"### {title} ({counts})", "", f"![{title}]({link})"]
    return "\n".join(lines)
