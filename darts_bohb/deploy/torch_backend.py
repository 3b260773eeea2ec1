"""Prediction with PyTorch, through the same code path as the final rule's test predictions
(darts_bohb.training.predict_probabilities: Runtime.images_to_device, the same batches, autocast)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from darts_bohb.data import Split
from darts_bohb.deploy.model import load_final_model
from darts_bohb.deploy.record import DeployError
from darts_bohb.runtime import RuntimeConfigError, make_runtime
from darts_bohb.training import predict_probabilities

LOG = logging.getLogger(__name__)
RECORDED = "recorded"  # the precision the final rule scored the test split with


class TorchBackend:
    def __init__(self, model_dir: str | Path, device: str = "cpu", precision: str = RECORDED,
                 threads: int | None = None):
        network, self.record = load_final_model(model_dir)
        self.runtime = _runtime(device, self.record.scored_precision if precision == RECORDED else precision,
                                threads, fall_back=precision == RECORDED)
        self.model = self.runtime.prepare_model(network)
        LOG.info("PyTorch backend: %s", self.runtime.describe())

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        # Placeholder labels of the record's task: their shape selects softmax or per-label sigmoid.
        label_shape = (len(images), len(self.record.class_names)) if self.record.multi_label else (len(images),)
        split = Split(torch.from_numpy(images), torch.zeros(label_shape, dtype=torch.int64))
        return predict_probabilities(self.model, split, self.runtime)


def _runtime(device: str, precision: str, threads: int | None, fall_back: bool):
    try:
        return make_runtime(device, precision, threads)
    except RuntimeConfigError as error:
        if not fall_back or precision == "fp32":
            raise DeployError(f"--device/--precision: {error}") from None
        # The test predictions were made in bf16 on hardware that has it; fp32 differs from them
        # by about bf16's rounding, which is the best this machine can do.
        LOG.warning("the final rule scored in %s, which this machine cannot (%s); predicting in fp32", precision, error)
        return make_runtime(device, "fp32", threads)
