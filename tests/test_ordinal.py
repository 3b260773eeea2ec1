"""CORN's ordinal output (darts_bohb.ordinal): probabilities that sum to one, in fp32 under bf16
too, a cross-entropy that is the sum of CORN's binary losses, a network head that gives it, and an
ONNX export that reproduces it."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch
import torch.nn.functional as F

from darts_bohb.deploy.model import load_final_model
from darts_bohb.deploy.onnx_export import export_onnx
from darts_bohb.deploy.record import normalise
from darts_bohb.losses import FocalLoss
from darts_bohb.network import build_network
from darts_bohb.ordinal import ConditionalOrdinalOutput
from deploy_fixtures import train_final_model
from hpo_fixtures import one_torch_thread  # noqa: F401 (fixture)


def conditional_logits(n: int = 64, k: int = 5, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, k - 1, generator=torch.Generator().manual_seed(seed)) * 4


def test_the_class_probabilities_sum_to_one_and_are_their_own_softmax():
    log_probabilities = ConditionalOrdinalOutput()(conditional_logits())
    probabilities = log_probabilities.exp()
    assert log_probabilities.shape == (64, 5)
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(64), atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.softmax(log_probabilities, dim=1), probabilities, atol=1e-6, rtol=0)


def test_under_bf16_autocast_it_still_gives_fp32_probabilities_that_sum_to_one():
    """Logits of a bf16 network: the layer computes in fp32, where sums of log-sigmoids of large
    logits do not lose the rare grades."""
    logits = (conditional_logits(seed=1) * 5).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        log_probabilities = ConditionalOrdinalOutput()(logits)
    assert log_probabilities.dtype == torch.float32
    torch.testing.assert_close(log_probabilities.exp().sum(dim=1), torch.ones(64), atol=1e-6, rtol=0)
    assert torch.isfinite(log_probabilities).all()


def test_each_probability_is_passing_the_earlier_steps_and_stopping_at_its_own():
    logits = torch.tensor([[2.0, -1.0, 0.5, 3.0]])
    passing = torch.sigmoid(logits)[0]
    expected = [1 - passing[0], passing[0] * (1 - passing[1]), passing[0] * passing[1] * (1 - passing[2]),
                passing[0] * passing[1] * passing[2] * (1 - passing[3]), passing.prod()]
    torch.testing.assert_close(ConditionalOrdinalOutput()(logits).exp()[0], torch.stack(expected))


def test_cross_entropy_on_it_sums_cornes_binary_losses_over_the_tasks_each_image_takes_part_in():
    """Task k (is the grade above k?) takes the images graded k or higher (CORN's conditional
    training subsets); an image's loss is the sum of its tasks' binary cross-entropies. The mean
    runs over images; CORN's own loss divides by the (image, task) pairs instead."""
    logits = conditional_logits(n=200, seed=2).requires_grad_()
    grades = torch.randint(0, 5, (200,), generator=torch.Generator().manual_seed(3))
    ours = FocalLoss(gamma=0.0)(ConditionalOrdinalOutput()(logits), grades)
    by_task = sum(F.binary_cross_entropy_with_logits(logits[grades >= k, k], (grades[grades >= k] > k).float(),
                                                     reduction="sum") for k in range(4))
    torch.testing.assert_close(ours, by_task / len(grades))


def test_a_network_with_the_ordinal_head_gives_k_minus_one_logits_to_the_layer():
    architecture = {"in_channels": 3, "n_classes": 5,
                    "cells": [{"design": "plain_conv", "channels": 8, "batch_norm": True, "pool": True}],
                    "head": {"widths": [16], "dropout": 0.0, "output": "ordinal"}}
    network = build_network(architecture)
    assert network.head[-2].out_features == 4 and isinstance(network.head[-1], ConditionalOrdinalOutput)
    torch.testing.assert_close(network(torch.randn(3, 3, 28, 28)).exp().sum(dim=1), torch.ones(3))
    architecture["head"].pop("output")  # a file written before the ordinal head existed
    assert build_network(architecture).head[-1].out_features == 5


def test_it_learns_an_ordered_target_from_one_feature():
    """Grades cut from one number: a linear layer before the ordinal output can only order them,
    and it gets almost all of them right."""
    torch.manual_seed(0)
    x = torch.rand(512, 1) * 5
    grades = x[:, 0].floor().long().clamp(max=4)
    model = torch.nn.Sequential(torch.nn.Linear(1, 4), ConditionalOrdinalOutput())
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(500):
        optimizer.zero_grad()
        F.cross_entropy(model(x), grades).backward()
        optimizer.step()
    assert (model(x).argmax(dim=1) == grades).float().mean() > 0.9


@pytest.mark.usefixtures("one_torch_thread")
def test_the_onnx_export_of_an_ordinal_network_reproduces_pytorch(tmp_path):
    folder = train_final_model(tmp_path / "seed3", head_output="ordinal")
    check = export_onnx(folder, folder / "data.npz", folder / "model.onnx")
    assert check.max_probability_difference <= 1e-4
    network, _ = load_final_model(folder)
    assert network.head[-1].__class__ is ConditionalOrdinalOutput
    images = normalise(np.load(folder / "data.npz")["test_images"].transpose(0, 3, 1, 2))
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    _, probabilities = session.run(None, {"images": images})
    with torch.inference_mode():
        expected = network(torch.from_numpy(images)).exp().numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-4, rtol=0)
