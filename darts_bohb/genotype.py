"""The search result as plain data: per node of the cell, the probabilities of the operations.

A genotype.json is written by `export_genotype` and read by BOHB; `load_genotype` checks every
field and names the one at fault, so a hand-edited or truncated file fails before any training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scipy.stats import entropy as shannon_entropy

from darts_bohb.io import read_json_object, write_json
from darts_bohb.topology import OPERATIONS, CellTopology, NodeSpec, wiring_problem

SCHEMA_VERSION = 1
PROBABILITY_TOLERANCE = 1e-3
ENTROPY_TOLERANCE = 1e-6  # nats: a stated entropy must be that of the node's probabilities
NOT_DERIVED = ("zero",)  # operations DARTS never hands over as a node's choice


class GenotypeError(ValueError):
    """A genotype file or dict does not have the expected structure."""


@dataclass(frozen=True)
class Genotype:
    operations: tuple[str, ...]
    topology: CellTopology
    probabilities: dict[str, dict[str, float]]  # node name -> operation -> probability
    seed: int
    dataset: str
    size: int
    epochs_run: int
    epochs_planned: int
    stop_reason: str
    extra: dict[str, Any] = field(default_factory=dict)  # settings of the search, for the record

    def argmax(self, node: str) -> str:
        probs = self.probabilities[node]
        return max(self.operations, key=lambda op: probs[op])

    @property
    def searched_operations(self) -> tuple[str, ...]:
        """The operations the search weighed: a search without Zero gives it probability 0."""
        return tuple(op for op in self.operations
                     if any(self.probabilities[node][op] > 0 for node in self.topology.node_names))

    def entropy(self, node: str) -> float:
        """Shannon entropy (nats) of a node's operation probabilities: log(k) for a uniform α over
        the k searched operations (log 4 = 1.386 without Zero), 0 for a node settled on one."""
        return node_entropy(self.probabilities[node].values())

    def derived(self, node: str) -> str:
        """The most probable operation other than Zero: the operation DARTS hands over for a node.

        Zero's weight mostly scales a mixed node down instead of choosing against it (it leads
        most nodes of a short search here), so DARTS (Liu et al. 2019) leaves it out of the
        derivation; BOHB's sampled designs may still drop nodes.
        """
        probs = self.probabilities[node]
        candidates = [op for op in self.operations if op not in NOT_DERIVED] or list(self.operations)
        return max(candidates, key=lambda op: probs[op])

    def derived_design(self) -> dict[str, str]:
        """The derived operation per node: the cell DARTS would hand over."""
        return {node: self.derived(node) for node in self.topology.node_names}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "dataset": self.dataset,
            "size": self.size,
            "seed": self.seed,
            "epochs_run": self.epochs_run,
            "epochs_planned": self.epochs_planned,
            "stop_reason": self.stop_reason,
            "operations": list(self.operations),
            "cell": {
                "nodes": [
                    {
                        "name": node.name,
                        "kernel_size": node.kernel_size,
                        "input": node.input,
                        "probabilities": {op: self.probabilities[node.name][op] for op in self.operations},
                        "entropy": self.entropy(node.name),
                        "argmax": self.argmax(node.name),
                        "derived": self.derived(node.name),
                    }
                    for node in self.topology.nodes
                ],
                "outputs": list(self.topology.outputs),
            },
            "search": self.extra,
        }


def node_entropy(probabilities) -> float:
    return float(shannon_entropy(list(probabilities)))


def save_genotype(path: str | Path, genotype: Genotype) -> None:
    write_json(path, genotype.to_dict())


def load_genotype(path: str | Path) -> Genotype:
    data = read_json_object(path, GenotypeError, missing="no such genotype file")
    return genotype_from_dict(data, source=str(path))


def genotype_from_dict(data: Any, source: str = "genotype") -> Genotype:
    def fail(where: str, message: str) -> GenotypeError:
        return GenotypeError(f"{source}: field '{where}': {message}")

    def require(mapping: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
        if not isinstance(mapping, dict) or key not in mapping:
            raise fail(where, "is missing")
        value = mapping[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise fail(where, f"expected {names}, got {type(value).__name__} {value!r}")
        return value

    if not isinstance(data, dict):
        raise GenotypeError(f"{source}: expected a JSON object at the top level, got {type(data).__name__}")
    version = require(data, "schema_version", int, "schema_version")
    if version != SCHEMA_VERSION:
        raise fail("schema_version", f"this version reads schema {SCHEMA_VERSION}, the file has {version}")

    operations = require(data, "operations", list, "operations")
    unknown = [op for op in operations if op not in OPERATIONS]
    if unknown or not operations or len(set(operations)) != len(operations):
        raise fail("operations", f"unknown or repeated operations {unknown or operations}; known: {list(OPERATIONS)}")

    cell = require(data, "cell", dict, "cell")
    raw_nodes = require(cell, "nodes", list, "cell.nodes")
    if not raw_nodes:
        raise fail("cell.nodes", "is empty")
    nodes: list[NodeSpec] = []
    probabilities: dict[str, dict[str, float]] = {}
    for index, raw in enumerate(raw_nodes):
        where = f"cell.nodes[{index}]"
        name = require(raw, "name", str, f"{where}.name")
        kernel = require(raw, "kernel_size", int, f"{where}.kernel_size")
        source_node = require(raw, "input", str, f"{where}.input")
        probs = require(raw, "probabilities", dict, f"{where}.probabilities")
        if sorted(probs) != sorted(operations):
            raise fail(f"{where}.probabilities", f"keys {sorted(probs)} do not match operations {sorted(operations)}")
        for op, p in probs.items():
            if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p <= 1.0 or math.isnan(p):
                raise fail(f"{where}.probabilities.{op}", f"expected a probability in [0, 1], got {p!r}")
        total = sum(probs.values())
        if abs(total - 1.0) > PROBABILITY_TOLERANCE:
            raise fail(f"{where}.probabilities", f"sum to {total:.6f}, not 1")
        if "argmax" in raw and probs.get(raw["argmax"]) != max(probs.values()):
            raise fail(f"{where}.argmax", f"{raw['argmax']!r} is not the most probable operation")
        if "entropy" in raw:  # optional: files written before it was recorded lack it
            stated = raw["entropy"]
            if not isinstance(stated, (int, float)) or isinstance(stated, bool) or math.isnan(stated):
                raise fail(f"{where}.entropy", f"expected a number of nats, got {stated!r}")
            actual = node_entropy(probs.values())
            if abs(stated - actual) > ENTROPY_TOLERANCE:
                raise fail(f"{where}.entropy",
                           f"{stated!r} is not the entropy of the probabilities ({actual:.6f} nats)")
        nodes.append(NodeSpec(name, kernel, source_node))
        probabilities[name] = {op: float(p) for op, p in probs.items()}

    outputs = require(cell, "outputs", list, "cell.outputs")
    topology = CellTopology(nodes=tuple(nodes), outputs=tuple(outputs))
    problem = wiring_problem(topology)
    if problem is not None:
        raise fail(f"cell.{problem[0]}", problem[1])

    counters = {}
    for key in ("seed", "size", "epochs_run", "epochs_planned"):
        counters[key] = require(data, key, int, key)
    if not 0 <= counters["epochs_run"] <= counters["epochs_planned"]:
        raise fail("epochs_run",
                   f"{counters['epochs_run']} is not within 0..epochs_planned={counters['epochs_planned']}")
    return Genotype(
        operations=tuple(operations),
        topology=topology,
        probabilities=probabilities,
        dataset=require(data, "dataset", str, "dataset"),
        stop_reason=require(data, "stop_reason", str, "stop_reason"),
        extra=data.get("search", {}) if isinstance(data.get("search", {}), dict) else {},
        **counters,
    )
