"""A seed's ensemble, as BOHB chose it: the members' fold models, averaged with the weights of
ensemble selection. Read by the final rule, which alone scores it on the test split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from darts_bohb.data import Split
from darts_bohb.network import ArchitectureError, build_network
from darts_bohb.runtime import Runtime
from darts_bohb.training import predict_probabilities

ENSEMBLE_KEYS = ("method", "seed", "metric", "selection_estimate", "selection_std_error", "selection_method",
                 "members")
MEMBER_KEYS = ("config_id", "weight", "config", "architecture", "fold_states")


class EnsembleError(ValueError):
    """An ensemble.pt is missing, malformed, or belongs to another method or seed."""


def load_ensemble(path: str | Path, method: str, seed: int) -> dict[str, Any]:
    """Read and check an ensemble.pt, naming the field at fault."""
    try:
        data = torch.load(path, weights_only=True)
    except FileNotFoundError:
        raise EnsembleError(f"{path}: no such ensemble file") from None
    except Exception as error:  # torch raises many kinds for a file that is not its own
        raise EnsembleError(f"{path}: not a readable ensemble file ({type(error).__name__}: {error})") from None
    if not isinstance(data, dict) or (missing := [key for key in ENSEMBLE_KEYS if key not in data]):
        raise EnsembleError(f"{path}: expected a dict with the keys {list(ENSEMBLE_KEYS)}; "
                            f"missing {missing if isinstance(data, dict) else 'all'}")
    if (data["method"], data["seed"]) != (method, seed):
        raise EnsembleError(f"{path}: it is {data['method']!r} seed {data['seed']}, "
                            f"this rule is {method!r} seed {seed}")
    members = data["members"]
    if not isinstance(members, list) or not members:
        raise EnsembleError(f"{path}: field 'members': expected a non-empty list")
    for index, member in enumerate(members):
        if missing := [key for key in MEMBER_KEYS if key not in member]:
            raise EnsembleError(f"{path}: members[{index}] lacks {missing}")
        if not member["fold_states"]:
            raise EnsembleError(f"{path}: members[{index}].fold_states is empty")
    if not np.isclose(sum(member["weight"] for member in members), 1.0):
        raise EnsembleError(f"{path}: the members' weights sum to {sum(m['weight'] for m in members)}, not 1")
    return data


def ensemble_probabilities(ensemble: dict[str, Any], split: Split, runtime: Runtime) -> np.ndarray:
    """Each member's probabilities are the mean of its fold models'; the ensemble's the weighted
    mean of its members'."""
    total = None
    for index, member in enumerate(ensemble["members"]):
        try:
            model = runtime.prepare_model(build_network(member["architecture"]))
        except ArchitectureError as error:
            raise EnsembleError(f"members[{index}].architecture: {error}") from None
        folds = []
        for state in member["fold_states"]:
            model.load_state_dict(state)
            folds.append(predict_probabilities(model, split, runtime))
        part = member["weight"] * np.mean(folds, axis=0, dtype=np.float64)
        total = part if total is None else total + part
    return total
