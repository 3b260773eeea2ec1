"""The two outputs of every run in the report: the incumbent (metrics.json) and the per-seed
ensemble (ensemble/metrics.json), each with the selection estimate it was chosen by, set against
its test score. The expected numbers are computed here from the fixture's files, by hand."""

import json
import math
import statistics

import pandas as pd
import pytest

from report_fixtures import SELECTION_METHOD, write_result_tree
from test_report_summary import report_of, write_report

OUTPUTS = {"incumbent": "incumbent", "seed_ensemble": "per-seed ensemble"}
LABELS = {"nas": "NAS+BOHB", "random": "random cells+BOHB", "baseline": "baseline"}


@pytest.fixture
def tree(tmp_path):
    return write_result_tree(tmp_path / "results", nas_seeds=(1, 2, 3), baseline_seeds=(1, 2), random_seeds=(2,))


def files_of(tree, output):
    """{(method, seed): the metrics.json of that output}, as the fixture wrote them."""
    return tree.metrics if output == "incumbent" else tree.ensembles


def hand_gap(written, metric="accuracy"):
    return written["selection_estimate"] - written[metric]


def spread(values, signed=False):
    """mean ± std (n − 1) as the means table writes it, from plain Python."""
    sign = "+" if signed else ""
    if len(values) == 1:
        return f"{values[0]:{sign}.4f} (one seed, no spread)"
    return f"{statistics.mean(values):{sign}.4f} ± {statistics.stdev(values):.4f}"


def test_the_means_table_has_an_incumbent_and_a_per_seed_ensemble_row_per_method(tree, tmp_path):
    _, markdown = report_of(tree, tmp_path)
    assert ("| method, output | seeds | test accuracy | test AUC | test macro F1 | test balanced accuracy | "
            "selection estimate ± SE (accuracy) | estimate − test (accuracy) |") in markdown
    for method in LABELS:
        seeds = tree.seeds_of(method)
        for output, words in OUTPUTS.items():
            written = [files_of(tree, output)[(method, seed)] for seed in seeds]
            tests = " | ".join(spread([w[m] for w in written]) for m in ("accuracy", "auc", "macro_f1",
                                                                           "balanced_accuracy"))
            estimate = (f"{statistics.mean(w['selection_estimate'] for w in written):.4f} ± "
                        f"{statistics.mean(w['selection_std_error'] for w in written):.4f}")
            gap = spread([hand_gap(w) for w in written], signed=True)
            count = f"n={len(seeds)} seed{'s' if len(seeds) > 1 else ''}"
            row = f"| {LABELS[method]}, {words} | {count} | {tests} | {estimate} | {gap} |"
            assert row in markdown, (method, output)
    assert "± the mean of the estimates' own standard errors, not a spread over seeds" in markdown


def test_summary_csv_has_both_outputs_and_the_gap_is_estimate_minus_test(tree, tmp_path):
    summary, _ = report_of(tree, tmp_path)
    assert set(summary["output"]) == {"incumbent", "seed_ensemble"}
    rows = summary.set_index(["method", "seed", "output"])
    assert len(rows) == 2 * len(tree.runs())
    for run in tree.runs():
        for output in OUTPUTS:
            row, written = rows.loc[(*run, output)], files_of(tree, output)[run]
            for metric in ("accuracy", "auc", "macro_f1", "balanced_accuracy"):
                assert row[f"test_{metric}"] == written[metric], (run, output, metric)
            assert row["selection_estimate"] == written["selection_estimate"]
            assert row["selection_std_error"] == written["selection_std_error"]
            assert row["selection_method"] == SELECTION_METHOD.format(metric="accuracy")
            assert row["selection_gap"] == pytest.approx(hand_gap(written), abs=1e-15)
            # The score each output was chosen by: the incumbent's validation score is its estimate.
            assert row["val_score"] == row["val_accuracy"] == written["selection_estimate"]
        ensemble = rows.loc[(*run, "seed_ensemble")]
        assert ensemble["n_models"] == 9 and rows.loc[(*run, "incumbent"), "n_models"] == 1
        assert ensemble["members"] == f"3:0.5 {5 + run[1]}:0.3 2:0.2"
        # The run's own columns stand once, on the incumbent's row, so that sums count each job once.
        assert math.isnan(ensemble["bohb_trials"]) and math.isnan(ensemble["seconds_total"])
        assert rows.loc[(*run, "incumbent"), "bohb_trials"] == tree.trials[run]


