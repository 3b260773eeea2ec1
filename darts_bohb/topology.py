"""The fixed wiring of a cell, shared by the DARTS supernet and the networks BOHB builds.

input -> four first-stage nodes with kernel sizes k1 < k2 < k3 < k4 (in -> out channels); the
nodes with the two largest kernels each feed one second-stage node (kernel 3, out -> out); the
cell output is the sum of the two smallest-kernel nodes and both second-stage nodes, then an
optional 2x2 max-pool. The sizes are sorted first, so their order in the config does not matter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# The candidate operations of every node, by name (built in darts_bohb.ops); kept here so that
# reading a genotype needs no torch.
OPERATIONS = ("identity", "zero", "conv_block", "resnet_block", "resnet_bottleneck")
CELL_INPUT = "input"
DEFAULT_KERNEL_SIZES = (3, 5, 7, 9)
SECOND_STAGE_KERNEL = 3


@dataclass(frozen=True)
class NodeSpec:
    name: str
    kernel_size: int
    input: str  # CELL_INPUT or the name of an earlier node

    @property
    def first_stage(self) -> bool:
        return self.input == CELL_INPUT


@dataclass(frozen=True)
class CellTopology:
    nodes: tuple[NodeSpec, ...]
    outputs: tuple[str, ...]

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.nodes)

    def to_dict(self) -> dict:
        return {
            "nodes": [{"name": n.name, "kernel_size": n.kernel_size, "input": n.input} for n in self.nodes],
            "outputs": list(self.outputs),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> CellTopology:
        """The inverse of to_dict; KeyError or TypeError where a field is missing."""
        nodes = tuple(NodeSpec(node["name"], node["kernel_size"], node["input"]) for node in data["nodes"])
        return cls(nodes=nodes, outputs=tuple(data["outputs"]))


def cell_topology(kernel_sizes: tuple[int, ...] = DEFAULT_KERNEL_SIZES) -> CellTopology:
    if len(kernel_sizes) != 4 or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
        raise ValueError(f"kernel_sizes: expected four odd sizes, got {list(kernel_sizes)}")
    first = [NodeSpec(f"k{k}", k, CELL_INPUT) for k in sorted(kernel_sizes)]
    second = [NodeSpec(f"{node.name}_k{SECOND_STAGE_KERNEL}", SECOND_STAGE_KERNEL, node.name)
              for node in first[2:]]
    outputs = (first[0].name, first[1].name, second[0].name, second[1].name)
    return CellTopology(nodes=tuple(first + second), outputs=outputs)


def live_nodes(topology: CellTopology, design: Mapping[str, str]) -> set[str]:
    """Nodes that carry signal: not "zero", and fed by the cell input or by a live node."""
    live: set[str] = set()
    for node in topology.nodes:
        if design[node.name] != "zero" and (node.input == CELL_INPUT or node.input in live):
            live.add(node.name)
    return live


def carries_signal(topology: CellTopology, design: Mapping[str, str]) -> bool:
    """Whether some live node reaches the cell output; a cell without one outputs zeros."""
    return not live_nodes(topology, design).isdisjoint(topology.outputs)


def run_cell(topology: CellTopology, node_modules, x):
    """Evaluate the nodes in order (each from the cell input or its parent) and sum the outputs."""
    values = {CELL_INPUT: x}
    for node in topology.nodes:
        values[node.name] = node_modules[node.name](values[node.input])
    return sum(values[name] for name in topology.outputs)
