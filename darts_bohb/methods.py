"""The three methods that share one BOHB protocol, and where each keeps its results.

`nas` stacks cells sampled from the searched genotype, `random` cells drawn uniformly from the
same operations (the control for the search), `baseline` a plain CNN. Light on purpose: the
scripts' argument parsers import it.
"""

from __future__ import annotations

METHODS = ("nas", "random", "baseline")
# Below results/: the folders of each method's BOHB runs and final models (nas has no prefix).
RESULT_PREFIX = {"nas": "", "random": "random/", "baseline": "baseline/"}


def final_folder(method: str, seed: int) -> str:
    """results/{prefix}final/seed{seed}: a method's final model, metrics and predictions."""
    return f"results/{RESULT_PREFIX[method]}final/seed{seed}"
