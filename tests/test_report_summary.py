"""scripts/report.py on a synthetic result tree (tests/report_fixtures.py writes it in the file
contracts of the design; no training runs here): summary.csv holds exactly the numbers of the
per-seed files, summary.md aggregates them and says plainly what is missing."""

import json
import math

import pandas as pd
import pytest
from report_fixtures import run_script, write_result_tree

from darts_bohb.report.summary import paired_differences

METRICS = ("accuracy", "auc", "macro_f1", "balanced_accuracy")


def write_report(tree, out_dir):
    figures = []
    for kind in ("bohb-progress", "arch-weights", "cells", "scores"):
        figures += [f"--{kind}", str(out_dir / f"{kind.replace('-', '_')}.png")]
    return run_script("report.py", [*tree.report_args(), *figures, "--csv", str(out_dir / "summary.csv"),
                                    "--markdown", str(out_dir / "summary.md")])


@pytest.fixture
def tree(tmp_path):
    return write_result_tree(tmp_path / "results", nas_seeds=(1, 2, 3), baseline_seeds=(1, 2))


def report_of(tree, tmp_path):
    out = tmp_path / "reports"
    assert write_report(tree, out) == 0
    return pd.read_csv(out / "summary.csv"), (out / "summary.md").read_text()


def test_summary_csv_holds_exactly_the_numbers_of_the_per_seed_files(tree, tmp_path):
    summary, _ = report_of(tree, tmp_path)
    assert list(zip(summary["method"], summary["seed"])) == tree.runs()
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
        assert nas.at[seed, "stop_reason"] == tree.searches[seed]["stop_reason"]
        assert nas.at[seed, "seconds_search"] == tree.seconds[("darts_search", seed)]
        assert nas.at[seed, "seconds_total"] == pytest.approx(
            sum(tree.seconds[(rule, seed)] for rule in ("darts_search", "bohb", "final")), abs=1e-4)
    baseline = summary[summary["method"] == "baseline"].set_index("seed")
    assert baseline["search_epochs_run"].isna().all() and baseline["seconds_search"].isna().all()
    assert baseline.at[2, "seconds_final"] == tree.seconds[("baseline_final", 2)]


def test_means_and_the_paired_difference_are_computed_over_the_right_seeds(tree, tmp_path):
    summary, markdown = report_of(tree, tmp_path)
    nas_accuracy = [tree.metrics[("nas", s)]["accuracy"] for s in (1, 2, 3)]
    assert f"| NAS+BOHB | n=3 seeds | {pd.Series(nas_accuracy).mean():.4f} ± {pd.Series(nas_accuracy).std():.4f} |" \
        in markdown

    differences = paired_differences(summary)
    expected = {seed: tree.metrics[("nas", seed)]["accuracy"] - tree.metrics[("baseline", seed)]["accuracy"]
                for seed in (1, 2)}  # seed 3 has no baseline partner
    accuracy = differences[differences["metric"] == "accuracy"].set_index("seed")["difference"]
    assert accuracy.to_dict() == pytest.approx(expected)
    mean, std = pd.Series(expected).mean(), pd.Series(expected).std()
    assert f"| accuracy | {mean:+.4f} ± {std:.4f} |" in markdown
    assert "Over the n=2 seeds both methods ran (1, 2)" in markdown
    assert "not in this comparison: NAS+BOHB 3" in markdown


