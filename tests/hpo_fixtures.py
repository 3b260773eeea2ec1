"""Helpers for the BOHB / final / network tests: crafted genotypes, a tiny space, synthetic data.

The synthetic .npz has the exact layout of a MedMNIST file (uint8 NHWC images, (N, 1) labels,
train/val/test) with RetinaMNIST's shape (3 channels, 28 px, 5 classes), but only a few hundred
images whose class is the colour of a square at a random place, so a tiny network learns it
within a few epochs. It stands in for the real file wherever only the mechanics
are tested (the real file's 1,080 training images make each trial several times slower).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from config_defaults import config_section
from darts_bohb.genotype import Genotype
from darts_bohb.ops import OPERATIONS
from darts_bohb.settings import HpoSettings
from darts_bohb.topology import cell_topology

N_CLASSES = 5
IMAGE_SIZE = 28
SPLIT_SIZES = {"train": 200, "val": 60, "test": 60}
CLASS_CHANNELS = ([0], [1], [2], [0, 1], [1, 2])  # the colour of a class's square

TINY_SPACE = config_section("hpo")["space"] | dict(
    cells=[1, 2], channels=[8, 16], head_layers=[0, 1], head_width=[8, 16], lr=[1e-3, 3e-2], batch_size=[32, 64])


def tiny_hpo(**overrides) -> HpoSettings:
    """Budgets 1..3 epochs, eta 3: one Hyperband round is 6 trials and 12 epochs."""
    values = dict(metric="accuracy", min_budget=1, max_budget=3, eta=3, total_epochs=12,
                  walltime_s=None, designs_per_cell=3, cv_folds=3, ensemble_size=4, space=TINY_SPACE)
    values.update(overrides)
    return HpoSettings(**values)


def hpo_json(hpo: HpoSettings) -> str:
    return json.dumps(hpo.to_dict())


def make_genotype(probabilities: dict[str, dict[str, float]] | None = None, seed: int = 0) -> Genotype:
    """A genotype for RetinaMNIST 28 px; random (Dirichlet) probabilities unless given."""
    topology = cell_topology()
    if probabilities is None:
        rng = np.random.default_rng(seed)
        probabilities = {node: dict(zip(OPERATIONS, rng.dirichlet(np.ones(len(OPERATIONS))).tolist()))
                         for node in topology.node_names}
    return Genotype(operations=OPERATIONS, topology=topology, probabilities=probabilities, seed=seed,
                    dataset="retinamnist", size=IMAGE_SIZE, epochs_run=2, epochs_planned=2,
                    stop_reason="max_epochs")


def synthetic_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in SPLIT_SIZES.items():
        labels = np.arange(n) % N_CLASSES
        rng.shuffle(labels)
        images = rng.integers(0, 60, size=(n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
        for index, label in enumerate(labels):
            row, col = rng.integers(0, IMAGE_SIZE - 10, size=2)
            images[index, row:row + 10, col:col + 10, CLASS_CHANNELS[label]] += 180
        arrays[f"{split}_images"] = images
        arrays[f"{split}_labels"] = labels.reshape(-1, 1).astype(np.uint8)
    return arrays


def write_synthetic_npz(path: Path, seed: int = 0, **replace: np.ndarray) -> Path:
    arrays = synthetic_arrays(seed)
    arrays.update(replace)
    np.savez_compressed(path, **arrays)
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny networks gain nothing from a second thread, and two threads slow down tenfold when
    other jobs share the cores (OpenMP threads wait on each other); restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
