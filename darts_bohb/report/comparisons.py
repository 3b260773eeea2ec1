"""The ensemble of each method's seeds, and paired comparisons of the methods on the test images.

ensemble.csv: per method with at least MIN_SEEDS seeds, the mean of its seeds' test class
probabilities, scored like a single model (darts_bohb.metrics). A plain average with equal
weights, so nothing is chosen on the validation or test split; an extra row, never a seed's.

comparisons.csv: can a difference be told from noise? For each pair (nas − random, nas −
baseline, random − baseline) and each seed both ran, and for the two methods' seed ensembles,
the accuracy and AUC difference on the same test images with a paired bootstrap 95% interval over
the images, and McNemar's exact test of the images one model gets right and the other wrong. With
400 test images one image is 0.0025 of accuracy, so a mean over three seeds says little without
them. The verdict of summary.md is read off these intervals (`verdict`), never off the mean alone.

Accuracy is bootstrapped by scipy.stats.bootstrap (paired, percentile interval). AUC cannot be,
as a resample can lack a class and then has no AUC: it is resampled with a seeded numpy
generator, those resamples are left out and counted (`undefined_resamples`), and the same
percentile interval is taken. Every figure is reproducible: each row has its own fixed seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import binomtest, bootstrap

from darts_bohb.methods import METHODS
from darts_bohb.metrics import classification_metrics, resampled_auc, score
from darts_bohb.report.run import METHOD_LABELS, METRIC_LABELS, SCORE_METRICS, SeedPredictions
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
    "comparison", "level", "metric", "first", "second", "first_score", "second_score", "difference",
    "ci_low", "ci_high", "p_value", "test", "first_only_correct", "second_only_correct", "n_images",
    "n_resamples", "undefined_resamples",
]


def ensemble_scores(predictions: Mapping[str, SeedPredictions], task: str) -> pd.DataFrame:
    """One row per method with at least MIN_SEEDS seeds: the test scores of the seeds' mean
    probabilities; `seeds` lists them separated by spaces, `task` is the MedMNIST task."""
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
    """Whether each image is classified right, as medmnist's getACC decides it (its mean is the
    accuracy of darts_bohb.metrics): class 1 above 0.5 for a binary task, the argmax otherwise;
    for a multi-label task (N, L): whether each label of each image is right (above 0.5)."""
    if task == MULTI_LABEL_TASK:
        return (probabilities > 0.5).astype(int) == np.asarray(labels)
    labels = np.asarray(labels).reshape(-1)
    if task == "binary-class":
        return (probabilities[:, -1] > 0.5).astype(int) == labels
    return probabilities.argmax(axis=1) == labels


def mcnemar_exact(first_correct: np.ndarray, second_correct: np.ndarray) -> tuple[int, int, float]:
    """McNemar's exact test: the images only the first model gets right, those only the second
    does, and the two-sided p-value. Under no difference, each discordant image is equally likely
    to favour either model, so the first's count is Binomial(discordant, 1/2); without discordant
    images there is no evidence either way: p = 1."""
    first_correct, second_correct = np.asarray(first_correct, bool), np.asarray(second_correct, bool)
    first_only = int(np.sum(first_correct & ~second_correct))
    second_only = int(np.sum(~first_correct & second_correct))
    discordant = first_only + second_only
    p_value = 1.0 if discordant == 0 else float(binomtest(first_only, discordant, 0.5).pvalue)
    return first_only, second_only, p_value


def accuracy_difference_interval(first_correct: np.ndarray, second_correct: np.ndarray, seed: RandomSeed,
                                 n_resamples: int = DEFAULT_RESAMPLES) -> tuple[float, float]:
    """Paired bootstrap percentile interval of accuracy(first) − accuracy(second) over the images."""
    first_correct = np.asarray(first_correct, dtype=float)
    second_correct = np.asarray(second_correct, dtype=float)
    if np.array_equal(first_correct, second_correct):
        return 0.0, 0.0  # every resample differs by exactly 0; scipy would warn about the degenerate case

    def difference(first, second, axis=-1):
        return np.mean(first, axis=axis) - np.mean(second, axis=axis)

    result = bootstrap((first_correct, second_correct), difference, paired=True, vectorized=True,
                       n_resamples=n_resamples, confidence_level=CONFIDENCE_LEVEL, method="percentile",
                       rng=np.random.default_rng(seed))
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
    """The rows of one pair at one level (a seed, or the ensembles): accuracy and AUC."""
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
            # Multi-label: images are resampled with the share of their labels right (whose mean
            # is the accuracy), and McNemar counts the discordant (image, label) pairs.
            row["ci_low"], row["ci_high"] = accuracy_difference_interval(
                _per_image(first_correct), _per_image(second_correct), row_seed, n_resamples)
            row["first_only_correct"], row["second_only_correct"], row["p_value"] = mcnemar_exact(
                first_correct.ravel(), second_correct.ravel())
            row.update(test=MCNEMAR, undefined_resamples=0)
        else:
            row["ci_low"], row["ci_high"], row["undefined_resamples"] = auc_difference_interval(
                labels, first_probabilities, second_probabilities, task, row_seed, n_resamples)
        rows.append(row)
    return rows


def _per_image(correct: np.ndarray) -> np.ndarray:
    return correct.mean(axis=1) if correct.ndim == 2 else correct


def comparison_table(predictions: Mapping[str, SeedPredictions], task: str,
                     n_resamples: int = DEFAULT_RESAMPLES) -> pd.DataFrame:
    """Every pair of COMPARISONS whose methods both have predictions: one row per seed in common
    and metric, the mean of those per-seed differences (no interval: seeds are too few), and the
    two seed ensembles when the methods share at least MIN_SEEDS seeds. Each ensemble averages
    the test probabilities of those common seeds only: an ensemble of more models scores better by
    that alone, so NAS on five seeds is compared with a control on three through NAS's same three."""
    rows: list[dict] = []
    for pair_index, (first, second) in enumerate(COMPARISONS):
        if first not in predictions or second not in predictions:
            continue
        a, b = predictions[first], predictions[second]
        common = [seed for seed in a.seeds if seed in b.seeds]
        members = {method: runs.probabilities[[runs.seeds.index(seed) for seed in common]] for method, runs in (
            (first, a), (second, b))}
        seed_rows = [row for position, seed in enumerate(common) for row in compare_predictions(
            first, second, str(seed), a.labels, members[first][position], members[second][position], task,
            seed=1000 * pair_index + seed, n_resamples=n_resamples)]
        per_seed = pd.DataFrame(seed_rows, columns=COMPARISON_COLUMNS)
        rows += seed_rows
        for metric in COMPARED_METRICS:
            of_metric = per_seed[per_seed["metric"] == metric]
            if len(of_metric):
                rows.append({"comparison": comparison_name(first, second), "level": MEAN_OF_SEEDS, "metric": metric,
                             "first": first, "second": second, "n_images": len(a.labels),
                             **{column: of_metric[column].mean() for column in ("first_score", "second_score",
                                                                                  "difference")}})
        if len(common) >= MIN_SEEDS:
            rows += compare_predictions(first, second, ENSEMBLE, a.labels, members[first].mean(axis=0),
                                        members[second].mean(axis=0), task, seed=1000 * pair_index + 999,
                                        n_resamples=n_resamples)
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    for column in ("first_only_correct", "second_only_correct", "n_images", "n_resamples", "undefined_resamples"):
        table[column] = table[column].astype("Int64")
    return table


