"""The two outputs of every run in the report: the incumbent (metrics.json) and the per-seed
ensemble (ensemble/metrics.json), each with the selection estimate it was chosen by, set against
its test score. The expected numbers are computed here from the fixture's files, by hand."""

import json
import math
import statistics

import pandas as pd
import pytest

from report_fixtures import SELECTION_METHOD, run_script, write_result_tree
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
    assert "the number after it the mean of the estimates' own standard errors, not a spread over seeds" in markdown


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


def test_the_selection_section_lists_every_seed_and_the_mean_gap_with_its_count(tree, tmp_path):
    _, markdown = report_of(tree, tmp_path)
    section = markdown.split("## Selection estimate against test score", 1)[1].split("\n## ", 1)[0]
    assert "selection bias of choosing the best of many noisy estimates" in section
    assert "Both read only train+val, never the test split" in section
    assert f"How the estimates were made: `{SELECTION_METHOD.format(metric='accuracy')}`." in section
    assert "### NAS+BOHB (n=3 seeds)" in section and "### random cells+BOHB (n=1 seed)" in section
    for method, seed in tree.runs():
        for output, words in OUTPUTS.items():
            written = files_of(tree, output)[(method, seed)]
            models = "1" if output == "incumbent" else "9 (fold models of 3 configurations)"
            assert (f"| {words} | {seed} | {models} | {written['selection_estimate']:.4f} | "
                    f"{written['selection_std_error']:.4f} | {written['accuracy']:.4f} | "
                    f"{hand_gap(written):+.4f} |") in section, (method, seed, output)
    ensembles = [tree.ensembles[("nas", seed)] for seed in tree.nas_seeds]
    mean = {key: statistics.mean(w[key] for w in ensembles)
            for key in ("selection_estimate", "selection_std_error", "accuracy")}
    gap = statistics.mean(hand_gap(w) for w in ensembles)
    assert gap == pytest.approx(mean["selection_estimate"] - mean["accuracy"], abs=1e-12)
    assert (f"| **per-seed ensemble, mean** | **n=3 seeds** |  | {mean['selection_estimate']:.4f} | "
            f"{mean['selection_std_error']:.4f} | {mean['accuracy']:.4f} | **{gap:+.4f}** |") in section


def test_the_gap_is_of_the_metric_bohb_maximised(tmp_path):
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1, 2), baseline_seeds=(1,), metric="balanced_accuracy")
    summary, markdown = report_of(tree, tmp_path)
    for _, row in summary.iterrows():
        written = files_of(tree, row["output"])[(row["method"], row["seed"])]
        assert row["selection_gap"] == pytest.approx(hand_gap(written, "balanced_accuracy"), abs=1e-15)
    assert "| selection estimate ± SE (balanced accuracy) | estimate − test (balanced accuracy) |" in markdown
    assert ("| output | seed | models | selection estimate (balanced accuracy) | SE | test balanced accuracy |"
            in markdown)


def test_a_seed_without_a_test_score_is_left_out_of_the_mean_gap_and_counted(tmp_path):
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1, 2, 3), baseline_seeds=(1,), metric="auc")
    path = tree.final_file("nas", 2, "metrics.json")
    path.write_text(json.dumps({**tree.metrics[("nas", 2)], "auc": None}))  # a class without a test image
    summary, markdown = report_of(tree, tmp_path)
    nas = summary[(summary["method"] == "nas") & (summary["output"] == "incumbent")].set_index("seed")
    assert math.isnan(nas.at[2, "selection_gap"])
    kept = [tree.metrics[("nas", seed)] for seed in (1, 3)]
    mean = {key: statistics.mean(w[key] for w in kept) for key in ("selection_estimate", "selection_std_error", "auc")}
    gap = statistics.mean(hand_gap(w, "auc") for w in kept)
    assert (f"| **incumbent, mean** | **n=2 seeds; 1 without an estimate or test score left out** |  | "
            f"{mean['selection_estimate']:.4f} | {mean['selection_std_error']:.4f} | {mean['auc']:.4f} | "
            f"**{gap:+.4f}** |") in markdown
    assert "nan" not in markdown.lower()


