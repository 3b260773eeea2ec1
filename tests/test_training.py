"""The training loop: it learns, it is reproducible, and its optional parts behave."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from darts_bohb.data import iterate_batches, load_splits
from darts_bohb.losses import loss_for_split
from darts_bohb.network import build_network
from darts_bohb.runtime import make_runtime, seed_everything
from darts_bohb.training import (
    TrainingDiverged,
    TrainingSettings,
    augment_batch,
    jitter_colours,
    mixup_partners,
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


def test_swa_ends_with_the_mean_of_its_epochs_weights(splits):
    """Constant SGD without momentum, no batch norm: a run stopped and continued with the same data
    order steps exactly like one run, so the weights after epochs 2 and 3 can be averaged by hand."""
    architecture = {**ARCH, "cells": [cell | {"batch_norm": False} for cell in ARCH["cells"]]}
    settings = TrainingSettings(epochs=3, batch_size=32, optimizer="sgd", lr=0.05, weight_decay=0.0)
    runtime = make_runtime("cpu", "fp32")

    def fresh():
        seed_everything(0)
        return build_network(architecture)

    averaged = fresh()
    train_model(averaged, splits["train"], dataclasses.replace(settings, swa_epochs=2), runtime,
                seed_everything(1), n_classes=5)
    stepwise, generator = fresh(), seed_everything(1)
    train_model(stepwise, splits["train"], dataclasses.replace(settings, epochs=2), runtime, generator, n_classes=5)
    after_two = {name: tensor.clone() for name, tensor in stepwise.state_dict().items()}
    train_model(stepwise, splits["train"], dataclasses.replace(settings, epochs=1), runtime, generator, n_classes=5)
    for name, tensor in averaged.state_dict().items():
        torch.testing.assert_close(tensor, (after_two[name] + stepwise.state_dict()[name]) / 2)


def test_colour_jitter_scales_brightness_within_its_range_and_keeps_grey_images_grey():
    # Mid-range intensities, so that no pixel is clipped and the mean moves by brightness alone
    # (contrast and saturation keep an image's mean).
    images = torch.rand(64, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.5 - 0.25
    jittered = jitter_colours(images, 0.2, torch.Generator().manual_seed(1))
    assert torch.equal(jittered, jitter_colours(images, 0.2, torch.Generator().manual_seed(1)))
    ratio = ((jittered + 1) / 2).mean(dim=(1, 2, 3)) / ((images + 1) / 2).mean(dim=(1, 2, 3))
    assert ratio.min() >= 0.8 - 1e-5 and ratio.max() <= 1.2 + 1e-5 and ratio.std() > 0.05
    assert jittered.min() >= -1 and jittered.max() <= 1
    torch.testing.assert_close(jitter_colours(images, 0.0, torch.Generator().manual_seed(1)), images)
    grey = jitter_colours(images[:, :1].expand(-1, 3, -1, -1), 0.2, torch.Generator().manual_seed(1))
    torch.testing.assert_close(grey[:, 1:], grey[:, :1].expand(-1, 2, -1, -1))
    bright, dark = torch.full((4, 3, 8, 8), 0.99), torch.full((4, 3, 8, 8), -0.99)
    assert jitter_colours(bright, 0.5, torch.Generator().manual_seed(2)).max() <= 1.0  # clipped to the image range
    assert jitter_colours(dark, 0.5, torch.Generator().manual_seed(2)).min() >= -1.0


def test_colour_jitter_applies_brightness_contrast_and_saturation_as_drawn():
    """The same draws by hand: a grey image's spread scales by brightness times contrast (saturation
    leaves it grey), and a colour image's spread across its channels by all three factors."""
    strength, images = 0.3, torch.rand(16, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.5 - 0.25
    brightness, contrast, saturation = (1 + (torch.rand(16, 3, generator=torch.Generator().manual_seed(5)) * 2 - 1)
                                        * strength).unbind(1)
    grey = images[:, :1].expand(-1, 3, -1, -1)
    spread = ((jitter_colours(grey, strength, torch.Generator().manual_seed(5)) + 1) / 2).std(dim=(1, 2, 3))
    torch.testing.assert_close(spread, ((grey + 1) / 2).std(dim=(1, 2, 3)) * brightness * contrast)

    def across_channels(batch):
        return (batch - batch.mean(dim=1, keepdim=True)).std(dim=(1, 2, 3))

    jittered = (jitter_colours(images, strength, torch.Generator().manual_seed(5)) + 1) / 2
    torch.testing.assert_close(across_channels(jittered),
                               across_channels((images + 1) / 2) * brightness * contrast * saturation)


@pytest.mark.parametrize("changes, message", [({"colour_jitter": 1.5}, "colour_jitter must be in"),
                                              ({"colour_jitter": -0.1}, "colour_jitter must be in"),
                                              ({"mixup_alpha": -1.0}, "mixup_alpha must be")])
def test_impossible_augmentation_strengths_are_refused_before_training(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainingSettings(epochs=1, batch_size=32, optimizer="sgd", lr=0.1, weight_decay=0.0, **changes)


def test_mixup_pairs_each_image_with_one_partner_by_a_beta_weight():
    partner, own = mixup_partners(32, 0.2, torch.Generator().manual_seed(0))
    assert sorted(partner.tolist()) == list(range(32)) and 0.0 <= own <= 1.0
    again, own_again = mixup_partners(32, 0.2, torch.Generator().manual_seed(0))
    assert torch.equal(partner, again) and own == own_again
    weights = np.array([mixup_partners(4, 0.2, torch.Generator().manual_seed(seed))[1] for seed in range(200)])
    assert ((weights < 0.1) | (weights > 0.9)).mean() > 0.5  # Beta(0.2, 0.2) puts most weight near 0 and 1
    assert abs(weights.mean() - 0.5) < 0.1


def test_mixup_trains_on_the_blend_of_both_sides_losses(splits):
    """With a learning rate of 0 the network stays as it was (trained, so that its losses on mixed
    and on plain images differ), so the epoch's loss can be recomputed by hand from the same random
    stream: blended images, the two sides' losses blended alike."""
    settings = TrainingSettings(epochs=1, batch_size=32, optimizer="sgd", lr=0.0, weight_decay=0.0,
                                focal_gamma=2.0, class_weight_exponent=0.5, mixup_alpha=0.4)
    model, _, runtime = fit(splits, epochs=4)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    result = train_model(model, splits["train"], settings, runtime, seed_everything(1), n_classes=5)
    model.load_state_dict(before)
    model.train()
    criterion = loss_for_split("focal", splits["train"], 5, gamma=2.0, class_weight_exponent=0.5)
    generator, losses = seed_everything(1), []
    with torch.no_grad():
        for images, labels in iterate_batches(splits["train"], 32, generator, shuffle=True, drop_last=True):
            partner, own = mixup_partners(len(labels), 0.4, generator)
            inputs = runtime.images_to_device(images)
            logits = model(inputs * own + inputs[partner] * (1 - own))
            losses.append(own * criterion(logits, labels) + (1 - own) * criterion(logits, labels[partner]))
        unmixed = float(torch.stack([criterion(model(runtime.images_to_device(images)), labels)
                                     for images, labels in iterate_batches(splits["train"], 32, seed_everything(1),
                                                                           shuffle=True, drop_last=True)]).mean())
    assert result.epoch_losses[0] == pytest.approx(float(torch.stack(losses).mean()), rel=1e-5)
    assert result.epoch_losses[0] != pytest.approx(unmixed, rel=1e-3)
