"""Test scores per seed of both outputs of each method, against the best published rows."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from darts_bohb.methods import METHODS
from darts_bohb.report.references import SHORT_SOURCE, best_published, published_results, unchecked_note
from darts_bohb.report.run import METHOD_LABELS, METRIC_LABELS, OUTPUT_LABELS, OUTPUTS, Run, seeds_phrase
from darts_bohb.report.style import METHOD_COLORS

PLOTTED_METRICS = ("accuracy", "auc", "macro_f1")
REFERENCE_STYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))
# Green to grey from seaborn's "dark" palette: none is close to a method's blue or orange.
REFERENCE_COLORS = [sns.color_palette("dark")[index] for index in (2, 3, 4, 5, 7, 6)]
# Each method's two outputs side by side: the incumbent left, filled; the per-seed ensemble right, hatched.
OUTPUT_STYLES = {"incumbent": (-0.2, "o", None), "seed_ensemble": (0.2, "D", "///")}


def plot_scores(metrics: pd.DataFrame, run: Run) -> Figure:
    """One panel per metric: per method a box per output, a labelled point per seed, and as lines
    the best published row of each kind of training, where any is published at the image size."""
    references = {metric: [ref for ref in best_published(published_results(run.dataset, run.size), metric).values()
                           if ref] for metric in ("accuracy", "auc")}
    drawn = list(dict.fromkeys(references["accuracy"] + references["auc"]))
    methods = [method for method in METHODS if run.seeds[method]]
    figure, axes = plt.subplots(1, len(PLOTTED_METRICS), figsize=(13, 5.2), layout="constrained")
    for axis, metric in zip(axes, PLOTTED_METRICS):
        for output in OUTPUTS:
            _draw_seeds(axis, metrics[metrics["output"] == output], methods, f"test_{metric}", output)
        for reference in references.get(metric, []):
            index = drawn.index(reference)
            axis.axhline(getattr(reference, metric), color=REFERENCE_COLORS[index],
                         linestyle=REFERENCE_STYLES[index], linewidth=1.1, zorder=1)
        axis.set_title(f"test {METRIC_LABELS[metric]}")
        axis.set_xticks(range(len(methods)),
                        [f"{METHOD_LABELS[m]}\n({seeds_phrase(len(run.seeds[m]))})" for m in methods])
        axis.set_xlim(-0.6, len(methods) - 0.4)
    if drawn:
        axes[PLOTTED_METRICS.index("macro_f1")].annotate(
            "no published macro F1", xy=(0.5, 0.02), xycoords="axes fraction", ha="center",
            fontsize="small", color="dimgrey")
        title = f"best published per metric and training ({SHORT_SOURCE})"
        if note := unchecked_note(tuple(drawn)):
            title += f"\n{note}"
        handles = [Line2D([], [], color=REFERENCE_COLORS[index], linestyle=REFERENCE_STYLES[index],
                          label=f"{ref.label} ({ref.training}, {ref.resolution}; {ref.source}): ACC "
                                f"{ref.value('accuracy')}, AUC {ref.value('auc')}") for index, ref in enumerate(drawn)]
        figure.legend(handles=handles, loc="outside lower center", ncols=2, title=title)
    figure.suptitle(f"Test scores per seed: the {OUTPUT_LABELS['incumbent']} (circles, plain boxes) and the "
                    f"{OUTPUT_LABELS['seed_ensemble']} (diamonds, hatched boxes)\n{run.describe()}")
    return figure


def _draw_seeds(axis, metrics: pd.DataFrame, methods: list[str], column: str, output: str) -> None:
    """Points at fixed offsets (no jitter: equal scores stay apart), joined by seed: comparisons are paired."""
    offset, marker, hatch = OUTPUT_STYLES[output]
    points = {}
    for position, method in enumerate(methods):
        rows = metrics[metrics["method"] == method].sort_values("seed")
        centre = position + offset
        axis.boxplot(rows[column].dropna(), positions=[centre], widths=0.3, showfliers=False, patch_artist=True,
                     zorder=2, boxprops={"facecolor": to_rgba(METHOD_COLORS[method], 0.25),
                                         "hatch": hatch, "edgecolor": METHOD_COLORS[method]},
                     medianprops={"color": METHOD_COLORS[method], "linewidth": 1.8})
        x = centre + (np.linspace(-0.08, 0.08, len(rows)) if len(rows) > 1 else np.zeros(len(rows)))
        axis.scatter(x, rows[column], color=METHOD_COLORS[method], marker=marker, s=30, edgecolor="black",
                     linewidth=0.6, zorder=4)
        points[method] = dict(zip(rows["seed"], zip(x, rows[column])))
        for seed, point in points[method].items():
            axis.annotate(f"s{seed}", point, xytext=(4, 2), textcoords="offset points", fontsize="x-small")
    for left, right in zip(methods, methods[1:]):
        for seed in points[left].keys() & points[right].keys():
            (x0, y0), (x1, y1) = points[left][seed], points[right][seed]
            axis.plot([x0, x1], [y0, y1], color="grey", linewidth=0.7, alpha=0.6, zorder=3)

