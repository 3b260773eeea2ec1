"""The readers of darts_bohb.report.collect on a synthetic result tree (tests/report_fixtures.py
writes it in the file contracts of the design; no training runs here): they return the numbers
of the files, and a missing or malformed file fails with a message naming it."""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from darts_bohb.report.collect import (
    ReportInputError,
    SeedsByMethod,
    read_alphas,
    read_genotypes,
    read_incumbents,
    read_predictions,
    read_search_runs,
    read_seed_ensembles,
    read_stage_seconds,
    read_test_metrics,
    read_trajectories,
    read_trial_counts,
)
from report_fixtures import write_result_tree


@pytest.fixture
def tree(tmp_path):
    return write_result_tree(tmp_path / "results", nas_seeds=(1, 2), baseline_seeds=(1, 3))


def seeds_of(tree):
    return SeedsByMethod(nas=tree.nas_seeds, baseline=tree.baseline_seeds)


def test_test_metrics_are_the_numbers_of_each_metrics_file(tree):
    frame = read_test_metrics(tree.run_files(tree.final_file, "metrics.json")).set_index(["method", "seed"])
    assert sorted(frame.index) == sorted(tree.runs())
    for run, written in tree.metrics.items():
        for metric in ("accuracy", "auc", "macro_f1", "balanced_accuracy"):
            assert frame.at[run, f"test_{metric}"] == written[metric]
        # The fixture's metrics.json has no "validation" object, so no extra validation scores.
        assert math.isnan(frame.at[run, "val_auc"])


def test_validation_scores_in_metrics_json_are_read_when_present(tree):
    path = tree.final_file("nas", 1, "metrics.json")
    data = json.loads(path.read_text())
    data["validation"] = {"auc": 0.7125, "macro_f1": 0.3333}
    path.write_text(json.dumps(data))
    frame = read_test_metrics({("nas", 1): path})
    assert frame.loc[0, "val_auc"] == 0.7125
    assert frame.loc[0, "val_macro_f1"] == 0.3333
    assert math.isnan(frame.loc[0, "val_accuracy"])


def test_the_selection_fields_and_the_seed_ensembles_are_the_numbers_of_their_files(tree):
    metrics = read_test_metrics(tree.run_files(tree.final_file, "metrics.json")).set_index(["method", "seed"])
    ensembles = read_seed_ensembles(tree.run_files(tree.final_file, "ensemble/metrics.json")).set_index(
        ["method", "seed"])
    for run in tree.runs():
        for frame, written in ((metrics, tree.metrics[run]), (ensembles, tree.ensembles[run])):
            for key in ("selection_estimate", "selection_std_error", "selection_method", "accuracy", "auc"):
                column = key if key.startswith("selection_") else f"test_{key}"
                assert frame.at[run, column] == written[key], (run, key)
        assert ensembles.at[run, "n_models"] == 9
        assert ensembles.at[run, "members"] == f"3:0.5 {5 + run[1]}:0.3 2:0.2"


def test_metrics_from_before_the_selection_estimate_read_as_undefined(tmp_path):
    tree = write_result_tree(tmp_path / "results", nas_seeds=(1,), baseline_seeds=(), legacy=True)
    row = read_test_metrics(tree.run_files(tree.final_file, "metrics.json")).iloc[0]
    assert math.isnan(row["selection_estimate"]) and math.isnan(row["selection_std_error"])
    assert row["selection_method"] is None


@pytest.mark.parametrize("name, change, expected", [
    ("metrics.json", lambda d: d.pop("selection_std_error"),
     "field 'selection_std_error': expected a number >= 0, got None"),
    ("ensemble/metrics.json", lambda d: d.update(selection_estimate=None),
     "field 'selection_estimate': expected a score in [0, 1], got None"),
    ("ensemble/metrics.json", lambda d: d.update(n_models=0), "field 'n_models': expected at least 1, got 0"),
    ("ensemble/metrics.json", lambda d: d.update(members=[]), "field 'members': expected a non-empty list"),
    ("ensemble/metrics.json", lambda d: d["members"][1].pop("config_id"),
     "field 'members[1].config_id': expected an integer, got None"),
])
def test_a_malformed_selection_field_is_named(tree, name, change, expected):
    path = tree.final_file("nas", 2, name)
    _edit_json(path, change)
    reader = read_test_metrics if name == "metrics.json" else read_seed_ensembles
    with pytest.raises(ReportInputError, match=re.escape(f"{path}: {expected}")):
        reader({("nas", 2): path})


def test_incumbents_trials_and_search_runs_match_the_files(tree):
    incumbents = read_incumbents(tree.run_files(tree.bohb_file, "incumbent.json")).set_index(["method", "seed"])
    trials = read_trial_counts(tree.run_files(tree.bohb_file, "runhistory.csv")).set_index(["method", "seed"])
    for run in tree.runs():
        assert incumbents.at[run, "validation_score"] == tree.incumbents[run]["validation_score"]
        assert incumbents.at[run, "metric"] == "accuracy"
        assert trials.at[run, "bohb_trials"] == tree.trials[run]
    search = read_search_runs(tree.search_files("search.json")).set_index("seed")
    assert search.loc[1, ["epochs_run", "stopped_early"]].tolist() == [4, False]
    assert search.loc[2, ["epochs_run", "stopped_early"]].tolist() == [2, True]
    assert search.loc[2, "skip_threshold"] == 0.3