def test_the_gap_is_of_the_metric_bohb_maximised(tmp_path):
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1, 2), baseline_seeds=(1,), metric="balanced_accuracy")
    summary, markdown = report_of(tree, tmp_path)
    for _, row in summary.iterrows():
        written = files_of(tree, row["output"])[(row["method"], row["seed"])]
        assert row["selection_gap"] == pytest.approx(hand_gap(written, "balanced_accuracy"), abs=1e-15)
    assert "| selection estimate ± SE (balanced accuracy) | estimate − test (balanced accuracy) |" in markdown


def test_a_seed_without_a_test_score_is_left_out_of_the_mean_gap_and_counted(tmp_path):
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1, 2, 3), baseline_seeds=(1,), metric="auc")
    path = tree.final_file("nas", 2, "metrics.json")
    path.write_text(json.dumps({**tree.metrics[("nas", 2)], "auc": None}))  # a class without a test image
    summary, markdown = report_of(tree, tmp_path)
    nas = summary[(summary["method"] == "nas") & (summary["output"] == "incumbent")].set_index("seed")
    assert math.isnan(nas.at[2, "selection_gap"])
    gaps = [hand_gap(tree.metrics[("nas", seed)], "auc") for seed in (1, 3)]
    assert (f"| {spread(gaps, signed=True)} (1 undefined left out) |") in markdown
    assert "nan" not in markdown.lower()


def test_the_verdicts_cover_both_outputs_of_every_pair(tree, tmp_path):
    _, markdown = report_of(tree, tmp_path)
    verdicts = markdown.split("## Verdict", 1)[1].split("\n## ", 1)[0]
    assert "On test accuracy of both outputs, the single incumbent (`predictions.csv`) and the per-seed" in verdicts
    bullets = [line for line in verdicts.splitlines() if line.startswith("- **")]
    assert [line.split(":")[0] for line in bullets] == [
        f"- **{LABELS[first]} − {LABELS[second]}, {words}" for words in OUTPUTS.values()
        for first, second in (("nas", "random"), ("nas", "baseline"), ("random", "baseline"))]
    seed1 = tree.metrics[("nas", 1)]["accuracy"] - tree.metrics[("baseline", 1)]["accuracy"]
    seed2 = tree.metrics[("nas", 2)]["accuracy"] - tree.metrics[("baseline", 2)]["accuracy"]
    assert f"| {statistics.mean([seed1, seed2]):+.4f} ± {statistics.stdev([seed1, seed2]):.4f}; higher on" in markdown


def test_the_means_of_both_outputs_are_set_against_the_best_published_row_of_each_kind(tree, tmp_path):
    summary, markdown = report_of(tree, tmp_path)
    means = summary.groupby(["output", "method"], sort=False)[["test_accuracy", "test_auc"]].mean()

    def above(metric, value):
        names = [f"{LABELS[method]}, {OUTPUTS[output]}" for (output, method), row in means.iterrows()
                 if row[f"test_{metric}"] > value]
        return "; ".join(names) or "none"

    # RetinaMNIST's best rows, by hand from the table: the AutoML services state no training.
    assert (f"- test accuracy: from scratch: best ResNet-50 (28) (from scratch, 28 px; MedMNIST v2) 0.528, above it: "
            f"{above('accuracy', 0.528)}. pretrained: best ViT-B/16 † (pretrained, linear probe, 28 px padded to "
            f"224; MedMNIST+) 0.5425, above it: {above('accuracy', 0.5425)}. not stated: best Google AutoML Vision "
            f"(not stated, 28 px; MedMNIST v2) 0.531, above it: {above('accuracy', 0.531)}.") in markdown
    assert (f"- test AUC: from scratch: best ResNet-50 (28) (from scratch, 28 px; MedMNIST v2) 0.726, above it: "
            f"{above('auc', 0.726)}. pretrained: best VGG16 † (pretrained, end to end, 28 px padded to 224; "
            f"MedMNIST+) 0.7535, above it: {above('auc', 0.7535)}. not stated: best Google AutoML Vision (not "
            f"stated, 28 px; MedMNIST v2) 0.750, above it: {above('auc', 0.75)}.") in markdown
    assert above("accuracy", 0.528) != "none" and above("auc", 0.7535) == "none"  # the fixture shows both cases
    assert "MedMNIST+ best" not in markdown and "0.5425 ACC, 0.7535 AUC" not in markdown


def test_ensemble_predictions_of_other_test_images_fail_the_report_naming_both_files(tree, tmp_path, caplog):
    bad = tree.final_file("nas", 3, "ensemble/predictions.csv")
    frame = pd.read_csv(bad)
    frame[frame["index"] != 5].to_csv(bad, index=False)
    assert write_report(tree, tmp_path / "reports") == 1
    first = tree.final_file("nas", 1, "predictions.csv")
    assert f"{bad} and {first} do not hold the same test images with the same labels" in caplog.text
