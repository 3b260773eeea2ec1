"""The figures of comparisons.csv against cases worked out by hand: McNemar's exact p-value of a
tiny table, bootstrap intervals whose answer is known (identical predictions: exactly 0; one
model right everywhere the other is wrong: the whole interval on one side), the rows the table
holds per output, seed, ensemble and for the mean, and the verdicts read off them."""

import math

import numpy as np
import pandas as pd
import pytest

from darts_bohb.report.comparisons import (
    ENSEMBLE,
    MEAN_OF_SEEDS,
    Verdict,
    accuracy_difference_interval,
    auc_difference_interval,
    comparison_table,
    correct_per_image,
    mcnemar_exact,
    verdict,
)
from darts_bohb.report.run import ReportInputError, SeedPredictions, read_predictions
from darts_bohb.report.summary import verdict_sentence

TASK = "ordinal-regression"  # RetinaMNIST's


def test_mcnemar_p_value_of_a_tiny_table_matches_the_binomial_by_hand():
    # 10 images: both right on 1, the first alone right on 7, the second alone on 1, both wrong on 1.
    first = np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 0], bool)
    second = np.array([1, 0, 0, 0, 0, 0, 0, 0, 1, 0], bool)
    first_only, second_only, p_value = mcnemar_exact(first, second)
    assert (first_only, second_only) == (7, 1)
    # 8 discordant images, Binomial(8, 1/2): P(X <= 1) = (1 + 8) / 256, doubled for two sides.
    assert p_value == pytest.approx(18 / 256, abs=1e-12)


def test_mcnemar_without_discordant_images_gives_no_evidence():
    same = np.array([1, 0, 1, 1], bool)
    assert mcnemar_exact(same, same)[2] == 1.0
    # A perfectly lopsided table of 3: p = 2 * (1/2)^3.
    assert mcnemar_exact(np.ones(3, bool), np.zeros(3, bool))[2] == pytest.approx(0.25, abs=1e-12)


def test_identical_predictions_give_a_zero_width_interval():
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 5
    probabilities = rng.dirichlet(np.ones(5), size=60)
    correct = correct_per_image(labels, probabilities, TASK)
    assert accuracy_difference_interval(correct, correct, seed=1) == (0.0, 0.0)
    low, high, undefined = auc_difference_interval(labels, probabilities, probabilities, TASK, seed=1,
                                                   n_resamples=100)
    assert (low, high) == (0.0, 0.0) and undefined == 0  # 12 images a class: every resample has all five


def test_a_model_right_where_the_other_is_wrong_has_its_whole_interval_above_zero():
    n = 50
    first = np.ones(n, bool)
    second = np.arange(n) % 2 == 0  # right on half
    low, high = accuracy_difference_interval(first, second, seed=3)
    assert 0 < low <= 0.5 <= high < 1
    # Right everywhere against wrong everywhere: every resample differs by exactly 1.
    assert accuracy_difference_interval(np.ones(n, bool), np.zeros(n, bool), seed=3) == (1.0, 1.0)


def test_auc_interval_of_a_perfect_ranking_against_a_reversed_one_lies_above_zero():
    labels = np.arange(40) % 2
    perfect = np.stack([1 - labels * 0.8 - 0.1, labels * 0.8 + 0.1], axis=1)
    reversed_ = perfect[:, ::-1]
    low, high, undefined = auc_difference_interval(labels, perfect, reversed_, "binary-class", seed=5,
                                                   n_resamples=200)
    # AUC 1 against AUC 0 in every resample that has both classes.
    assert (low, high) == (1.0, 1.0)
    assert undefined < 200


def test_the_interval_is_reproducible_and_contains_the_point_difference():
    rng = np.random.default_rng(11)
    first, second = rng.random(200) < 0.6, rng.random(200) < 0.5
    interval = accuracy_difference_interval(first, second, seed=[7, 1])
    assert interval == accuracy_difference_interval(first, second, seed=[7, 1])
    assert interval[0] < first.mean() - second.mean() < interval[1]
    # Percentile interval of a difference of two proportions on 200 images: about ±2 standard errors.
    standard_error = math.sqrt(np.var(first.astype(float) - second.astype(float)) / 200)
    assert interval[1] - interval[0] == pytest.approx(2 * 1.96 * standard_error, rel=0.2)


def test_correct_per_image_agrees_with_the_reported_accuracy():
    from darts_bohb.metrics import score

    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 30)
    probabilities = rng.dirichlet(np.ones(2), size=30)
    for task in ("binary-class", "multi-class"):
        assert correct_per_image(labels, probabilities, task).mean() == pytest.approx(
            score("accuracy", labels, probabilities, task))


def predictions_of(seeds, probabilities, labels):
    return SeedPredictions(seeds=tuple(seeds), labels=np.asarray(labels), probabilities=np.asarray(probabilities,
                                                                                                  dtype=float))


def one_hot(classes, n_classes=3):
    return np.eye(n_classes)[np.asarray(classes)]


