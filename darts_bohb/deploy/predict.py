"""Class probabilities of new images from a final model folder, with PyTorch (model.pt) or with
onnxruntime (model.onnx, no torch needed)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from darts_bohb.deploy.images import ImageBatch, read_images
from darts_bohb.deploy.record import DeployError, normalise, read_model_record

LOG = logging.getLogger(__name__)
BACKENDS = ("torch", "onnx")
ONNX_FILE = "model.onnx"
ONNX_INPUT, ONNX_LOGITS, ONNX_PROBABILITIES = "images", "logits", "probabilities"
BATCH_SIZE = 512


class OnnxModelError(DeployError):
    """model.onnx is missing, unreadable, or does not take the images architecture.json describes."""


class OnnxBackend:
    """model.onnx in onnxruntime on the CPU; the images are normalised here as the record says."""

    def __init__(self, model_dir: str | Path):
        import onnxruntime  # only this backend needs it

        model_dir = Path(model_dir)
        self.record = read_model_record(model_dir / "architecture.json")
        path = model_dir / ONNX_FILE
        if not path.is_file():
            raise OnnxModelError(f"{path}: no such file (the export_onnx rule writes it)")
        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own untyped errors for a damaged file
            raise OnnxModelError(f"{path}: onnxruntime cannot load it ({error})") from None
        expected = [self.record.channels, *self.record.image_size]
        inputs = {node.name: node.shape[1:] for node in self.session.get_inputs()}
        if inputs.get(ONNX_INPUT) != expected:
            raise OnnxModelError(f"{path}: expected an input {ONNX_INPUT!r} of shape (batch, {expected}) as "
                                 f"{self.record.path} describes; the model takes {inputs}")

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        chunks = [self.session.run([ONNX_PROBABILITIES], {ONNX_INPUT: normalise(images[start:start + BATCH_SIZE])})[0]
                  for start in range(0, len(images), BATCH_SIZE)]
        return np.concatenate(chunks).astype(np.float32, copy=False)


def prediction_table(batch: ImageBatch, probabilities: np.ndarray, class_names: tuple[str, ...],
                     multi_label: bool = False) -> pd.DataFrame:
    """One row per image: its name or index, prob_0..prob_{C-1} (as in predictions.csv), the
    most probable class and its name; for a multi-label model, the labels above 0.5 instead
    (their names, separated by ';')."""
    table = pd.DataFrame(probabilities, columns=[f"prob_{c}" for c in range(probabilities.shape[1])])
    table.insert(0, batch.name_column, batch.names)
    if multi_label:
        table["predicted_labels"] = [";".join(name for name, p in zip(class_names, row) if p > 0.5)
                                     for row in probabilities]
        return table
    predicted = probabilities.argmax(axis=1)
    table["predicted_class"] = predicted
    table["predicted_name"] = [class_names[index] for index in predicted]
    return table


def predict_images(model_dir: str | Path, images: str | Path, backend: str = "torch", split: str = "test",
                   device: str = "cpu", precision: str = "recorded", threads: int | None = None
                   ) -> tuple[pd.DataFrame, dict[str, str]]:
    """The prediction table of `images` (an .npz split or a folder), and the files skipped as unreadable."""
    if backend == "onnx":
        model = OnnxBackend(model_dir)
    else:
        from darts_bohb.deploy.torch_backend import TorchBackend  # imported only when asked: it needs torch

        model = TorchBackend(model_dir, device, precision, threads)
    batch = read_images(images, model.record, split)
    LOG.info("predicting %d image(s) from %s with %s (%s backend)", len(batch.names), images, model_dir, backend)
    table = prediction_table(batch, model.probabilities(batch.images), model.record.class_names,
                             model.record.multi_label)
    return table, batch.skipped
