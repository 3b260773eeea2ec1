"""From the search outputs (alphas.csv + search.json) to the genotype that BOHB reads.

The genotype takes the probabilities of the last epoch block in alphas.csv, the epoch at which
the search ended, whether it completed or stopped early.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from darts_bohb.genotype import Genotype, GenotypeError, save_genotype
from darts_bohb.ops import OPERATIONS
from darts_bohb.topology import cell_topology


def genotype_from_search(alphas: pd.DataFrame, summary: dict[str, Any]) -> Genotype:
    """The genotype of a search's last epoch. Both files are the search rule's own (written
    atomically, from checked settings), so they are trusted as they are."""
    topology = cell_topology(summary["settings"]["kernel_sizes"])
    block = alphas[alphas["epoch"] == summary["epochs_run"]]
    table = block.pivot(index="node", columns="operation", values="probability")
    probabilities = {node: {op: float(table.loc[node, op]) for op in OPERATIONS} for node in topology.node_names}
    return Genotype(
        operations=OPERATIONS, topology=topology, probabilities=probabilities,
        seed=summary["seed"], dataset=summary["dataset"], size=summary["size"],
        epochs_run=summary["epochs_run"], epochs_planned=summary["epochs_planned"],
        stop_reason=summary["stop_reason"], extra={"settings": summary["settings"]},
    )


def export_genotype(alphas_path: str | Path, summary_path: str | Path, output_path: str | Path) -> Genotype:
    try:
        alphas = pd.read_csv(alphas_path)
        summary = json.loads(Path(summary_path).read_text())
    except FileNotFoundError as error:
        raise GenotypeError(f"{error.filename}: no such file") from error
    genotype = genotype_from_search(alphas, summary)
    save_genotype(output_path, genotype)
    return genotype
