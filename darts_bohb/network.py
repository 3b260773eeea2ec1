"""The networks BOHB trains: a chain of cells, global average pooling, a small MLP head.

A network is described by a plain JSON-able dict (the "architecture"), so that the file saved
beside the weights rebuilds exactly the same module tree:

    {"in_channels": 3, "n_classes": 5,
     "cells": [{"design": {"k3": "conv_block", ...} | "plain_conv",
                "channels": 32, "batch_norm": true, "pool": true}, ...],
     "head": {"widths": [64], "dropout": 0.2},
     "topology": CellTopology.to_dict()}      # only needed when a cell has a searched design

A searched cell wires its nodes as the topology says (darts_bohb.topology.run_cell). A node
whose operation is "zero", or whose input node is cut, contributes nothing; when no path from
the cell input reaches an output node, the cell outputs zeros of its channel count (the design
really is cut, and BOHB sees the poor score of such a network). The baseline marker "plain_conv"
makes the cell one 3x3 conv -> BN -> ReLU block. The 2x2 max-pool after a cell is skipped
once the feature map is smaller than 2 px, so any number of pooled cells fits any image size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from darts_bohb.ops import conv_norm, make_operation
from darts_bohb.topology import CellTopology, live_nodes, run_cell

PLAIN_CONV = "plain_conv"  # the baseline's cell: one 3x3 conv block instead of a searched design
PLAIN_CONV_KERNEL = 3


class SearchedCell(nn.Module):
    """One cell design: an operation per node, wired by the shared topology."""

    def __init__(self, topology: CellTopology, design: Mapping[str, str], c_in: int, c_out: int,
                 batch_norm: bool):
        super().__init__()
        self.topology = topology
        live = live_nodes(topology, design)
        nodes = {}
        for node in topology.nodes:
            width_in = c_in if node.first_stage else c_out
            operation = design[node.name] if node.name in live else "zero"
            nodes[node.name] = make_operation(operation, width_in, c_out, node.kernel_size,
                                              batch_norm=batch_norm, affine=True)
        self.nodes = nn.ModuleDict(nodes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_cell(self.topology, self.nodes, x)


class PoolIfLarge(nn.Module):
    """2x2 max-pool, skipped when the feature map is already below 2 px."""

    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < 2:
            return x
        return self.pool(x)


class CellNetwork(nn.Module):
    def __init__(self, cells: list[nn.Module], head: nn.Module):
        super().__init__()
        self.cells = nn.Sequential(*cells)
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.cells(x))


def build_network(architecture: Mapping[str, Any]) -> CellNetwork:
    """Rebuild the module tree an architecture dict describes: one that hpo_space built from a
    configuration, or that a final model folder holds (its loader names the file if it fails)."""
    topology = CellTopology.from_dict(architecture["topology"]) if "topology" in architecture else None
    cells: list[nn.Module] = []
    c_in = architecture["in_channels"]
    for cell in architecture["cells"]:
        c_out = cell["channels"]
        if cell["design"] == PLAIN_CONV:
            body = conv_norm(c_in, c_out, PLAIN_CONV_KERNEL, batch_norm=cell["batch_norm"], affine=True)
        else:
            body = SearchedCell(topology, cell["design"], c_in, c_out, cell["batch_norm"])
        cells.append(nn.Sequential(body, PoolIfLarge()) if cell["pool"] else body)
        c_in = c_out
    return CellNetwork(cells, make_head(c_in, architecture["head"], architecture["n_classes"]))


def make_head(features: int, head: Mapping[str, Any], n_classes: int) -> nn.Sequential:
    """Global average pooling, then (dropout, linear, ReLU) per hidden width, dropout, classifier."""
    layers: list[nn.Module] = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    for width in head["widths"]:
        layers += [nn.Dropout(head["dropout"]), nn.Linear(features, width), nn.ReLU()]
        features = width
    layers += [nn.Dropout(head["dropout"]), nn.Linear(features, n_classes)]
    return nn.Sequential(*layers)


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())
