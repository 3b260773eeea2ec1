"""The selection estimate's cross-validation and the seed ensemble's selection, on hand-made cases
and on the real RetinaMNIST train and val splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from darts_bohb.cv import CrossValidation, std_error, stratified_folds
from darts_bohb.data import load_splits
from darts_bohb.ensemble_selection import select_ensemble, weighted_average


def test_folds_of_real_train_and_val_are_stratified_disjoint_and_cover_both_splits(real_data):
    splits = load_splits(real_data, ("train", "val", "test"))
    cv = CrossValidation.over(splits["train"], splits["val"], 3, "accuracy", "ordinal-regression", seed=1)
    assert len(cv.data) == 1080 + 120 == len(splits["train"]) + len(splits["val"])
    # train, then val: the images cross-validation reads are these two splits and no other
    assert torch.equal(cv.data.images, torch.cat([splits["train"].images, splits["val"].images]))
    assert torch.equal(cv.data.labels, torch.cat([splits["train"].labels, splits["val"].labels]))
    together = np.concatenate(cv.folds)
    assert len(together) == 1200 and set(together.tolist()) == set(range(1200))
    counts = np.bincount(cv.data.labels.numpy(), minlength=5)
    for held_out in cv.folds:
        # each class's share of a fold is its share of train+val, to one image
        assert np.all(np.abs(np.bincount(cv.data.labels.numpy()[held_out], minlength=5) - counts / 3) <= 1)
    for fold in range(3):
        fitted_on, held_out = cv.fold_splits(fold)
        assert len(fitted_on) + len(held_out) == 1200 and len(held_out) == 400
        # no held-out image is one the fold's model was trained on (every image here is distinct)
        seen = {image.numpy().tobytes() for image in fitted_on.images}
        assert not any(image.numpy().tobytes() in seen for image in held_out.images)
    assert cv.describe() == "3-fold stratified CV over train+val (1200 images), accuracy"


def test_folds_depend_on_the_seed_only():
    labels = np.repeat(np.arange(4), 30)
    assert all(np.array_equal(a, b) for a, b in zip(stratified_folds(labels, 5, 3), stratified_folds(labels, 5, 3)))
    assert not all(np.array_equal(a, b) for a, b in zip(stratified_folds(labels, 5, 3), stratified_folds(labels, 5, 4)))


def test_multi_label_folds_are_plain_and_still_a_partition():
    labels = np.random.default_rng(0).integers(0, 2, (50, 3))
    folds = stratified_folds(labels, 4, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(50))


@pytest.mark.parametrize("n_folds", [1, 11])
def test_impossible_fold_counts_are_refused(n_folds):
    with pytest.raises(ValueError, match="n_splits"):  # scikit-learn's own check
        stratified_folds(np.zeros(10, dtype=int), n_folds, seed=0)


def test_accuracy_std_error_is_the_binomial_one():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 1200)
    right = rng.random(1200) < 0.55  # about 55% right
    probabilities = np.full((1200, 3), 0.1)
    probabilities[np.arange(1200), np.where(right, labels, (labels + 1) % 3)] = 0.8
    accuracy = right.mean()
    binomial = np.sqrt(accuracy * (1 - accuracy) / 1200)  # 0.0144
    assert std_error("accuracy", labels, probabilities, "multi-class", seed=0) == pytest.approx(binomial, rel=0.15)


def one_hot_scores(class0: list[float]) -> np.ndarray:
    """Two-class probabilities from class 0's."""
    class0 = np.array(class0)
    return np.stack([class0, 1 - class0], axis=1)


def test_greedy_selection_adds_the_member_that_corrects_the_best_one():
    labels = np.zeros(5, dtype=int)
    first = one_hot_scores([0.9, 0.9, 0.9, 0.4, 0.4])  # right on 3 of 5: the best alone
    second = one_hot_scores([0.45, 0.45, 0.45, 0.9, 0.9])  # right on 2 of 5
    # Round 1 takes `first` (0.6); round 2 `second`: their mean, class 0 at 0.675 and 0.65, is
    # right on all five; rounds 3 and 4 cannot do better, so the best prefix is the first two.
    weights = select_ensemble({7: second, 3: first}, labels, "accuracy", "multi-class", rounds=4)
    assert weights == {3: 0.5, 7: 0.5}
    assert np.allclose(weighted_average({7: second, 3: first}, weights), (first + second) / 2)


def test_a_member_that_helps_no_more_leaves_the_best_alone():
    labels = np.array([0, 1, 0, 1])
    perfect = one_hot_scores([0.9, 0.1, 0.9, 0.1])
    poor = one_hot_scores([0.1, 0.9, 0.1, 0.9])
    assert select_ensemble({1: poor, 2: perfect}, labels, "accuracy", "multi-class", rounds=5) == {2: 1.0}


def test_equal_candidates_go_to_the_smaller_key():
    labels = np.array([0, 1])
    same = one_hot_scores([0.8, 0.3])
    assert select_ensemble({9: same, 4: same.copy()}, labels, "accuracy", "multi-class", rounds=3) == {4: 1.0}


def test_repeated_picks_become_weights():
    labels = np.array([0, 0, 0])
    strong = one_hot_scores([0.9, 0.9, 0.45])  # 2 of 3
    weak = one_hot_scores([0.2, 0.2, 0.9])  # 1 of 3
    # strong+weak: class 0 at 0.55, 0.55, 0.675, right on all; the selection stops improving there
    assert select_ensemble({0: strong, 1: weak}, labels, "accuracy", "multi-class", rounds=3) == {0: 0.5, 1: 0.5}
    # with a weaker helper, it takes strong twice: (2·strong + weak2)/3 at 0.667, 0.667, 0.6 is right on all
    weak2 = one_hot_scores([0.2, 0.2, 0.9])
    weak2[:2] = [[0.05, 0.95], [0.05, 0.95]]
    weights = select_ensemble({0: strong, 1: weak2}, labels, "accuracy", "multi-class", rounds=3)
    assert weights == pytest.approx({0: 2 / 3, 1: 1 / 3})
