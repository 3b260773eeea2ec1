"""The search result as plain data: per node of the cell, the probabilities of the operations.

A genotype.json is written by `export_genotype` and read by BOHB; a hand-edited or truncated
file fails at load, naming the file and what is wrong, before any training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scipy.stats import entropy as shannon_entropy

from darts_bohb.io import read_json_object, write_json
from darts_bohb.topology import OPERATIONS, CellTopology, cell_topology

SCHEMA_VERSION = 1
PROBABILITY_TOLERANCE = 1e-3
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
        return float(shannon_entropy(list(self.probabilities[node].values())))

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


def save_genotype(path: str | Path, genotype: Genotype) -> None:
    write_json(path, genotype.to_dict())


def load_genotype(path: str | Path) -> Genotype:
    data = read_json_object(path, GenotypeError, missing="no such genotype file")
    return genotype_from_dict(data, source=str(path))


def genotype_from_dict(data: dict[str, Any], source: str = "genotype") -> Genotype:
    """The inverse of Genotype.to_dict (entropy, argmax and derived are recomputed, not read).

    A hand-edited file fails here, naming the file and the key or value at fault, rather than
    in the middle of BOHB: a missing key, an unknown operation, a node whose probabilities are
    not a distribution over the operations, a cell that is not the fixed wiring of its kernels.
    """
    try:
        operations = tuple(data["operations"])
        if not operations or len(set(operations) & set(OPERATIONS)) < len(operations):
            raise ValueError(f"operations {list(operations)}: expected distinct ones of {list(OPERATIONS)}")
        topology = CellTopology.from_dict(data["cell"])
        expected = cell_topology(tuple(node.kernel_size for node in topology.nodes if node.first_stage))
        if topology != expected:
            raise ValueError(f"cell: not the fixed wiring of its kernel sizes, {expected.to_dict()}")
        probabilities = {}
        for node in data["cell"]["nodes"]:
            probs = probabilities[node["name"]] = {op: float(node["probabilities"][op]) for op in operations}
            if not all(0 <= p <= 1 for p in probs.values()) or abs(sum(probs.values()) - 1) > PROBABILITY_TOLERANCE:
                raise ValueError(f"cell node {node['name']!r}: probabilities {probs} are not in [0, 1] summing to 1")
        return Genotype(operations=operations, topology=topology, probabilities=probabilities, seed=data["seed"],
                        dataset=data["dataset"], size=data["size"], epochs_run=data["epochs_run"],
                        epochs_planned=data["epochs_planned"], stop_reason=data["stop_reason"],
                        extra=data.get("search", {}))
    except KeyError as error:
        raise GenotypeError(f"{source}: key {error} is missing") from None
    except (TypeError, ValueError) as error:
        raise GenotypeError(f"{source}: {error}") from None
