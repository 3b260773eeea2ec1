"""BOHB's search space: which network to stack and how to train it, as one ConfigSpace space.

Per cell position BOHB picks one of K cell designs sampled from the genotype (NAS) or uses the
plain conv block (baseline), plus channels, batch norm and max-pool; the rest is the head and
the training recipe. Values that only matter sometimes are conditional: the settings of cell i
exist only when n_cells >= i, head width j only when head_layers >= j, momentum and Nesterov
only for SGD. `architecture_from_config` and `training_from_config` turn a configuration into
the plain dicts that `network.build_network` and `training.train_model` take.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from ConfigSpace import Categorical, ConfigurationSpace, Constant, EqualsCondition, Float, GreaterThanCondition, Integer

from darts_bohb.genotype import Genotype
from darts_bohb.network import PLAIN_CONV
from darts_bohb.topology import CellTopology, carries_signal
from darts_bohb.training import TrainingSettings

LOG = logging.getLogger(__name__)
MAX_DRAWS_PER_DESIGN = 1000  # draws per wanted design before accepting fewer distinct ones


def sample_designs(genotype: Genotype, k: int, seed: int) -> list[dict[str, str]]:
    """K distinct cell designs: the derived design first, then node-wise categorical draws.

    Drawn with a numpy Generator seeded by `seed`, so a seed always gets the same designs. A draw
    whose Zero nodes cut every path from input to output is skipped: its cell outputs a constant.
    When the genotype allows fewer than K distinct designs (or is so peaked that they are not
    found within MAX_DRAWS_PER_DESIGN * K draws) the list is shorter; a warning says so.
    """
    nodes = genotype.topology.node_names
    operations = list(genotype.operations)
    probabilities = []
    for node in nodes:
        p = np.array([genotype.probabilities[node][op] for op in operations], dtype=np.float64)
        probabilities.append(p / p.sum())
    possible = math.prod(int(np.count_nonzero(p)) for p in probabilities)
    wanted = min(k, possible)

    rng = np.random.default_rng(seed)
    designs = [genotype.derived_design()]
    seen = {tuple(designs[0][node] for node in nodes)}
    for _ in range(MAX_DRAWS_PER_DESIGN * k):
        if len(designs) >= wanted:
            break
        choice = tuple(operations[rng.choice(len(operations), p=p)] for p in probabilities)
        if choice in seen:
            continue
        seen.add(choice)
        design = dict(zip(nodes, choice))
        if carries_signal(genotype.topology, design):
            designs.append(design)
    if len(designs) < k:
        LOG.warning("only %d distinct cell designs of the %d asked for (hpo.designs_per_cell): the genotype "
                    "allows %d", len(designs), k, possible)
    return designs


def build_space(space: Mapping[str, list], n_designs: int | None, seed: int) -> ConfigurationSpace:
    """The ConfigSpace for a seed; n_designs None is the baseline (every cell a plain conv block)."""
    cs = ConfigurationSpace(seed=seed)
    n_cells = _integer("n_cells", space["cells"])
    cs.add(n_cells)
    for position in range(1, space["cells"][1] + 1):
        per_cell = [
            _integer(f"cell{position}_channels", space["channels"], log=True),
            Categorical(f"cell{position}_batch_norm", [True, False]),
            Categorical(f"cell{position}_pool", [True, False]),
        ]
        if n_designs is not None:
            per_cell.append(_choice(f"cell{position}_design", list(range(n_designs))))
        cs.add(per_cell)
        if position > space["cells"][0]:
            cs.add([GreaterThanCondition(hp, n_cells, position - 1) for hp in per_cell])

    head_layers = _integer("head_layers", space["head_layers"])
    cs.add(head_layers)
    for layer in range(1, space["head_layers"][1] + 1):
        width = _integer(f"head_width{layer}", space["head_width"], log=True)
        cs.add(width)
        if layer > space["head_layers"][0]:
            cs.add(GreaterThanCondition(width, head_layers, layer - 1))

    optimizer = _choice("optimizer", list(space["optimizers"]))
    cs.add([
        _float("dropout", space["dropout"]),
        optimizer,
        _float("lr", space["lr"], log=True),
        _float("weight_decay", space["weight_decay"], log=True),
        _choice("scheduler", list(space["schedulers"])),
        _choice("batch_size", list(space["batch_size"])),
        _float("focal_gamma", space["focal_gamma"]),
        _float("class_weight_exponent", space["class_weight_exponent"]),
        _choice("augment", list(space["augment"])),
    ])
    if "sgd" in space["optimizers"]:
        sgd_only = [_float("momentum", space["momentum"]), Categorical("nesterov", [True, False])]
        cs.add(sgd_only)
        if len(space["optimizers"]) > 1:
            cs.add([EqualsCondition(hp, optimizer, "sgd") for hp in sgd_only])
    return cs


def _integer(name: str, bounds: Sequence[int], log: bool = False):
    low, high = bounds
    return Constant(name, int(low)) if low == high else Integer(name, (int(low), int(high)), log=log)


def _float(name: str, bounds: Sequence[float], log: bool = False):
    low, high = bounds
    return Constant(name, float(low)) if low == high else Float(name, (float(low), float(high)), log=log)


def _choice(name: str, values: list):
    return Constant(name, values[0]) if len(values) == 1 else Categorical(name, values)


def plain_values(config: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration's active values as JSON-able Python scalars (ConfigSpace hands out numpy ones)."""
    return {name: value.item() if isinstance(value, np.generic) else value for name, value in dict(config).items()}


def architecture_from_config(config: Mapping[str, Any], designs: list[dict[str, str]] | None,
                             topology: CellTopology | None, in_channels: int, n_classes: int) -> dict[str, Any]:
    """The network dict of a configuration; designs None is the baseline's plain conv cells."""
    values = plain_values(config)
    cells = [{
        "design": PLAIN_CONV if designs is None else dict(designs[values[f"cell{position}_design"]]),
        "channels": values[f"cell{position}_channels"],
        "batch_norm": bool(values[f"cell{position}_batch_norm"]),
        "pool": bool(values[f"cell{position}_pool"]),
    } for position in range(1, values["n_cells"] + 1)]
    architecture: dict[str, Any] = {
        "in_channels": in_channels,
        "n_classes": n_classes,
        "cells": cells,
        "head": {
            "widths": [values[f"head_width{layer}"] for layer in range(1, values["head_layers"] + 1)],
            "dropout": float(values["dropout"]),
        },
    }
    if designs is not None:
        architecture["topology"] = topology.to_dict()
    return architecture


def training_from_config(config: Mapping[str, Any], epochs: int, epoch_scale: float = 1.0) -> TrainingSettings:
    values = plain_values(config)
    optimizer = values["optimizer"]
    return TrainingSettings(
        epochs=epochs,
        batch_size=int(values["batch_size"]),
        optimizer=optimizer,
        lr=float(values["lr"]),
        weight_decay=float(values["weight_decay"]),
        momentum=float(values["momentum"]) if optimizer == "sgd" else 0.0,
        nesterov=bool(values["nesterov"]) if optimizer == "sgd" else False,
        scheduler=values["scheduler"],
        focal_gamma=float(values["focal_gamma"]),
        class_weight_exponent=float(values["class_weight_exponent"]),
        augment=bool(values["augment"]),
        epoch_scale=epoch_scale,
    )
