"""Focal loss with class weights, for the imbalanced MedMNIST classes (Lin et al. 2017), and its
sigmoid form with per-label positive weights for multi-label tasks.

With gamma = 0 it is exactly `F.cross_entropy(logits, y, weight=w)`, so one loss serves both the
`ce` and the `focal` settings and BOHB can treat gamma as a plain hyperparameter.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from darts_bohb.data import Split


def class_weights(class_counts: torch.Tensor, exponent: float) -> torch.Tensor:
    """w_c proportional to (1 / n_c) ** exponent, scaled to mean 1 over the classes.

    exponent 0 weighs all classes alike, 1 is full inverse frequency, values between smooth it.
    An empty class gets weight 0 (it has no samples to weigh).
    """
    counts = class_counts.to(torch.float64)
    weights = torch.where(counts > 0, counts.clamp(min=1).pow(-exponent), torch.zeros_like(counts))
    weights = weights / weights[weights > 0].mean()
    return weights.float()


class FocalLoss(nn.Module):
    def __init__(self, gamma: float, weight: torch.Tensor):
        super().__init__()
        self.gamma = gamma
        self.register_buffer("weight", weight, persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # Always in fp32: log-probabilities of rare classes underflow in bf16.
        log_prob = F.log_softmax(logits.float(), dim=1).gather(1, target[:, None]).squeeze(1)
        loss = -log_prob
        if self.gamma > 0:
            loss = loss * (1.0 - log_prob.exp()).clamp(min=0.0).pow(self.gamma)
        sample_weight = self.weight[target]
        return (loss * sample_weight).sum() / sample_weight.sum()

    def normaliser(self, target: torch.Tensor) -> torch.Tensor:
        """What forward divides the summed loss of `target`'s images by: a part of a batch weighs
        normaliser(part) / normaliser(batch) of the batch's loss."""
        return self.weight[target].sum()


def make_loss(name: str, class_counts: torch.Tensor, gamma: float = 2.0,
              class_weight_exponent: float = 0.0) -> FocalLoss:
    """`ce` or `focal`, both with class weights from the training split's class counts."""
    weight = class_weights(class_counts, class_weight_exponent)
    return FocalLoss(gamma=gamma if name == "focal" else 0.0, weight=weight)


def positive_weights(positives: torch.Tensor, n_images: int, exponent: float) -> torch.Tensor:
    """Per-label weight of the positive term, (negatives / positives) ** exponent: the multi-label
    counterpart of class_weights (0 weighs both terms alike, 1 balances them fully). A label that
    is always or never present gets 1 (one of its terms has nothing to weigh)."""
    positives = positives.to(torch.float64)
    negatives = n_images - positives
    weights = (negatives / positives.clamp(min=1)).pow(exponent)
    return torch.where((positives > 0) & (negatives > 0), weights, torch.ones_like(weights)).float()


class MultiLabelFocalLoss(nn.Module):
    """Binary cross-entropy per label with a positive weight per label, in its focal form (each
    term times (1 - p_t) ** gamma); mean over images and labels. With gamma = 0 it is exactly
    `F.binary_cross_entropy_with_logits(logits, y, pos_weight=w)`."""

    def __init__(self, gamma: float, pos_weight: torch.Tensor):
        super().__init__()
        self.gamma = gamma
        self.register_buffer("pos_weight", pos_weight, persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, target = logits.float(), target.float()  # fp32, as FocalLoss
        positive, negative = F.logsigmoid(logits), F.logsigmoid(-logits)
        loss = -(self.pos_weight * target * positive + (1.0 - target) * negative)
        if self.gamma > 0:
            p_t = (target * positive + (1.0 - target) * negative).exp()
            loss = loss * (1.0 - p_t).clamp(min=0.0).pow(self.gamma)
        return loss.mean()

    def normaliser(self, target: torch.Tensor) -> float:
        """As FocalLoss.normaliser: the mean runs over images (and the labels, a constant)."""
        return float(len(target))


def make_multi_label_loss(name: str, positives: torch.Tensor, n_images: int, gamma: float = 2.0,
                          class_weight_exponent: float = 0.0) -> MultiLabelFocalLoss:
    """`ce` (binary cross-entropy) or `focal`, with positive weights from the training split."""
    weight = positive_weights(positives, n_images, class_weight_exponent)
    return MultiLabelFocalLoss(gamma=gamma if name == "focal" else 0.0, pos_weight=weight)


def loss_for_split(name: str, train: Split, n_classes: int, gamma: float = 2.0,
                   class_weight_exponent: float = 0.0) -> nn.Module:
    """The loss for the task of `train`: softmax focal loss over classes, or per-label sigmoid
    focal loss for a multi-label split; weights from `train`'s counts."""
    if train.multi_label:
        return make_multi_label_loss(name, train.class_counts(n_classes), len(train), gamma, class_weight_exponent)
    return make_loss(name, train.class_counts(n_classes), gamma, class_weight_exponent)
