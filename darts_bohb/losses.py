"""Focal loss with class weights, for the imbalanced MedMNIST classes (Lin et al. 2017).

With gamma = 0 it is exactly `F.cross_entropy(logits, y, weight=w)`, so one loss serves both the
`ce` and the `focal` settings and BOHB can treat gamma as a plain hyperparameter.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def class_weights(class_counts: torch.Tensor, exponent: float) -> torch.Tensor:
    """w_c proportional to (1 / n_c) ** exponent, scaled to mean 1 over the classes.

    exponent 0 weighs all classes alike, 1 is full inverse frequency, values between smooth it.
    An empty class gets weight 0 (it has no samples to weigh).
    """
    if exponent < 0:
        raise ValueError(f"class-weight exponent must be >= 0, got {exponent}")
    counts = class_counts.to(torch.float64)
    weights = torch.where(counts > 0, counts.clamp(min=1).pow(-exponent), torch.zeros_like(counts))
    present = weights > 0
    weights = weights / weights[present].mean()
    return weights.float()


class FocalLoss(nn.Module):
    def __init__(self, gamma: float = 2.0, weight: torch.Tensor | None = None):
        super().__init__()
        if gamma < 0:
            raise ValueError(f"focal loss gamma must be >= 0, got {gamma}")
        self.gamma = gamma
        self.register_buffer("weight", weight if weight is not None else None, persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # Always in fp32: log-probabilities of rare classes underflow in bf16.
        log_prob = F.log_softmax(logits.float(), dim=1).gather(1, target[:, None]).squeeze(1)
        loss = -log_prob
        if self.gamma > 0:
            loss = loss * (1.0 - log_prob.exp()).clamp(min=0.0).pow(self.gamma)
        if self.weight is None:
            return loss.mean()
        sample_weight = self.weight[target]
        return (loss * sample_weight).sum() / sample_weight.sum()


def make_loss(name: str, class_counts: torch.Tensor, gamma: float = 2.0,
              class_weight_exponent: float = 0.0) -> FocalLoss:
    """`ce` or `focal`, both with class weights from the training split's class counts."""
    if name not in ("ce", "focal"):
        raise ValueError(f"loss: {name!r} is not one of ('ce', 'focal')")
    weight = class_weights(class_counts, class_weight_exponent)
    return FocalLoss(gamma=gamma if name == "focal" else 0.0, weight=weight)
