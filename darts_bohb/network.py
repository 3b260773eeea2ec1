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

from darts_bohb.ops import OPERATIONS, conv_norm, make_operation
from darts_bohb.topology import CellTopology, live_nodes, run_cell, wiring_problem

PLAIN_CONV = "plain_conv"  # the baseline's cell: one 3x3 conv block instead of a searched design
PLAIN_CONV_KERNEL = 3


class ArchitectureError(ValueError):
    """An architecture dict (or architecture.json) does not describe a buildable network."""


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
    """Rebuild the module tree an architecture dict describes (validated first)."""
    check_architecture(architecture)
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


def check_architecture(architecture: Any, source: str = "architecture") -> None:
    """Raise ArchitectureError naming the first field that cannot be built."""

    def fail(where: str, message: str) -> ArchitectureError:
        return ArchitectureError(f"{source}: field '{where}': {message}")

    def positive_int(value: Any, where: str, minimum: int = 1) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise fail(where, f"expected an integer >= {minimum}, got {value!r}")

    if not isinstance(architecture, Mapping):
        raise ArchitectureError(f"{source}: expected a JSON object, got {type(architecture).__name__}")
    for key in ("in_channels", "n_classes", "cells", "head"):
        if key not in architecture:
            raise fail(key, "is missing")
    positive_int(architecture["in_channels"], "in_channels")
    positive_int(architecture["n_classes"], "n_classes", minimum=2)

    topology_names = _check_topology(architecture.get("topology"), fail)
    cells = architecture["cells"]
    if not isinstance(cells, list) or not cells:
        raise fail("cells", f"expected a non-empty list of cells, got {cells!r}")
    for index, cell in enumerate(cells):
        where = f"cells[{index}]"
        if not isinstance(cell, Mapping):
            raise fail(where, f"expected an object, got {cell!r}")
        for key in ("design", "channels", "batch_norm", "pool"):
            if key not in cell:
                raise fail(f"{where}.{key}", "is missing")
        positive_int(cell["channels"], f"{where}.channels")
        for key in ("batch_norm", "pool"):
            if not isinstance(cell[key], bool):
                raise fail(f"{where}.{key}", f"expected true or false, got {cell[key]!r}")
        _check_design(cell["design"], topology_names, f"{where}.design", fail)

    head = architecture["head"]
    if not isinstance(head, Mapping) or "widths" not in head or "dropout" not in head:
        raise fail("head", f"expected an object with 'widths' and 'dropout', got {head!r}")
    if not isinstance(head["widths"], list):
        raise fail("head.widths", f"expected a list of layer widths, got {head['widths']!r}")
    for index, width in enumerate(head["widths"]):
        positive_int(width, f"head.widths[{index}]")
    dropout = head["dropout"]
    if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout < 1:
        raise fail("head.dropout", f"expected a probability in [0, 1), got {dropout!r}")


def _check_topology(topology: Any, fail) -> tuple[str, ...] | None:
    if topology is None:
        return None
    try:
        parsed = CellTopology.from_dict(topology)
    except (KeyError, TypeError) as error:
        raise fail("topology", f"expected {{'nodes': [{{name, kernel_size, input}}...], 'outputs': [...]}} "
                               f"(problem: {error!r})") from None
    problem = wiring_problem(parsed)
    if problem is not None:
        raise fail(f"topology.{problem[0]}", problem[1])
    return parsed.node_names


def _check_design(design: Any, topology_names: tuple[str, ...] | None, where: str, fail) -> None:
    if design == PLAIN_CONV:
        return
    if not isinstance(design, Mapping):
        raise fail(where, f"expected {{node: operation}} or {PLAIN_CONV!r}, got {design!r}")
    if topology_names is None:
        raise fail("topology", f"is missing but {where} is a searched cell design")
    if sorted(design) != sorted(topology_names):
        raise fail(where, f"nodes {sorted(design)} do not match the topology's nodes {sorted(topology_names)}")
    for node, operation in design.items():
        if operation not in OPERATIONS:
            raise fail(f"{where}.{node}", f"unknown operation {operation!r}; known: {list(OPERATIONS)}")


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())
