"""The final rule's work: train the incumbent, score it on test, write the contracted files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from medmnist.evaluator import getACC, getAUC

from darts_bohb.data import load_splits
from darts_bohb.final import FinalOutputs, run_final
from darts_bohb.network import build_network
from darts_bohb.runtime import make_runtime
from darts_bohb.settings import FinalSettings
from darts_bohb.training import predict_probabilities
from hpo_fixtures import one_torch_thread, write_synthetic_npz  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
METRIC_KEYS = {"method", "seed", "split", "trained_on", "epochs", "n_images", "accuracy", "auc", "macro_f1",
               "balanced_accuracy", "per_class_accuracy", "confusion_matrix", "validation_score", "seconds",
               "selection_estimate", "selection_std_error", "selection_method"}
CONFIG = {"n_cells": 2, "cell1_channels": 8, "cell1_batch_norm": True, "cell1_pool": True, "cell1_design": 0,
          "cell2_channels": 16, "cell2_batch_norm": True, "cell2_pool": True, "cell2_design": 0,
          "head_layers": 0, "dropout": 0.1, "optimizer": "adam", "lr": 0.01, "weight_decay": 1e-5,
          "scheduler": "cosine", "batch_size": 64, "focal_gamma": 0.0, "class_weight_exponent": 0.5,
          "augment": False}
ARCHITECTURE = {"in_channels": 3, "n_classes": 5, "head": {"widths": [], "dropout": 0.1},
                "cells": [{"design": "plain_conv", "channels": 8, "batch_norm": True, "pool": True},
                          {"design": "plain_conv", "channels": 16, "batch_norm": True, "pool": True}]}


def write_incumbent(path, **changes):
    record = {"method": "baseline", "seed": 1, "metric": "accuracy", "validation_score": 0.5, "budget": 3,
              "config_id": 4, "config": CONFIG, "architecture": ARCHITECTURE, "designs": None, **changes}
    path.write_text(json.dumps(record))
    return path


def outputs(folder):
    return FinalOutputs(folder / "metrics.json", folder / "predictions.csv", folder / "model.pt",
                        folder / "architecture.json", folder / "MODEL_CARD.md")


def test_final_on_the_real_test_split_matches_medmnist_from_predictions(tmp_path, real_data):
    """The real RetinaMNIST file: metrics.json agrees with medmnist's functions on predictions.csv."""
    metrics = run_final("baseline", write_incumbent(tmp_path / "incumbent.json"), real_data, seed=1, epochs=1,
                        settings=FinalSettings(train_on="train"), task="ordinal-regression", n_classes=5,
                        runtime=make_runtime("cpu", "auto"), outputs=outputs(tmp_path))
    stored = json.loads((tmp_path / "metrics.json").read_text())
    assert set(stored) == METRIC_KEYS and stored == metrics
    assert (stored["split"], stored["trained_on"], stored["epochs"], stored["n_images"]) == ("test", "train", 1, 400)
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert list(predictions.columns) == ["index", "label", "prob_0", "prob_1", "prob_2", "prob_3", "prob_4"]
    assert predictions["index"].tolist() == list(range(400))
    assert predictions["label"].tolist() == np.load(real_data)["test_labels"].reshape(-1).tolist()
    labels = predictions[["label"]].to_numpy()
    scores = predictions.filter(like="prob_").to_numpy()
    assert stored["accuracy"] == getACC(labels, scores, "ordinal-regression")
    assert stored["auc"] == getAUC(labels, scores, "ordinal-regression")
    assert np.array(stored["confusion_matrix"]).sum() == 400 and len(stored["per_class_accuracy"]) == 5


def test_model_pt_loads_weights_only_into_the_saved_architecture(tmp_path):
    data = write_synthetic_npz(tmp_path / "data.npz")
    run_final("baseline", write_incumbent(tmp_path / "incumbent.json"), data, seed=2, epochs=1,
              settings=FinalSettings(train_on="train"), task="ordinal-regression", n_classes=5,
              runtime=make_runtime("cpu", "auto"), outputs=outputs(tmp_path))
    model = build_network(json.loads((tmp_path / "architecture.json").read_text()))
    model.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True), strict=True)
    model.eval()
    probabilities = torch.softmax(model(torch.zeros(1, 3, 28, 28)), dim=1)
    assert torch.isclose(probabilities.sum(), torch.tensor(1.0))


