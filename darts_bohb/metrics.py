"""Scores of class probabilities against labels, the MedMNIST way.

ACC and AUC come from medmnist's own evaluator functions (so they match the published tables);
macro F1, balanced accuracy and the confusion matrix from scikit-learn, and per-class accuracy
(the recall of each class) from that matrix.
"""

from __future__ import annotations

import numpy as np
from medmnist.evaluator import getACC, getAUC
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score

from darts_bohb.settings import HPO_METRICS


def score(metric: str, labels: np.ndarray, probabilities: np.ndarray, task: str) -> float:
    """One metric, higher is better; BOHB's objective is 1 - score."""
    labels = np.asarray(labels).reshape(-1)
    if metric == "accuracy":
        return float(getACC(labels, probabilities, task))
    if metric == "auc":
        return auc(labels, probabilities, task)
    predictions = probabilities.argmax(axis=1)
    if metric == "balanced_accuracy":
        return float(balanced_accuracy_score(labels, predictions))
    if metric == "macro_f1":
        n_classes = probabilities.shape[1]
        return float(f1_score(labels, predictions, labels=list(range(n_classes)), average="macro", zero_division=0))
    raise ValueError(f"hpo.metric: {metric!r} is not one of {HPO_METRICS}")


def auc(labels: np.ndarray, probabilities: np.ndarray, task: str) -> float:
    """medmnist's AUC; NaN when a class of the task has no sample in `labels` (AUC undefined)."""
    present = np.unique(labels)
    if len(present) < 2 or (task != "binary-class" and len(present) < probabilities.shape[1]):
        return float("nan")
    return float(getAUC(labels, probabilities, task))


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray, task: str) -> dict:
    """Every reported metric; per-class accuracy is None for a class without samples."""
    labels = np.asarray(labels).reshape(-1)
    n_classes = probabilities.shape[1]
    matrix = confusion_matrix(labels, probabilities.argmax(axis=1), labels=list(range(n_classes)))
    support = matrix.sum(axis=1)
    per_class = [float(matrix[c, c] / support[c]) if support[c] else None for c in range(n_classes)]
    return {
        "accuracy": score("accuracy", labels, probabilities, task),
        "auc": auc(labels, probabilities, task),
        "macro_f1": score("macro_f1", labels, probabilities, task),
        "balanced_accuracy": score("balanced_accuracy", labels, probabilities, task),
        "per_class_accuracy": per_class,
        "confusion_matrix": matrix.tolist(),
    }
