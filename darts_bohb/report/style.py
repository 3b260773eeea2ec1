"""What every figure shares: colours and saving. Importing this module selects matplotlib's Agg
backend, so figures render on a cluster node without a display."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from darts_bohb.io import atomic_path  # noqa: E402

METHOD_COLORS = {"nas": "#1f5fa8", "random": "#6a3d9a", "baseline": "#d95f02"}
METHOD_LINESTYLES = {"nas": "-", "random": ":", "baseline": "--"}
# Sequential palettes give each seed its own shade while keeping the method's hue.
METHOD_PALETTES = {"nas": "Blues", "random": "Purples", "baseline": "Oranges"}
OPERATION_COLORS = {
    "identity": "#e7298a",
    "zero": "#8c8c8c",
    "conv_block": "#1b9e77",
    "resnet_block": "#7570b3",
    "resnet_bottleneck": "#e6ab02",
}

# Fixed ids and no date in the SVGs: the same results give byte-identical figures.
matplotlib.rcParams["svg.hashsalt"] = "darts-bohb"
sns.set_theme(context="notebook", style="whitegrid", font_scale=0.8)


def seed_shades(method: str, seeds: Sequence[int]) -> dict[int, tuple[float, float, float]]:
    # The palest end of the palette dropped, so that every line reads on white; the first seed gets the strongest.
    shades = sns.color_palette(METHOD_PALETTES[method], n_colors=len(seeds) + 2)[2:]
    return dict(zip(seeds, reversed(shades)))


def save_figure(figure: Figure, targets: list[str | Path]) -> None:
    """Write the figure to every target (format from the extension), each atomically, then close it."""
    for target in targets:
        image_format = Path(target).suffix.lstrip(".").lower()
        metadata = {"Date": None} if image_format == "svg" else None
        with atomic_path(target) as tmp:
            # The temporary name ends in .tmp, so the format must be given explicitly.
            figure.savefig(tmp, format=image_format, dpi=150, metadata=metadata)
        # The first save placed everything; solving the layout again for the next format would
        # only cost time (about half of it for the many-panel figures).
        figure.set_layout_engine("none")
    plt.close(figure)
    logging.info("wrote %s", ", ".join(map(str, targets)))

