"""ensemble.csv: per method with at least MIN_SEEDS seeds, the plain mean of its seeds' test
probabilities scored like one model (equal weights, so nothing is chosen on a split).

comparisons.csv: can a difference be told from noise? For both outputs, each pair and each seed
both ran, and the ensembles of those seeds, the accuracy and AUC difference on the same test
images with a paired bootstrap 95% percentile interval over the images, and McNemar's exact test.
With 400 test images one image is 0.0025 of accuracy: the verdicts are read off these intervals,
never off a mean alone. AUC is resampled by hand, as a resample can lack a class and then has no
AUC: those are left out and counted (`undefined_resamples`). Each row has its own fixed seed."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest, bootstrap

from darts_bohb.methods import METHODS
from darts_bohb.metrics import classification_metrics, resampled_auc, score
from darts_bohb.report.run import OUTPUTS, SCORE_METRICS, SeedPredictions
from darts_bohb.tasks import MULTI_LABEL_TASK

# An "ensemble" of one seed is that seed's model again, already a row of summary.csv.
MIN_SEEDS = 2
ENSEMBLE_COLUMNS = ["method", "kind", "n_seeds", "seeds", "n_images", *(f"test_{m}" for m in SCORE_METRICS)]
# The pairs, each "first − second": the search against chance, and both against the plain CNN.
COMPARISONS = (("nas", "random"), ("nas", "baseline"), ("random", "baseline"))
COMPARED_METRICS = ("accuracy", "auc")
CONFIDENCE_LEVEL = 0.95
DEFAULT_RESAMPLES = 1000
BOOTSTRAP_SEED = 20240611
ENSEMBLE = "ensemble"
MEAN_OF_SEEDS = "mean_of_seeds"
RandomSeed = int | Sequence[int]  # anything numpy.random.default_rng takes
MCNEMAR = "McNemar exact (binomial test of the discordant images)"
COMPARISON_COLUMNS = [
    "comparison", "output", "level", "metric", "first", "second", "first_score", "second_score", "difference",
    "ci_low", "ci_high", "p_value", "test", "first_only_correct", "second_only_correct", "n_images",
    "n_resamples", "undefined_resamples",
]


def ensemble_scores(predictions: Mapping[str, SeedPredictions], task: str) -> pd.DataFrame:
    rows = []
    for method, runs in ((m, predictions[m]) for m in METHODS if m in predictions):
        if len(runs.seeds) >= MIN_SEEDS:
            scores = classification_metrics(runs.labels, runs.probabilities.mean(axis=0), task)
            rows.append({"method": method, "kind": "ensemble", "n_seeds": len(runs.seeds),
                         "seeds": " ".join(map(str, runs.seeds)), "n_images": len(runs.labels),
                         **{f"test_{metric}": scores[metric] for metric in SCORE_METRICS}})
    return pd.DataFrame(rows, columns=ENSEMBLE_COLUMNS)


def comparison_name(first: str, second: str) -> str:
    return f"{first} - {second}"


def correct_per_image(labels: np.ndarray, probabilities: np.ndarray, task: str) -> np.ndarray:
    """Whether each image is right as medmnist's getACC decides it (class 1 above 0.5 for a binary
    task, the argmax otherwise); for a multi-label task (N, L), whether each label is right."""
    if task == MULTI_LABEL_TASK:
        return (probabilities > 0.5).astype(int) == np.asarray(labels)
    labels = np.asarray(labels).reshape(-1)
    if task == "binary-class":
        return (probabilities[:, -1] > 0.5).astype(int) == labels
    return probabilities.argmax(axis=1) == labels


def mcnemar_exact(first_correct: np.ndarray, second_correct: np.ndarray) -> tuple[int, int, float]:
    """Under no difference the first's count of discordant images is Binomial(discordant, 1/2);
    without discordant images there is no evidence either way, p = 1."""
    first_correct, second_correct = np.asarray(first_correct, bool), np.asarray(second_correct, bool)
    first_only = int(np.sum(first_correct & ~second_correct))
    second_only = int(np.sum(~first_correct & second_correct))
    discordant = first_only + second_only
    p_value = 1.0 if discordant == 0 else float(binomtest(first_only, discordant, 0.5).pvalue)
    return first_only, second_only, p_value


def accuracy_difference_interval(first_correct: np.ndarray, second_correct: np.ndarray, seed: RandomSeed,
                                 n_resamples: int = DEFAULT_RESAMPLES) -> tuple[float, float]:
    """The paired bootstrap interval over the images. Multi-label (N, L): an image counts with the
    share of its labels right, whose mean is the accuracy."""
    first_correct = np.asarray(first_correct, dtype=float).reshape(len(first_correct), -1).mean(axis=1)
    second_correct = np.asarray(second_correct, dtype=float).reshape(len(second_correct), -1).mean(axis=1)
    result = bootstrap((first_correct, second_correct), lambda a, b, axis=-1: a.mean(axis=axis) - b.mean(axis=axis),
                       paired=True, vectorized=True, n_resamples=n_resamples, confidence_level=CONFIDENCE_LEVEL,
                       method="percentile", rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def auc_difference_interval(labels: np.ndarray, first: np.ndarray, second: np.ndarray, task: str, seed: RandomSeed,
                            n_resamples: int = DEFAULT_RESAMPLES) -> tuple[float, float, int]:
    """Paired bootstrap percentile interval of AUC(first) − AUC(second), and how many resamples
    had no AUC (a class missing from them) and were left out."""
    n_images = len(labels)
    images = np.random.default_rng(seed).integers(0, n_images, size=(n_resamples, n_images))
    differences = resampled_auc(labels, first, task, images) - resampled_auc(labels, second, task, images)
    defined = differences[np.isfinite(differences)]
    undefined = n_resamples - len(defined)
    if len(defined) == 0:
        return math.nan, math.nan, undefined
    tail = 100 * (1 - CONFIDENCE_LEVEL) / 2
    low, high = np.percentile(defined, [tail, 100 - tail])
    return float(low), float(high), undefined


def compare_predictions(first: str, second: str, level: str, labels: np.ndarray, first_probabilities: np.ndarray,
                        second_probabilities: np.ndarray, task: str, seed: int,
                        n_resamples: int = DEFAULT_RESAMPLES) -> list[dict]:
    """The rows of one pair at one level (a seed, or the ensembles)."""
    first_correct = correct_per_image(labels, first_probabilities, task)
    second_correct = correct_per_image(labels, second_probabilities, task)
    common = {"comparison": comparison_name(first, second), "level": level, "first": first, "second": second,
              "n_images": len(labels), "n_resamples": n_resamples}
    rows = []
    for index, metric in enumerate(COMPARED_METRICS):
        first_score = score(metric, labels, first_probabilities, task)
        second_score = score(metric, labels, second_probabilities, task)
        row = {**common, "metric": metric, "first_score": first_score, "second_score": second_score,
               "difference": first_score - second_score}
        row_seed = [BOOTSTRAP_SEED, seed, index]
        if metric == "accuracy":
            row["ci_low"], row["ci_high"] = accuracy_difference_interval(first_correct, second_correct, row_seed,
                                                                         n_resamples)
            # Multi-label: McNemar counts the discordant (image, label) pairs.
            row["first_only_correct"], row["second_only_correct"], row["p_value"] = mcnemar_exact(
                first_correct.ravel(), second_correct.ravel())
            row.update(test=MCNEMAR, undefined_resamples=0)
        else:
            row["ci_low"], row["ci_high"], row["undefined_resamples"] = auc_difference_interval(
                labels, first_probabilities, second_probabilities, task, row_seed, n_resamples)
        rows.append(row)
    return rows


def comparison_table(predictions: Mapping[str, SeedPredictions], task: str, n_resamples: int = DEFAULT_RESAMPLES,
                     output: str = "incumbent") -> pd.DataFrame:
    """Per pair with predictions: a row per seed in common, their mean (no interval: seeds are too
    few) and, with MIN_SEEDS in common, the ensembles of the common seeds only: an ensemble of more
    models scores better by that alone, so NAS on five seeds meets a control on three with the same three."""
    rows: list[dict] = []
    # Each output resamples its own images, so that its intervals do not share the other's luck.
    offset = 10_000 * list(OUTPUTS).index(output)
    for pair_index, (first, second) in enumerate(COMPARISONS):
        if first not in predictions or second not in predictions:
            continue
        a, b = predictions[first], predictions[second]
        common = [seed for seed in a.seeds if seed in b.seeds]
        first_members, second_members = (runs.probabilities[[runs.seeds.index(s) for s in common]] for runs in (a, b))
        seed_rows = [row for position, seed in enumerate(common) for row in compare_predictions(
            first, second, str(seed), a.labels, first_members[position], second_members[position], task,
            seed=offset + 1000 * pair_index + seed, n_resamples=n_resamples)]
        rows += seed_rows
        for metric in COMPARED_METRICS if common else ():
            of_metric = pd.DataFrame([row for row in seed_rows if row["metric"] == metric])
            rows.append({"comparison": comparison_name(first, second), "level": MEAN_OF_SEEDS, "metric": metric,
                         "first": first, "second": second, "n_images": len(a.labels),
                         **{key: of_metric[key].mean() for key in ("first_score", "second_score", "difference")}})
        if len(common) >= MIN_SEEDS:
            rows += compare_predictions(first, second, ENSEMBLE, a.labels, first_members.mean(axis=0),
                                        second_members.mean(axis=0), task, seed=offset + 1000 * pair_index + 999,
                                        n_resamples=n_resamples)
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS).assign(output=output).astype({column: "Int64" for column in (
        "first_only_correct", "second_only_correct", "n_images", "n_resamples", "undefined_resamples")})


# --- the verdict, read off the intervals ------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Its interval covers the sampling of test images, not of new seeds; its half-width is the size of
    difference the run could have shown."""

    first: str
    second: str
    output: str
    metric: str
    outcome: str
    n_seeds: int = 0  # seeds both methods ran
    basis: str = ""  # the level of the evidence: ENSEMBLE or the one common seed
    difference: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    half_width: float = math.nan  # of the interval


def verdict(table: pd.DataFrame, first: str, second: str, output: str = "incumbent",
            metric: str = "accuracy") -> Verdict:
    """From comparison_table's rows, or comparisons.csv's with `level` read as text."""
    rows = table[(table["comparison"] == comparison_name(first, second)) & (table["output"] == output)
                 & (table["metric"] == metric)].set_index("level")
    seeds = rows.index.drop([ENSEMBLE, MEAN_OF_SEEDS], errors="ignore")
    if seeds.empty:
        return Verdict(first, second, output, metric, "not compared")
    # Without an ensemble there is one seed in common (MIN_SEEDS = 2): its row is the evidence.
    basis = ENSEMBLE if ENSEMBLE in rows.index else seeds[0]
    difference, low, high = rows.loc[basis, ["difference", "ci_low", "ci_high"]].astype(float)
    outcome = "better" if low > 0 else "worse" if high < 0 else "no difference shown"
    return Verdict(first, second, output, metric, outcome, len(seeds), basis, difference, low, high, (high - low) / 2)
