"""Architecture weights: each node's operation probabilities over the search epochs, per seed."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from darts_bohb.report.run import seeds_phrase
from darts_bohb.report.style import OPERATION_COLORS

EARLY_STOP_COLOR = "#c0392b"


def plot_arch_weights(alphas: pd.DataFrame, search_runs: pd.DataFrame) -> Figure:
    """One row of panels per seed, one panel per node, one line per operation. Every row spans the
    planned epochs, so a search that stopped early visibly ends before the right edge."""
    runs = search_runs.set_index("seed").sort_index()
    nodes = list(pd.unique(alphas["node"]))
    operations = list(pd.unique(alphas["operation"]))
    kernel_of = alphas.groupby("node", sort=False)["kernel_size"].first()
    last_epoch = int(runs["epochs_planned"].max())

    figure = plt.figure(figsize=(2.6 * len(nodes), 2.3 * len(runs) + 1.2), layout="constrained")
    rows = figure.subfigures(len(runs), 1, squeeze=False)[:, 0]
    threshold_shown = False
    for row, (seed, run) in zip(rows, runs.iterrows()):
        axes = row.subplots(1, len(nodes), sharey=True, squeeze=False)[0]
        low, high = _probability_range(alphas.loc[alphas["seed"] == seed, "probability"])
        show_threshold = low <= run["skip_threshold"] <= high  # False for NaN: not recorded
        threshold_shown |= show_threshold
        status = (f"stopped early after epoch {run['epochs_run']} of {run['epochs_planned']} "
                  f"({textwrap.shorten(str(run['stop_reason']), width=90, placeholder='…')})" if run["stopped_early"]
                  else f"ran all {run['epochs_run']} of {run['epochs_planned']} planned epochs")
        row.suptitle(f"seed {seed}: {status}", fontsize="medium", x=0.01, ha="left")
        for axis, node in zip(axes, nodes):
            panel = alphas[(alphas["seed"] == seed) & (alphas["node"] == node)]
            for operation in operations:
                curve = panel[panel["operation"] == operation].sort_values("epoch")
                axis.plot(curve["epoch"], curve["probability"], color=OPERATION_COLORS[operation],
                          marker=".", markersize=4, linewidth=1.4)
            if run["stopped_early"]:
                axis.axvline(run["epochs_run"], color=EARLY_STOP_COLOR, linestyle="--", linewidth=1.1)
            if show_threshold:
                axis.axhline(run["skip_threshold"], color="grey", linestyle=":", linewidth=0.9)
            axis.set_xlim(0, max(last_epoch, 1))
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
            axis.set_title(f"{node} ({int(kernel_of[node])}×{int(kernel_of[node])})", fontsize="small")
            axis.set_xlabel("epoch")
        axes[0].set_ylabel("probability")
        axes[0].set_ylim(low, high)

    handles = [Line2D([], [], color=OPERATION_COLORS[op], marker=".", label=op) for op in operations]
    if runs["stopped_early"].any():
        handles.append(Line2D([], [], color=EARLY_STOP_COLOR, linestyle="--", label="early stop"))
    if threshold_shown:
        handles.append(Line2D([], [], color="grey", linestyle=":", label="skip threshold (identity)"))
    figure.legend(handles=handles, loc="outside lower center", ncols=min(len(operations) + 2, 7))
    figure.suptitle(f"Operation probabilities per node over the DARTS search ({seeds_phrase(len(runs))})")
    return figure


def _probability_range(probabilities: pd.Series) -> tuple[float, float]:
    """One seed's probabilities, padded, not [0, 1]: early in a search the operations differ by
    thousandths, and which one leads is what the figure is for. The threshold is drawn only inside."""
    low, high = float(probabilities.min()), float(probabilities.max())
    pad = max(high - low, 0.01) * 0.1
    return max(low - pad, 0.0), min(high + pad, 1.0)
