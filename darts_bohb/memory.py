"""Training steps that fit in the job's memory, whatever the image size.

The activations that a training step keeps for its backward pass grow with the pixels: the DARTS
supernet of config.yaml keeps about 3.4 MB per image at 28 px and 18 MB at 64 px. Shrinking the
batch to fit would change the optimisation with the image size. Instead, a batch that does not fit
is cut into equal micro-batches whose gradients add up to the whole batch's (gradient
accumulation); only batch norm sees the smaller batches. A batch that fits runs as one, exactly as
before.

What an image costs is measured, not modelled: the bytes of the tensors that autograd saves during
a training forward pass on 2 and on 4 images, whose difference is two images' worth without the
per-batch constants (the weights and their bf16 copies).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable

import torch
from torch import nn

from darts_bohb.data import Split
from darts_bohb.runtime import Runtime

LOG = logging.getLogger(__name__)
PROBE_IMAGES = (2, 4)
# The backward pass holds gradients of the saved maps and workspace beside them. Measured for the
# default supernet at batch 64: the peak RSS of a search epoch above the idle process (362 MB) is
# 2.0x, 1.6x and 1.3x its saved bytes at 28, 64 and 128 px (benchmarks/cost_vs_size.py).
PEAK_PER_SAVED_BYTE = 2.0
MIN_MICRO_BATCH = 2  # batch norm's statistics need two images


class MemoryBudgetError(ValueError):
    """Not even the smallest micro-batch fits in the memory given to the job."""


def saved_bytes(forward: Callable[[], object]) -> int:
    """Bytes of the distinct storages that autograd saves for backward while `forward` runs."""
    storages: dict[tuple[int, str], int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[(storage.data_ptr(), str(tensor.device))] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        forward()
    return sum(storages.values())


def activation_bytes_per_image(model: nn.Module, forward_loss: Callable[[nn.Module, int], torch.Tensor],
                               device: torch.device) -> float:
    """Saved bytes per image of a training step; `forward_loss(probe, n)` computes the training
    loss of the model `probe` on n images. It runs on a copy of `model` with the random state put
    back afterwards, so batch norm's running statistics and the random stream of the training
    itself stay as they were."""
    probe = copy.deepcopy(model).train()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        small, large = (saved_bytes(lambda n=n: forward_loss(probe, n)) for n in PROBE_IMAGES)
    return max(large - small, 0) / (PROBE_IMAGES[1] - PROBE_IMAGES[0])


def micro_batch_size(batch_size: int, bytes_per_image: float, budget_bytes: int | None, what: str) -> int:
    """Images per micro-batch: the whole batch when it fits in `budget_bytes` (or no budget is
    set), else the size of the fewest equal parts that fit. Raises MemoryBudgetError when not
    even MIN_MICRO_BATCH images fit, naming `what` and the memory that would be needed."""
    if budget_bytes is None or bytes_per_image <= 0:
        return batch_size
    fits = int(budget_bytes // (PEAK_PER_SAVED_BYTE * bytes_per_image))
    if fits >= batch_size:
        return batch_size
    if fits < MIN_MICRO_BATCH:
        needed_mb = math.ceil(MIN_MICRO_BATCH * PEAK_PER_SAVED_BYTE * bytes_per_image / 2**20)
        raise MemoryBudgetError(
            f"{what}: a step on {MIN_MICRO_BATCH} images needs about {needed_mb} MB for its activations, but the "
            f"job gives training {budget_bytes // 2**20} MB; raise the rule's resources mem_mb (config.yaml, "
            "resources section) or use smaller images or networks")
    parts = math.ceil(batch_size / fits)
    return math.ceil(batch_size / parts)


def fitting_micro_batch(model: nn.Module, logits_of: Callable[[nn.Module, torch.Tensor], torch.Tensor],
                        criterion: nn.Module, split: Split, batch_size: int, runtime: Runtime, what: str) -> int:
    """micro_batch_size for training `model` on batches of `split` within the runtime's training
    memory; `logits_of(model, inputs)` is the training forward pass. Whole batches when the
    runtime sets no budget or the split is too small to probe."""
    budget = runtime.training_memory_bytes()
    n_probe = PROBE_IMAGES[-1]
    if budget is None or len(split) < n_probe:
        return batch_size
    index = torch.arange(n_probe)
    images, labels = split.images_at(index), runtime.to_device(split.labels[index])

    def forward_loss(probe: nn.Module, n: int) -> torch.Tensor:
        with runtime.autocast():
            logits = logits_of(probe, runtime.images_to_device(images[:n]))
        return criterion(logits, labels[:n])

    per_image = activation_bytes_per_image(model, forward_loss, runtime.device)
    micro_batch = micro_batch_size(batch_size, per_image, budget, what)
    if micro_batch < batch_size:
        LOG.info("%s: batches of %d cut into micro-batches of at most %d (%.1f MB of activations an image, "
                 "%d MB for training)", what, batch_size, micro_batch, per_image / 2**20, budget // 2**20)
    return micro_batch


def loss_shares(normaliser: Callable[[torch.Tensor], torch.Tensor | float], labels: torch.Tensor, size: int
                ) -> list[tuple[slice, torch.Tensor | float]]:
    """(part, share) per micro-batch of a batch with `labels`: the parts' losses times their shares
    add up to the batch's loss (`normaliser` is the loss's). A batch that fits is one part of share
    1.0, and multiplying by 1.0 is exact, loss and gradients alike: the step is the one without
    micro-batches, bit for bit. The parts are the fewest consecutive slices of at most `size`
    images, their sizes differing by one at most: no last part of a single image, which batch norm
    cannot take, unless the batch itself is that small."""
    n = len(labels)
    if size >= n:
        return [(slice(None), 1.0)]
    total, n_parts = normaliser(labels), math.ceil(n / size)
    starts = [part * (n // n_parts) + min(part, n % n_parts) for part in range(n_parts + 1)]
    return [(part, normaliser(labels[part]) / total) for part in map(slice, starts, starts[1:])]
