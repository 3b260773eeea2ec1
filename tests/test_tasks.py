"""Every MedMNIST task type through loss, training, prediction, search, final scoring and the report,
on small synthetic files in MedMNIST's layout (grayscale and colour, 28 px and one larger size)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from medmnist.evaluator import getACC, getAUC
from sklearn.metrics import f1_score

from config_defaults import CPU_JOB_SECTIONS, config_section
from conftest import REPO
from darts_bohb.bohb import BohbOutputs, Problem, run_bohb
from darts_bohb.darts import run_search
from darts_bohb.data import dataset_spec, load_splits
from darts_bohb.final import FinalOutputs, run_final
from darts_bohb.losses import MultiLabelFocalLoss, loss_for_split, positive_weights
from darts_bohb.metrics import classification_metrics, score
from darts_bohb.report.comparisons import comparison_table, ensemble_scores
from darts_bohb.report.run import Run, read_predictions, read_scores
from darts_bohb.runtime import make_runtime, seed_everything
from darts_bohb.settings import FinalSettings, SearchSettings, from_dict
from darts_bohb.tasks import MULTI_LABEL_TASK
from darts_bohb.training import TrainingSettings, predict_probabilities, train_model
from hpo_fixtures import hpo_json, one_torch_thread, tiny_hpo  # noqa: F401 (fixture)
from task_fixtures import small_network, write_task_npz

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_multi_label_loss_without_focus_is_bce_with_positive_weights():
    logits, target = torch.randn(16, 4), (torch.rand(16, 4) < 0.3).long()
    weight = positive_weights(target.sum(0), 16, 0.5)
    expected = F.binary_cross_entropy_with_logits(logits, target.float(), pos_weight=weight)
    assert torch.allclose(MultiLabelFocalLoss(0.0, weight)(logits, target), expected)
    # The focal factor shrinks every term, most of all where the model is already right.
    assert MultiLabelFocalLoss(2.0, weight)(logits, target) < expected
    sure = torch.where(target.bool(), 8.0, -8.0)
    assert MultiLabelFocalLoss(2.0, weight)(sure, target) < 1e-3 * MultiLabelFocalLoss(0.0, weight)(sure, target)


def test_positive_weights_balance_rare_labels_and_leave_constant_ones_alone():
    weights = positive_weights(torch.tensor([10, 50, 0, 100]), 100, 1.0)
    assert weights.tolist() == pytest.approx([9.0, 1.0, 1.0, 1.0])
    assert positive_weights(torch.tensor([10, 50]), 100, 0.0).tolist() == [1.0, 1.0]


def test_multi_label_scores_are_medmnists_and_sklearns():
    rng = np.random.default_rng(0)
    labels = (rng.random((50, 4)) < 0.4).astype(int)
    probabilities = np.clip(labels * 0.5 + rng.random((50, 4)) * 0.6, 0, 1)
    metrics = classification_metrics(labels, probabilities, MULTI_LABEL_TASK)
    assert metrics["accuracy"] == getACC(labels, probabilities, MULTI_LABEL_TASK)
    assert metrics["auc"] == getAUC(labels, probabilities, MULTI_LABEL_TASK)
    assert metrics["macro_f1"] == f1_score(labels, probabilities > 0.5, average="macro")
    assert np.isnan(metrics["balanced_accuracy"]) and len(metrics["per_class_accuracy"]) == 4
    assert np.mean(metrics["per_class_accuracy"]) == pytest.approx(metrics["accuracy"])
    assert np.array(metrics["confusion_matrix"]).shape == (4, 2, 2)
    with pytest.raises(ValueError, match="balanced_accuracy"):
        score("balanced_accuracy", labels, probabilities, MULTI_LABEL_TASK)
    labels[:, 2] = 0  # a label never present: its AUC, and so the mean, is undefined
    assert np.isnan(score("auc", labels, probabilities, MULTI_LABEL_TASK))


TRAINING = TrainingSettings(epochs=6, batch_size=32, optimizer="adam", lr=0.01, weight_decay=0.0,
                            focal_gamma=1.0, class_weight_exponent=0.5)


@pytest.mark.parametrize("task, n_classes, channels, size", [
    (MULTI_LABEL_TASK, 3, 1, 28),
    ("binary-class", 2, 1, 28),
    ("multi-class", 4, 3, 28),
    ("ordinal-regression", 3, 3, 64),
])
def test_each_task_trains_and_predicts_in_its_own_form(tmp_path, task, n_classes, channels, size):
    path = write_task_npz(tmp_path / "set.npz", task, n_classes=n_classes, channels=channels, size=size)
    spec = dataset_spec("mine", size, task, path)
    splits = load_splits(path, ("train", "test"))
    runtime = make_runtime("cpu", "fp32")
    generator = seed_everything(0)
    model = small_network(spec.n_channels, spec.n_classes)
    train_model(model, splits["train"], TRAINING, runtime, generator, spec.n_classes)
    probabilities = predict_probabilities(model, splits["test"], runtime)
    assert probabilities.shape == (60, n_classes)
    if task == MULTI_LABEL_TASK:  # one sigmoid per label: the rows need not sum to 1
        assert not np.allclose(probabilities.sum(axis=1), 1.0)
    else:
        assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # The bars are easy: far above chance after a few epochs.
    assert score("accuracy", splits["test"].labels.numpy(), probabilities, task) > 0.8


def test_the_training_loss_follows_the_split(tmp_path):
    multi = load_splits(write_task_npz(tmp_path / "m.npz", MULTI_LABEL_TASK), ("train",))["train"]
    single = load_splits(write_task_npz(tmp_path / "s.npz", "multi-class"), ("train",))["train"]
    assert isinstance(loss_for_split("focal", multi, 3), MultiLabelFocalLoss)
    assert not isinstance(loss_for_split("focal", single, 3), MultiLabelFocalLoss)


def search_settings() -> SearchSettings:
    overrides = {"epochs": 2, "batch_size": 16, "channels": [4, 8], "pool": [True, True],
                 "arch": {"warmup_epochs": 1}}
    return from_dict(SearchSettings, config_section("search", **overrides), "search")


@pytest.mark.parametrize("task, n_classes, channels", [(MULTI_LABEL_TASK, 3, 1), ("binary-class", 2, 1)])
def test_the_search_runs_on_a_custom_set_of_each_kind(tmp_path, task, n_classes, channels):
    path = write_task_npz(tmp_path / "set.npz", task, n_classes=n_classes, channels=channels)
    result = run_search(path, 1, "mine", 28, search_settings(), make_runtime("cpu", "fp32"), tmp_path / "state",
                        task=task)
    assert len(result.epochs) == 2 and result.summary["dataset"] == "mine"
    assert result.epochs[["train_acc", "arch_acc"]].apply(lambda column: column.between(0, 1)).all().all()
    assert np.isfinite(result.epochs[["train_loss", "arch_loss"]].to_numpy()).all()


CONFIG = {"n_cells": 1, "cell1_channels": 8, "cell1_batch_norm": True, "cell1_pool": True, "cell1_design": 0,
          "head_layers": 0, "dropout": 0.0, "optimizer": "adam", "lr": 0.01, "weight_decay": 1e-5,
          "scheduler": "none", "batch_size": 32, "focal_gamma": 1.0, "class_weight_exponent": 0.5, "augment": False}


def write_incumbent(path, in_channels, n_outputs):
    architecture = {"in_channels": in_channels, "n_classes": n_outputs, "head": {"widths": [], "dropout": 0.0},
                    "cells": [{"design": "plain_conv", "channels": 8, "batch_norm": True, "pool": True}]}
    path.write_text(json.dumps({"method": "baseline", "seed": 1, "metric": "auc", "validation_score": 0.5,
                                "budget": 2, "config_id": 1, "config": CONFIG, "architecture": architecture,
                                "designs": None}))
    return path


def final_of(tmp_path, task, n_classes, seed):
    data = write_task_npz(tmp_path / "set.npz", task, n_classes=n_classes, channels=1)
    folder = tmp_path / f"seed{seed}"
    folder.mkdir()
    outputs = FinalOutputs(folder / "metrics.json", folder / "predictions.csv", folder / "model.pt",
                           folder / "architecture.json", folder / "MODEL_CARD.md")
    metrics = run_final("baseline", write_incumbent(tmp_path / "incumbent.json", 1, n_classes), data, seed=seed,
                        epochs=3, settings=FinalSettings(train_on="train"), task=task, n_classes=n_classes,
                        runtime=make_runtime("cpu", "fp32"), outputs=outputs, dataset="mine")
    return data, folder, metrics


def test_multi_label_final_writes_a_label_and_a_probability_per_label(tmp_path):
    data, folder, metrics = final_of(tmp_path, MULTI_LABEL_TASK, 3, seed=1)
    predictions = pd.read_csv(folder / "predictions.csv")
    assert list(predictions.columns) == ["index", "label_0", "label_1", "label_2", "prob_0", "prob_1", "prob_2"]
    labels = np.load(data)["test_labels"]
    assert np.array_equal(predictions.filter(like="label_").to_numpy(), labels)
    probabilities = predictions.filter(like="prob_").to_numpy()
    stored = json.loads((folder / "metrics.json").read_text())
    assert stored["accuracy"] == getACC(labels, probabilities, MULTI_LABEL_TASK) == metrics["accuracy"]
    assert stored["auc"] == getAUC(labels, probabilities, MULTI_LABEL_TASK)
    assert stored["balanced_accuracy"] is None  # no classes to balance: null, not a number
    record = json.loads((folder / "architecture.json").read_text())["deployment"]["output"]
    assert (record["task"], record["activation"]) == (MULTI_LABEL_TASK, "sigmoid")
    card = (folder / "MODEL_CARD.md").read_text()
    assert "3 outputs (multi-label, binary-class, sigmoid)" in card and "Accuracy per label: 0:" in card
    assert "sigmoid focal loss per label" in card and "Classes:" not in card


def test_the_report_reads_and_scores_multi_label_predictions(tmp_path):
    _, first, _ = final_of(tmp_path, MULTI_LABEL_TASK, 3, seed=1)
    _, second, _ = final_of(tmp_path, MULTI_LABEL_TASK, 3, seed=2)
    predictions = read_predictions({("nas", 1): first / "predictions.csv", ("nas", 2): second / "predictions.csv",
                                    ("baseline", 1): first / "predictions.csv",
                                    ("baseline", 2): second / "predictions.csv"})
    runs = predictions["nas"]
    assert runs.labels.shape == (60, 3) and runs.probabilities.shape == (2, 60, 3)
    ensemble = ensemble_scores(predictions, MULTI_LABEL_TASK).set_index("method")
    mean = runs.probabilities.mean(axis=0)
    assert ensemble.loc["nas", "test_accuracy"] == getACC(runs.labels, mean, MULTI_LABEL_TASK)
    table = comparison_table(predictions, MULTI_LABEL_TASK, n_resamples=20)
    same = table[(table.comparison == "nas - baseline") & (table.metric == "accuracy")]
    tested = same.dropna(subset=["p_value"])  # the seeds and the ensembles; the mean row has no test
    run = Run("mine", 28, MULTI_LABEL_TASK, "auc", {"nas": (), "random": (), "baseline": (1, 2)},
              tuple({"method": "baseline", "seed": seed, "metrics": str(folder / "metrics.json")}
                    for seed, folder in ((1, first), (2, second))))
    scores = read_scores(run, ["incumbent"])
    assert scores["test_balanced_accuracy"].isna().all() and scores["test_auc"].between(0, 1).all()
    assert len(tested) == 3 and (same["difference"] == 0).all() and (tested["p_value"] == 1).all()


def test_bohb_scores_multi_label_trials_with_the_chosen_metric(tmp_path):
    path = write_task_npz(tmp_path / "ml.npz", MULTI_LABEL_TASK, n_classes=3, channels=1)
    splits = load_splits(path, ("train", "val"))
    problem = Problem(method="baseline", seed=1, train=splits["train"], val=splits["val"], task=MULTI_LABEL_TASK,
                      n_classes=3, designs=None, topology=None, runtime=make_runtime("cpu", "fp32"), metric="auc")
    incumbent = run_bohb(problem, tiny_hpo(metric="auc", total_epochs=6),
                         BohbOutputs(tmp_path / "incumbent.json", tmp_path / "trajectory.csv",
                                     tmp_path / "runhistory.csv", tmp_path / "ensemble.pt"))
    trials = pd.read_csv(tmp_path / "runhistory.csv")
    assert len(trials) == 4 and trials["score"].between(0, 1).all()
    at_budget = trials[trials["budget"] == incumbent["budget"]]
    assert incumbent["metric"] == "auc" and incumbent["validation_score"] == at_budget["score"].max()
    assert incumbent["architecture"]["n_classes"] == 3


@pytest.mark.slow
def test_the_bohb_script_refuses_a_metric_without_meaning_for_the_task(tmp_path):
    path = write_task_npz(tmp_path / "ml.npz", MULTI_LABEL_TASK, n_classes=3, channels=1)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bohb.py"), "--method", "baseline", "--data", str(path),
         "--dataset", "mine", "--size", "28", "--task", MULTI_LABEL_TASK, "--seed", "1",
         "--settings", hpo_json(tiny_hpo(metric="balanced_accuracy")), *CPU_JOB_SECTIONS, "--threads", "1",
         "--incumbent", str(out / "incumbent.json"), "--trajectory", str(out / "trajectory.csv"),
         "--runhistory", str(out / "runhistory.csv"), "--ensemble", str(out / "ensemble.pt")],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONHASHSEED="0"))
    assert result.returncode == 1
    assert "hpo.metric: 'balanced_accuracy' means nothing for a 'multi-label, binary-class' task" in result.stderr
    assert not out.exists()
