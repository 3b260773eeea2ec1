"""A seed's ensemble, as BOHB chose it: the members' fold models, averaged with the weights of
ensemble selection. Read by the final rule, which alone scores it on the test split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from darts_bohb.data import Split
from darts_bohb.network import build_network
from darts_bohb.runtime import Runtime
from darts_bohb.training import predict_probabilities


class EnsembleError(ValueError):
    """An ensemble.pt is missing, malformed, or belongs to another method or seed."""


def load_ensemble(path: str | Path, method: str, seed: int) -> dict[str, Any]:
    """An ensemble.pt of the BOHB rule, trusted as it wrote it; one of another method or seed is a
    mix-up, named."""
    try:
        data = torch.load(path, weights_only=True)
    except FileNotFoundError:
        raise EnsembleError(f"{path}: no such ensemble file") from None
    except Exception as error:  # torch raises many kinds for a file that is not its own
        raise EnsembleError(f"{path}: not a readable ensemble file ({type(error).__name__}: {error})") from None
    if (data.get("method"), data.get("seed")) != (method, seed):
        raise EnsembleError(f"{path}: it is {data.get('method')!r} seed {data.get('seed')}, "
                            f"this rule is {method!r} seed {seed}")
    return data


def ensemble_probabilities(ensemble: dict[str, Any], split: Split, runtime: Runtime) -> np.ndarray:
    """Each member's probabilities are the mean of its fold models'; the ensemble's the weighted
    mean of its members'."""
    total = None
    for member in ensemble["members"]:
        model = runtime.prepare_model(build_network(member["architecture"]))
        folds = []
        for state in member["fold_states"]:
            model.load_state_dict(state)
            folds.append(predict_probabilities(model, split, runtime))
        part = member["weight"] * np.mean(folds, axis=0, dtype=np.float64)
        total = part if total is None else total + part
    return total
