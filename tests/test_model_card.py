"""MODEL_CARD.md and the deployment record that the final rule writes beside the model."""

from __future__ import annotations

import json

import pytest
import torch

from darts_bohb.deploy.flops import flops_per_image
from darts_bohb.deploy.record import medmnist_class_names
from darts_bohb.network import build_network, count_parameters
from deploy_fixtures import SELECTION_METHOD, train_final_model
from hpo_fixtures import one_torch_thread  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def final_folder(request, tmp_path_factory):
    request.getfixturevalue("one_torch_thread")  # one thread before training, restored after the module
    return train_final_model(tmp_path_factory.mktemp("final") / "seed3", method="nas")


def test_the_card_states_size_cost_training_and_test_scores(final_folder):
    card = (final_folder / "MODEL_CARD.md").read_text()
    architecture = json.loads((final_folder / "architecture.json").read_text())
    metrics = json.loads((final_folder / "metrics.json").read_text())
    network = build_network(architecture)
    assert "# Model card: nas network, seed 3, retinamnist 28x28" in card
    assert f"{count_parameters(network):,} parameters" in card
    assert f"{flops_per_image(network, 3, (28, 28)):,} FLOPs per 28x28 image" in card
    assert "2 cell(s)" in card and "| 2 | plain 3x3 conv block | 16 | no | yes |" in card
    assert "k7: zero, k9: identity" in card
    assert "Trained from scratch for 2 epochs on the train split(s) of retinamnist (200 images), seed 3" in card
    assert f"BOHB's incumbent (config 7), chosen by {SELECTION_METHOD}: accuracy 0.6000 at 2 epochs" in card
    assert "On the test split: 60 images" in card
    assert f"| accuracy | {metrics['accuracy']:.4f} |" in card and f"| AUC | {metrics['auc']:.4f} |" in card
    assert "**not a diagnostic device**" in card and "28 px benchmark" in card
    assert "DeepDRiD" in card  # the data set's description from medmnist.INFO


def test_architecture_json_records_the_preprocessing_and_still_rebuilds_the_network(final_folder):
    architecture = json.loads((final_folder / "architecture.json").read_text())
    deployment = architecture["deployment"]
    expected = {"image_size": [28, 28], "channels": 3, "color_mode": "RGB", "layout": "NCHW", "scale": 2 / 255,
                "offset": -1.0}
    assert {key: deployment["preprocessing"][key] for key in expected} == expected
    assert deployment["output"] == {"task": "ordinal-regression", "activation": "softmax",
                                    "class_names": ["0", "1", "2", "3", "4"]}
    assert deployment["dataset"] == "retinamnist" and deployment["scored_precision"] == "fp32"
    assert deployment["package"]["name"] == "darts-bohb" and deployment["package"]["version"]
    network = build_network(architecture)
    network.load_state_dict(torch.load(final_folder / "model.pt", weights_only=True), strict=True)


def test_class_names_come_from_medmnist_or_are_the_indices():
    assert medmnist_class_names("pathmnist", 9)[:2] == ["adipose", "background"]
    assert medmnist_class_names("mydata", 3) == ["0", "1", "2"]
    assert medmnist_class_names(None, 2) == ["0", "1"]


def test_flops_of_a_plain_conv_network_are_the_multiply_adds_counted_twice():
    network = build_network({"in_channels": 3, "n_classes": 5, "head": {"widths": [], "dropout": 0.0},
                             "cells": [{"design": "plain_conv", "channels": 8, "batch_norm": True, "pool": True}]})
    network.train()
    conv = 28 * 28 * 8 * 3 * 3 * 3  # output pixels x output channels x (input channels x 3 x 3)
    classifier = 8 * 5
    assert flops_per_image(network, 3, (28, 28)) == 2 * (conv + classifier)
    assert network.training  # the count leaves the train/eval state as it was