# --- the verdict, read off the intervals ------------------------------------------------------


def verdict(table: pd.DataFrame, first: str, second: str, metric: str = "accuracy") -> str:
    """One sentence for a pair: better or worse only where the 95% interval excludes 0.

    The evidence is the ensembles' interval where there is one (the models of the seeds both
    methods ran, at once), or else the per-seed intervals, which must then all lie on the same
    side of 0. Either interval covers the sampling of test images for these trained models, not
    the spread of new seeds: the per-seed counts beside it show how far the seeds agree.
    """
    rows = table[(table["comparison"] == comparison_name(first, second)) & (table["metric"] == metric)]
    rows = rows.set_index("level")
    a, b = METHOD_LABELS[first], METHOD_LABELS[second]
    seeds = rows.drop([ENSEMBLE, MEAN_OF_SEEDS], errors="ignore")
    if seeds.empty:
        return f"**{a} − {b}, test {METRIC_LABELS[metric]}: not compared** (no seed in common)."
    above, below = int((seeds["ci_low"] > 0).sum()), int((seeds["ci_high"] < 0).sum())
    per_seed = (f"per seed, the interval lies above 0 on {above} and below 0 on {below} of {len(seeds)} seed(s); "
                f"mean paired difference {rows.at[MEAN_OF_SEEDS, 'difference']:+.4f}")
    if ENSEMBLE in rows.index:
        low, high, difference = rows.loc[ENSEMBLE, ["ci_low", "ci_high", "difference"]]
        basis = (f"ensembles of the {len(seeds)} common seeds {difference:+.4f}, 95% interval over test images "
                 f"[{low:+.4f}, {high:+.4f}]; {per_seed}")
        better, worse = low > 0, high < 0
    else:
        basis = f"no ensemble (fewer than {MIN_SEEDS} seeds); {per_seed}"
        better, worse = above == len(seeds), below == len(seeds)
    outcome = (f"{a} is better than {b}" if better else f"{a} is worse than {b}" if worse
               else f"no difference shown between {a} and {b}")
    return f"**{a} − {b}, test {METRIC_LABELS[metric]}: {outcome}** ({basis})."
