"""Scores of class probabilities against labels, the MedMNIST way.

ACC and AUC come from medmnist's own evaluator functions (so they match the published tables);
macro F1, balanced accuracy and the confusion matrix from scikit-learn, and per-class accuracy
(the recall of each class) from that matrix. A multi-label task has labels (N, L) of 0/1 and one
sigmoid probability per label: its ACC and AUC are medmnist's means over labels (threshold 0.5),
macro F1 the mean of the labels' F1, per-class accuracy the accuracy of each label, and it has a
2x2 confusion matrix per label and no balanced accuracy.
"""

from __future__ import annotations

import numpy as np
from medmnist.evaluator import getACC, getAUC
from scipy.stats import rankdata
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score, multilabel_confusion_matrix

from darts_bohb.tasks import MULTI_LABEL_TASK

THRESHOLD = 0.5  # medmnist's threshold of a label's probability


def score(metric: str, labels: np.ndarray, probabilities: np.ndarray, task: str) -> float:
    """One metric, higher is better; BOHB's objective is 1 - score."""
    if task == MULTI_LABEL_TASK:
        return _multi_label_score(metric, np.asarray(labels), probabilities)
    labels = np.asarray(labels).reshape(-1)
    if metric == "accuracy":
        return float(getACC(labels, probabilities, task))
    if metric == "auc":
        return auc(labels, probabilities, task)
    predictions = probabilities.argmax(axis=1)
    if metric == "balanced_accuracy":
        return float(balanced_accuracy_score(labels, predictions))
    n_classes = probabilities.shape[1]  # macro_f1: hpo.metric's schema allows no other metric
    return float(f1_score(labels, predictions, labels=list(range(n_classes)), average="macro", zero_division=0))


def _multi_label_score(metric: str, labels: np.ndarray, probabilities: np.ndarray) -> float:
    if metric == "accuracy":
        return float(getACC(labels, probabilities, MULTI_LABEL_TASK, threshold=THRESHOLD))
    if metric == "auc":
        return auc(labels, probabilities, MULTI_LABEL_TASK)
    if metric == "macro_f1":
        return float(f1_score(labels, probabilities > THRESHOLD, average="macro", zero_division=0))
    raise ValueError(f"hpo.metric: {metric!r} means nothing for a multi-label task")


def auc(labels: np.ndarray, probabilities: np.ndarray, task: str) -> float:
    """medmnist's AUC; NaN when a class of the task has no sample in `labels`, or a label of a
    multi-label task is always or never present (AUC undefined)."""
    if task == MULTI_LABEL_TASK:  # labels (N, L), as score and classification_metrics pass them
        if np.any(labels.min(axis=0) == labels.max(axis=0)):
            return float("nan")
        return float(getAUC(labels, probabilities, task))
    present = np.unique(labels)
    if len(present) < 2 or (task != "binary-class" and len(present) < probabilities.shape[1]):
        return float("nan")
    return float(getAUC(labels, probabilities, task))


def resampled_auc(labels: np.ndarray, probabilities: np.ndarray, task: str, images: np.ndarray,
                  chunk: int = 100) -> np.ndarray:
    """auc() of many resamples at once: entry r scores the images images[r] of the (R, N) index
    array, NaN where auc() would be.

    medmnist's AUC is a mean of one-vs-rest (per-label) AUCs; each is the Mann-Whitney U of the
    positives' ranks over n_pos * n_neg, ties sharing their mean rank as roc_auc_score counts them
    half. Ranking all resamples together takes milliseconds where roc_auc_score per resample took
    tens, which is what a bootstrap over test images needs. Resamples go `chunk` at a time to bound
    the memory of a large test split.
    """
    labels = np.asarray(labels)
    if task == MULTI_LABEL_TASK:
        columns = [(labels[:, j] == 1, j) for j in range(labels.shape[1])]
    elif task == "binary-class":  # medmnist scores the last column against label 1
        columns = [(labels.reshape(-1) == 1, probabilities.shape[1] - 1)]
    else:
        columns = [(labels.reshape(-1) == c, c) for c in range(probabilities.shape[1])]
    return np.concatenate([_mean_column_auc(columns, probabilities, images[start:start + chunk])
                           for start in range(0, len(images), chunk)])


def _mean_column_auc(columns, probabilities: np.ndarray, images: np.ndarray) -> np.ndarray:
    aucs = []
    for positive, column in columns:
        is_positive = positive[images]
        ranks = rankdata(probabilities[:, column][images], axis=1)
        n_positive = is_positive.sum(axis=1)
        n_negative = images.shape[1] - n_positive
        u = (ranks * is_positive).sum(axis=1) - n_positive * (n_positive + 1) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            aucs.append(np.where((n_positive > 0) & (n_negative > 0), u / (n_positive * n_negative), np.nan))
    return np.mean(aucs, axis=0)  # NaN where any class (label) is undefined, as auc() is


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray, task: str) -> dict:
    """Every reported metric; per-class accuracy is None for a class without samples."""
    if task == MULTI_LABEL_TASK:
        return _multi_label_metrics(np.asarray(labels), probabilities)
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


def _multi_label_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    predicted = probabilities > THRESHOLD
    return {
        "accuracy": score("accuracy", labels, probabilities, MULTI_LABEL_TASK),
        "auc": auc(labels, probabilities, MULTI_LABEL_TASK),
        "macro_f1": score("macro_f1", labels, probabilities, MULTI_LABEL_TASK),
        "balanced_accuracy": float("nan"),  # recall per class: a multi-label task has no classes
        "per_class_accuracy": [float(np.mean(predicted[:, j] == labels[:, j])) for j in range(labels.shape[1])],
        "confusion_matrix": multilabel_confusion_matrix(labels, predicted).tolist(),
    }
