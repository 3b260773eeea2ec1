"""Read the workflow's result files into tidy pandas frames, one reader per kind of file.

Each reader takes the files of the runs it covers, keyed by seed or by (method, seed), so a
script reads exactly the files its rule declares. Every reader checks the fields it relies on
and raises ReportInputError naming the file and what was expected: a truncated or mixed-up
result stops the report instead of quietly skewing a mean.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from darts_bohb.io import read_json_object
from darts_bohb.methods import METHODS

if TYPE_CHECKING:
    from darts_bohb.genotype import Genotype

METHOD_LABELS = {"nas": "NAS+BOHB", "random": "random cells+BOHB", "baseline": "baseline"}
SCORE_METRICS = ("accuracy", "auc", "macro_f1", "balanced_accuracy")
METRIC_LABELS = {
    "accuracy": "accuracy",
    "auc": "AUC",
    "macro_f1": "macro F1",
    "balanced_accuracy": "balanced accuracy",
}
# The Snakemake rule behind each stage of each method (it names the benchmark folder too).
STAGE_RULES = {
    "nas": {"search": "darts_search", "bohb": "bohb", "final": "final"},
    "random": {"bohb": "random_bohb", "final": "random_final"},
    "baseline": {"bohb": "baseline_bohb", "final": "baseline_final"},
}
STAGES = ("search", "bohb", "final")
# Written as null when undefined: AUC while a class has no test image (darts_bohb.metrics.auc),
# balanced accuracy always for a multi-label task (it has labels, not classes to balance).
UNDEFINABLE_METRICS = ("auc", "balanced_accuracy")
# How an output was chosen (metrics.json, ensemble/metrics.json): the score it was chosen by,
# computed on train+val only, its standard error and how it was computed, in words.
SELECTION_FIELDS = ("selection_estimate", "selection_std_error", "selection_method")
TEST_COLUMNS = ["method", "seed", *(f"test_{m}" for m in SCORE_METRICS), *(f"val_{m}" for m in SCORE_METRICS),
                *SELECTION_FIELDS]


class ReportInputError(ValueError):
    """A result file is missing or does not have the structure its contract promises."""


RunKey = tuple[str, int]  # (method, seed)


@dataclass(frozen=True)
class SeedsByMethod:
    nas: tuple[int, ...]
    baseline: tuple[int, ...]
    random: tuple[int, ...] = ()

    def of(self, method: str) -> tuple[int, ...]:
        if method not in METHODS:
            raise ValueError(f"method: {method!r} is not one of {METHODS}")
        return getattr(self, method)

    def runs(self) -> Iterator[RunKey]:
        """Every (method, seed) pair, in the order of METHODS."""
        for method in METHODS:
            for seed in self.of(method):
                yield method, seed

    def describe(self) -> str:
        """How many seeds each method has, for titles and captions; the random control is left out
        when it has none (results from before it existed), NAS and the baseline never are."""
        return ", ".join(f"{METHOD_LABELS[method]}: {seeds_phrase(len(self.of(method)))}"
                         for method in METHODS if self.of(method) or method != "random")


def seeds_phrase(count: int) -> str:
    return f"n={count} seed" if count == 1 else f"n={count} seeds"


# --- one reader per kind of file; each takes the files of the runs it covers -------------------


def read_search_runs(files: Mapping[int, Path]) -> pd.DataFrame:
    """search.json per seed: epochs planned and run, whether and why the search stopped early."""
    rows = []
    for seed, path in files.items():
        data = _read_json(path, producer="darts_search")
        _check_seed(data, seed, path)
        planned = _integer(data, "epochs_planned", path)
        run = _integer(data, "epochs_run", path)
        if not 0 <= run <= planned:
            raise ReportInputError(f"{path}: field 'epochs_run' ({run}) is not within 0..epochs_planned ({planned})")
        stopped_early = data.get("stopped_early")
        if not isinstance(stopped_early, bool):
            raise ReportInputError(f"{path}: field 'stopped_early': expected true or false, got {stopped_early!r}")
        settings = data.get("settings") if isinstance(data.get("settings"), dict) else {}
        early_stopping = settings.get("early_stopping") if isinstance(settings.get("early_stopping"), dict) else {}
        threshold = early_stopping.get("skip_threshold")
        rows.append({
            "seed": seed,
            "epochs_planned": planned,
            "epochs_run": run,
            "stopped_early": stopped_early,
            "stop_reason": _string(data, "stop_reason", path),
            # Drawn in the weights figure when the search recorded it; absent is fine.
            "skip_threshold": float(threshold) if isinstance(threshold, (int, float)) else math.nan,
        })
    return pd.DataFrame(rows, columns=["seed", "epochs_planned", "epochs_run", "stopped_early",
                                       "stop_reason", "skip_threshold"])


def read_alphas(files: Mapping[int, Path]) -> pd.DataFrame:
    """alphas.csv of every seed, stacked, with a seed column: one row per epoch, node, operation."""
    frames = []
    for seed, path in files.items():
        frame = _read_csv(path, producer="darts_search",
                          numeric=("epoch", "kernel_size", "probability"), text=("node", "operation"))
        if not frame["probability"].between(0.0, 1.0).all():
            raise ReportInputError(f"{path}: column 'probability' has values outside [0, 1]")
        frames.append(frame.assign(seed=seed))
    return pd.concat(frames, ignore_index=True)


def read_genotypes(files: Mapping[int, Path]) -> dict[int, Genotype]:
    # Imported here: the genotype module pulls in torch (through darts_bohb.ops), which costs
    # seconds that the figures and the summary, reading no genotype, need not pay.
    from darts_bohb.genotype import GenotypeError, load_genotype

    genotypes = {}
    for seed, path in files.items():
        if not Path(path).is_file():
            raise ReportInputError(f"{path}: no such file (written by rule export_genotype)")
        try:
            genotype = load_genotype(path)
        except GenotypeError as error:
            raise ReportInputError(str(error)) from error
        if genotype.seed != seed:
            raise ReportInputError(f"{path}: field 'seed' is {genotype.seed}, but the file was given for seed {seed}")
        genotypes[seed] = genotype
    return genotypes


def read_trajectories(files: Mapping[RunKey, Path]) -> pd.DataFrame:
    """trajectory.csv per method and seed: the incumbent's validation score each time it changed."""
    frames = []
    for (method, seed), path in files.items():
        # The BOHB rule leaves wallclock_s empty when SMAC recorded no time for a trial; such a
        # point is only missing from the wall-clock panel.
        frame = _read_csv(path, producer=_bohb_rule(method), numeric=("wallclock_s", "cumulative_epochs", "score"),
                          may_be_empty=("wallclock_s",))
        frames.append(frame.assign(method=method, seed=seed))
    columns = ["method", "seed", "wallclock_s", "cumulative_epochs", "score"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def read_trial_counts(files: Mapping[RunKey, Path]) -> pd.DataFrame:
    """The number of BOHB trials (rows of runhistory.csv) per method and seed."""
    rows = []
    for (method, seed), path in files.items():
        frame = _read_csv(path, producer=_bohb_rule(method), numeric=("budget",), text=("config_id",),
                          allow_empty=True)
        rows.append({"method": method, "seed": seed, "bohb_trials": len(frame)})
    return pd.DataFrame(rows, columns=["method", "seed", "bohb_trials"])


def read_incumbents(files: Mapping[RunKey, Path]) -> pd.DataFrame:
    """incumbent.json per method and seed: the metric BOHB maximised and its validation score."""
    rows = []
    for (method, seed), path in files.items():
        data = _read_json(path, producer=_bohb_rule(method))
        _check_seed(data, seed, path)
        _check_method(data, method, path)
        metric = _string(data, "metric", path)
        if metric not in SCORE_METRICS:
            raise ReportInputError(f"{path}: field 'metric': expected one of {list(SCORE_METRICS)}, got {metric!r}")
        rows.append({"method": method, "seed": seed, "metric": metric,
                     "validation_score": _score(data, "validation_score", path)})
    return pd.DataFrame(rows, columns=["method", "seed", "metric", "validation_score"])


def read_test_metrics(files: Mapping[RunKey, Path]) -> pd.DataFrame:
    """metrics.json per method and seed: the test scores, plus any validation scores it carries.

    Columns test_<metric> for every metric in SCORE_METRICS, and val_<metric> where the file
    has an optional "validation" object (metric -> score); otherwise those stay NaN. The columns
    of SELECTION_FIELDS are NaN (the method None) in a file written before they existed.
    """
    rows = [_test_scores(_read_json(path, producer=_final_rule(method)), path, method, seed, selection_required=False)
            for (method, seed), path in files.items()]
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


def read_seed_ensembles(files: Mapping[RunKey, Path]) -> pd.DataFrame:
    """ensemble/metrics.json per method and seed: the columns of read_test_metrics, the selection
    estimate required, plus n_models and members ("config_id:weight" separated by spaces)."""
    rows = []
    for (method, seed), path in files.items():
        data = _read_json(path, producer=_final_rule(method))
        row = _test_scores(data, path, method, seed, selection_required=True)
        row["n_models"] = _integer(data, "n_models", path)
        if row["n_models"] < 1:
            raise ReportInputError(f"{path}: field 'n_models': expected at least 1, got {row['n_models']}")
        row["members"] = " ".join(f"{config_id}:{weight:.6g}" for config_id, weight in _members(data, path))
        rows.append(row)
    return pd.DataFrame(rows, columns=[*TEST_COLUMNS, "n_models", "members"])


def _test_scores(data: dict[str, Any], path: Path, method: str, seed: int, selection_required: bool
                 ) -> dict[str, Any]:
    _check_seed(data, seed, path)
    _check_method(data, method, path)
    if data.get("split", "test") != "test":
        raise ReportInputError(f"{path}: field 'split': expected 'test', got {data['split']!r}")
    row: dict[str, Any] = {"method": method, "seed": seed}
    for metric in SCORE_METRICS:
        row[f"test_{metric}"] = _score(data, metric, path, undefined_ok=metric in UNDEFINABLE_METRICS)
    validation = data.get("validation", {})
    if not isinstance(validation, dict):
        raise ReportInputError(f"{path}: field 'validation': expected an object of metric -> score")
    for metric in SCORE_METRICS:
        row[f"val_{metric}"] = (_score(validation, metric, path, where=f"validation.{metric}")
                                if metric in validation else math.nan)
    return {**row, **_selection(data, path, selection_required)}


def _selection(data: dict[str, Any], path: Path, required: bool) -> dict[str, Any]:
    """The selection fields; absent or null is NaN (None for the method) unless `required`."""
    if not required and all(data.get(key) is None for key in SELECTION_FIELDS):
        return {"selection_estimate": math.nan, "selection_std_error": math.nan, "selection_method": None}
    error = data.get("selection_std_error")
    if not isinstance(error, (int, float)) or isinstance(error, bool) or not 0.0 <= error < math.inf:
        raise ReportInputError(f"{path}: field 'selection_std_error': expected a number >= 0, got {error!r}")
    return {"selection_estimate": _score(data, "selection_estimate", path), "selection_std_error": float(error),
            "selection_method": _string(data, "selection_method", path)}


def _members(data: dict[str, Any], path: Path) -> list[tuple[int, float]]:
    members = data.get("members")
    if not isinstance(members, list) or not members:
        raise ReportInputError(f"{path}: field 'members': expected a non-empty list of "
                               f'{{"config_id": ..., "weight": ...}}, got {members!r}')
    found = []
    for position, member in enumerate(members):
        where = f"members[{position}]"
        if not isinstance(member, dict):
            raise ReportInputError(f"{path}: field '{where}': expected an object, got {member!r}")
        config_id = member.get("config_id")
        if not isinstance(config_id, int) or isinstance(config_id, bool):
            raise ReportInputError(f"{path}: field '{where}.config_id': expected an integer, got {config_id!r}")
        weight = member.get("weight")
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0.0 < weight <= 1.0:
            raise ReportInputError(f"{path}: field '{where}.weight': expected a number in (0, 1], got {weight!r}")
        found.append((config_id, float(weight)))
    return found


@dataclass(frozen=True)
class SeedPredictions:
    """One method's test predictions, aligned image by image across its seeds."""

    seeds: tuple[int, ...]
    index: np.ndarray  # (images,) the test images' `index`, ascending
    labels: np.ndarray  # (images,), or (images, labels) of 0/1 for a multi-label task
    probabilities: np.ndarray  # (seeds, images, classes), seeds in the order of `seeds`


def read_predictions(files: Mapping[RunKey, Path]) -> dict[str, SeedPredictions]:
    """predictions.csv per method and seed, row-aligned by the column `index` (the test image).

    The seeds of one method must cover the same test images with the same labels and the same
    classes: anything else means files of different data sets or splits, whose rows an ensemble
    would average as if they were the same images. That raises ReportInputError naming both files.
    """
    runs: dict[str, list[tuple[int, Path, pd.DataFrame]]] = {}
    for (method, seed), path in files.items():
        runs.setdefault(method, []).append((seed, Path(path), _read_predictions_file(path, _final_rule(method))))
    return {method: _align_seeds(method_runs) for method, method_runs in runs.items()}


def check_same_test_images(incumbents: Mapping[RunKey, Path], ensembles: Mapping[RunKey, Path]) -> None:
    """Each run's ensemble/predictions.csv must cover the test images, labels and classes of its
    predictions.csv: the two outputs of one run are scored side by side as of the same images."""
    for (method, seed), path in ensembles.items():
        producer = _final_rule(method)
        _align_seeds([(seed, Path(incumbents[(method, seed)]),
                       _read_predictions_file(incumbents[(method, seed)], producer)),
                      (seed, Path(path), _read_predictions_file(path, producer))])


def _read_predictions_file(path: Path, producer: str) -> pd.DataFrame:
    """One predictions.csv, indexed by the test image's index, with columns label, prob_0.. ., or
    for a multi-label task label_0.., prob_0.. (a 0/1 label and a probability per label)."""
    frame = _read_csv(path, producer=producer, numeric=("index",))
    labels = [column for column in frame.columns if str(column).startswith("label_")]
    if not labels:
        if "label" not in frame.columns:
            raise ReportInputError(f"{path}: missing column(s) ['label']; the file has {list(frame.columns)}")
        labels = ["label"]
    _to_numbers(frame, path, labels)
    classes = [column for column in frame.columns if str(column).startswith("prob_")]
    expected = [f"prob_{c}" for c in range(len(classes))]
    if len(classes) < 2 or classes != expected:
        raise ReportInputError(f"{path}: expected columns prob_0, prob_1, ... (one per class, at least 2), "
                               f"got {classes}")
    if labels != ["label"] and labels != [f"label_{c}" for c in range(len(classes))]:
        raise ReportInputError(f"{path}: expected columns label_0..label_{len(classes) - 1}, one per label of "
                               f"prob_0..prob_{len(classes) - 1}, got {labels}")
    _to_numbers(frame, path, classes)
    for column in ("index", *labels):
        fractional = frame[column] % 1 != 0
        if fractional.any():
            row = int(fractional.idxmax())
            raise ReportInputError(f"{path}: column '{column}', data row {row + 1}: expected an integer, "
                                   f"got {float(frame[column].iloc[row])!r}")
    duplicated = frame["index"].duplicated()
    if duplicated.any():
        raise ReportInputError(f"{path}: column 'index': test image {int(frame['index'][duplicated].iloc[0])} "
                               "appears more than once")
    if labels == ["label"] and not frame["label"].between(0, len(classes) - 1).all():
        raise ReportInputError(f"{path}: column 'label' has values outside 0..{len(classes) - 1} "
                               f"(the classes of prob_0..prob_{len(classes) - 1})")
    if labels != ["label"] and not frame[labels].isin((0, 1)).all().all():
        raise ReportInputError(f"{path}: columns label_*: a multi-label task's labels are 0 or 1")
    if not ((frame[classes] >= 0.0) & (frame[classes] <= 1.0)).all().all():
        raise ReportInputError(f"{path}: columns prob_*: probabilities outside [0, 1]")
    frame = frame.astype({column: int for column in ("index", *labels)})
    return frame.set_index("index").sort_index()[[*labels, *classes]]


def _label_columns(frame: pd.DataFrame) -> list[str]:
    return [column for column in frame.columns if str(column).startswith("label")]


def _align_seeds(runs: list[tuple[int, Path, pd.DataFrame]]) -> SeedPredictions:
    """Check every seed's file against the first one, then stack their probabilities."""
    _, first_path, first = runs[0]
    labels = _label_columns(first)
    n_classes = first.shape[1] - len(labels)
    for _, path, frame in runs[1:]:
        if _label_columns(frame) != labels or frame.shape[1] != first.shape[1]:
            raise ReportInputError(f"{path} has {frame.shape[1] - len(_label_columns(frame))} classes, but "
                                   f"{first_path} has {n_classes}: both predictions must be of the same data set")
        if not frame.index.equals(first.index):
            only = frame.index.symmetric_difference(first.index)
            where = path if only[0] in frame.index else first_path
            raise ReportInputError(f"{path} and {first_path} do not cover the same test images "
                                   f"({len(frame)} and {len(first)} rows; index {only[0]} is only in {where})")
        differ = (frame[labels] != first[labels]).any(axis=1)
        if differ.any():
            image = differ.idxmax()
            shown = (frame.at[image, "label"], first.at[image, "label"]) if labels == ["label"] else (
                frame.loc[image, labels].tolist(), first.loc[image, labels].tolist())
            raise ReportInputError(
                f"{path} and {first_path} disagree on the label of test image {image} "
                f"({shown[0]} and {shown[1]}; {int(differ.sum())} image(s) differ): "
                "they are not predictions of the same test split")
    return SeedPredictions(
        seeds=tuple(seed for seed, _, _ in runs),
        index=first.index.to_numpy(),
        labels=first["label"].to_numpy() if labels == ["label"] else first[labels].to_numpy(),
        probabilities=np.stack([frame.drop(columns=labels).to_numpy(dtype=float) for _, _, frame in runs]),
    )


def read_stage_seconds(seeds: SeedsByMethod, files: Mapping[tuple[str, int, str], Path]) -> pd.DataFrame:
    """Wall-clock seconds per method, seed and stage from Snakemake's benchmark files.

    `files` maps (method, seed, stage) to a benchmark file. Benchmark files exist only for jobs
    Snakemake ran, so a file not given or not there is not an error: its seconds are NaN,
    `present` is False, and the report says which ones were missing.
    """
    rows = []
    for method, seed in seeds.runs():
        for stage, rule in STAGE_RULES[method].items():
            path = files.get((method, seed, stage))
            present = path is not None and Path(path).is_file()
            rows.append({
                "method": method,
                "seed": seed,
                "stage": stage,
                "rule": rule,
                "benchmark": str(path) if path is not None else f"{rule}, seed {seed}: not given",
                "present": present,
                "seconds": _benchmark_seconds(Path(path), rule) if present else math.nan,
            })
    return pd.DataFrame(rows, columns=["method", "seed", "stage", "rule", "benchmark", "present", "seconds"])


def _benchmark_seconds(path: Path, rule: str) -> float:
    frame = _read_csv(path, producer=rule, numeric=("s",), sep="\t")
    # A `repeat()` benchmark has one row per repetition; the mean is the time of one run.
    return float(frame["s"].mean())


def _bohb_rule(method: str) -> str:
    return STAGE_RULES[method]["bohb"]


def _final_rule(method: str) -> str:
    return STAGE_RULES[method]["final"]


# --- field checks ------------------------------------------------------------------------------


def _read_json(path: Path, producer: str) -> dict[str, Any]:
    return read_json_object(path, ReportInputError, missing=f"no such file (written by rule {producer})")


def _read_csv(path: Path, producer: str, numeric: tuple[str, ...] = (), text: tuple[str, ...] = (),
              sep: str = ",", allow_empty: bool = False, may_be_empty: tuple[str, ...] = ()) -> pd.DataFrame:
    """The table at `path`, with the `numeric` columns as numbers; an empty cell is an error
    except in the columns `may_be_empty`; `allow_empty` accepts a header without rows."""
    try:
        frame = pd.read_csv(path, sep=sep)
    except FileNotFoundError:
        raise ReportInputError(f"{path}: no such file (written by rule {producer})") from None
    except OSError as error:
        raise ReportInputError(f"{path}: cannot be read ({error.strerror})") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ReportInputError(f"{path}: not a readable table ({error})") from None
    missing = [column for column in (*numeric, *text) if column not in frame.columns]
    if missing:
        raise ReportInputError(f"{path}: missing column(s) {missing}; the file has {list(frame.columns)}")
    if frame.empty and not allow_empty:
        raise ReportInputError(f"{path}: has a header but no rows")
    _to_numbers(frame, path, numeric, may_be_empty)
    return frame


def _to_numbers(frame: pd.DataFrame, path: Path, columns: Iterable[str], may_be_empty: tuple[str, ...] = ()) -> None:
    """Turn `columns` of `frame` into numbers in place, naming the first cell that is not one."""
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & (frame[column].notna() | (column not in may_be_empty))
        if bad.any():
            row = int(bad.idxmax())
            original = frame[column].iloc[row]
            found = "an empty cell" if pd.isna(original) else repr(str(original))
            raise ReportInputError(f"{path}: column '{column}', data row {row + 1}: expected a number, got {found}")
        frame[column] = values


def _check_seed(data: dict[str, Any], seed: int, path: Path) -> None:
    found = _integer(data, "seed", path)
    if found != seed:
        raise ReportInputError(f"{path}: field 'seed' is {found}, but the file was given for seed {seed}")


def _check_method(data: dict[str, Any], method: str, path: Path) -> None:
    found = _string(data, "method", path)
    if found != method:
        raise ReportInputError(f"{path}: field 'method' is {found!r}, but the file was given as a {method!r} result")


def _integer(data: dict[str, Any], key: str, path: Path) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ReportInputError(f"{path}: field '{key}': expected an integer, got {value!r}")
    return value


def _string(data: dict[str, Any], key: str, path: Path) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ReportInputError(f"{path}: field '{key}': expected a string, got {value!r}")
    return value


def _score(data: dict[str, Any], key: str, path: Path, where: str | None = None, undefined_ok: bool = False) -> float:
    """A score in [0, 1]; with undefined_ok, null (undefined, e.g. AUC without a class) is NaN."""
    value = data.get(key)
    if undefined_ok and key in data and value is None:
        return math.nan
    if (not isinstance(value, (int, float)) or isinstance(value, bool)
            or math.isnan(value) or not 0.0 <= value <= 1.0):
        raise ReportInputError(f"{path}: field '{where or key}': expected a score in [0, 1], got {value!r}")
    return float(value)
