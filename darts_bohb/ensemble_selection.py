"""Greedy ensemble selection with replacement (Caruana et al., ICML 2004), as auto-sklearn builds
its ensembles: on out-of-fold predictions of train+val, never on the test split."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np

from darts_bohb.metrics import score


def select_ensemble(candidates: Mapping[int, np.ndarray], labels: np.ndarray, metric: str, task: str,
                    rounds: int) -> dict[int, float]:
    """Weights (summing to 1) of the candidates the ensemble keeps, by key.

    Each round adds the candidate whose addition scores best, a member may be added again (its
    weight grows), and the result is the best-scoring prefix of the rounds. Ties go to the
    candidate that scores best alone, then to the smaller key, so the first member is the best
    single candidate and equal inputs give the same ensemble.
    """
    alone = {key: score(metric, labels, probabilities, task) for key, probabilities in candidates.items()}
    order = sorted(candidates, key=lambda key: (-_comparable(alone[key]), key))
    total = np.zeros_like(next(iter(candidates.values())), dtype=np.float64)
    chosen: list[int] = []
    best_prefix, best_score = 0, -np.inf
    for _ in range(rounds):
        trial_scores = [_comparable(score(metric, labels, (total + candidates[key]) / (len(chosen) + 1), task))
                        for key in order]
        pick = order[int(np.argmax(trial_scores))]  # argmax takes the first of equals: the order above
        chosen.append(pick)
        total += candidates[pick]
        if max(trial_scores) > best_score:
            best_prefix, best_score = len(chosen), max(trial_scores)
    counts = Counter(chosen[:best_prefix])
    return {key: count / best_prefix for key, count in sorted(counts.items())}


def weighted_average(probabilities: Mapping[int, np.ndarray], weights: Mapping[int, float]) -> np.ndarray:
    return sum(weight * np.asarray(probabilities[key], dtype=np.float64) for key, weight in weights.items())


def _comparable(value: float) -> float:
    return -np.inf if np.isnan(value) else value
