"""The whole workflow, end to end, on the real RetinaMNIST file with the tiny budgets of
.test/config.yaml: one run per test session, shared by the checks below."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter

import numpy as np
import onnxruntime
import pandas as pd
import pytest
import torch
import yaml
from medmnist.evaluator import getACC, getAUC
from PIL import Image
from scipy.stats import binomtest

from conftest import copy_workflow, predict_tables, snakemake
from darts_bohb.data import load_splits
from darts_bohb.genotype import load_genotype
from darts_bohb.methods import final_folder
from darts_bohb.network import build_network
from darts_bohb.report.comparisons import correct_per_image
from darts_bohb.runtime import make_runtime
from darts_bohb.settings import hyperband_brackets
from darts_bohb.training import predict_probabilities

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, real_data):
    workdir = copy_workflow(tmp_path_factory.mktemp("e2e") / "workflow", real_data)
    result = snakemake(workdir, "--cores", "2", "--configfile", ".test/config.yaml")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config.update(yaml.safe_load((workdir / ".test" / "config.yaml").read_text()))
    return workdir, config


def planned_jobs(output: str) -> dict[str, int]:
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:", 1)[1]
    return {name: int(count) for name, count in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M)
            if name != "total"}


def test_every_seed_has_a_loadable_genotype_from_its_search(tiny_run):
    workdir, config = tiny_run
    for seed in config["seeds"]:
        folder = workdir / "results" / "search" / f"seed{seed}"
        genotype = load_genotype(folder / "genotype.json")
        assert genotype.seed == seed and genotype.dataset == "retinamnist"
        alphas = pd.read_csv(folder / "alphas.csv")
        last = alphas[alphas.epoch == alphas.epoch.max()]
        for node in genotype.topology.node_names:
            probs = last[last.node == node].set_index("operation").probability
            assert genotype.probabilities[node] == pytest.approx(probs.to_dict())
        assert not (folder / "state").exists(), "a finished search leaves no resumable state"


def test_metrics_recomputed_from_predictions_with_medmnist_match(tiny_run, real_data):
    workdir, config = tiny_run
    test_labels = np.load(real_data)["test_labels"]
    folders = [workdir / "results" / "final" / f"seed{s}" for s in config["seeds"]]
    folders += [workdir / "results" / "baseline" / "final" / f"seed{s}" for s in config["baseline"]["seeds"]]
    folders += [workdir / "results" / "random" / "final" / f"seed{s}" for s in config["random"]["seeds"]]
    for folder in folders:
        metrics = json.loads((folder / "metrics.json").read_text())
        for key in ("accuracy", "auc", "macro_f1", "balanced_accuracy"):
            assert 0.0 <= metrics[key] <= 1.0, (folder, key)
        predictions = pd.read_csv(folder / "predictions.csv")
        assert np.array_equal(predictions["label"].to_numpy(), test_labels[:, 0])
        scores = predictions.filter(like="prob_").to_numpy()
        assert scores.shape == (400, 5)
        assert metrics["accuracy"] == pytest.approx(getACC(test_labels, scores, "ordinal-regression"), abs=1e-12)
        assert metrics["auc"] == pytest.approx(getAUC(test_labels, scores, "ordinal-regression"), abs=1e-12)


def test_each_seed_ensemble_averages_its_members_fold_models_and_states_its_estimate(tiny_run, real_data):
    """ensemble/predictions.csv is the weighted mean of the fold models BOHB kept (ensemble.pt),
    recomputed here model by model; its metrics agree with medmnist; the selection estimate
    and its error come from train+val only and sit beside the test score."""
    workdir, config = tiny_run
    test = load_splits(real_data, ("test",))["test"]
    runtime = make_runtime("cpu", config["runtime"]["precision"], config["resources"]["final"]["threads"])
    for folder in final_model_folders(workdir, config):
        bohb_folder = folder.parent.parent / "bohb" / folder.name
        ensemble = torch.load(bohb_folder / "ensemble.pt", weights_only=True)
        expected = 0.0
        threads = torch.get_num_threads()
        try:
            for member in ensemble["members"]:
                model = build_network(member["architecture"])
                folds = []
                for state in member["fold_states"]:
                    model.load_state_dict(state)
                    folds.append(predict_probabilities(model, test, runtime))
                expected = expected + member["weight"] * np.mean(folds, axis=0)
        finally:
            torch.set_num_threads(threads)
        predictions = pd.read_csv(folder / "ensemble" / "predictions.csv")
        scores = predictions.filter(like="prob_").to_numpy()
        np.testing.assert_allclose(scores, expected, atol=1e-6)
        metrics = json.loads((folder / "ensemble" / "metrics.json").read_text())
        assert metrics["accuracy"] == pytest.approx(getACC(predictions[["label"]].to_numpy(), scores,
                                                           "ordinal-regression"), abs=1e-12)
        assert metrics["n_models"] == sum(len(member["fold_states"]) for member in ensemble["members"])
        assert metrics["selection_estimate"] == ensemble["selection_estimate"]
        single = json.loads((folder / "metrics.json").read_text())
        incumbent = json.loads((bohb_folder / "incumbent.json").read_text())
        assert single["selection_estimate"] == incumbent["selection_estimate"] == incumbent["validation_score"]
        folds = config["hpo"]["cv_folds"]
        assert single["selection_method"].startswith(f"{folds}-fold stratified CV over train+val (1200 images)")
        assert all(len(member["fold_states"]) == folds for member in ensemble["members"])
        assert 0 < single["selection_std_error"] < 0.05


def test_final_model_reloads_with_weights_only(tiny_run, real_data):
    """The weights, loaded with weights_only into the network architecture.json rebuilds, give
    back the test predictions the final job wrote."""
    workdir, config = tiny_run
    folder = workdir / "results" / "final" / f"seed{config['seeds'][0]}"
    state = torch.load(folder / "model.pt", weights_only=True)
    model = build_network(json.loads((folder / "architecture.json").read_text()))
    model.load_state_dict(state)  # strict: every weight of the network, and nothing else
    threads = torch.get_num_threads()
    try:  # the job's runtime: one thread, the same autocast
        runtime = make_runtime("cpu", config["runtime"]["precision"], config["resources"]["final"]["threads"])
        probabilities = predict_probabilities(model, load_splits(real_data, ("test",))["test"], runtime)
    finally:
        torch.set_num_threads(threads)
    written = pd.read_csv(folder / "predictions.csv").filter(like="prob_").to_numpy()
    np.testing.assert_allclose(probabilities, written, atol=1e-6)


def final_model_folders(workdir, config):
    """The final folder of every seed of every method (the random control on the baseline's seeds by default)."""
    random_seeds = config.get("random", {}).get("seeds", config["baseline"]["seeds"])
    return ([workdir / "results" / "final" / f"seed{s}" for s in config["seeds"]]
            + [workdir / "results" / "baseline" / "final" / f"seed{s}" for s in config["baseline"]["seeds"]]
            + [workdir / "results" / "random" / "final" / f"seed{s}" for s in random_seeds])


def test_every_final_model_has_a_checked_onnx_file_and_a_model_card(tiny_run):
    workdir, config = tiny_run
    folders = final_model_folders(workdir, config)
    assert len(folders) == len(config["seeds"]) + 2 * len(config["baseline"]["seeds"])
    for folder in folders:
        metrics = json.loads((folder / "metrics.json").read_text())
        card = (folder / "MODEL_CARD.md").read_text()
        assert f"seed {metrics['seed']}" in card and f"On the test split: {metrics['n_images']} images" in card
        assert f"| accuracy | {metrics['accuracy']:.4f} |" in card and "not a diagnostic device" in card
        session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        assert session.get_inputs()[0].shape == ["batch", 3, 28, 28], folder
        log = workdir / "results" / "logs" / "export_onnx" / folder.relative_to(workdir / "results")
        assert "onnxruntime vs PyTorch on 400 test images" in log.with_suffix(".log").read_text()


def test_predict_script_reproduces_predictions_csv_with_both_backends(tiny_run, real_data, tmp_path):
    workdir, config = tiny_run
    folder = workdir / "results" / "final" / f"seed{config['seeds'][0]}"
    expected = pd.read_csv(folder / "predictions.csv").filter(like="prob_").to_numpy()
    found = {}
    tables = predict_tables(workdir, folder, real_data, tmp_path, config["resources"]["final"]["threads"])
    for run, table in tables.items():
        assert table["index"].tolist() == list(range(400))
        found[run] = table.filter(like="prob_").to_numpy()
    # The precision on record and the threads are the final job's, so its predictions come back.
    np.testing.assert_allclose(found["torch", "recorded"], expected, atol=1e-6, rtol=0)
    np.testing.assert_allclose(found["onnx", "recorded"], found["torch", "fp32"], atol=1e-5, rtol=0)


def test_bohb_folders_hold_a_complete_smac_run_beside_our_tables(tiny_run):
    workdir, config = tiny_run
    folders = [workdir / "results" / "bohb" / f"seed{s}" for s in config["seeds"]]
    folders += [workdir / "results" / "baseline" / "bohb" / f"seed{s}" for s in config["baseline"]["seeds"]]
    folders += [workdir / "results" / "random" / "bohb" / f"seed{s}" for s in config["random"]["seeds"]]
    for folder in folders:
        smac_files = {path.name for path in folder.rglob("*.json")}
        assert {"runhistory.json", "intensifier.json", "scenario.json"} <= smac_files, folder
        runhistory = pd.read_csv(folder / "runhistory.csv")
        incumbent = json.loads((folder / "incumbent.json").read_text())
        assert set(runhistory["status"]) == {"SUCCESS"}, folder
        # The tiny budget is one whole Hyperband round: every stage of every bracket, as planned.
        assert Counter(runhistory["budget"]) == hyperband_round_trials(config["hpo"]), folder
        assert runhistory["budget"].sum() == config["hpo"]["total_epochs"], folder
        first_stages = sum(stages[0][0] for stages in hyperband_brackets(
            config["hpo"]["min_budget"], config["hpo"]["max_budget"], config["hpo"]["eta"]))
        assert runhistory["config_id"].nunique() == first_stages, folder  # later stages promote, not sample
        best_at_max = runhistory[runhistory.budget == runhistory.budget.max()].score.max()
        assert incumbent["validation_score"] == pytest.approx(best_at_max)


def hyperband_round_trials(hpo: dict) -> Counter:
    """Trials per budget (whole epochs) of one Hyperband round."""
    trials: Counter = Counter()
    for stages in hyperband_brackets(hpo["min_budget"], hpo["max_budget"], hpo["eta"]):
        for configs, budget in stages:
            trials[round(budget)] += configs
    return trials


def test_report_files_exist_and_summary_matches_metrics(tiny_run):
    workdir, config = tiny_run
    reports = workdir / "reports"
    for name in ("bohb_progress.png", "arch_weights.png", "scores.png", "cells.png"):
        pixels = np.asarray(Image.open(reports / name).convert("L"))
        assert len(np.unique(pixels)) > 20 and (pixels < 128).mean() > 0.005, name
    for name in ("bohb_progress.svg", "arch_weights.svg", "scores.svg", "summary.md"):
        assert (reports / name).stat().st_size > 0
    summary = pd.read_csv(reports / "summary.csv")
    for method, seeds, root in (("nas", config["seeds"], "results/final"),
                                ("random", config["random"]["seeds"], "results/random/final"),
                                ("baseline", config["baseline"]["seeds"], "results/baseline/final")):
        for seed in seeds:
            for output, metrics_file in (("incumbent", "metrics.json"), ("seed_ensemble", "ensemble/metrics.json")):
                metrics = json.loads((workdir / root / f"seed{seed}" / metrics_file).read_text())
                row = summary[(summary.method == method) & (summary.seed == seed) & (summary.output == output)]
                assert len(row) == 1
                for key in ("accuracy", "auc", "macro_f1", "balanced_accuracy"):
                    assert row[f"test_{key}"].item() == pytest.approx(metrics[key], abs=1e-12)
                assert row["selection_estimate"].item() == pytest.approx(metrics["selection_estimate"])
    markdown = (reports / "summary.md").read_text()
    assert f"n = {len(config['seeds'])}" in markdown or f"n={len(config['seeds'])}" in markdown


def test_the_random_control_runs_the_nas_protocol_on_uniformly_drawn_cells(tiny_run):
    workdir, config = tiny_run
    genotype = load_genotype(workdir / "results" / "search" / "seed1" / "genotype.json")
    for seed in config["random"]["seeds"]:
        incumbent = json.loads((workdir / "results" / "random" / "bohb" / f"seed{seed}" / "incumbent.json").read_text())
        nas = json.loads((workdir / "results" / "bohb" / f"seed{seed}" / "incumbent.json").read_text())
        assert incumbent["method"] == "random" and len(incumbent["designs"]) == config["hpo"]["designs_per_cell"]
        assert incumbent["designs"] != nas["designs"]
        assert incumbent["architecture"]["topology"] == genotype.topology.to_dict()
        metrics = json.loads((workdir / "results" / "random" / "final" / f"seed{seed}" / "metrics.json").read_text())
        assert metrics["method"] == "random" and metrics["n_images"] == 400


def prediction_arrays(workdir, method: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The labels and class probabilities of a final model's predictions.csv."""
    frame = pd.read_csv(workdir / final_folder(method, seed) / "predictions.csv")
    return frame["label"].to_numpy(), frame.filter(like="prob_").to_numpy()


def test_the_report_compares_the_three_methods_and_summarises_the_search(tiny_run):
    workdir, config = tiny_run
    reports = workdir / "reports"
    comparisons = pd.read_csv(reports / "comparisons.csv", dtype={"level": str})
    assert list(comparisons.columns[:4]) == ["comparison", "output", "level", "metric"]
    assert {"difference", "ci_low", "ci_high", "p_value"} <= set(comparisons.columns)
    # Seed 1 is the one seed all three methods ran; both outputs of each are compared, the
    # incumbent (predictions.csv) and the per-seed ensemble (ensemble/predictions.csv).
    files = {"incumbent": "predictions.csv", "seed_ensemble": "ensemble/predictions.csv"}
    for pair, output in [(pair, output) for pair in ("nas - random", "nas - baseline", "random - baseline")
                         for output in files]:
        rows = comparisons[(comparisons["comparison"] == pair) & (comparisons["output"] == output)
                           & (comparisons["level"] == "1")].set_index("metric")
        assert rows.at["accuracy", "ci_low"] <= rows.at["accuracy", "difference"] <= rows.at["accuracy", "ci_high"]
        frames = [pd.read_csv(workdir / final_folder(method, 1) / files[output]).sort_values("index")
                  for method in pair.split(" - ")]
        correct = [correct_per_image(frame["label"].to_numpy(), frame.filter(like="prob_").to_numpy(),
                                     "ordinal-regression") for frame in frames]
        only = (int((correct[0] & ~correct[1]).sum()), int((~correct[0] & correct[1]).sum()))
        assert (rows.at["accuracy", "first_only_correct"], rows.at["accuracy", "second_only_correct"]) == only
        assert rows.at["accuracy", "difference"] == pytest.approx((only[0] - only[1]) / len(correct[0]))
        expected = binomtest(only[0], sum(only), 0.5).pvalue if sum(only) else 1.0
        assert rows.at["accuracy", "p_value"] == pytest.approx(expected) and pd.isna(rows.at["auc", "p_value"])
    search = pd.read_csv(reports / "search.csv")
    assert list(search.columns) == ["seed", "node", "derived", "p_derived", "p_zero", "entropy", "alpha_epochs_run"]
    assert sorted(set(search["seed"])) == config["seeds"] and len(search) == 6 * len(config["seeds"])
    genotype = json.loads((workdir / "results" / "search" / "seed1" / "genotype.json").read_text())
    assert 0 < genotype["cell"]["nodes"][0]["entropy"] <= np.log(4) + 1e-9  # .test's search leaves Zero out
    alpha_epochs = max(genotype["epochs_run"] - genotype["search"]["settings"]["arch"]["warmup_epochs"], 0)
    assert set(search.loc[search["seed"] == 1, "alpha_epochs_run"]) == {alpha_epochs}
    summary = pd.read_csv(reports / "summary.csv")
    nas = summary[(summary["method"] == "nas") & (summary["output"] == "incumbent")].set_index("seed")
    assert nas.at[1, "alpha_epochs_run"] == alpha_epochs
    markdown = (reports / "summary.md").read_text()
    assert "## Verdict" in markdown
    assert all(f"NAS+BOHB − random cells+BOHB, {output}: " in markdown for output in ("incumbent", "per-seed ensemble"))


def test_nothing_left_to_do_after_the_run(tiny_run):
    workdir, _ = tiny_run
    result = snakemake(workdir, "-n", "--configfile", ".test/config.yaml")
    assert result.returncode == 0 and planned_jobs(result.stdout + result.stderr) == {}


def test_html_report_is_written(tiny_run):
    workdir, _ = tiny_run
    result = snakemake(workdir, "--report", "reports/report.html", "--configfile", ".test/config.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (workdir / "reports" / "report.html").stat().st_size > 10_000


def test_redoing_one_seeds_genotype_reruns_only_that_seeds_downstream_jobs(tiny_run, tmp_path):
    """Snakemake ignores a deleted intermediate file when what depends on it is up to date
    (by design, snakemake/snakemake#1978), so a stage is redone by asking for its file too."""
    workdir, config = tiny_run
    copy = tmp_path / "copy"
    shutil.copytree(workdir, copy, symlinks=True)
    seed = config["seeds"][-1]
    genotype = f"results/search/seed{seed}/genotype.json"
    (copy / genotype).unlink()
    result = snakemake(copy, "-n", genotype, "reports/summary.md", "--configfile", ".test/config.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert planned_jobs(output) == {
        "export_genotype": 1, "bohb": 1, "final": 1,
        "plot_bohb_progress": 1, "plot_cells": 1, "plot_scores": 1, "report": 1,
    }
    assert re.findall(r"wildcards: seed=(\d+)", output) == [str(seed)] * 3


def test_one_figure_alone_needs_only_its_own_inputs(tmp_path, real_data):
    workdir = copy_workflow(tmp_path / "fresh", real_data)
    result = snakemake(workdir, "-n", "reports/scores.png", "--configfile", ".test/config.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = planned_jobs(result.stdout + result.stderr)
    assert "plot_scores" in jobs and "final" in jobs and "baseline_final" in jobs and "random_final" in jobs
    assert not {"plot_bohb_progress", "plot_arch_weights", "plot_cells", "report"} & set(jobs)


def test_forcerun_bohb_redoes_every_trial(tiny_run, tmp_path):
    """`--forcerun bohb` (README: rerunning one stage) trains every trial again instead of
    rewriting the outputs from the finished SMAC run."""
    workdir, config = tiny_run
    copy = tmp_path / "copy"
    shutil.copytree(workdir, copy, symlinks=True)
    seed = config["seeds"][0]
    smac_runhistory = copy / "results" / "bohb" / f"seed{seed}" / "smac" / str(seed) / "runhistory.json"
    before = json.loads(smac_runhistory.read_text())["data"]
    result = snakemake(copy, f"results/bohb/seed{seed}/incumbent.json", "--forcerun", "bohb", "--cores", "1",
                       "--configfile", ".test/config.yaml")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = (copy / "results" / "logs" / "bohb" / f"seed{seed}.log").read_text()
    assert "starting a fresh SMAC run" in log and "continuing the SMAC run" not in log
    after = json.loads(smac_runhistory.read_text())["data"]
    n_trials = sum(hyperband_round_trials(config["hpo"]).values())
    assert len(after) == len(before) == n_trials and f"trial {n_trials}/{n_trials}" in log
    assert min(trial["starttime"] for trial in after) > max(trial["endtime"] for trial in before)