def test_comparisons_stay_on_the_incumbents_and_references_show_both_outputs(tree, tmp_path):
    summary, markdown = report_of(tree, tmp_path)
    assert ("The verdicts and `comparisons.csv` compare the single incumbents (each seed's `predictions.csv`), "
            "not the per-seed ensembles.") in markdown
    nas = statistics.mean(tree.metrics[("nas", seed)]["accuracy"] for seed in tree.nas_seeds)
    assert f"| **NAS+BOHB, incumbent, this run (mean, n=3 seeds)** | {nas:.3f} |" in markdown
    ensembles = [tree.ensembles[("nas", seed)] for seed in tree.nas_seeds]
    accuracy, auc = (statistics.mean(m[key] for m in ensembles) for key in ("accuracy", "auc"))
    assert f"| **NAS+BOHB, per-seed ensemble, this run (mean, n=3 seeds)** | {accuracy:.3f} | {auc:.3f} |" in markdown
    # the fixture's scores lie below MedMNIST+'s 0.5425 / 0.7535, and the report says so
    assert ("Against the best published entry, MedMNIST+ best (28 px padded to 224, ImageNet-pretrained) "
            "(0.5425 ACC, 0.7535 AUC)") in markdown
    seed1 = tree.metrics[("nas", 1)]["accuracy"] - tree.metrics[("baseline", 1)]["accuracy"]
    seed2 = tree.metrics[("nas", 2)]["accuracy"] - tree.metrics[("baseline", 2)]["accuracy"]
    assert f"| accuracy | {statistics.mean([seed1, seed2]):+.4f} ± {statistics.stdev([seed1, seed2]):.4f} |" in markdown


def test_results_from_before_the_selection_estimate_still_make_a_report(tmp_path):
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1, 2), baseline_seeds=(1,), legacy=True)
    summary, markdown = report_of(tree, tmp_path)
    assert set(summary["output"]) == {"incumbent"} and len(summary) == 3
    assert summary["selection_estimate"].isna().all() and summary["selection_gap"].isna().all()
    assert "| NAS+BOHB, incumbent | n=2 seeds |" in markdown and "per-seed ensemble |" not in markdown
    assert ("No per-seed ensembles were given for NAS+BOHB, baseline (results from before they existed)"
            in markdown)
    assert "No result file carries a selection estimate" in markdown
    assert "the incumbents were chosen on the validation split" in markdown
    assert "nan" not in markdown.lower()


def test_a_malformed_ensemble_file_fails_the_report_naming_it(tree, tmp_path, caplog):
    bad = tree.final_file("baseline", 2, "ensemble/metrics.json")
    bad.write_text(json.dumps({**tree.ensembles[("baseline", 2)], "members": [{"config_id": 3, "weight": 1.5}]}))
    out = tmp_path / "reports"
    assert write_report(tree, out) == 1
    assert f"{bad}: field 'members[0].weight': expected a number in (0, 1], got 1.5" in caplog.text
    assert not (out / "summary.csv").exists()


def test_ensemble_predictions_of_other_test_images_fail_the_report_naming_both_files(tree, tmp_path, caplog):
    bad = tree.final_file("nas", 3, "ensemble/predictions.csv")
    frame = pd.read_csv(bad)
    frame[frame["index"] != 5].to_csv(bad, index=False)
    assert write_report(tree, tmp_path / "reports") == 1
    assert f"{bad} and {tree.final_file('nas', 3, 'predictions.csv')} do not cover the same test images" in caplog.text


def without_options(args, word):
    """`args` less every option whose name contains `word`, and its values."""
    kept, dropping = [], False
    for arg in args:
        if arg.startswith("--"):
            dropping = word in arg
        if not dropping:
            kept.append(arg)
    return kept


def test_ensemble_metrics_without_ensemble_predictions_is_a_usage_error(tree, tmp_path, capsys):
    args = without_options(tree.report_args(), "ensemble-predictions")
    assert "--ensemble-metrics" in args and not any("ensemble/predictions.csv" in arg for arg in args)
    outputs = [(option, str(tmp_path / name)) for option, name in (
        ("--csv", "summary.csv"), ("--ensemble-csv", "ensemble.csv"), ("--comparisons-csv", "comparisons.csv"),
        ("--search-csv", "search.csv"), ("--markdown", "summary.md"))]
    assert run_script("report.py", [*args, *(part for pair in outputs for part in pair)]) == 2
    assert "give both (the per-seed ensembles) or neither" in capsys.readouterr().err
