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

ALPHA_COLUMNS = ("epoch", "node", "kernel_size", "operation", "alpha", "probability")
SUMMARY_KEYS = ("dataset", "size", "seed", "epochs_planned", "epochs_run", "stop_reason", "settings")


def genotype_from_search(alphas: pd.DataFrame, summary: dict[str, Any], source: str = "search") -> Genotype:
    missing = [column for column in ALPHA_COLUMNS if column not in alphas.columns]
    if missing:
        raise GenotypeError(f"{source} alphas: missing column(s) {missing}; expected {list(ALPHA_COLUMNS)}")
    absent = [key for key in SUMMARY_KEYS if key not in summary]
    if absent:
        raise GenotypeError(f"{source} summary: missing key(s) {absent}")
    settings = from_dict(SearchSettings, summary["settings"], f"{source} summary: settings")
    topology = cell_topology(settings.kernel_sizes)

    last_epoch = int(alphas["epoch"].max())
    if last_epoch != summary["epochs_run"]:
        raise GenotypeError(f"{source}: the last epoch in alphas is {last_epoch}, "
                            f"but the summary says epochs_run = {summary['epochs_run']}")
    block = alphas[alphas["epoch"] == last_epoch]
    probabilities: dict[str, dict[str, float]] = {}
    for node in topology.nodes:
        rows = block[block["node"] == node.name]
        found = dict(zip(rows["operation"], rows["probability"].astype(float)))
        if sorted(found) != sorted(OPERATIONS) or len(rows) != len(OPERATIONS):
            raise GenotypeError(f"{source} alphas: epoch {last_epoch}, node {node.name!r}: expected one row per "
                                f"operation {list(OPERATIONS)}, found {list(rows['operation'])}")
        if set(rows["kernel_size"]) != {node.kernel_size}:
            raise GenotypeError(f"{source} alphas: node {node.name!r} has kernel_size "
                                f"{sorted(set(rows['kernel_size']))}, expected {node.kernel_size}")
        probabilities[node.name] = {op: found[op] for op in OPERATIONS}
    extra_nodes = sorted(set(block["node"]) - set(topology.node_names))
    if extra_nodes:
        raise GenotypeError(f"{source} alphas: nodes {extra_nodes} are not in the cell {list(topology.node_names)}")

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
