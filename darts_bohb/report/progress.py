"""BOHB progress: the incumbent's selection score over wall-clock and over training epochs: on the val
split below the largest budget, out of fold (cross-validation over train+val) at it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from darts_bohb.methods import METHODS
from darts_bohb.report.run import METHOD_LABELS, METRIC_LABELS, Run
from darts_bohb.report.style import METHOD_LINESTYLES, seed_shades

PANELS = (
    ("wallclock_s", "wall-clock of the BOHB run (s)"),
    ("cumulative_epochs", "cumulative training epochs of all trials"),
)


def plot_bohb_progress(trajectories: pd.DataFrame, run: Run) -> Figure:
    """One step line per method and seed: the incumbent only changes at trial ends."""
    figure, axes = plt.subplots(1, len(PANELS), figsize=(12, 4.6), sharey=True, layout="constrained")
    shades = {method: seed_shades(method, run.seeds[method]) for method in METHODS}
    for axis, (column, label) in zip(axes, PANELS):
        for method in METHODS:
            for seed in run.seeds[method]:
                line = trajectories[(trajectories["method"] == method) & (trajectories["seed"] == seed)]
                line = line.sort_values(column, kind="stable")
                axis.plot(line[column], line["score"], drawstyle="steps-post", marker="o", markersize=3.5,
                          linewidth=1.6, color=shades[method][seed], linestyle=METHOD_LINESTYLES[method],
                          label=f"{METHOD_LABELS[method]}, seed {seed}")
        axis.set_xlabel(label)
        axis.set_xlim(left=0)
    axes[0].set_ylabel(f"incumbent {METRIC_LABELS[run.metric]} (val, or CV at max budget)")
    figure.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", title="method, seed")
    figure.suptitle(f"BOHB incumbent over the search ({run.describe()})")
    return figure
