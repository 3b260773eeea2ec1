"""The run's manifest (report.smk passes it to every report script as one JSON argument: the data
set, BOHB's metric, each method's seeds and the path of each file of each seed), and its readers.
The files are this workflow's own, so they are read as written. Only what would mix runs up is
checked: a result of another method or seed than the manifest gives it for, and test predictions
that do not hold the same images with the same labels."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from darts_bohb.cli import run_script
from darts_bohb.genotype import load_genotype
from darts_bohb.methods import METHODS
from darts_bohb.tasks import medmnist_info

METHOD_LABELS = {"nas": "NAS+BOHB", "random": "random cells+BOHB", "baseline": "baseline"}
SCORE_METRICS = ("accuracy", "auc", "macro_f1", "balanced_accuracy")
METRIC_LABELS = {"accuracy": "accuracy", "auc": "AUC", "macro_f1": "macro F1", "balanced_accuracy": "balanced accuracy"}
# The two outputs of every run, in report order: the file of each one's test scores, and its words.
OUTPUTS = {"incumbent": "metrics", "seed_ensemble": "ensemble_metrics"}
OUTPUT_LABELS = {"incumbent": "incumbent", "seed_ensemble": "per-seed ensemble"}
RunKey = tuple[str, int]  # (method, seed)


class ReportInputError(ValueError):
    """Result files that do not belong together: another method or seed, other test images."""


@dataclass(frozen=True)
class Run:
    dataset: str  # dataset.flag
    size: int
    task: str | None  # dataset.task of a data set of one's own; MedMNIST's sets have theirs
    metric: str  # hpo.metric, the score BOHB maximised
    seeds: dict[str, tuple[int, ...]]  # per method, () where it has none
    runs: tuple[dict, ...]  # per method and seed: "method", "seed" and a path per kind of file

    @classmethod
    def from_json(cls, text: str) -> Run:
        data = json.loads(text)
        return cls(data["dataset"], data["size"], data["task"], data["metric"],
                   {method: tuple(data["seeds"].get(method, ())) for method in METHODS}, tuple(data["runs"]))

    def files(self, kind: str, methods: Iterable[str] = METHODS) -> dict[RunKey, Path]:
        return {(run["method"], run["seed"]): Path(run[kind]) for run in self.runs if run["method"] in methods}

    def describe(self, methods: Iterable[str] = METHODS) -> str:
        return ", ".join(f"{METHOD_LABELS[method]}: {seeds_phrase(len(self.seeds[method]))}" for method in methods)

    def medmnist_task(self) -> str:
        return self.task or medmnist_info()[self.dataset]["task"]


def seeds_phrase(count: int) -> str:
    return f"n={count} seed" if count == 1 else f"n={count} seeds"


def run_reporting(task: Callable[[], None]) -> int:
    """Run one report script's work; files that do not belong together end it with exit code 1."""
    return run_script(task, (ReportInputError,))


def check_run(path: Path, found: RunKey, expected: RunKey) -> None:
    if found != expected:
        raise ReportInputError(f"{path} is the result of {found[0]} seed {found[1]}, but the manifest gives it for "
                               f"{expected[0]} seed {expected[1]}")


def read_result(path: Path, method: str, seed: int) -> dict:
    data = json.loads(Path(path).read_text())
    check_run(path, (data.get("method", method), data["seed"]), (method, seed))  # search.json names no method
    return data


def read_tables(files: Mapping[RunKey, Path]) -> pd.DataFrame:
    return pd.concat([pd.read_csv(path).assign(method=method, seed=seed) for (method, seed), path in files.items()],
                     ignore_index=True)


def read_scores(run: Run, outputs: Iterable[str] = OUTPUTS) -> pd.DataFrame:
    """One row per output, method and seed; an undefined test score (null in the file) is NaN."""
    rows = []
    for output in outputs:
        for (method, seed), path in run.files(OUTPUTS[output]).items():
            data = read_result(path, method, seed)
            members = " ".join(f"{member['config_id']}:{member['weight']:.6g}" for member in data.get("members", []))
            rows.append({"method": method, "seed": seed, "output": output, "val_score": data["validation_score"],
                         **{f"test_{metric}": data[metric] for metric in SCORE_METRICS},
                         **{k: data[k] for k in ("selection_estimate", "selection_std_error", "selection_method")},
                         "n_models": data.get("n_models", 1), "members": members or None})
    return pd.DataFrame(rows).astype({f"test_{metric}": float for metric in SCORE_METRICS})


@dataclass(frozen=True)
class SeedPredictions:
    """One method's test predictions, aligned image by image across its seeds."""

    seeds: tuple[int, ...]
    labels: np.ndarray  # (images,), or (images, labels) of 0/1 for a multi-label task
    probabilities: np.ndarray  # (seeds, images, classes), seeds in the order of `seeds`


def read_predictions(files: Mapping[RunKey, Path], also_check: Iterable[Path] = ()) -> dict[str, SeedPredictions]:
    """predictions.csv per method and seed, in the order of the test images (column `index`). Every
    file, and each of `also_check` (the per-seed ensembles'), must hold the same test images with
    the same labels and classes, or predictions of another split would be compared as of the same."""
    first: tuple[Path, pd.DataFrame] | None = None
    probabilities = {}
    for key, path in [*files.items(), *((None, path) for path in also_check)]:
        frame = pd.read_csv(path, index_col="index").sort_index()
        first = first or (path, frame)
        if not (frame.columns.equals(first[1].columns) and frame.filter(regex="^label").equals(
                first[1].filter(regex="^label"))):
            raise ReportInputError(f"{path} and {first[0]} do not hold the same test images with the same labels and "
                                   "classes: they are not predictions of one test split")
        probabilities[key] = frame.filter(like="prob_").to_numpy(dtype=float)
    labels = first[1].filter(regex="^label").to_numpy()
    labels = labels[:, 0] if "label" in first[1].columns else labels
    seeds = {method: tuple(seed for run_method, seed in files if run_method == method) for method in METHODS}
    return {method: SeedPredictions(of_method, labels, np.stack([probabilities[method, seed] for seed in of_method]))
            for method, of_method in seeds.items() if of_method}


def read_search_runs(run: Run) -> pd.DataFrame:
    return pd.DataFrame([read_result(path, *key) for key, path in run.files("search", ["nas"]).items()])


def read_genotypes(run: Run) -> dict:
    genotypes = {}
    for (method, seed), path in run.files("genotype", ["nas"]).items():
        genotypes[seed] = load_genotype(path)
        check_run(path, (method, genotypes[seed].seed), (method, seed))
    return genotypes
