"""Floating-point operations of one forward pass, as torch.utils.flop_counter counts them:
convolutions and matrix products, a multiply-add counting as 2 (batch norm, ReLU, pooling and
additions are not counted; they are a small share of a conv network's work)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def flops_per_image(model: nn.Module, channels: int, image_size: tuple[int, int]) -> int:
    """FLOPs of the model on one image in eval mode; the model's train/eval state is kept."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            model(torch.zeros(1, channels, *image_size, device=device))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())