def test_alphas_and_trajectories_are_stacked_with_their_seed(tree):
    alphas = read_alphas(tree.search_files("alphas.csv"))
    # Seed 1 ran 4 epochs (5 blocks with the initial alphas), seed 2 stopped after 2 (3 blocks).
    assert alphas.groupby("seed")["epoch"].max().to_dict() == {1: 4, 2: 2}
    assert len(alphas) == (5 + 3) * 6 * 5
    trajectories = read_trajectories(tree.run_files(tree.bohb_file, "trajectory.csv"))
    assert set(map(tuple, trajectories[["method", "seed"]].drop_duplicates().values)) == set(tree.runs())
    last = trajectories.groupby(["method", "seed"])["score"].last()
    for run in tree.runs():
        assert last[run] == tree.incumbents[run]["validation_score"]


def test_stage_seconds_come_from_the_benchmark_files_and_a_missing_one_is_only_noted(tree):
    files = {(method, seed, stage): tree.benchmark_file(rule, seed)
             for method, seed in tree.runs()
             for stage, rule in ({"search": "darts_search", "bohb": "bohb", "final": "final"} if method == "nas"
                                 else {"bohb": "baseline_bohb", "final": "baseline_final"}).items()}
    tree.benchmark_file("bohb", 2).unlink()
    frame = read_stage_seconds(seeds_of(tree), files).set_index(["method", "seed", "stage"])
    assert frame.at[("nas", 1, "search"), "seconds"] == tree.seconds[("darts_search", 1)]
    assert frame.at[("baseline", 3, "final"), "seconds"] == tree.seconds[("baseline_final", 3)]
    assert not frame.at[("nas", 2, "bohb"), "present"]
    assert math.isnan(frame.at[("nas", 2, "bohb"), "seconds"])
    assert len(frame) == 2 * 3 + 2 * 2


def test_genotypes_are_loaded_per_seed(tree):
    genotypes = read_genotypes(tree.search_files("genotype.json"))
    assert {seed: g.derived_design() for seed, g in genotypes.items()} == {
        seed: g.derived_design() for seed, g in tree.genotypes.items()}


def _edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("corrupt, expected", [
    (lambda path: path.write_text('{"accuracy": 0.5, '), "not valid JSON"),
    (lambda path: path.write_text("[0.5, 0.7]"), "expected a JSON object"),
    (lambda path: _edit_json(path, lambda d: d.pop("auc")), "field 'auc': expected a score in [0, 1], got None"),
    (lambda path: _edit_json(path, lambda d: d.update(accuracy=1.7)), "field 'accuracy': expected a score in [0, 1]"),
    (lambda path: _edit_json(path, lambda d: d.update(macro_f1="0.4")), "field 'macro_f1'"),
    (lambda path: _edit_json(path, lambda d: d.update(seed=5)), "field 'seed' is 5, but the file was given for seed 1"),
    (lambda path: _edit_json(path, lambda d: d.update(method="baseline")), "field 'method' is 'baseline'"),
    (lambda path: _edit_json(path, lambda d: d.update(split="val")), "field 'split': expected 'test'"),
    (lambda path: path.unlink(), "no such file (written by rule final)"),
])
def test_a_malformed_metrics_file_is_named_with_what_is_wrong(tree, corrupt, expected):
    path = tree.final_file("nas", 1, "metrics.json")
    corrupt(path)
    with pytest.raises(ReportInputError) as error:
        read_test_metrics(tree.run_files(tree.final_file, "metrics.json"))
    assert str(path) in str(error.value)
    assert expected in str(error.value)


HEADER = "wallclock_s,cumulative_epochs,score\n"


@pytest.mark.parametrize("content, expected", [
    ("wallclock_s,score\n1.0,0.5\n", "missing column(s) ['cumulative_epochs']"),
    (HEADER + "1.0,3,0.5\n2.0,six,0.6\n", "column 'cumulative_epochs', data row 2: expected a number, got 'six'"),
    (HEADER, "has a header but no rows"),
    ("", "not a readable table"),
    (HEADER + "1.0,3,\n", "column 'score', data row 1: expected a number, got an empty cell"),
    (HEADER + "soon,3,0.5\n", "column 'wallclock_s', data row 1: expected a number, got 'soon'"),
])
def test_a_malformed_trajectory_is_named_with_the_column_at_fault(tree, content, expected):
    path = tree.bohb_file("baseline", 3, "trajectory.csv")
    path.write_text(content)
    with pytest.raises(ReportInputError) as error:
        read_trajectories(tree.run_files(tree.bohb_file, "trajectory.csv"))
    assert str(path) in str(error.value) and expected in str(error.value)


def test_a_malformed_genotype_names_the_file_and_field(tree):
    path = tree.search_file(2, "genotype.json")
    _edit_json(path, lambda d: d["cell"]["nodes"][0].update(kernel_size=4))
    with pytest.raises(ReportInputError, match="kernel_size") as error:
        read_genotypes(tree.search_files("genotype.json"))
    assert str(path) in str(error.value)


