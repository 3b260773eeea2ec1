"""Train the BOHB incumbent once more at max_budget and score it on the test split.

This and nothing else reads the test split; nothing here feeds back into any choice.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from darts_bohb.data import Split, joined, load_splits
from darts_bohb.deploy.final_outputs import architecture_with_record, write_model_card
from darts_bohb.ensemble_selection import weighted_average
from darts_bohb.hpo_space import training_from_config
from darts_bohb.io import atomic_path, write_csv, write_json
from darts_bohb.metrics import classification_metrics
from darts_bohb.network import build_network, count_parameters
from darts_bohb.runtime import Runtime, seed_everything
from darts_bohb.settings import EpochSize, FinalSettings
from darts_bohb.training import portable_state, predict_probabilities, train_model

LOG = logging.getLogger(__name__)
# How BOHB's choice was scored (incumbent.json, ensemble.pt), carried into metrics.json.
SELECTION_KEYS = ("selection_estimate", "selection_std_error", "selection_method")


@dataclass(frozen=True)
class FinalOutputs:
    metrics: Path
    predictions: Path
    model: Path
    architecture: Path
    model_card: Path
    ensemble_metrics: Path | None = None  # with ensemble_path only
    ensemble_predictions: Path | None = None


def training_split(splits: dict[str, Split], train_on: str) -> Split:
    return splits["train"] if train_on == "train" else joined(splits["train"], splits["val"])


def run_final(method: str, incumbent_path: str | Path, data_path: str | Path, seed: int, epochs: int,
              settings: FinalSettings, task: str, n_classes: int, runtime: Runtime,
              outputs: FinalOutputs, dataset: str | None = None,
              ensemble_path: str | Path | None = None, epoch: EpochSize | None = None) -> dict[str, Any]:
    """Score the incumbent, retrained, and (given `ensemble_path`, as the workflow does) the seed's
    ensemble of fold models on the test split.

    `dataset` is the MedMNIST flag, which names the classes in architecture.json and the model card.
    """
    # The BOHB rule's files for this method and seed (the workflow's paths), trusted as it wrote them.
    incumbent = json.loads(Path(incumbent_path).read_text())
    ensemble = None if ensemble_path is None else torch.load(ensemble_path, weights_only=True)
    needed = ("train", "val", "test") if settings.train_on == "train+val" else ("train", "test")
    splits = load_splits(data_path, needed)
    train, test = training_split(splits, settings.train_on), splits["test"]
    architecture = incumbent["architecture"]

    start = time.perf_counter()
    generator = seed_everything(seed)
    model = runtime.prepare_model(build_network(architecture))
    # An epoch is BOHB's: the train split's images, scaled (EpochSize), whatever train_on adds.
    scale = 1.0 if epoch is None else epoch.scale(len(splits["train"]))
    training = training_from_config(incumbent["config"], epochs, scale)
    LOG.info("%s final, seed %d: config %d (chosen at %s %.4f, %d epochs), %d parameters, %d epochs on %s "
             "(%d images); %s", method, seed, incumbent["config_id"], incumbent["metric"],
             incumbent["validation_score"], incumbent["budget"], count_parameters(model), epochs,
             settings.train_on, len(train), runtime.describe())
    result = train_model(model, train, training, runtime, generator, n_classes, log_epochs=True)
    LOG.info("trained in %.1f s; loss per epoch %s", result.seconds, [round(loss, 4) for loss in result.epoch_losses])
    probabilities = predict_probabilities(model, test, runtime)
    labels = test.labels.numpy()
    scores = classification_metrics(labels, probabilities, task)
    metrics = {
        "method": method,
        "seed": seed,
        "split": "test",
        "trained_on": settings.train_on,
        "epochs": epochs,
        "n_images": len(test),
        **{key: _json_number(value) if not isinstance(value, list) else value for key, value in scores.items()},
        "validation_score": incumbent["validation_score"],
        **{key: incumbent.get(key) for key in SELECTION_KEYS},
        "seconds": time.perf_counter() - start,
    }
    LOG.info("test: accuracy %.4f, AUC %.4f, macro F1 %.4f, balanced accuracy %.4f",
             scores["accuracy"], scores["auc"], scores["macro_f1"], scores["balanced_accuracy"])

    write_csv(outputs.predictions, prediction_frame(labels, probabilities))
    with atomic_path(outputs.model) as tmp:
        torch.save(portable_state(model), tmp)
    architecture = architecture_with_record(architecture, dataset, tuple(test.images.shape[-2:]), task,
                                            runtime.precision)
    write_json(outputs.architecture, architecture)
    write_json(outputs.metrics, metrics)
    write_model_card(outputs.model_card, method, seed, model, architecture, incumbent, metrics, len(train))
    if ensemble is not None:
        score_ensemble(ensemble, test, task, runtime, outputs, metrics)
    return metrics


def score_ensemble(ensemble: dict[str, Any], test: Split, task: str, runtime: Runtime, outputs: FinalOutputs,
                   incumbent_metrics: dict[str, Any]) -> None:
    """ensemble/metrics.json and predictions.csv: the seed's ensemble, as BOHB chose it, on `test`:
    each member's probabilities are the mean of its fold models', the ensemble's the weighted mean
    of its members'."""
    start = time.perf_counter()
    member_probabilities = {}
    for index, member in enumerate(ensemble["members"]):
        model = runtime.prepare_model(build_network(member["architecture"]))
        folds = []
        for state in member["fold_states"]:
            model.load_state_dict(state)
            folds.append(predict_probabilities(model, test, runtime))
        member_probabilities[index] = np.mean(folds, axis=0, dtype=np.float64)
    weights = {index: member["weight"] for index, member in enumerate(ensemble["members"])}
    probabilities = weighted_average(member_probabilities, weights)  # as BOHB averaged them out of fold
    labels = test.labels.numpy()
    scores = classification_metrics(labels, probabilities, task)
    members = [{"config_id": member["config_id"], "weight": member["weight"]} for member in ensemble["members"]]
    n_models = sum(len(member["fold_states"]) for member in ensemble["members"])
    metrics = {
        "method": ensemble["method"],
        "seed": ensemble["seed"],
        "split": "test",
        "trained_on": "the cross-validation folds of train+val",
        "epochs": incumbent_metrics["epochs"],
        "n_images": len(test),
        **{key: _json_number(value) if not isinstance(value, list) else value for key, value in scores.items()},
        "validation_score": ensemble["selection_estimate"],
        **{key: ensemble[key] for key in SELECTION_KEYS},
        "members": members,
        "n_models": n_models,
        "seconds": time.perf_counter() - start,
    }
    LOG.info("ensemble of %d configuration(s), %d fold models (out of fold %s %.4f ± %.4f): test accuracy %.4f, "
             "AUC %.4f", len(members), n_models, ensemble["metric"], ensemble["selection_estimate"],
             ensemble["selection_std_error"], scores["accuracy"], scores["auc"])
    write_csv(outputs.ensemble_predictions, prediction_frame(labels, probabilities))
    write_json(outputs.ensemble_metrics, metrics)


def prediction_frame(labels: np.ndarray, probabilities: np.ndarray) -> pd.DataFrame:
    """predictions.csv: index, label, prob_0..prob_{C-1}; for multi-label labels (N, L), index then
    label_j and prob_j (the sigmoid probability of label j) for every label j."""
    columns = range(probabilities.shape[1])
    frame = pd.DataFrame(probabilities, columns=[f"prob_{c}" for c in columns])
    if labels.ndim == 2:
        frame = pd.concat([pd.DataFrame(labels, columns=[f"label_{j}" for j in columns]), frame], axis=1)
    else:
        frame.insert(0, "label", labels)
    frame.insert(0, "index", range(len(labels)))
    return frame


def _json_number(value: float) -> float | None:
    """NaN (an undefined AUC) is not JSON; it becomes null."""
    return None if isinstance(value, float) and math.isnan(value) else value
