"""scripts/report.py on a synthetic result tree (tests/report_fixtures.py writes it in the file
contracts of the design, and its manifest as report.smk passes it; no training runs here):
summary.csv holds exactly the numbers of the per-seed files, ensemble.csv the scores of each
method's mean test probabilities, summary.md the verdicts, the means and what no CSV holds."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from darts_bohb.report.comparisons import ensemble_scores
from darts_bohb.report.references import UNCHECKED_NOTE, published_results
from darts_bohb.report.run import SeedPredictions
from darts_bohb.report.summary import paired_differences
from report_fixtures import WARMUP_EPOCHS, run_script, write_result_tree

METRICS = ("accuracy", "auc", "macro_f1", "balanced_accuracy")


def write_report(tree, out_dir):
    figures = [str(out_dir / f"{kind}.png") for kind in ("bohb_progress", "arch_weights", "cells", "scores")]
    # Few resamples: the intervals' figures are tested in test_report_comparisons.py.
    return run_script("report.py", ["--run", json.dumps(tree.manifest()), "--figures", *figures,
                                    "--csv", str(out_dir / "summary.csv"),
                                    "--ensemble-csv", str(out_dir / "ensemble.csv"),
                                    "--comparisons-csv", str(out_dir / "comparisons.csv"),
                                    "--search-csv", str(out_dir / "search.csv"), "--resamples", "20",
                                    "--markdown", str(out_dir / "summary.md")])


@pytest.fixture
def tree(tmp_path):
    return write_result_tree(tmp_path / "results", nas_seeds=(1, 2, 3), baseline_seeds=(1, 2), random_seeds=(2,))


def report_of(tree, tmp_path):
    out = tmp_path / "reports"
    assert write_report(tree, out) == 0
    return pd.read_csv(out / "summary.csv"), (out / "summary.md").read_text()


def test_summary_csv_holds_exactly_the_numbers_of_the_per_seed_files(tree, tmp_path):
    summary, _ = report_of(tree, tmp_path)
    # The incumbents first, then the per-seed ensembles, each by method and seed.
    assert list(zip(summary["method"], summary["seed"], summary["output"])) == \
        [(*run, "incumbent") for run in tree.runs()] + [(*run, "seed_ensemble") for run in tree.runs()]
    summary = summary[summary["output"] == "incumbent"]
    for _, row in summary.iterrows():
        run = (row["method"], row["seed"])
        for metric in METRICS:
            assert row[f"test_{metric}"] == tree.metrics[run][metric], (run, metric)
        assert row["val_metric"] == "accuracy"
        assert row["val_score"] == row["val_accuracy"] == tree.incumbents[run]["validation_score"]
        assert math.isnan(row["val_auc"])
        assert row["bohb_trials"] == tree.trials[run]
    nas = summary[summary["method"] == "nas"].set_index("seed")
    for seed in tree.nas_seeds:
        assert nas.at[seed, "search_epochs_run"] == tree.searches[seed]["epochs_run"]
        assert nas.at[seed, "alpha_epochs_run"] == tree.searches[seed]["epochs_run"] - WARMUP_EPOCHS
        assert nas.at[seed, "stop_reason"] == tree.searches[seed]["stop_reason"]
        assert nas.at[seed, "seconds_search"] == tree.seconds[("darts_search", seed)]
        assert nas.at[seed, "seconds_total"] == pytest.approx(
            sum(tree.seconds[(rule, seed)] for rule in ("darts_search", "bohb", "final")), abs=1e-4)
    baseline = summary[summary["method"] == "baseline"].set_index("seed")
    assert baseline[["search_epochs_run", "alpha_epochs_run", "seconds_search"]].isna().all().all()
    assert baseline.at[2, "seconds_final"] == tree.seconds[("baseline_final", 2)]


def test_means_and_the_paired_difference_are_computed_over_the_right_seeds(tree, tmp_path):
    summary, markdown = report_of(tree, tmp_path)
    nas_accuracy = [tree.metrics[("nas", s)]["accuracy"] for s in (1, 2, 3)]
    assert (f"| NAS+BOHB, incumbent | n=3 seeds | {pd.Series(nas_accuracy).mean():.4f} ± "
            f"{pd.Series(nas_accuracy).std():.4f} |") in markdown

    differences = paired_differences(summary, "nas", "baseline")
    expected = {seed: tree.metrics[("nas", seed)]["accuracy"] - tree.metrics[("baseline", seed)]["accuracy"]
                for seed in (1, 2)}  # seed 3 has no baseline partner
    assert differences["accuracy"].to_dict() == pytest.approx(expected)
    assert list(differences.columns) == ["accuracy", "auc", "macro_f1", "balanced_accuracy"]
    mean, std = pd.Series(expected).mean(), pd.Series(expected).std()
    higher = sum(value > 0 for value in expected.values())
    assert (f"| NAS+BOHB − baseline, incumbent | 1, 2 (n=2 seeds) | {mean:+.4f} ± {std:.4f}; higher on {higher} of 2 "
            "|") in markdown
    # The per-seed ensembles, the headlined output, are paired the same way.
    ensembles = {seed: tree.ensembles[("nas", seed)]["accuracy"] - tree.ensembles[("baseline", seed)]["accuracy"]
                 for seed in (1, 2)}
    assert paired_differences(summary, "nas", "baseline", "seed_ensemble")["accuracy"].to_dict() == pytest.approx(
        ensembles)
    assert (f"| NAS+BOHB − baseline, per-seed ensemble | 1, 2 (n=2 seeds) | {pd.Series(ensembles).mean():+.4f} ± "
            f"{pd.Series(ensembles).std():.4f}; higher on") in markdown


def _set_predictions(tree, method, seed, right):
    """Rewrite a seed's predictions.csv: every image right (all probability on its label) or
    every image wrong (all on the next class)."""
    path = tree.final_file(method, seed, "predictions.csv")
    frame = pd.read_csv(path)
    classes = [column for column in frame.columns if column.startswith("prob_")]
    chosen = frame["label"] if right else (frame["label"] + 1) % len(classes)
    for index, column in enumerate(classes):
        frame[column] = (chosen == index).astype(float)
    frame.to_csv(path, index=False)


@pytest.mark.parametrize("nas_right, baseline_right, verdict", [
    ((True, True), (False, False), "**NAS+BOHB − baseline, incumbent: NAS+BOHB is better (±0.0000)** (+1.0000 test "
                                   "accuracy, 95% CI +1.0000 to +1.0000 over the test images, ensembles of the n=2 "
                                   "seeds in common)."),
    ((False, False), (True, True), "**NAS+BOHB − baseline, incumbent: NAS+BOHB is worse (±0.0000)** (-1.0000 test "
                                   "accuracy"),
    # Better on one seed, worse on the other: the ensembles are as good as each other (each one
    # right model and one wrong model, so the same argmax wherever the label wins the tie).
    ((True, False), (False, True), "**NAS+BOHB − baseline, incumbent: no difference: the two agree on every test "
                                   "image** (+0.0000 test accuracy, 95% CI +0.0000 to +0.0000"),
])
def test_the_verdict_is_read_off_the_intervals(tmp_path, nas_right, baseline_right, verdict):
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1, 2), baseline_seeds=(1, 2))
    for seed, nas, baseline in zip((1, 2), nas_right, baseline_right):
        _set_predictions(tree, "nas", seed, nas)
        _set_predictions(tree, "baseline", seed, baseline)
    _, markdown = report_of(tree, tmp_path)
    assert verdict in markdown
    assert markdown.index("## Verdict") < markdown.index("## Test scores per method")


def test_a_mean_without_an_interval_that_excludes_zero_is_no_win(tmp_path):
    # One seed pair, better by one image of 40: ahead in the mean, but the interval includes 0.
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1,), baseline_seeds=(1,))
    _set_predictions(tree, "nas", 1, True)
    _set_predictions(tree, "baseline", 1, True)
    path = tree.final_file("baseline", 1, "predictions.csv")
    frame = pd.read_csv(path)
    frame.loc[0, [f"prob_{c}" for c in range(5)]] = 0.0
    frame.loc[0, f"prob_{(frame.loc[0, 'label'] + 1) % 5}"] = 1.0
    frame.to_csv(path, index=False)
    _, markdown = report_of(tree, tmp_path)
    comparisons = pd.read_csv(tmp_path / "reports" / "comparisons.csv", dtype={"level": str})
    row = comparisons.set_index(["output", "level", "metric"]).loc[("incumbent", "1", "accuracy")]
    assert row["ci_low"] <= 0 < row["ci_high"]  # the interval includes 0
    assert (f"**NAS+BOHB − baseline, incumbent: no difference shown at ±{(row['ci_high'] - row['ci_low']) / 2:.4f}** "
            f"(+0.0250 test accuracy, 95% CI {row['ci_low']:+.4f} to {row['ci_high']:+.4f} over the test images, "
            "n=1 seed in common, seed 1).") in markdown


def test_no_seeds_in_common_gives_a_statement_not_a_crash(tmp_path):
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1, 2), baseline_seeds=(3,))
    summary, markdown = report_of(tree, tmp_path)
    assert len(summary) == 2 * 3  # an incumbent and a per-seed ensemble per run
    for output in ("incumbent", "per-seed ensemble"):
        assert f"**NAS+BOHB − baseline, {output}: not compared** (no seed in common)." in markdown
    assert "| NAS+BOHB − baseline, " not in markdown  # no paired differences either


def test_no_baseline_seeds_gives_a_statement_not_a_crash(tmp_path):
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1, 2), baseline_seeds=())
    summary, markdown = report_of(tree, tmp_path)
    assert set(summary["method"]) == {"nas"}
    assert "No seeds were given for random cells+BOHB, baseline, so no row or comparison shows them." in markdown
    assert "**NAS+BOHB − baseline, per-seed ensemble: not compared** (no seed in common)." in markdown
    assert pd.read_csv(tmp_path / "reports" / "comparisons.csv").empty


@pytest.mark.parametrize("dataset, size, row", [
    ("retinamnist", 28, "| Google AutoML Vision | not stated | 28 px | MedMNIST v2 | 0.531 | 0.750 |"),
    ("retinamnist", 28, "| VGG16 † | pretrained, end to end | 28 px padded to 224 | MedMNIST+ | 0.5417 | 0.7535 |"),
    ("pathmnist", 28, "| ResNet-18 (224) | from scratch | 28 px resized to 224 | MedMNIST v2 | 0.909 | 0.989 |"),
    ("dermamnist", 28, "| ResNet-50 (28) † | from scratch | 28 px | MedMNIST v2 | 0.735 | 0.913 |"),
    ("retinamnist", 64, None),
    ("pathmnist", 128, None),
])
def test_the_reference_table_is_the_data_sets_own_at_28_px(tmp_path, dataset, size, row):
    tree = write_result_tree(tmp_path / "results", dataset=dataset, size=size)
    _, markdown = report_of(tree, tmp_path)
    references = published_results(dataset, size)
    assert (f"No published results are listed for {dataset} at {size}×{size}" in markdown) is (row is None)
    if row is None:
        assert not references
        return
    assert row in markdown
    assert all(f"| {ref.label} | {ref.training} | {ref.resolution} | {ref.source} | {ref.value('accuracy')} | "
               f"{ref.value('auc')} |" in markdown for ref in references)
    # The mark's meaning is spelt out wherever a row carries it.
    assert (UNCHECKED_NOTE in markdown) is (not all(ref.checked for ref in references))


def test_stage_seconds_are_summed_per_method(tree, tmp_path):
    _, markdown = report_of(tree, tmp_path)
    sums = {rule: sum(tree.seconds[(rule, seed)] for seed in tree.seeds_of(method))
            for method, rules in (("nas", ("darts_search", "bohb", "final")), ("baseline", ("baseline_bohb",
                                                                                            "baseline_final")))
            for rule in rules}
    nas = [sums[rule] for rule in ("darts_search", "bohb", "final")]
    assert f"| NAS+BOHB | n=3 seeds | {nas[0]:.1f} | {nas[1]:.1f} | {nas[2]:.1f} | {sum(nas):.1f} |" in markdown
    assert (f"| baseline | n=2 seeds | — | {sums['baseline_bohb']:.1f} | {sums['baseline_final']:.1f} | "
            f"{sums['baseline_bohb'] + sums['baseline_final']:.1f} |") in markdown
    assert f"All jobs together: {sum(tree.seconds.values()):.1f} s of job time" in markdown


def test_outputs_and_figures_are_linked_relative_to_the_markdown_with_their_seed_counts(tree, tmp_path):
    _, markdown = report_of(tree, tmp_path)
    assert "![Test scores per seed with the published references](scores.png)" in markdown
    assert "- [`comparisons.csv`](comparisons.csv): " in markdown
    assert "### Derived cell of each seed (NAS+BOHB: n=3 seeds)" in markdown
    assert ("### Test scores per seed with the published references (NAS+BOHB: n=3 seeds, random cells+BOHB: "
            "n=1 seed, baseline: n=2 seeds)") in markdown


def test_summary_md_does_not_repeat_summary_csv_row_by_row(tree, tmp_path):
    summary, markdown = report_of(tree, tmp_path)
    for value in summary.loc[summary["method"] != "random", "test_accuracy"]:  # random's one seed is its mean
        assert f"{value:.4f}" not in markdown  # a seed's score appears only through means
    assert markdown.index("## Verdict") < markdown.index("## Test scores per method") < markdown.index("## Files")


def test_a_result_of_another_seed_fails_the_report_naming_the_file(tree, tmp_path, caplog):
    bad = tree.final_file("baseline", 2, "metrics.json")
    bad.write_text(json.dumps({**tree.metrics[("baseline", 2)], "seed": 1}))
    out = tmp_path / "reports"
    assert write_report(tree, out) == 1
    assert f"{bad} is the result of baseline seed 1, but the manifest gives it for baseline seed 2" in caplog.text
    assert not (out / "summary.csv").exists() and not (out / "summary.md").exists()


# --- the ensemble of each method's seeds ---------------------------------------------------------


def test_the_ensemble_of_two_seeds_matches_a_pen_and_paper_computation():
    # Binary fractions, so the mean is exact. Mean probabilities, image by image:
    #   [.25 .625 .125] label 0 -> predicts 1 (wrong)    [.125 .75 .125] label 1 -> 1
    #   [.125 .125 .75] label 2 -> 2                      [.25 .5625 .1875] label 1 -> 1
    # accuracy 3/4; recall per class 0, 1, 1 -> balanced accuracy 2/3; F1 per class 0, 4/5
    # (tp 2, fp 1), 1 -> macro F1 0.6. AUC one class against the rest: class 0 scores the
    # positive .25 against .125, .125, .25 (a tie counts half) -> 5/6; class 1 scores .75 and
    # .5625 against .625 and .125 -> 3/4; class 2 -> 1; the mean is 31/36.
    seed_a = [[.25, .5, .25], [.25, .75, 0], [0, .25, .75], [.5, .5, 0]]
    seed_b = [[.25, .75, 0], [0, .75, .25], [.25, 0, .75], [0, .625, .375]]
    predictions = SeedPredictions(seeds=(4, 7), labels=np.array([0, 1, 2, 1]), probabilities=np.array([seed_a, seed_b]))
    row = ensemble_scores({"nas": predictions}, "ordinal-regression").iloc[0]
    assert (row["method"], row["kind"], row["n_seeds"], row["seeds"], row["n_images"]) == \
        ("nas", "ensemble", 2, "4 7", 4)
    assert row["test_accuracy"] == 0.75
    assert row["test_auc"] == pytest.approx(31 / 36, abs=1e-12)
    assert row["test_macro_f1"] == pytest.approx(0.6, abs=1e-12)
    assert row["test_balanced_accuracy"] == pytest.approx(2 / 3, abs=1e-12)


def test_a_method_with_one_seed_gets_no_ensemble():
    one = SeedPredictions(seeds=(1,), labels=np.array([0, 1]), probabilities=np.array([[[.75, .25], [.25, .75]]]))
    assert ensemble_scores({"nas": one, "baseline": one}, "multi-class").empty


def hand_scores(labels, probabilities):
    """The four test metrics of `probabilities` by their definitions, in plain numpy."""
    predicted = probabilities.argmax(axis=1)
    classes = range(probabilities.shape[1])
    recall = [np.mean(predicted[labels == c] == c) for c in classes]
    f1 = []
    for c in classes:
        tp, fp = np.sum((predicted == c) & (labels == c)), np.sum((predicted == c) & (labels != c))
        fn = np.sum((predicted != c) & (labels == c))
        f1.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    auc = []
    for c in classes:  # the share of (positive, negative) pairs ranked right, ties counted half
        positive, negative = probabilities[labels == c, c], probabilities[labels != c, c]
        pairs = positive[:, None] - negative[None, :]
        auc.append(np.mean((pairs > 0) + 0.5 * (pairs == 0)))
    return {"accuracy": np.mean(predicted == labels), "auc": np.mean(auc), "macro_f1": np.mean(f1),
            "balanced_accuracy": np.mean(recall)}


def test_ensemble_csv_scores_the_mean_of_each_methods_seeds_by_hand(tree, tmp_path):
    summary, _ = report_of(tree, tmp_path)
    ensemble = pd.read_csv(tmp_path / "reports" / "ensemble.csv").set_index("method")
    assert list(ensemble.index) == ["nas", "baseline"]  # random has one seed: no ensemble
    for method, seeds in (("nas", tree.nas_seeds), ("baseline", tree.baseline_seeds)):
        mean = np.mean([tree.probabilities[(method, seed)] for seed in seeds], axis=0)
        expected = hand_scores(tree.test_labels, mean)
        row = ensemble.loc[method]
        assert (row["kind"], row["n_seeds"], row["seeds"], row["n_images"]) == \
            ("ensemble", len(seeds), " ".join(map(str, seeds)), len(tree.test_labels))
        for metric, value in expected.items():
            assert row[f"test_{metric}"] == pytest.approx(value, abs=1e-12), (method, metric)
    # The fixture draws probabilities with signal, so the ensemble is not a coin toss.
    assert 0.5 < ensemble.loc["nas", "test_accuracy"] < 1
    # An extra table: summary.csv keeps one row per method, seed and output, and no more.
    incumbents = summary[summary["output"] == "incumbent"]
    assert list(zip(incumbents["method"], incumbents["seed"])) == tree.runs() and len(summary) == 2 * len(tree.runs())


@pytest.mark.parametrize("baseline_seeds", [(1,), ()])
def test_a_method_without_two_seeds_has_no_ensemble(tmp_path, baseline_seeds):
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1, 2), baseline_seeds=baseline_seeds)
    report_of(tree, tmp_path)
    ensemble = pd.read_csv(tmp_path / "reports" / "ensemble.csv")
    assert ensemble["method"].tolist() == ["nas"] and ensemble["n_seeds"].tolist() == [2]


def test_predictions_whose_labels_disagree_fail_the_report_naming_both_files(tree, tmp_path, caplog):
    bad = tree.final_file("nas", 2, "predictions.csv")
    frame = pd.read_csv(bad)
    frame.loc[0, "label"] = (frame.loc[0, "label"] + 1) % 5
    frame.to_csv(bad, index=False)
    out = tmp_path / "reports"
    assert write_report(tree, out) == 1
    first = tree.final_file("nas", 1, "predictions.csv")
    assert f"{bad} and {first} do not hold the same test images with the same labels" in caplog.text
    assert not (out / "ensemble.csv").exists() and not (out / "summary.md").exists()


# --- the search diagnostics and the comparisons as report outputs ----------------------------


def test_search_csv_and_the_search_section_hold_each_genotypes_numbers(tree, tmp_path):
    _, markdown = report_of(tree, tmp_path)
    search = pd.read_csv(tmp_path / "reports" / "search.csv")
    assert list(search.columns) == ["seed", "node", "derived", "p_derived", "p_zero", "entropy", "alpha_epochs_run"]
    assert len(search) == 6 * len(tree.nas_seeds)
    # The fixture's last seed stops after 2 of 4 epochs; one of them is the weight-only warm-up.
    assert search.groupby("seed")["alpha_epochs_run"].unique().to_dict() == {1: [3], 2: [3], 3: [1]}
    for _, row in search.iterrows():
        genotype = tree.genotypes[row["seed"]]
        assert row["derived"] == genotype.derived(row["node"])
        assert row["p_derived"] == genotype.probabilities[row["node"]][row["derived"]]
        assert row["p_zero"] == genotype.probabilities[row["node"]]["zero"]
        assert row["entropy"] == pytest.approx(genotype.entropy(row["node"]), abs=1e-12)
    seed3 = search[search["seed"] == 3]
    share = (seed3["p_derived"] / (1 - seed3["p_zero"])).mean()
    assert f"| 3 | 1 of 2 | {seed3['p_derived'].mean():.3f} | {share:.3f} | {seed3['p_zero'].mean():.3f} |" in markdown
    assert "## DARTS search: did it separate the operations?" in markdown


def seed_ensemble_probabilities(tree, method, seed):
    """ensemble/predictions.csv's probabilities by test image index."""
    frame = pd.read_csv(tree.final_file(method, seed, "ensemble/predictions.csv")).sort_values("index")
    return frame.filter(like="prob_").to_numpy()


