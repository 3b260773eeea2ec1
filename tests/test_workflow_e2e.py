"""The whole workflow, end to end, on the real RetinaMNIST file with the tiny budgets of
.test/config.yaml: one run per test session, shared by the checks below."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from medmnist.evaluator import getACC, getAUC
from PIL import Image

from conftest import copy_workflow, snakemake
from darts_bohb.genotype import load_genotype

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


def test_final_model_reloads_with_weights_only(tiny_run):
    workdir, config = tiny_run
    folder = workdir / "results" / "final" / f"seed{config['seeds'][0]}"
    state = torch.load(folder / "model.pt", weights_only=True)
    assert state and all(isinstance(value, torch.Tensor) for value in state.values())
    assert json.loads((folder / "architecture.json").read_text())["cells"]


def test_bohb_folders_hold_a_complete_smac_run_beside_our_tables(tiny_run):
    workdir, config = tiny_run
    folders = [workdir / "results" / "bohb" / f"seed{s}" for s in config["seeds"]]
    folders += [workdir / "results" / "baseline" / "bohb" / f"seed{s}" for s in config["baseline"]["seeds"]]
    for folder in folders:
        smac_files = {path.name for path in folder.rglob("*.json")}
        assert {"runhistory.json", "intensifier.json", "scenario.json"} <= smac_files, folder
        runhistory = pd.read_csv(folder / "runhistory.csv")
        incumbent = json.loads((folder / "incumbent.json").read_text())
        assert len(runhistory) >= 1
        best_at_max = runhistory[runhistory.budget == runhistory.budget.max()].score.max()
        assert incumbent["validation_score"] == pytest.approx(best_at_max)


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
                                ("baseline", config["baseline"]["seeds"], "results/baseline/final")):
        for seed in seeds:
            metrics = json.loads((workdir / root / f"seed{seed}" / "metrics.json").read_text())
            row = summary[(summary.method == method) & (summary.seed == seed)]
            assert len(row) == 1
            for key in ("accuracy", "auc", "macro_f1", "balanced_accuracy"):
                assert row[f"test_{key}"].item() == pytest.approx(metrics[key], abs=1e-12)
    markdown = (reports / "summary.md").read_text()
    assert f"n = {len(config['seeds'])}" in markdown or f"n={len(config['seeds'])}" in markdown


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
    assert "plot_scores" in jobs and "final" in jobs and "baseline_final" in jobs
    assert not {"plot_bohb_progress", "plot_arch_weights", "plot_cells", "report"} & set(jobs)
