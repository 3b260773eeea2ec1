"""The ensemble of each method's seeds: the mean of their final models' test class probabilities.

A plain average with equal weights over every seed the config lists: nothing is chosen on the
validation or test split, so the ensemble's test scores are as honest as a single seed's. It is
scored like a single model (darts_bohb.metrics, ACC and AUC by medmnist's functions) and
reported as an extra row beside the per-seed numbers, never in their place.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from darts_bohb.methods import METHODS
from darts_bohb.metrics import classification_metrics
from darts_bohb.report.run import SCORE_METRICS, SeedPredictions

# An "ensemble" of one seed is that seed's model again, already a row of summary.csv.
MIN_SEEDS = 2
# test_<metric> named as in summary.csv, so the two tables line up; `kind` keeps an ensemble row
# recognisable when it is put together with per-seed rows.
ENSEMBLE_COLUMNS = ["method", "kind", "n_seeds", "seeds", "n_images", *(f"test_{m}" for m in SCORE_METRICS)]


def ensemble_scores(predictions: Mapping[str, SeedPredictions], task: str) -> pd.DataFrame:
    """One row per method with at least MIN_SEEDS seeds: the test scores of the seeds' mean
    probabilities. `seeds` lists them separated by spaces; `task` is the MedMNIST task."""
    rows = []
    for method in METHODS:
        runs = predictions.get(method)
        if runs is None or len(runs.seeds) < MIN_SEEDS:
            continue
        scores = classification_metrics(runs.labels, runs.probabilities.mean(axis=0), task)
        rows.append({
            "method": method,
            "kind": "ensemble",
            "n_seeds": len(runs.seeds),
            "seeds": " ".join(map(str, runs.seeds)),
            "n_images": len(runs.labels),
            **{f"test_{metric}": scores[metric] for metric in SCORE_METRICS},
        })
    return pd.DataFrame(rows, columns=ENSEMBLE_COLUMNS)