def test_a_search_summary_without_the_early_stop_flag_is_rejected(tree):
    path = tree.search_file(1, "search.json")
    _edit_json(path, lambda d: d.pop("stopped_early"))
    with pytest.raises(ReportInputError, match="'stopped_early': expected true or false") as error:
        read_search_runs(tree.search_files("search.json"))
    assert str(path) in str(error.value)


def test_a_trajectory_point_without_wall_clock_is_kept_for_the_epochs_panel(tree):
    path = tree.bohb_file("nas", 1, "trajectory.csv")
    path.write_text("wallclock_s,cumulative_epochs,budget,cost,score,config_id\n,3,3,0.5,0.5,1\n12.5,6,3,0.4,0.6,2\n")
    frame = read_trajectories({("nas", 1): path})
    assert frame["cumulative_epochs"].tolist() == [3, 6]
    assert math.isnan(frame.loc[0, "wallclock_s"]) and frame.loc[1, "wallclock_s"] == 12.5


def test_predictions_are_aligned_by_test_image_whatever_the_row_order(tree):
    # The fixture writes each seed's rows in its own order, so alignment by `index` is needed.
    first = pd.read_csv(tree.final_file("nas", 1, "predictions.csv"))["index"].tolist()
    second = pd.read_csv(tree.final_file("nas", 2, "predictions.csv"))["index"].tolist()
    assert first != second and sorted(first) == sorted(second)
    predictions = read_predictions(tree.run_files(tree.final_file, "predictions.csv"))
    assert set(predictions) == {"nas", "baseline"}
    for method, seeds in (("nas", tree.nas_seeds), ("baseline", tree.baseline_seeds)):
        runs = predictions[method]
        assert runs.seeds == seeds
        assert runs.index.tolist() == list(range(len(tree.test_labels)))
        assert runs.labels.tolist() == tree.test_labels.tolist()
        assert runs.probabilities.shape == (len(seeds), len(tree.test_labels), 5)
        for position, seed in enumerate(seeds):
            np.testing.assert_allclose(runs.probabilities[position], tree.probabilities[(method, seed)],
                                       rtol=0, atol=1e-15)


def _edit_predictions(path, change):
    """Rewrite a predictions.csv through `change`, which takes and returns the frame."""
    change(pd.read_csv(path)).to_csv(path, index=False)


def _set_cell(row, column, value):
    def change(frame):
        frame = frame.astype({column: float})
        frame.loc[row, column] = value
        return frame
    return change


@pytest.mark.parametrize("change, expected", [
    (lambda f: f.drop(columns="prob_2"),
     "expected columns prob_0, prob_1, ... (one per class, at least 2), got ['prob_0', 'prob_1', 'prob_3', 'prob_4']"),
    (lambda f: f.drop(columns="label"), "missing column(s) ['label']"),
    (_set_cell(0, "label", 5), "column 'label' has values outside 0..4"),
    (lambda f: f.assign(index=f["index"].where(f.index != 1, f["index"][0])), "appears more than once"),
    (_set_cell(2, "prob_1", 1.25), "probabilities outside [0, 1]"),
    (_set_cell(2, "index", 2.5), "column 'index', data row 3: expected an integer, got 2.5"),
])
def test_a_malformed_predictions_file_is_named_with_what_is_wrong(tree, change, expected):
    path = tree.final_file("baseline", 3, "predictions.csv")
    _edit_predictions(path, change)
    with pytest.raises(ReportInputError) as error:
        read_predictions(tree.run_files(tree.final_file, "predictions.csv"))
    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_a_missing_predictions_file_names_the_rule_that_writes_it(tree):
    path = tree.final_file("baseline", 3, "predictions.csv")
    path.unlink()
    with pytest.raises(ReportInputError, match="no such file \\(written by rule baseline_final\\)") as error:
        read_predictions(tree.run_files(tree.final_file, "predictions.csv"))
    assert str(path) in str(error.value)


def _relabel(image):
    def change(frame):
        row = frame.index[frame["index"] == image][0]
        frame.loc[row, "label"] = (frame.loc[row, "label"] + 1) % 5
        return frame
    return change


@pytest.mark.parametrize("change, expected", [
    (_relabel(7), "disagree on the label of test image 7 ("),
    (lambda f: f[f["index"] != 11], "do not cover the same test images (39 and 40 rows; index 11 is only in {first})"),
    (lambda f: f.assign(prob_5=0.0), "has 6 classes, but {first} has 5"),
])
def test_seeds_whose_predictions_do_not_line_up_are_rejected_naming_both_files(tree, change, expected):
    first, second = (tree.final_file("baseline", seed, "predictions.csv") for seed in tree.baseline_seeds)
    _edit_predictions(second, change)
    with pytest.raises(ReportInputError) as error:
        read_predictions(tree.run_files(tree.final_file, "predictions.csv"))
    assert str(error.value).startswith(f"{second} ")
    assert expected.format(first=first) in str(error.value)