def _set_accuracy(tree, method, seed, value):
    path = tree.final_file(method, seed, "metrics.json")
    data = json.loads(path.read_text())
    data["accuracy"] = value
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("nas_accuracy, verdict", [
    # Against a baseline of 0.5 on both seeds (binary fractions, so the tie is exact).
    ((0.625, 0.5), "**NAS+BOHB beats the baseline on test accuracy: by +0.0625 (mean over n=2 seeds, "
                   "paired by seed; NAS+BOHB better on 1 of them).**"),
    ((0.5, 0.375), "**NAS+BOHB does not beat the baseline on test accuracy: it is 0.0625 lower"),
    ((0.625, 0.375), "**NAS+BOHB does not beat the baseline on test accuracy: they tie"),
])
def test_the_report_says_plainly_whether_nas_beats_the_baseline(tmp_path, nas_accuracy, verdict):
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1, 2), baseline_seeds=(1, 2))
    for seed, accuracy in zip((1, 2), nas_accuracy):
        _set_accuracy(tree, "nas", seed, accuracy)
    for seed in (1, 2):
        _set_accuracy(tree, "baseline", seed, 0.5)
    _, markdown = report_of(tree, tmp_path)
    assert verdict in markdown


def test_no_seeds_in_common_gives_a_statement_not_a_crash(tmp_path):
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1, 2), baseline_seeds=(3,))
    summary, markdown = report_of(tree, tmp_path)
    assert len(summary) == 3
    assert ("No paired comparison: the seeds have none in common (NAS+BOHB: 1, 2; baseline: 3). "
            "Whether NAS+BOHB beats the baseline is not shown by this run.") in markdown


def test_no_baseline_seeds_gives_a_statement_not_a_crash(tmp_path):
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1, 2), baseline_seeds=())
    summary, markdown = report_of(tree, tmp_path)
    assert set(summary["method"]) == {"nas"}
    assert "No baseline seeds were given (`baseline.seeds`)" in markdown
    assert "No paired comparison: no baseline seeds were given." in markdown


@pytest.mark.parametrize("dataset, size, shown", [
    ("retinamnist", 28, True), ("retinamnist", 64, False), ("pathmnist", 28, False),
])
def test_the_reference_table_is_only_for_retinamnist_at_28(tmp_path, dataset, size, shown):
    tree = write_result_tree(tmp_path / "results", dataset=dataset, size=size)
    _, markdown = report_of(tree, tmp_path)
    assert ("| Google AutoML Vision | 0.531 | 0.750 |" in markdown) is shown
    assert ("| ResNet-18 (28) | 0.524 | 0.717 |" in markdown) is shown
    assert (f"No published results are listed for {dataset} at {size}×{size}" in markdown) is not shown


def test_stage_seconds_are_listed_and_a_missing_benchmark_is_named(tree, tmp_path):
    missing = tree.benchmark_file("baseline_bohb", 2)
    missing.unlink()
    summary, markdown = report_of(tree, tmp_path)
    baseline = summary[summary["method"] == "baseline"].set_index("seed")
    assert math.isnan(baseline.at[2, "seconds_bohb"]) and math.isnan(baseline.at[2, "seconds_total"])
    assert f"`{missing}`" in markdown and "Missing benchmark files (1;" in markdown
    search_sum = sum(tree.seconds[("darts_search", s)] for s in (1, 2, 3))
    assert f"| **sum, n=3 seeds** | {search_sum:.1f} |" in markdown


def test_figures_are_linked_relative_to_the_markdown_and_say_their_seed_counts(tree, tmp_path):
    _, markdown = report_of(tree, tmp_path)
    assert "![Test scores per seed with the published references](scores.png)" in markdown
    assert "### Argmax cell of each seed (NAS+BOHB: n=3 seeds)" in markdown
    assert "### Test scores per seed with the published references (NAS+BOHB: n=3 seeds, baseline: n=2 seeds)" \
        in markdown


def test_a_malformed_metrics_file_fails_the_report_naming_the_file(tree, tmp_path, caplog):
    bad = tree.final_file("baseline", 2, "metrics.json")
    bad.write_text('{"method": "baseline", "seed": 2, "accuracy": ')
    out = tmp_path / "reports"
    assert write_report(tree, out) == 1
    assert f"{bad}: not valid JSON" in caplog.text
    assert not (out / "summary.csv").exists() and not (out / "summary.md").exists()