def test_the_table_has_seed_mean_and_ensemble_rows_with_tests_only_on_accuracy():
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])
    wrong = (labels + 1) % 3
    nas = predictions_of((1, 2), [one_hot(labels), one_hot(labels)], labels)  # right everywhere
    baseline = predictions_of((1, 2, 3), [one_hot(wrong)] * 3, labels)  # wrong everywhere
    random = predictions_of((2,), [one_hot(labels)], labels)
    table = comparison_table({"nas": nas, "random": random, "baseline": baseline}, TASK, n_resamples=20)
    keys = list(zip(table["comparison"], table["level"], table["metric"]))
    assert keys == [
        ("nas - random", "2", "accuracy"), ("nas - random", "2", "auc"),
        ("nas - random", MEAN_OF_SEEDS, "accuracy"), ("nas - random", MEAN_OF_SEEDS, "auc"),
        ("nas - baseline", "1", "accuracy"), ("nas - baseline", "1", "auc"),
        ("nas - baseline", "2", "accuracy"), ("nas - baseline", "2", "auc"),
        ("nas - baseline", MEAN_OF_SEEDS, "accuracy"), ("nas - baseline", MEAN_OF_SEEDS, "auc"),
        ("nas - baseline", ENSEMBLE, "accuracy"), ("nas - baseline", ENSEMBLE, "auc"),
        ("random - baseline", "2", "accuracy"), ("random - baseline", "2", "auc"),
        ("random - baseline", MEAN_OF_SEEDS, "accuracy"), ("random - baseline", MEAN_OF_SEEDS, "auc"),
    ]  # random has one seed, so no ensemble rows with it
    assert set(table["output"]) == {"incumbent"}  # the default output
    rows = table.set_index(["comparison", "level", "metric"])
    same = rows.loc[("nas - random", "2", "accuracy")]
    assert (same["difference"], same["ci_low"], same["ci_high"], same["p_value"]) == (0.0, 0.0, 0.0, 1.0)
    better = rows.loc[("nas - baseline", ENSEMBLE, "accuracy")]
    assert (better["difference"], better["ci_low"], better["ci_high"]) == (1.0, 1.0, 1.0)
    assert (better["first_only_correct"], better["second_only_correct"]) == (12, 0)
    assert better["p_value"] == pytest.approx(2 * 0.5 ** 12, abs=1e-15)
    # AUC 1 against 1/4: a wrong one-hot model scores each class's images 0, tied with a third of the
    # others and below another third.
    assert rows.loc[("nas - baseline", "1", "auc"), "difference"] == pytest.approx(0.75)
    assert table.loc[table["metric"] == "auc", "p_value"].isna().all()
    assert table.loc[table["level"] == MEAN_OF_SEEDS, ["ci_low", "ci_high", "p_value"]].isna().all().all()


def test_verdicts_follow_the_intervals_not_the_means():
    labels = np.arange(12) % 3
    wrong = (labels + 1) % 3
    right = predictions_of((1, 2), [one_hot(labels)] * 2, labels)
    poor = predictions_of((1, 2), [one_hot(wrong)] * 2, labels)
    table = comparison_table({"nas": right, "baseline": poor, "random": right}, TASK, n_resamples=20)
    better = verdict(table, "nas", "baseline")
    assert better == Verdict("nas", "baseline", "incumbent", "accuracy", "better", 2, ENSEMBLE, 1.0, 1.0, 1.0, 0.0)
    assert verdict_sentence(better) == (
        "**NAS+BOHB − baseline, incumbent: NAS+BOHB is better (±0.0000)** (+1.0000 test accuracy, 95% CI +1.0000 "
        "to +1.0000 over the test images, ensembles of the n=2 seeds in common).")
    assert verdict(table, "random", "baseline").outcome == "better"
    assert verdict(table, "baseline", "random").outcome == "not compared"  # not a pair of COMPARISONS
    assert verdict_sentence(verdict(table, "nas", "random")).startswith(
        "**NAS+BOHB − random cells+BOHB, incumbent: no difference: the two agree on every test image** "
        "(+0.0000 test accuracy,")
    # An output the table does not hold is not compared, and says so.
    assert verdict_sentence(verdict(table, "nas", "baseline", "seed_ensemble")) == (
        "**NAS+BOHB − baseline, per-seed ensemble: not compared** (no seed in common).")


