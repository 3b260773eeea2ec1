"""An ordinal output layer for ordered classes (RetinaMNIST's five grades): CORN's conditional model
(Shi, Cao and Raschka 2023), written as class log-probabilities.

The classifier gives K - 1 logits; logit k is the log-odds that an image's grade is above k, given
that it is at least k. The probability of grade k is the chance of passing every earlier step and
stopping at step k, so the K probabilities sum to one, and P(grade > k), a product of the first
k + 1 steps, is the same number CORN's rank-consistent rule thresholds.

The layer returns log P(grade = k). Their softmax is the probabilities themselves (they already sum
to one), so the training loss, the prediction code, the metrics and the ONNX export treat this
output like any other network's logits, and the predicted grade is the most probable one (CORN
counts the steps with P(grade > k) > 0.5 instead). Cross-entropy on it is the negative
log-likelihood of the conditional model: CORN's binary losses summed over the tasks each image
takes part in, averaged over images (CORN averages over image-task pairs). The training's focal
factor and class weights apply to it as to the softmax head. For ordered classes only: the final
training refuses it for another task (check_output_suits_task).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SOFTMAX_OUTPUT = "softmax"
ORDINAL_OUTPUT = "ordinal"
OUTPUTS = (SOFTMAX_OUTPUT, ORDINAL_OUTPUT)
# Two classes are trivially ordered: there the conditional model is plain logistic regression.
ORDERED_TASKS = ("ordinal-regression", "binary-class")  # medmnist's task names (tasks.MEDMNIST_TASKS)


class ConditionalOrdinalOutput(nn.Module):
    """(N, K - 1) conditional logits -> (N, K) class log-probabilities, in fp32."""

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        logits = logits.float()  # log-probabilities of rare grades underflow in bf16
        passed = torch.cumsum(F.logsigmoid(logits), dim=1)  # log P(grade > k)
        reached = torch.cat([torch.zeros_like(passed[:, :1]), passed[:, :-1]], dim=1)  # log P(grade >= k)
        stopped = reached + F.logsigmoid(-logits)  # log P(grade = k), k < K - 1
        return torch.cat([stopped, passed[:, -1:]], dim=1)


def classifier_width(output: str, n_classes: int) -> int:
    """How many values the last linear layer gives for `output`."""
    return n_classes - 1 if output == ORDINAL_OUTPUT else n_classes


def check_output_suits_task(output: str, task: str) -> None:
    """Raise ValueError for an ordinal output on classes without an order, or on multi-label tasks,
    whose outputs are one independent probability per label."""
    if output == ORDINAL_OUTPUT and task not in ORDERED_TASKS:
        raise ValueError(f"head output {ORDINAL_OUTPUT!r} is for ordered classes (tasks {', '.join(ORDERED_TASKS)}); "
                         f"this data set's task is {task!r}, whose outputs have no order")
