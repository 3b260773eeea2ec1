"""The run's manifest and its readers (darts_bohb/report/run.py) on a synthetic result tree
(tests/report_fixtures.py writes it in the file contracts of the design): they return the numbers
of the files, and refuse what would mix runs up, naming the files."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from darts_bohb.report.run import (
    ReportInputError,
    Run,
    read_genotypes,
    read_predictions,
    read_scores,
    read_search_runs,
    read_tables,
)
from report_fixtures import write_result_tree


@pytest.fixture
def tree(tmp_path):
    return write_result_tree(tmp_path / "results", nas_seeds=(1, 2), baseline_seeds=(1, 3))


def test_the_manifest_gives_each_method_its_seeds_and_files_in_order(tree):
    manifest = tree.manifest()
    del manifest["seeds"]["random"]  # a rule that reports on some methods lists only theirs
    run = Run.from_json(json.dumps(manifest))
    assert run.seeds == {"nas": (1, 2), "random": (), "baseline": (1, 3)}
    assert list(run.files("metrics")) == [("nas", 1), ("nas", 2), ("baseline", 1), ("baseline", 3)]
    assert run.files("genotype", ["nas"])[("nas", 2)] == tree.search_file(2, "genotype.json")
    assert run.describe() == "NAS+BOHB: n=2 seeds, random cells+BOHB: n=0 seeds, baseline: n=2 seeds"
    assert run.medmnist_task() == "ordinal-regression"  # RetinaMNIST's, from medmnist.INFO


def test_scores_are_the_numbers_of_both_outputs_files(tree):
    frame = read_scores(tree.run()).set_index(["output", "method", "seed"])
    for run in tree.runs():
        for output, written in (("incumbent", tree.metrics[run]), ("seed_ensemble", tree.ensembles[run])):
            row = frame.loc[(output, *run)]
            for key in ("accuracy", "auc", "macro_f1", "balanced_accuracy"):
                assert row[f"test_{key}"] == written[key], (run, output, key)
            for key in ("selection_estimate", "selection_std_error", "selection_method"):
                assert row[key] == written[key], (run, output, key)
            assert row["val_score"] == written["validation_score"]
        assert frame.loc[("incumbent", *run), "n_models"] == 1 and pd.isna(frame.loc[("incumbent", *run), "members"])
        assert frame.loc[("seed_ensemble", *run), "n_models"] == 9
        assert frame.loc[("seed_ensemble", *run), "members"] == f"3:0.5 {5 + run[1]}:0.3 2:0.2"


def test_an_undefined_score_reads_as_nan(tree):
    path = tree.final_file("nas", 2, "metrics.json")
    path.write_text(json.dumps({**tree.metrics[("nas", 2)], "auc": None, "balanced_accuracy": None}))
    frame = read_scores(tree.run(), ["incumbent"]).set_index(["method", "seed"])
    assert math.isnan(frame.at[("nas", 2), "test_auc"]) and frame["test_auc"].dtype == float


@pytest.mark.parametrize("name, change, found", [
    ("metrics.json", {"seed": 1}, "baseline seed 1"),
    ("ensemble/metrics.json", {"method": "nas"}, "nas seed 3"),
])
def test_a_result_of_another_method_or_seed_is_refused_naming_the_file(tree, name, change, found):
    path = tree.final_file("baseline", 3, name)
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(ReportInputError, match=f"{path} is the result of {found}, but the manifest gives it for "
                                               "baseline seed 3"):
        read_scores(tree.run())


def test_a_genotype_of_another_seed_is_refused(tree):
    path = tree.search_file(2, "genotype.json")
    path.write_text(tree.search_file(1, "genotype.json").read_text())
    with pytest.raises(ReportInputError, match="is the result of nas seed 1, but the manifest gives it for nas seed 2"):
        read_genotypes(tree.run())


def test_search_runs_and_genotypes_are_those_of_each_seed(tree):
    search = read_search_runs(tree.run()).set_index("seed")
    assert search.loc[1, ["epochs_run", "stopped_early"]].tolist() == [4, False]
    assert search.loc[2, ["epochs_run", "stopped_early", "skip_threshold"]].tolist() == [2, True, 0.3]
    genotypes = read_genotypes(tree.run())
    assert {seed: g.derived_design() for seed, g in genotypes.items()} == {
        seed: g.derived_design() for seed, g in tree.genotypes.items()}


def test_tables_are_stacked_with_their_method_and_seed(tree):
    run = tree.run()
    alphas = read_tables(run.files("alphas", ["nas"]))
    # Seed 1 ran 4 epochs (5 blocks with the initial alphas), seed 2 stopped after 2 (3 blocks).
    assert alphas.groupby("seed")["epoch"].max().to_dict() == {1: 4, 2: 2} and len(alphas) == (5 + 3) * 6 * 5
    trajectories = read_tables(run.files("trajectory"))
    last = trajectories.groupby(["method", "seed"])["score"].last()
    assert {key: last[key] for key in tree.runs()} == {key: tree.incumbents[key]["validation_score"]
                                                       for key in tree.runs()}


def test_a_trajectory_point_without_wall_clock_is_kept_for_the_epochs_panel(tree):
    path = tree.bohb_file("nas", 1, "trajectory.csv")
    path.write_text("wallclock_s,cumulative_epochs,budget,cost,score,config_id\n,3,3,0.5,0.5,1\n12.5,6,3,0.4,0.6,2\n")
    frame = read_tables({("nas", 1): path})
    assert frame["cumulative_epochs"].tolist() == [3, 6]
    assert math.isnan(frame.loc[0, "wallclock_s"]) and frame.loc[1, "wallclock_s"] == 12.5


def test_the_fixtures_predictions_are_aligned_by_test_image_whatever_the_row_order(tree):
    run = tree.run()
    predictions = read_predictions(run.files("predictions"), run.files("ensemble_predictions").values())
    for method, seeds in (("nas", tree.nas_seeds), ("baseline", tree.baseline_seeds)):
        assert predictions[method].seeds == seeds and predictions[method].labels.tolist() == tree.test_labels.tolist()
        for position, seed in enumerate(seeds):
            np.testing.assert_allclose(predictions[method].probabilities[position], tree.probabilities[(method, seed)],
                                       rtol=0, atol=1e-15)
