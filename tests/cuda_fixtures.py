"""Small searches and trainings shared by the CUDA tests on the CPU (test_runtime_cuda.py) and
on a GPU (test_cuda.py): synthetic data, a few steps an epoch, every optional part switched on."""

from __future__ import annotations

import torch

from config_defaults import config_section
from darts_bohb.darts import DartsSearch
from darts_bohb.data import Split
from darts_bohb.network import build_network
from darts_bohb.runtime import Runtime
from darts_bohb.settings import SearchSettings, from_dict
from darts_bohb.topology import cell_topology
from darts_bohb.training import TrainingSettings, train_model

TRIAL_ARCHITECTURE = {
    "in_channels": 3, "n_classes": 5, "topology": cell_topology().to_dict(),
    "cells": [{"design": {"k3": "conv_block", "k5": "resnet_block", "k7": "identity", "k9": "resnet_bottleneck",
                          "k7_k3": "conv_block", "k9_k3": "zero"}, "channels": 8, "batch_norm": True, "pool": True},
              {"design": "plain_conv", "channels": 16, "batch_norm": True, "pool": True}],
    "head": {"widths": [16], "dropout": 0.2},
}
# Two epochs of four steps (64 images), augmentation, dropout and a per-step schedule on.
TRIAL_SETTINGS = TrainingSettings(epochs=2, batch_size=16, optimizer="adamw", lr=1e-3, weight_decay=1e-4,
                                  scheduler="one_cycle", focal_gamma=2.0, class_weight_exponent=0.5, augment=True)


def random_split(n: int, size: int = 28, seed: int = 0) -> Split:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator)
    return Split(images=images, labels=torch.arange(n) % 5)


def tiny_search(runtime: Runtime, order: str = "first", mode: str = "add", n_images: int = 96) -> DartsSearch:
    """Two narrow cells, batches of 16: three α and three weight steps an epoch from 96 images."""
    settings = from_dict(SearchSettings, config_section(
        "search", epochs=2, batch_size=16, channels=[4, 8], pool=[True, True], order=order,
        surrogate_skip={"mode": mode}, arch={"warmup_epochs": 0}), "search")
    return DartsSearch(settings, runtime, random_split(n_images), n_classes=5, seed=0)


def train_trial_network(runtime: Runtime) -> None:
    model = runtime.prepare_model(build_network(TRIAL_ARCHITECTURE))
    train_model(model, random_split(64), TRIAL_SETTINGS, runtime, torch.Generator().manual_seed(0), n_classes=5)
