"""model.pt -> model.onnx (a dynamic batch axis, outputs "logits" and "probabilities"), checked
with onnxruntime against PyTorch on a split's images before it is written.

The exporter is torch.export's (torch.onnx.export with dynamo=True, which needs onnxscript): the
TorchScript-based one is deprecated since torch 2.9. The graph is traced at the recorded image
size, so the 2x2 pools that are skipped on small feature maps are fixed as they are at that size.
The check reads the split batch by batch (memory-mapped where it is large, data.load_splits), in
batches that fit in the job's memory: a large set's test split at 224 px is gigabytes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch
from torch import nn

from darts_bohb.data import Split, iterate_batches, load_splits
from darts_bohb.deploy.model import load_final_model
from darts_bohb.deploy.predict import ONNX_INPUT, ONNX_LOGITS, ONNX_PROBABILITIES
from darts_bohb.deploy.record import DEPLOYMENT_KEY, DeployError, normalise
from darts_bohb.io import atomic_path

LOG = logging.getLogger(__name__)
TOLERANCE = 1e-4  # largest absolute difference allowed between onnxruntime's and PyTorch's fp32 outputs
MAX_CHECK_BATCH = 128  # onnxruntime runs batches of this size and one of the rest: the batch axis is dynamic
# What one image of the check may hold at once, in float32 maps of the widest layer at the image size:
# its input, the few maps alive in either runtime (runtime.PREDICTION_LIVE_MAPS each), and both outputs.
CHECK_LIVE_MAPS = 20


class OnnxExportError(DeployError):
    """The exported graph does not reproduce PyTorch's outputs, so no model.onnx is written."""


@dataclass(frozen=True)
class OnnxCheck:
    n_images: int
    max_logit_difference: float
    max_probability_difference: float


class WithProbabilities(nn.Module):
    """The network with its softmax (a sigmoid per label for a multi-label task), so that an ONNX
    user needs no code of ours to get probabilities."""

    def __init__(self, network: nn.Module, multi_label: bool = False):
        super().__init__()
        self.network = network
        self.multi_label = multi_label

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.network(images)
        return logits, torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=1)


def export_onnx(model_dir: str | Path, data_path: str | Path, target: str | Path, split: str = "test",
                tolerance: float = TOLERANCE, memory_mb: int = 2000) -> OnnxCheck:
    """Export and check; model.onnx appears only if every output is within `tolerance` of PyTorch's.
    The check's batches fit in half of `memory_mb` (the job's memory)."""
    network, record = load_final_model(model_dir)
    images = load_splits(data_path, (split,))[split]
    model = WithProbabilities(network, record.multi_label).eval()
    example = torch.from_numpy(normalise(images.images_at(torch.arange(2)).numpy()))
    with atomic_path(target) as tmp:
        try:
            program = torch.onnx.export(
                model, (example,), dynamo=True, input_names=[ONNX_INPUT],
                output_names=[ONNX_LOGITS, ONNX_PROBABILITIES], dynamic_shapes=({0: torch.export.Dim("batch")},),
                verbose=False)
            program.save(str(tmp))
            graph = onnx.load(str(tmp))
            onnx.checker.check_model(graph)
        except Exception as error:  # the exporter and the checker raise many kinds; name the model
            raise OnnxExportError(f"{model_dir}: the network could not be exported to a valid ONNX graph "
                                  f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
                                  "nothing was written") from error
        # The preprocessing travels inside the file too, for users who have only model.onnx.
        onnx.helper.set_model_props(graph, {DEPLOYMENT_KEY: json.dumps(record.architecture[DEPLOYMENT_KEY])})
        onnx.save(graph, str(tmp))
        batch_size = check_batch_size(network, tuple(images.images.shape[1:]), memory_mb)
        check = compare_with_pytorch(network, tmp, images, batch_size, record.multi_label)
        LOG.info("onnxruntime vs PyTorch on %d %s images of %s: max |diff| %.2e (logits), %.2e (probabilities)",
                 check.n_images, split, data_path, check.max_logit_difference, check.max_probability_difference)
        worst = max(check.max_logit_difference, check.max_probability_difference)
        if not worst <= tolerance:
            raise OnnxExportError(
                f"{target}: the exported graph differs from PyTorch by up to {worst:.3g} on the {split} images of "
                f"{data_path} (allowed {tolerance:g}); nothing was written")
    return check


def check_batch_size(network: nn.Module, image_shape: tuple[int, ...], memory_mb: int) -> int:
    """Images per batch of the check: as many as half of the job's memory holds (CHECK_LIVE_MAPS)."""
    channels, height, width = image_shape
    widest = max((m.out_channels for m in network.modules() if isinstance(m, nn.Conv2d)), default=channels)
    per_image = CHECK_LIVE_MAPS * max(widest, channels) * height * width * 4
    return max(1, min(MAX_CHECK_BATCH, memory_mb * 2**20 // 2 // per_image))


def compare_with_pytorch(network: nn.Module, onnx_path: str | Path, split: Split, batch_size: int,
                         multi_label: bool = False) -> OnnxCheck:
    """Largest differences between onnxruntime and PyTorch (fp32, CPU) on a split's images."""
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logit_diff = probability_diff = 0.0
    for images, _ in iterate_batches(split, batch_size, shuffle=False):
        chunk = np.ascontiguousarray(normalise(images.numpy()))
        logits, probabilities = session.run([ONNX_LOGITS, ONNX_PROBABILITIES], {ONNX_INPUT: chunk})
        with torch.inference_mode():
            expected = network(torch.from_numpy(chunk)).float()
        expected_probabilities = WithProbabilities(nn.Identity(), multi_label)(expected)[1].numpy()
        logit_diff = max(logit_diff, float(np.abs(logits - expected.numpy()).max()))
        probability_diff = max(probability_diff, float(np.abs(probabilities - expected_probabilities).max()))
    return OnnxCheck(len(split), logit_diff, probability_diff)