def test_comparisons_csv_pairs_every_method_with_a_seed_in_common_for_both_outputs(tree, tmp_path):
    report_of(tree, tmp_path)
    table = pd.read_csv(tmp_path / "reports" / "comparisons.csv", dtype={"level": str})
    # NAS 1-3, random 2, baseline 1-2: the seed pairs, the means, and one pair of ensembles; for each output.
    levels = {("nas - random", "2"), ("nas - random", "mean_of_seeds"), ("nas - baseline", "1"),
              ("nas - baseline", "2"), ("nas - baseline", "mean_of_seeds"), ("nas - baseline", "ensemble"),
              ("random - baseline", "2"), ("random - baseline", "mean_of_seeds")}
    assert set(zip(table["output"], table["comparison"], table["level"])) == {
        (output, *level) for output in ("incumbent", "seed_ensemble") for level in levels}
    assert list(table["output"]) == sorted(table["output"], key=["incumbent", "seed_ensemble"].index)
    rows = table.set_index(["output", "comparison", "level", "metric"]).sort_index()
    for output, probabilities in (("incumbent", lambda method, seed: tree.probabilities[(method, seed)]),
                                  ("seed_ensemble", lambda method, seed: seed_ensemble_probabilities(tree, method,
                                                                                                    seed))):
        nas, baseline = probabilities("nas", 2), probabilities("baseline", 2)
        right_nas, right_baseline = (p.argmax(axis=1) == tree.test_labels for p in (nas, baseline))
        seed2 = rows.loc[(output, "nas - baseline", "2")]
        assert seed2.at["accuracy", "difference"] == pytest.approx(right_nas.mean() - right_baseline.mean())
        assert seed2.at["accuracy", "first_only_correct"] == np.sum(right_nas & ~right_baseline)
        assert seed2.at["accuracy", "ci_low"] <= seed2.at["accuracy", "difference"] <= seed2.at["accuracy", "ci_high"]
        assert math.isnan(seed2.at["auc", "p_value"])
        # The ensemble of the two seeds both ran, averaged image by image.
        mean_nas = (probabilities("nas", 1) + nas) / 2
        mean_baseline = (probabilities("baseline", 1) + baseline) / 2
        ensemble = rows.loc[(output, "nas - baseline", "ensemble", "accuracy")]
        assert ensemble["difference"] == pytest.approx(np.mean(mean_nas.argmax(axis=1) == tree.test_labels)
                                                       - np.mean(mean_baseline.argmax(axis=1) == tree.test_labels))
