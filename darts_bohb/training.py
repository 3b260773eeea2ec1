"""Supervised training and prediction of one network, on the fast path shared with the search.

Whole splits are uint8 tensors in memory; each batch is cut by indexing, normalised on the
device, stored channels_last, and run under the Runtime's autocast (bf16 where the hardware has
it). The loss is always computed in fp32 (losses.FocalLoss). Host syncs are kept to one per
epoch: the running loss stays a device tensor until the epoch ends.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from darts_bohb.data import Split, iterate_batches
from darts_bohb.losses import loss_for_split
from darts_bohb.memory import fitting_micro_batch, loss_shares
from darts_bohb.runtime import Runtime

LOG = logging.getLogger(__name__)
MAX_ROTATION_DEGREES = 15.0


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite; the network's predictions mean nothing."""


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int
    batch_size: int
    optimizer: str  # sgd | adam | adamw
    lr: float
    weight_decay: float
    momentum: float = 0.0  # SGD only
    nesterov: bool = False  # SGD only
    scheduler: str = "none"  # none | cosine | one_cycle
    focal_gamma: float = 0.0  # 0 = class-weighted cross-entropy
    class_weight_exponent: float = 0.0
    augment: bool = False
    epoch_scale: float = 1.0  # an epoch draws this many times the split's images (settings.EpochSize)


@dataclass(frozen=True)
class TrainingResult:
    epoch_losses: list[float]
    seconds: float
    images_seen: int
    micro_batch: int  # the images a step's parts held (memory.py), for another model of the same network


def make_optimizer(settings: TrainingSettings, parameters) -> torch.optim.Optimizer:
    if settings.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=settings.lr, momentum=settings.momentum,
                               nesterov=settings.nesterov and settings.momentum > 0,
                               weight_decay=settings.weight_decay)
    adam = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[settings.optimizer]  # the schema's choices
    return adam(parameters, lr=settings.lr, weight_decay=settings.weight_decay)


def make_scheduler(settings: TrainingSettings, optimizer: torch.optim.Optimizer, total_steps: int):
    """Stepped once per batch; None for a constant learning rate."""
    if settings.scheduler == "none":
        return None
    if settings.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings.lr, total_steps=total_steps)  # one_cycle


def augment_batch(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal and vertical flips and rotations of up to ±15 degrees, per image.

    The random numbers come from the CPU generator (so the data order and the augmentation are
    reproducible on any device); the warp runs on the images' device.
    """
    n = images.shape[0]
    draws = torch.rand(n, 3, generator=generator)
    flip_x = torch.where(draws[:, 0] < 0.5, -1.0, 1.0)
    flip_y = torch.where(draws[:, 1] < 0.5, -1.0, 1.0)
    angle = (draws[:, 2] * 2 - 1) * math.radians(MAX_ROTATION_DEGREES)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # Rotation times flip, as the 2x3 matrices affine_grid expects (output -> input coordinates).
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos * flip_x
    theta[:, 0, 1] = -sin * flip_y
    theta[:, 1, 0] = sin * flip_x
    theta[:, 1, 1] = cos * flip_y
    theta = theta.to(images.device, images.dtype, non_blocking=True)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return warped.contiguous(memory_format=torch.channels_last) if images.is_contiguous(
        memory_format=torch.channels_last) else warped


def train_model(model: nn.Module, train: Split, settings: TrainingSettings, runtime: Runtime,
                generator: torch.Generator, n_classes: int, log_epochs: bool = False,
                micro_batch: int | None = None) -> TrainingResult:
    """Train `model` in place for settings.epochs epochs; raise TrainingDiverged on a NaN loss.
    `log_epochs` logs a line per epoch with the time left (the final training; BOHB's trials log
    one line per trial instead). `micro_batch`, an earlier result's for the same network and
    batch size, spares the memory probe."""
    epoch_images = scaled(len(train), settings.epoch_scale)
    batch_size = min(settings.batch_size, epoch_images)
    steps_per_epoch = epoch_images // batch_size
    criterion = loss_for_split("focal", train, n_classes, gamma=settings.focal_gamma,
                               class_weight_exponent=settings.class_weight_exponent).to(runtime.device)
    optimizer = make_optimizer(settings, model.parameters())
    scheduler = make_scheduler(settings, optimizer, settings.epochs * steps_per_epoch)
    # Images that do not fit at once are cut into micro-batches whose gradients add up (memory.py).
    if micro_batch is None:
        micro_batch = fitting_micro_batch(model, nn.Module.__call__, criterion, train, batch_size, runtime,
                                          "a training step")
    model.train()
    start = time.perf_counter()
    epoch_losses = []
    for epoch in range(settings.epochs):
        running = torch.zeros((), device=runtime.device)
        # drop_last: a batch of one image would break batch norm on a 1x1 feature map.
        for images, labels in iterate_batches(train, batch_size, generator, shuffle=True, drop_last=True,
                                              n_images=epoch_images):
            inputs = runtime.images_to_device(images)
            if settings.augment:
                inputs = augment_batch(inputs, generator)
            labels = labels.to(runtime.device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            for part, share in loss_shares(criterion.normaliser, labels, micro_batch):
                with runtime.autocast():
                    loss = criterion(model(inputs[part]), labels[part]) * share
                loss.backward()
                running += loss.detach()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        mean_loss = running.item() / steps_per_epoch
        if not math.isfinite(mean_loss):
            raise TrainingDiverged(f"training loss became {mean_loss} in epoch {epoch + 1} of {settings.epochs}")
        epoch_losses.append(mean_loss)
        if log_epochs:
            elapsed = time.perf_counter() - start
            LOG.info("epoch %d/%d: loss %.4f, %.0f s, about %.0f s left", epoch + 1, settings.epochs, mean_loss,
                     elapsed, elapsed / (epoch + 1) * (settings.epochs - epoch - 1))
    return TrainingResult(epoch_losses, time.perf_counter() - start, settings.epochs * steps_per_epoch * batch_size,
                          micro_batch)


def scaled(n_images: int, epoch_scale: float) -> int:
    """The images of one epoch over `n_images` (exactly those at scale 1, the training's own path)."""
    return n_images if epoch_scale == 1.0 else max(1, round(n_images * epoch_scale))


@torch.inference_mode()
def predict_probabilities(model: nn.Module, split: Split, runtime: Runtime,
                          batch_size: int | None = None) -> np.ndarray:
    """Softmax class probabilities (N, C) in fp32, or for a multi-label split a sigmoid probability
    per label (N, L), in the split's order; batches sized to the device's memory unless `batch_size`
    is given."""
    model.eval()
    if batch_size is None:
        batch_size = runtime.prediction_batch_size(tuple(split.images.shape[1:]), widest_convolution(model))
    chunks = []
    for images, _ in iterate_batches(split, batch_size, shuffle=False):
        with runtime.autocast():
            logits = model(runtime.images_to_device(images))
        chunks.append(torch.sigmoid(logits.float()) if split.multi_label else torch.softmax(logits.float(), dim=1))
    return torch.cat(chunks).cpu().numpy()


def widest_convolution(model: nn.Module) -> int:
    return max((module.out_channels for module in model.modules() if isinstance(module, nn.Conv2d)), default=0)


def portable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state on the CPU in a standard memory layout, loadable on any device."""
    return {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
