"""Synthetic data sets in MedMNIST's .npz layout, one per task type, at any size and channel count.

The layout is MedMNIST's: {train,val,test}_images uint8 (N, H, W) for grayscale or (N, H, W, 3),
and {train,val,test}_labels uint8 (N, 1) class indices, or (N, L) of 0/1 for a multi-label task.
Each class (or each present label) lights a bright bar in its own horizontal band of the image, so
a tiny network learns the task within a few epochs whatever the size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from darts_bohb.network import build_network
from darts_bohb.tasks import MULTI_LABEL_TASK

SPLIT_SIZES = {"train": 160, "val": 60, "test": 60}
# The synthetic data sets of the tiny sweep (.test/sweep.yaml), by flag: the arguments of write_task_npz.
SWEEP_SETS = {"synthml": {"task": MULTI_LABEL_TASK, "n_classes": 4, "channels": 1,
                          "split_sizes": {"train": 200, "val": 60, "test": 60}}}


def task_arrays(task: str, n_classes: int = 3, channels: int = 3, size: int = 28, seed: int = 0,
                split_sizes: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """Arrays of a synthetic data set; `n_classes` counts the labels of a multi-label task."""
    rng = np.random.default_rng(seed)
    band = size // n_classes
    arrays = {}
    for split, n in (split_sizes or SPLIT_SIZES).items():
        shape = (n, size, size) if channels == 1 else (n, size, size, channels)
        images = rng.integers(0, 60, size=shape, dtype=np.uint8)
        if task == MULTI_LABEL_TASK:
            labels = (rng.random((n, n_classes)) < 0.4).astype(np.uint8)
            # Every label present and absent in every split, so each label's AUC is defined.
            labels[0], labels[1] = 1, 0
        else:
            labels = (np.arange(n) % n_classes).astype(np.uint8)
            rng.shuffle(labels)
            labels = labels.reshape(-1, 1)
        for index in range(n):
            present = np.flatnonzero(labels[index]) if task == MULTI_LABEL_TASK else labels[index]
            for label in present:
                images[index, label * band + 1:label * band + band - 1, size // 8:size - size // 8] += 180
        arrays[f"{split}_images"] = images
        arrays[f"{split}_labels"] = labels
    return arrays


def write_task_npz(path: Path, task: str, **kwargs) -> Path:
    """A synthetic .npz of `task_arrays`; `replace_<array>` keyword arguments overwrite one array."""
    replace = {key.removeprefix("replace_"): kwargs.pop(key) for key in list(kwargs) if key.startswith("replace_")}
    arrays = task_arrays(task, **kwargs) | replace
    np.savez_compressed(path, **arrays)
    return path


def small_network(in_channels: int, n_outputs: int) -> torch.nn.Module:
    """Two plain conv cells (8 and 16 channels) and a linear head: learns the bars in a few epochs."""
    cell = {"design": "plain_conv", "channels": 8, "batch_norm": True, "pool": True}
    return build_network({"in_channels": in_channels, "n_classes": n_outputs, "head": {"widths": [], "dropout": 0.0},
                          "cells": [cell, cell | {"channels": 16}]})
