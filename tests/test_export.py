"""alphas.csv + search.json -> genotype.json: the last epoch's probabilities and the record of the
search (a missing input's error: test_search_cli)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch

from config_defaults import config_section
from darts_bohb.export import export_genotype
from darts_bohb.genotype import load_genotype
from darts_bohb.ops import OPERATIONS
from darts_bohb.settings import SearchSettings, from_dict
from darts_bohb.topology import cell_topology

TOPOLOGY = cell_topology()


def search_outputs(epochs: int = 2) -> tuple[pd.DataFrame, dict]:
    """alphas.csv rows for epochs 0..`epochs` (random α) and the matching search.json."""
    generator = torch.Generator().manual_seed(0)
    rows = []
    for epoch in range(epochs + 1):
        alpha = torch.randn(len(TOPOLOGY.nodes), len(OPERATIONS), generator=generator, dtype=torch.float64)
        probabilities = alpha.softmax(dim=-1)
        rows += [{"epoch": epoch, "node": node.name, "kernel_size": node.kernel_size, "operation": op,
                  "alpha": float(alpha[i, j]), "probability": float(probabilities[i, j])}
                 for i, node in enumerate(TOPOLOGY.nodes) for j, op in enumerate(OPERATIONS)]
    summary = {"dataset": "retinamnist", "size": 28, "seed": 3, "epochs_planned": 30, "epochs_run": epochs,
               "stopped_early": True, "stop_reason": f"early stop after epoch {epochs}: ...",
               "resumed_from_epoch": None, "runtime": {"device": "cpu", "precision": "bf16", "threads": 2},
               "seconds": 1.0, "settings": from_dict(SearchSettings, config_section("search"), "search").to_dict()}
    return pd.DataFrame(rows), summary


def write_inputs(folder: Path, alphas: pd.DataFrame, summary: dict) -> tuple[Path, Path]:
    alphas.to_csv(folder / "alphas.csv", index=False)
    (folder / "search.json").write_text(json.dumps(summary))
    return folder / "alphas.csv", folder / "search.json"


def test_export_round_trip_keeps_the_last_epochs_probabilities_and_argmax(tmp_path):
    alphas, summary = search_outputs(epochs=2)
    alphas_path, summary_path = write_inputs(tmp_path, alphas, summary)
    exported = export_genotype(alphas_path, summary_path, tmp_path / "genotype.json")
    loaded = load_genotype(tmp_path / "genotype.json")

    last = pd.read_csv(alphas_path).query("epoch == 2")
    for node in TOPOLOGY.nodes:
        expected = last[last["node"] == node.name].set_index("operation")["probability"]
        assert loaded.probabilities[node.name] == {op: expected[op] for op in OPERATIONS}
        assert loaded.argmax(node.name) == expected.idxmax()
    assert loaded.derived_design() == exported.derived_design()
    assert loaded.topology == TOPOLOGY
    assert (loaded.seed, loaded.dataset, loaded.size, loaded.epochs_run, loaded.epochs_planned) == (
        3, "retinamnist", 28, 2, 30)
    assert loaded.stop_reason == summary["stop_reason"]
    settings = from_dict(SearchSettings, config_section("search"), "search").to_dict()
    assert loaded.extra["settings"] == json.loads(json.dumps(settings))
