"""The derived cell of a genotype, input -> nodes -> sum -> optional max-pool, in matplotlib patches
(no graphviz), laid out by its own topology: the cell of DESIGN.md reads as four parallel branches."""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from darts_bohb.genotype import Genotype
from darts_bohb.report.run import seeds_phrase
from darts_bohb.report.style import OPERATION_COLORS

BOX_WIDTH = 1.15
BOX_HEIGHT = 0.78
COLUMN_STEP = 1.6


def plot_cells(genotypes: dict[int, Genotype]) -> Figure:
    seeds = sorted(genotypes)
    columns = 1 if len(seeds) == 1 else 2
    rows = math.ceil(len(seeds) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(7.2 * columns, 4.4 * rows + 0.6),
                                squeeze=False, layout="constrained")
    for axis, seed in zip(axes.flat, seeds):
        draw_cell(axis, genotypes[seed])
    for axis in axes.flat[len(seeds):]:
        axis.set_visible(False)
    first = genotypes[seeds[0]]
    figure.suptitle(f"Derived cell of each seed's DARTS search ({seeds_phrase(len(seeds))}; "
                    f"{first.dataset} {first.size}×{first.size})")
    return figure


def plot_cell(genotype: Genotype) -> Figure:
    figure, axis = plt.subplots(figsize=(7.2, 4.6), layout="constrained")
    draw_cell(axis, genotype)
    return figure


def draw_cell(axis: Axes, genotype: Genotype) -> None:
    topology = genotype.topology
    positions = _layout(genotype)
    design = genotype.derived_design()
    rows = max(y for _, y in positions.values()) + 1
    middle = (rows - 1) / 2
    sum_x = max(x for x, _ in positions.values()) + COLUMN_STEP
    pool_x = sum_x + COLUMN_STEP * 0.85

    _box(axis, (0.0, middle), "input", facecolor="#f2f2f2")
    for node in topology.nodes:
        operation = design[node.name]
        probability = genotype.probabilities[node.name][operation]
        label = f"{node.name}  {node.kernel_size}×{node.kernel_size}\n{operation}\np = {probability:.3f}"
        _box(axis, positions[node.name], label, facecolor=OPERATION_COLORS[operation],
             alpha=0.3 if operation != "zero" else 0.15, dashed=operation == "zero")
        # From the cell input or a node; what a Zero node passes on is nothing, so its edges are dashed.
        _arrow(axis, positions.get(node.input, (0.0, middle)), positions[node.name],
               dashed=design.get(node.input) == "zero")
    axis.add_patch(Circle((sum_x, middle), 0.28, facecolor="white", edgecolor="black", linewidth=1.2))
    axis.text(sum_x, middle, "+", ha="center", va="center", fontsize=14)
    for name in topology.outputs:
        _arrow(axis, positions[name], (sum_x, middle), target_half_width=0.28, dashed=design[name] == "zero")
    _box(axis, (pool_x, middle), "max-pool 2×2\n(where the cell\nposition pools)", facecolor="white",
         dashed=True, width=BOX_WIDTH * 0.95)
    _arrow(axis, (sum_x, middle), (pool_x, middle), source_half_width=0.28, target_half_width=BOX_WIDTH * 0.95 / 2)

    axis.set_xlim(-BOX_WIDTH / 2 - 0.1, pool_x + BOX_WIDTH / 2 + 0.1)
    axis.set_ylim(rows - 0.35, -0.65)  # first node on top
    axis.set_aspect("equal")
    axis.axis("off")
    status = (f"stopped early after {genotype.epochs_run} of {genotype.epochs_planned} epochs: {genotype.stop_reason}"
              if genotype.epochs_run < genotype.epochs_planned
              else f"ran all {genotype.epochs_planned} planned epochs")
    status = textwrap.fill(textwrap.shorten(status, width=150, placeholder="…"), width=75)
    axis.set_title(f"seed {genotype.seed}\n{status}", fontsize="medium")


def _layout(genotype: Genotype) -> dict[str, tuple[float, int]]:
    """(x, row) per node: column by depth below the input; an only child keeps its parent's row."""
    positions: dict[str, tuple[float, int]] = {}
    continued: set[str] = set()  # parents whose row a child already continues
    rows = 0
    for node in genotype.topology.nodes:
        parent_x, row = positions.get(node.input, (0.0, None))  # the cell input starts a row per child
        if row is None or node.input in continued:
            row, rows = rows, rows + 1
        continued.add(node.input)
        positions[node.name] = (parent_x + COLUMN_STEP, row)
    return positions


def _box(axis: Axes, center: tuple[float, float], text: str, facecolor: str, alpha: float = 1.0,
         dashed: bool = False, width: float = BOX_WIDTH) -> None:
    x, y = center
    axis.add_patch(FancyBboxPatch((x - width / 2, y - BOX_HEIGHT / 2), width, BOX_HEIGHT,
                                  boxstyle="round,pad=0.02,rounding_size=0.08",
                                  facecolor=to_rgba(facecolor, alpha), edgecolor="black",
                                  linewidth=1.0, linestyle="--" if dashed else "-"))
    axis.text(x, y, text, ha="center", va="center", fontsize=7)


def _arrow(axis: Axes, source: tuple[float, float], target: tuple[float, float], dashed: bool = False,
           source_half_width: float = BOX_WIDTH / 2, target_half_width: float = BOX_WIDTH / 2) -> None:
    start = (source[0] + source_half_width, source[1])
    end = (target[0] - target_half_width, target[1])
    axis.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, linewidth=1.0,
                                   color="black", linestyle="--" if dashed else "-", shrinkA=0, shrinkB=0))
