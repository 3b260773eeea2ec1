"""The training loop: it learns, it is reproducible, and its optional parts behave."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from darts_bohb.data import load_splits
from darts_bohb.network import build_network
from darts_bohb.runtime import make_runtime, seed_everything
from darts_bohb.training import (
    TrainingDiverged,
    TrainingSettings,
    augment_batch,
    predict_probabilities,
    train_model,
)
from hpo_fixtures import one_torch_thread, write_synthetic_npz  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ARCH = {"in_channels": 3, "n_classes": 5, "head": {"widths": [16], "dropout": 0.0},
        "cells": [{"design": "plain_conv", "channels": 8, "batch_norm": True, "pool": True},
                  {"design": "plain_conv", "channels": 16, "batch_norm": True, "pool": True}]}


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    """Synthetic data in MedMNIST's layout (tests/hpo_fixtures.py); the real file is not needed."""
    path = write_synthetic_npz(tmp_path_factory.mktemp("data") / "synthetic.npz")
    return load_splits(path, ("train", "val"))


def fit(splits, seed=0, precision="fp32", **changes):
    settings = TrainingSettings(**{**dict(epochs=4, batch_size=32, optimizer="adam", lr=1e-2,
                                          weight_decay=0.0), **changes})
    runtime = make_runtime("cpu", precision)
    generator = seed_everything(seed)
    model = runtime.prepare_model(build_network(ARCH))
    result = train_model(model, splits["train"], settings, runtime, generator, n_classes=5)
    return model, result, runtime


def test_training_learns_the_synthetic_task(splits):
    model, result, runtime = fit(splits, epochs=8, augment=False, scheduler="cosine")
    assert result.epoch_losses[-1] < 0.5 * result.epoch_losses[0]
    probabilities = predict_probabilities(model, splits["val"], runtime)
    assert probabilities.shape == (60, 5) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert (probabilities.argmax(axis=1) == splits["val"].labels.numpy()).mean() > 0.8


def test_same_seed_same_result_and_another_seed_differs(splits):
    first = fit(splits, seed=3, epochs=1, augment=True)[1].epoch_losses
    assert first == fit(splits, seed=3, epochs=1, augment=True)[1].epoch_losses
    assert first != fit(splits, seed=4, epochs=1, augment=True)[1].epoch_losses


@pytest.mark.parametrize("optimizer, scheduler", [("sgd", "one_cycle"), ("adamw", "cosine"), ("sgd", "none")])
def test_every_optimizer_and_schedule_runs_its_full_length(splits, optimizer, scheduler):
    # OneCycleLR raises if stepped beyond its total steps, so this checks the step count too.
    _, result, _ = fit(splits, epochs=2, optimizer=optimizer, scheduler=scheduler, momentum=0.9, nesterov=True,
                       lr=1e-2, focal_gamma=2.0, class_weight_exponent=0.5, precision="auto")
    assert len(result.epoch_losses) == 2 and all(np.isfinite(result.epoch_losses))
    assert result.images_seen == 2 * (200 // 32) * 32  # whole batches only (drop_last)


def test_an_epoch_scale_trains_that_many_times_the_images(splits):
    """EpochSize on a small set: each epoch draws 1.5 times its images, so 1.5 times the steps."""
    _, result, _ = fit(splits, epochs=2, epoch_scale=1.5)
    assert result.images_seen == 2 * (300 // 32) * 32


def test_a_diverging_run_raises_instead_of_scoring_garbage(splits):
    with pytest.raises(TrainingDiverged, match="epoch 1"):
        fit(splits, epochs=1, optimizer="sgd", lr=1e12, momentum=0.9)


def test_augmentation_flips_and_rotates_reproducibly():
    images = torch.linspace(-1, 1, 2 * 3 * 16 * 16).reshape(2, 3, 16, 16)
    first = augment_batch(images, torch.Generator().manual_seed(0))
    assert torch.equal(first, augment_batch(images, torch.Generator().manual_seed(0)))
    assert first.shape == images.shape and not torch.allclose(first, images)
    assert first.min() >= images.min() - 1e-5 and first.max() <= images.max() + 1e-5
    flat = torch.full((4, 3, 16, 16), 0.25)
    assert torch.allclose(augment_batch(flat, torch.Generator().manual_seed(1)), flat)  # no black corners