def test_train_plus_val_trains_on_both_splits_and_logs_each_epoch_with_the_time_left(tmp_path, caplog):
    data = write_synthetic_npz(tmp_path / "data.npz")
    caplog.set_level("INFO", logger="darts_bohb")
    metrics = run_final("baseline", write_incumbent(tmp_path / "incumbent.json"), data, seed=1, epochs=2,
                        settings=FinalSettings(train_on="train+val"), task="ordinal-regression", n_classes=5,
                        runtime=make_runtime("cpu", "auto"), outputs=outputs(tmp_path))
    assert metrics["trained_on"] == "train+val" and metrics["n_images"] == 60
    assert "on train+val (260 images)" in caplog.text
    progress = [record.getMessage() for record in caplog.records if record.getMessage().startswith("epoch ")]
    assert [line.split(":")[0] for line in progress] == ["epoch 1/2", "epoch 2/2"]
    assert all(" s left" in line for line in progress) and progress[-1].endswith("about 0 s left")


def fold_states(seeds: list[int]) -> list[dict[str, torch.Tensor]]:
    """State dicts of untrained networks of ARCHITECTURE, one per seed: stand-ins for fold models."""
    states = []
    for seed in seeds:
        torch.manual_seed(seed)
        states.append(build_network(ARCHITECTURE).state_dict())
    return states


def write_ensemble(path, members=None, **changes):
    member = {"config_id": 1, "weight": 1.0, "config": CONFIG, "architecture": ARCHITECTURE,
              "fold_states": fold_states([1])}
    torch.save({"method": "baseline", "seed": 1, "metric": "accuracy", "selection_estimate": 0.55,
                "selection_std_error": 0.014, "selection_method": "3-fold stratified CV over train+val",
                "members": [member] if members is None else members, **changes}, path)
    return path


def ensemble_outputs(folder):
    return FinalOutputs(folder / "metrics.json", folder / "predictions.csv", folder / "model.pt",
                        folder / "architecture.json", folder / "MODEL_CARD.md", folder / "ensemble" / "metrics.json",
                        folder / "ensemble" / "predictions.csv")


def test_the_seed_ensemble_is_the_weighted_mean_of_its_members_fold_models(tmp_path):
    data = write_synthetic_npz(tmp_path / "data.npz")
    members = [{"config_id": 4, "weight": 0.75, "config": CONFIG, "architecture": ARCHITECTURE,
                "fold_states": fold_states([1, 2])},
               {"config_id": 9, "weight": 0.25, "config": CONFIG, "architecture": ARCHITECTURE,
                "fold_states": fold_states([3, 4, 5])}]
    ensemble = write_ensemble(tmp_path / "ensemble.pt", members)
    runtime = make_runtime("cpu", "fp32")
    run_final("baseline", write_incumbent(tmp_path / "incumbent.json"), data, seed=1, epochs=1,
              settings=FinalSettings(train_on="train"), task="ordinal-regression", n_classes=5, runtime=runtime,
              outputs=ensemble_outputs(tmp_path), ensemble_path=ensemble)

    test = load_splits(data, ("test",))["test"]
    model = build_network(ARCHITECTURE)
    member_means = []
    for member in members:
        folds = []
        for state in member["fold_states"]:
            model.load_state_dict(state)
            folds.append(predict_probabilities(model, test, runtime))
        member_means.append(np.mean(folds, axis=0))
    expected = 0.75 * member_means[0] + 0.25 * member_means[1]
    predictions = pd.read_csv(tmp_path / "ensemble" / "predictions.csv")
    assert np.allclose(predictions.filter(like="prob_").to_numpy(), expected, atol=1e-6)
    assert not np.allclose(member_means[0], member_means[1], atol=1e-3)  # the weights matter here
    stored = json.loads((tmp_path / "ensemble" / "metrics.json").read_text())
    labels = predictions[["label"]].to_numpy()
    assert stored["accuracy"] == getACC(labels, predictions.filter(like="prob_").to_numpy(), "ordinal-regression")
    assert stored["members"] == [{"config_id": 4, "weight": 0.75}, {"config_id": 9, "weight": 0.25}]
    assert (stored["n_models"], stored["selection_estimate"], stored["selection_std_error"]) == (5, 0.55, 0.014)
