"""A trained final model folder for the deployment tests: the final rule's own code (run_final)
on the synthetic RetinaMNIST-shaped data, in fp32, with a searched cell design (identity, zero,
conv, ResNet and bottleneck nodes) followed by a plain conv cell, so every operation is exported."""

from __future__ import annotations

import json
from pathlib import Path

from darts_bohb.final import FinalOutputs, run_final
from darts_bohb.runtime import make_runtime
from darts_bohb.settings import FinalSettings
from darts_bohb.topology import cell_topology
from hpo_fixtures import write_synthetic_npz

DESIGN = {"k3": "conv_block", "k5": "resnet_block", "k7": "zero", "k9": "identity",
          "k7_k3": "resnet_bottleneck", "k9_k3": "resnet_bottleneck"}
ARCHITECTURE = {"in_channels": 3, "n_classes": 5, "head": {"widths": [16], "dropout": 0.1},
                "topology": cell_topology().to_dict(),
                "cells": [{"design": DESIGN, "channels": 8, "batch_norm": True, "pool": True},
                          {"design": "plain_conv", "channels": 16, "batch_norm": False, "pool": True}]}
SELECTION_METHOD = "2-fold stratified CV over train+val (260 images), accuracy"
CONFIG = {"n_cells": 2, "head_layers": 1, "dropout": 0.1, "optimizer": "adam", "lr": 0.01, "weight_decay": 1e-5,
          "scheduler": "cosine", "batch_size": 64, "focal_gamma": 0.0, "class_weight_exponent": 0.5,
          "augment": False}


def train_final_model(folder: Path, method: str = "nas", precision: str = "fp32") -> Path:
    """run_final into `folder` (with the synthetic data as data.npz beside it); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    data = write_synthetic_npz(folder / "data.npz")
    incumbent = folder / "incumbent.json"
    incumbent.write_text(json.dumps({
        "method": method, "seed": 3, "metric": "accuracy", "validation_score": 0.6, "budget": 2, "config_id": 7,
        "selection_estimate": 0.6, "selection_std_error": 0.03, "selection_method": SELECTION_METHOD,
        "config": CONFIG, "designs": None,
        "architecture": ARCHITECTURE}))
    outputs = FinalOutputs(*(folder / name for name in ("metrics.json", "predictions.csv", "model.pt",
                                                        "architecture.json", "MODEL_CARD.md")))
    run_final(method, incumbent, data, seed=3, epochs=2, settings=FinalSettings(train_on="train"),
              task="ordinal-regression", n_classes=5, runtime=make_runtime("cpu", precision), outputs=outputs,
              dataset="retinamnist")
    return folder
