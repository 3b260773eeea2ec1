"""The selection estimate of BOHB's largest budget: stratified k-fold cross-validation over
train+val.

A 120-image val split scores accuracy with a standard error of about 0.045, so BOHB's choice
among its best configurations was mostly a coin flip. Pooling the out-of-fold predictions of k
models over the 1,200 images of train+val cuts that error by about three, and the fold models,
averaged, are the ensemble members the final rule scores (as auto-sklearn does with its "cv"
resampling). The test split is never part of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import bootstrap
from sklearn.model_selection import KFold, StratifiedKFold

from darts_bohb.data import Split, joined
from darts_bohb.metrics import score

# Resamples of the bootstrap standard error: its own relative error is about 1/sqrt(2·B), 5% here.
STD_ERROR_RESAMPLES = 200


def stratified_folds(labels: np.ndarray, n_folds: int, seed: int) -> list[np.ndarray]:
    """The held-out indices of each fold: disjoint, together every index once, sorted.

    Single-label tasks keep the class proportions in every fold; a multi-label task (labels
    (N, L)) gets shuffled plain folds, as scikit-learn stratifies one label only (KFold ignores them).
    scikit-learn refuses a fold count below 2 or above the images.
    """
    splitter = (KFold(n_folds, shuffle=True, random_state=seed) if labels.ndim == 2
                else StratifiedKFold(n_folds, shuffle=True, random_state=seed))
    return [np.sort(held_out) for _, held_out in splitter.split(np.zeros(len(labels)), labels)]


@dataclass(frozen=True)
class CrossValidation:
    data: Split  # train+val in RAM
    folds: tuple[np.ndarray, ...]  # held-out indices per fold
    metric: str
    task: str
    seed: int

    @classmethod
    def over(cls, train: Split, val: Split, n_folds: int, metric: str, task: str, seed: int) -> CrossValidation:
        data = joined(train, val)
        return cls(data, tuple(stratified_folds(data.labels.numpy(), n_folds, seed)), metric, task, seed)

    def fold_splits(self, fold: int) -> tuple[Split, Split]:
        """(training images, held-out images) of one fold."""
        held_out = self.folds[fold]
        kept = np.setdiff1d(np.arange(len(self.data)), held_out)
        return self.data.subset(torch.from_numpy(kept)), self.data.subset(torch.from_numpy(held_out))

    def estimate(self, out_of_fold: np.ndarray) -> tuple[float, float]:
        """(score, bootstrap standard error) of the pooled out-of-fold probabilities."""
        labels = self.data.labels.numpy()
        return (score(self.metric, labels, out_of_fold, self.task),
                std_error(self.metric, labels, out_of_fold, self.task, self.seed))

    def describe(self) -> str:
        kind = "stratified " if self.data.labels.ndim == 1 else ""
        return f"{len(self.folds)}-fold {kind}CV over train+val ({len(self.data)} images), {self.metric}"


def std_error(metric: str, labels: np.ndarray, probabilities: np.ndarray, task: str, seed: int) -> float:
    """Bootstrap standard error over images of a score; it covers which images were drawn, not how
    the models would change if retrained (no unbiased estimator of that exists for k-fold CV)."""
    result = bootstrap((np.arange(len(labels)),),
                       lambda rows: score(metric, labels[rows], probabilities[rows], task),
                       vectorized=False, n_resamples=STD_ERROR_RESAMPLES, method="percentile",
                       random_state=np.random.default_rng(seed))
    return float(result.standard_error)