def test_no_difference_shown_states_the_half_width_of_its_interval_and_reads_the_csv_back(tmp_path):
    rng = np.random.default_rng(4)
    labels = np.arange(90) % 3
    nas = predictions_of((1, 2, 3), rng.dirichlet(np.ones(3), size=(3, 90)), labels)
    baseline = predictions_of((2, 3), rng.dirichlet(np.ones(3), size=(2, 90)), labels)
    table = comparison_table({"nas": nas, "baseline": baseline}, TASK, n_resamples=200, output="seed_ensemble")
    table.to_csv(tmp_path / "comparisons.csv", index=False)
    read = pd.read_csv(tmp_path / "comparisons.csv", dtype={"level": str})  # as a later report reads it
    ensemble = table.set_index(["level", "metric"]).loc[(ENSEMBLE, "accuracy")]
    result = verdict(read, "nas", "baseline", "seed_ensemble")
    assert result == verdict(table, "nas", "baseline", "seed_ensemble")
    assert (result.n_seeds, result.basis, result.difference) == (2, ENSEMBLE, ensemble["difference"])
    assert ensemble["ci_low"] < 0 < ensemble["ci_high"]  # random probabilities: no difference to find
    half = (ensemble["ci_high"] - ensemble["ci_low"]) / 2
    assert result.outcome == "no difference shown" and result.half_width == pytest.approx(half)
    assert verdict_sentence(result) == (
        f"**NAS+BOHB − baseline, per-seed ensemble: no difference shown at ±{half:.4f}** "
        f"({ensemble['difference']:+.4f} test accuracy, 95% CI {ensemble['ci_low']:+.4f} to "
        f"{ensemble['ci_high']:+.4f} over the test images, ensembles of the n=2 seeds in common).")


def test_ensembles_are_compared_over_the_seeds_both_methods_ran():
    """An ensemble of more models is better by that alone: a control's extra seed must not count."""
    labels = np.arange(12) % 3
    right, wrong = one_hot(labels), one_hot((labels + 1) % 3)
    unsure_wrong = 0.3 + 0.1 * wrong  # 0.4 on a wrong class, 0.3 on the other two
    nas = predictions_of((1, 2), [right, right], labels)
    baseline = predictions_of((1, 2, 3), [unsure_wrong, unsure_wrong, right], labels)
    table = comparison_table({"nas": nas, "baseline": baseline}, TASK, n_resamples=20)
    ensemble = table.set_index(["comparison", "level", "metric"]).loc[("nas - baseline", ENSEMBLE, "accuracy")]
    # Over seeds 1 and 2 the baseline ensemble is wrong everywhere; with seed 3 it would be right.
    assert (ensemble["first_score"], ensemble["second_score"], ensemble["difference"]) == (1.0, 0.0, 1.0)
    assert (verdict(table, "nas", "baseline").n_seeds, verdict(table, "nas", "baseline").basis) == (2, ENSEMBLE)


def write_predictions(path, index, labels, probabilities):
    frame = pd.DataFrame(probabilities, columns=[f"prob_{c}" for c in range(probabilities.shape[1])])
    frame.insert(0, "label", labels)
    frame.insert(0, "index", index)
    frame.to_csv(path, index=False)
    return path


def test_predictions_are_aligned_by_test_image_and_stacked_per_method(tmp_path):
    labels = np.arange(6) % 3
    order = np.array([3, 0, 5, 1, 4, 2])  # a file may list the images in any order
    files = {("nas", 1): write_predictions(tmp_path / "a.csv", np.arange(6), labels, one_hot(labels)),
             ("nas", 2): write_predictions(tmp_path / "b.csv", order, labels[order], one_hot((labels[order] + 1) % 3)),
             ("baseline", 1): write_predictions(tmp_path / "c.csv", np.arange(6), labels, one_hot(labels))}
    predictions = read_predictions(files)
    assert list(predictions) == ["nas", "baseline"] and predictions["nas"].seeds == (1, 2)
    np.testing.assert_array_equal(predictions["nas"].labels, labels)
    np.testing.assert_array_equal(predictions["nas"].probabilities[1], one_hot((labels + 1) % 3))


@pytest.mark.parametrize("index, labels", [(np.arange(1, 7), np.arange(6) % 3), (np.arange(6), (np.arange(6) + 1) % 3)])
def test_predictions_of_other_test_images_or_labels_are_refused_naming_both_files(tmp_path, index, labels):
    first = write_predictions(tmp_path / "first.csv", np.arange(6), np.arange(6) % 3, one_hot(np.arange(6) % 3))
    other = write_predictions(tmp_path / "other.csv", index, labels, one_hot(labels))
    with pytest.raises(ReportInputError, match=f"{other} and {first} do not hold the same test images"):
        read_predictions({("nas", 1): first}, also_check=[other])


def test_comparisons_csv_has_the_contracted_columns(tmp_path):
    labels = np.arange(9) % 3
    nas = predictions_of((1,), [one_hot(labels)], labels)
    table = comparison_table({"nas": nas, "baseline": nas}, TASK, n_resamples=100)
    table.to_csv(tmp_path / "comparisons.csv", index=False)
    read = pd.read_csv(tmp_path / "comparisons.csv", keep_default_na=False)
    assert list(read.columns[:4]) == ["comparison", "output", "level", "metric"]
    assert {"difference", "ci_low", "ci_high", "p_value"} <= set(read.columns)
    assert read.loc[read["metric"] == "auc", "p_value"].tolist() == ["", ""]  # empty: no test applies
