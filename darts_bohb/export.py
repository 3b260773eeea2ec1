"""From the search outputs (alphas.csv + search.json) to the genotype that BOHB reads.

The genotype takes the probabilities of the last epoch block in alphas.csv, the epoch at which
the search ended, whether it completed or stopped early.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from darts_bohb.genotype import Genotype, GenotypeError, genotype_from_dict, save_genotype
from darts_bohb.ops import OPERATIONS
from darts_bohb.settings import SearchSettings, from_dict
from darts_bohb.topology import cell_topology


def genotype_from_search(alphas: pd.DataFrame, summary: dict[str, Any], source: str = "search") -> Genotype:
    """The genotype of a search's last epoch. Both files are the search rule's own, trusted as it
    wrote them; the genotype's own checks still run before anything is written."""
    settings = from_dict(SearchSettings, summary["settings"], f"{source} summary: settings")
    topology = cell_topology(settings.kernel_sizes)
    block = alphas[alphas["epoch"] == summary["epochs_run"]]
    table = block.pivot(index="node", columns="operation", values="probability")
    probabilities = {node: {op: float(table.loc[node, op]) for op in OPERATIONS} for node in topology.node_names}
    genotype = Genotype(
        operations=OPERATIONS, topology=topology, probabilities=probabilities,
        seed=summary["seed"], dataset=summary["dataset"], size=summary["size"],
        epochs_run=summary["epochs_run"], epochs_planned=summary["epochs_planned"],
        stop_reason=summary["stop_reason"], extra={"settings": summary["settings"]},
    )
    genotype_from_dict(genotype.to_dict(), source)  # the loader's checks, before anything is written
    return genotype


def export_genotype(alphas_path: str | Path, summary_path: str | Path, output_path: str | Path) -> Genotype:
    try:
        alphas = pd.read_csv(alphas_path)
        summary = json.loads(Path(summary_path).read_text())
    except FileNotFoundError as error:
        raise GenotypeError(f"{error.filename}: no such file") from error
    except (json.JSONDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise GenotypeError(f"{alphas_path} or {summary_path} is not readable: {error}") from error
    if not isinstance(summary, dict):
        raise GenotypeError(f"{summary_path}: expected a JSON object, got {type(summary).__name__}")
    genotype = genotype_from_search(alphas, summary, source=f"{alphas_path} + {summary_path}")
    save_genotype(output_path, genotype)
    return genotype
