"""Metrics: ACC and AUC are medmnist's own; the rest agree with scikit-learn's definitions."""

from __future__ import annotations

import numpy as np
import pytest
from medmnist.evaluator import getACC, getAUC
from sklearn.metrics import balanced_accuracy_score, f1_score

from darts_bohb.metrics import auc, classification_metrics, resampled_auc, score


def random_predictions(n=200, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    logits = rng.normal(size=(n, classes)) + 1.5 * np.eye(classes)[labels]  # better than chance
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probabilities


@pytest.mark.parametrize("task", ["ordinal-regression", "multi-class"])
def test_accuracy_and_auc_are_medmnists(task):
    labels, probabilities = random_predictions()
    metrics = classification_metrics(labels, probabilities, task)
    assert metrics["accuracy"] == getACC(labels[:, None], probabilities, task)
    assert metrics["auc"] == getAUC(labels[:, None], probabilities, task)
    assert 0.4 < metrics["accuracy"] < 1 and 0.6 < metrics["auc"] < 1


def test_binary_task_uses_the_positive_class_column():
    labels, probabilities = random_predictions(classes=2, seed=1)
    metrics = classification_metrics(labels, probabilities, "binary-class")
    assert metrics["auc"] == getAUC(labels, probabilities, "binary-class")
    assert metrics["accuracy"] == getACC(labels, probabilities, "binary-class")


def test_f1_balanced_accuracy_per_class_and_confusion_matrix():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    predicted = np.array([0, 1, 0, 1, 1, 2, 0, 2, 2, 1])
    probabilities = np.eye(4)[predicted] * 0.7 + 0.075
    metrics = classification_metrics(labels, probabilities, "multi-class")
    assert metrics["confusion_matrix"] == [[2, 1, 0, 0], [0, 2, 0, 0], [1, 1, 3, 0], [0, 0, 0, 0]]
    assert metrics["per_class_accuracy"] == [2 / 3, 1.0, 3 / 5, None]  # class 3 has no sample
    assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(labels, predicted))
    assert metrics["macro_f1"] == pytest.approx(f1_score(labels, predicted, labels=[0, 1, 2, 3],
                                                         average="macro", zero_division=0))
    assert np.isnan(metrics["auc"])  # undefined while a class has no sample, not an exception


def test_score_is_the_named_metric():
    """Each name gives its own metric, computed here independently (medmnist, scikit-learn), on
    imbalanced predictions where all four differ, so a swapped or wrong metric fails."""
    labels, probabilities = random_predictions(seed=2)
    labels[np.flatnonzero(labels == 4)[::2]] = 0  # imbalanced classes: balanced accuracy != accuracy
    predicted = probabilities.argmax(axis=1)
    expected = {
        "accuracy": getACC(labels[:, None], probabilities, "multi-class"),
        "auc": getAUC(labels[:, None], probabilities, "multi-class"),
        "balanced_accuracy": balanced_accuracy_score(labels, predicted),
        "macro_f1": f1_score(labels, predicted, labels=[0, 1, 2, 3, 4], average="macro", zero_division=0),
    }
    assert len({round(value, 6) for value in expected.values()}) == 4, expected
    for metric, value in expected.items():
        assert score(metric, labels, probabilities, "multi-class") == pytest.approx(value, abs=1e-12), metric


@pytest.mark.parametrize("task, n_columns", [("multi-class", 4), ("ordinal-regression", 5), ("binary-class", 2),
                                              ("multi-label, binary-class", 3)])
def test_resampled_auc_is_auc_of_each_resample(task, n_columns):
    """The ranked form of the bootstrap equals medmnist's AUC resample by resample, with ties
    (scores rounded to one decimal) and with resamples that miss a class (NaN, as auc() gives)."""
    rng = np.random.default_rng(3)
    n_images = 30
    if task.startswith("multi-label"):
        labels = rng.integers(0, 2, (n_images, n_columns))
        probabilities = rng.random((n_images, n_columns)).round(1)
    else:
        labels = rng.integers(0, n_columns, (n_images, 1))
        probabilities = rng.dirichlet(np.ones(n_columns), n_images).round(1)
    images = rng.integers(0, n_images, size=(250, n_images))
    images[0] = 0  # one image alone: every class but one missing
    fast = resampled_auc(labels, probabilities, task, images, chunk=64)
    slow = np.array([auc(labels[rows], probabilities[rows], task) for rows in images])
    assert np.isnan(fast[0]) and np.isnan(slow[0])
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
    assert np.isnan(slow).sum() < 250  # most resamples have an AUC: the comparison is not all NaN
