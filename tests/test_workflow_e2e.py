"""The whole workflow, end to end, over the tiny sweep: one invocation of `--configfile .test/config.yaml
.test/sweep.yaml` per test session runs RetinaMNIST 28 px (the real file) and a synthetic multi-label
data set of one's own in MedMNIST's layout (tests/task_fixtures.py; only the RetinaMNIST file is
available to the tests) in one DAG, with the tiny budgets. The checks below share that run; each data
set's files also equal those of a run of that data set alone."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime
import pandas as pd
import pytest
import torch
import yaml
from medmnist.evaluator import getACC, getAUC
from PIL import Image
from scipy.stats import binomtest
from snakemake.utils import update_config

from conftest import REPO, SWEEP, copy_workflow, predict_tables, snakemake, start_snakemake
from darts_bohb.data import load_splits
from darts_bohb.genotype import load_genotype
from darts_bohb.network import build_network
from darts_bohb.report.comparisons import correct_per_image
from darts_bohb.runtime import make_runtime
from darts_bohb.settings import hyperband_brackets
from darts_bohb.tasks import MULTI_LABEL_TASK, dataset_task, medmnist_info
from darts_bohb.training import predict_probabilities

pytestmark = pytest.mark.e2e

SWEEP_SETS = [f"{entry['flag']}_{entry['size']}" for entry in
              yaml.safe_load((REPO / ".test" / "sweep.yaml").read_text())["datasets"]]
RETINA = "retinamnist_28"
METHODS = ("nas", "random", "baseline")
OUTPUTS = {"incumbent": "metrics.json", "seed_ensemble": "ensemble/metrics.json"}


@dataclass
class DataSet:
    """One data set of a finished run: where its results are, its task and its test split."""

    workdir: Path
    entry: dict
    config: dict

    @property
    def name(self) -> str:
        return f"{self.entry['flag']}_{self.entry['size']}"

    @property
    def results(self) -> Path:
        return self.workdir / "results" / self.name

    @property
    def reports(self) -> Path:
        return self.workdir / "reports" / self.name

    @property
    def data(self) -> Path:
        return self.results / "data.npz"

    @property
    def task(self) -> str:
        return dataset_task(self.entry["flag"], self.entry.get("task"), self.entry.get("source"), medmnist_info())

    def seeds(self, method: str) -> list[int]:
        """The seeds of a method (the random control on the baseline's unless random.seeds says otherwise)."""
        if method == "nas":
            return self.config["seeds"]
        return self.config.get(method, {}).get("seeds", self.config["baseline"]["seeds"])

    def folder(self, method: str, stage: str, seed: int) -> Path:
        """results/{flag}_{size}/{,random/,baseline/}{bohb,final}/seed{seed}"""
        return self.results / ("" if method == "nas" else method) / stage / f"seed{seed}"

    def runs(self) -> list[tuple[str, int]]:
        return [(method, seed) for method in METHODS for seed in self.seeds(method)]

    def arrays(self) -> dict[str, np.ndarray]:
        with np.load(self.data) as data:
            return {key: data[key] for key in data.files}


@dataclass
class Run:
    workdir: Path
    config: dict

    def datasets(self) -> dict[str, DataSet]:
        return {entry.name: entry for entry in
                (DataSet(self.workdir, entry, self.config) for entry in self.config["datasets"])}


def merged_config(workdir: Path, *files: str) -> dict:
    """config.yaml with `files` laid over it, as `--configfile` merges them."""
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    for name in files:
        update_config(config, yaml.safe_load((workdir / name).read_text()))
    return config


@pytest.fixture(scope="session")
def sweep_run(tmp_path_factory, real_data) -> Run:
    workdir = copy_workflow(tmp_path_factory.mktemp("e2e") / "workflow", real_data)
    result = snakemake(workdir, "--cores", "2", *SWEEP)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    run = Run(workdir, merged_config(workdir, *SWEEP[1:]))
    assert sorted(run.datasets()) == sorted(SWEEP_SETS)
    return run


@pytest.fixture(params=SWEEP_SETS)
def dataset(request, sweep_run) -> DataSet:
    """Each data set of the sweep in turn."""
    return sweep_run.datasets()[request.param]


def labels_of(predictions: pd.DataFrame) -> np.ndarray:
    """The label column(s) of a predictions.csv: `label`, or `label_0`... for a multi-label task."""
    return predictions.filter(regex=r"^label").to_numpy()


def planned_jobs(output: str) -> dict[str, int]:
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:", 1)[1]
    return {name: int(count) for name, count in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M)
            if name != "total"}


# --- a data set run alone gives the files of the sweep ----------------------------------------------

def comparable(path: Path) -> bytes:
    """A file's bytes, but for the value of a JSON file's "seconds": how long a job took, never equal."""
    text = path.read_bytes()
    return re.sub(rb'("seconds": )[-+0-9.eE]+', rb"\1<seconds>", text) if path.suffix == ".json" else text


def per_seed_files(dataset: DataSet, seeds: dict[str, list[int]]) -> list[Path]:
    """The files of `seeds` (by method) that a data set run alone must give back unchanged, relative to
    its results folder: genotype.json, incumbent.json, predictions.csv (the incumbent's and the seed
    ensemble's) and metrics.json (seconds aside)."""
    files = [Path("search") / f"seed{seed}" / "genotype.json" for seed in seeds.get("nas", [])]
    for method, method_seeds in seeds.items():
        for seed in method_seeds:
            bohb = dataset.folder(method, "bohb", seed).relative_to(dataset.results)
            final = dataset.folder(method, "final", seed).relative_to(dataset.results)
            files += [bohb / "incumbent.json", final / "predictions.csv", final / "metrics.json",
                      final / "ensemble" / "predictions.csv"]
    return files


def test_a_data_set_run_alone_gives_the_files_of_the_sweep(sweep_run, real_data, tmp_path):
    """The synthetic set alone with one seed (NAS seed 1: search, BOHB and final model), and one
    RetinaMNIST target (the baseline's seed 1) with RetinaMNIST alone: each in a fresh copy, the two
    side by side, and their files byte for byte those of the sweep."""
    datasets = sweep_run.datasets()
    synthetic = next(name for name in SWEEP_SETS if name != RETINA)
    alone = {}
    for name, method in ((synthetic, "nas"), (RETINA, "baseline")):
        workdir = copy_workflow(tmp_path / name, real_data)
        config = {"datasets": [datasets[name].entry], "seeds": [1], "baseline": {"seeds": [1]},
                  "random": {"seeds": [1]}}
        files = per_seed_files(datasets[name], {method: [1]})
        (workdir / "alone.yaml").write_text(yaml.safe_dump(config))
        # Only what the compared files need: no report, no ONNX.
        targets = [f"results/{name}/{file}" for file in files]
        alone[name] = workdir, files, start_snakemake(workdir, *targets, "--cores", "1",
                                                      "--configfile", ".test/config.yaml", "alone.yaml")
    for name, (workdir, files, process) in alone.items():
        output, _ = process.communicate(timeout=1200)
        assert process.returncode == 0, output[-4000:]
        assert len(files) == (5 if name == synthetic else 4)
        for file in files:
            assert comparable(workdir / "results" / name / file) == comparable(datasets[name].results / file), file


# --- per data set -----------------------------------------------------------------------------------

def test_every_seed_has_a_loadable_genotype_from_its_search(dataset):
    for seed in dataset.seeds("nas"):
        folder = dataset.results / "search" / f"seed{seed}"
        genotype = load_genotype(folder / "genotype.json")
        assert genotype.seed == seed and genotype.dataset == dataset.entry["flag"]
        alphas = pd.read_csv(folder / "alphas.csv")
        last = alphas[alphas.epoch == alphas.epoch.max()]
        for node in genotype.topology.node_names:
            probs = last[last.node == node].set_index("operation").probability
            assert genotype.probabilities[node] == pytest.approx(probs.to_dict())
        assert not (folder / "state").exists(), "a finished search leaves no resumable state"


def test_metrics_recomputed_from_predictions_with_medmnist_match(dataset):
    arrays = dataset.arrays()
    test_labels = arrays["test_labels"]
    if dataset.task == MULTI_LABEL_TASK:
        n_classes = test_labels.shape[1]
        label_columns = [f"label_{j}" for j in range(n_classes)]
    else:
        n_classes = len(np.unique(np.concatenate([arrays[f"{split}_labels"] for split in ("train", "val", "test")])))
        label_columns = ["label"]
    for method, seed in dataset.runs():
        folder = dataset.folder(method, "final", seed)
        metrics = json.loads((folder / "metrics.json").read_text())
        for key in ("accuracy", "auc", "macro_f1", "balanced_accuracy"):
            if key == "balanced_accuracy" and dataset.task == MULTI_LABEL_TASK:  # labels, not classes
                assert metrics[key] is None
            else:
                assert 0.0 <= metrics[key] <= 1.0, (folder, key)
        predictions = pd.read_csv(folder / "predictions.csv")
        assert list(predictions.columns) == ["index", *label_columns, *(f"prob_{j}" for j in range(n_classes))]
        assert np.array_equal(labels_of(predictions), test_labels)
        scores = predictions.filter(like="prob_").to_numpy()
        assert scores.shape == (len(test_labels), n_classes)
        assert metrics["accuracy"] == pytest.approx(getACC(test_labels, scores, dataset.task), abs=1e-12)
        assert metrics["auc"] == pytest.approx(getAUC(test_labels, scores, dataset.task), abs=1e-12)


def test_each_seed_ensemble_averages_its_members_fold_models_and_states_its_estimate(dataset):
    """ensemble/predictions.csv is the weighted mean of the fold models BOHB kept (ensemble.pt),
    recomputed here model by model; its metrics agree with medmnist; the selection estimate
    and its error come from train+val only and sit beside the test score."""
    config = dataset.config
    splits = load_splits(dataset.data, ("train", "val", "test"))
    test = splits["test"]
    runtime = make_runtime("cpu", config["runtime"]["precision"], config["resources"]["final"]["threads"])
    for method, seed in dataset.runs():
        folder, bohb_folder = dataset.folder(method, "final", seed), dataset.folder(method, "bohb", seed)
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
        assert metrics["accuracy"] == pytest.approx(getACC(labels_of(predictions), scores,
                                                           dataset.task), abs=1e-12)
        assert metrics["n_models"] == sum(len(member["fold_states"]) for member in ensemble["members"])
        assert metrics["selection_estimate"] == ensemble["selection_estimate"]
        single = json.loads((folder / "metrics.json").read_text())
        incumbent = json.loads((bohb_folder / "incumbent.json").read_text())
        assert single["selection_estimate"] == incumbent["selection_estimate"] == incumbent["validation_score"]
        folds = config["hpo"]["cv_folds"]
        images = len(splits["train"].labels) + len(splits["val"].labels)
        # Stratified by class; a multi-label set's folds are drawn plainly.
        stratified = "" if dataset.task == MULTI_LABEL_TASK else "stratified "
        assert single["selection_method"].startswith(f"{folds}-fold {stratified}CV over train+val ({images} images)")
        assert all(len(member["fold_states"]) == folds for member in ensemble["members"])
        std_error = single["selection_std_error"]
        # The synthetic set is easy: its folds may agree exactly.
        assert (0 <= std_error < 0.1) if dataset.entry.get("task") else (0 < std_error < 0.05)


def test_final_model_reloads_with_weights_only(dataset):
    """The weights, loaded with weights_only into the network architecture.json rebuilds, give
    back the test predictions the final job wrote."""
    config = dataset.config
    folder = dataset.folder("nas", "final", dataset.seeds("nas")[0])
    state = torch.load(folder / "model.pt", weights_only=True)
    model = build_network(json.loads((folder / "architecture.json").read_text()))
    model.load_state_dict(state)  # strict: every weight of the network, and nothing else
    threads = torch.get_num_threads()
    try:  # the job's runtime: one thread, the same autocast
        runtime = make_runtime("cpu", config["runtime"]["precision"], config["resources"]["final"]["threads"])
        probabilities = predict_probabilities(model, load_splits(dataset.data, ("test",))["test"], runtime)
    finally:
        torch.set_num_threads(threads)
    written = pd.read_csv(folder / "predictions.csv").filter(like="prob_").to_numpy()
    np.testing.assert_allclose(probabilities, written, atol=1e-6)


def test_every_final_model_has_a_checked_onnx_file_and_a_model_card(dataset):
    images = dataset.arrays()["test_images"]
    channels = 1 if images.ndim == 3 else images.shape[-1]
    runs = dataset.runs()
    assert len(runs) == len(dataset.config["seeds"]) + 2 * len(dataset.config["baseline"]["seeds"])
    for method, seed in runs:
        folder = dataset.folder(method, "final", seed)
        metrics = json.loads((folder / "metrics.json").read_text())
        card = (folder / "MODEL_CARD.md").read_text()
        assert f"seed {metrics['seed']}" in card and f"On the test split: {metrics['n_images']} images" in card
        assert f"| accuracy | {metrics['accuracy']:.4f} |" in card and "not a diagnostic device" in card
        session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        assert session.get_inputs()[0].shape == ["batch", channels, 28, 28], folder
        log = dataset.results / "logs" / "export_onnx" / folder.relative_to(dataset.results)
        assert f"onnxruntime vs PyTorch on {len(images)} test images" in log.with_suffix(".log").read_text()


def test_predict_script_reproduces_predictions_csv_with_both_backends(dataset, tmp_path):
    folder = dataset.folder("nas", "final", dataset.seeds("nas")[0])
    expected = pd.read_csv(folder / "predictions.csv").filter(like="prob_").to_numpy()
    found = {}
    tables = predict_tables(dataset.workdir, folder, dataset.data, tmp_path,
                            dataset.config["resources"]["final"]["threads"])
    for run, table in tables.items():
        assert table["index"].tolist() == list(range(len(expected)))
        found[run] = table.filter(like="prob_").to_numpy()
        if dataset.task == MULTI_LABEL_TASK:  # the labels above 0.5, by name, instead of one most probable class
            above = [";".join(str(j) for j in np.flatnonzero(row > 0.5)) for row in found[run]]
            assert table["predicted_labels"].fillna("").astype(str).tolist() == above
    # The precision on record and the threads are the final job's, so its predictions come back.
    np.testing.assert_allclose(found["torch", "recorded"], expected, atol=1e-6, rtol=0)
    np.testing.assert_allclose(found["onnx", "recorded"], found["torch", "fp32"], atol=1e-5, rtol=0)


def test_bohb_folders_hold_a_complete_smac_run_beside_our_tables(dataset):
    hpo = dataset.config["hpo"]
    for method, seed in dataset.runs():
        folder = dataset.folder(method, "bohb", seed)
        smac_files = {path.name for path in folder.rglob("*.json")}
        assert {"runhistory.json", "intensifier.json", "scenario.json"} <= smac_files, folder
        runhistory = pd.read_csv(folder / "runhistory.csv")
        incumbent = json.loads((folder / "incumbent.json").read_text())
        assert set(runhistory["status"]) == {"SUCCESS"}, folder
        # The tiny budget is one whole Hyperband round: every stage of every bracket, as planned.
        assert Counter(runhistory["budget"]) == hyperband_round_trials(hpo), folder
        assert runhistory["budget"].sum() == hpo["total_epochs"], folder
        first_stages = sum(stages[0][0] for stages in hyperband_brackets(hpo["min_budget"], hpo["max_budget"],
                                                                         hpo["eta"]))
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


def test_report_files_exist_and_summary_matches_metrics(dataset):
    reports = dataset.reports
    for name in ("bohb_progress.png", "arch_weights.png", "scores.png", "cells.png"):
        pixels = np.asarray(Image.open(reports / name).convert("L"))
        assert len(np.unique(pixels)) > 20 and (pixels < 128).mean() > 0.005, name
    for name in ("bohb_progress.svg", "arch_weights.svg", "scores.svg", "summary.md"):
        assert (reports / name).stat().st_size > 0
    assert sorted(path.name for path in (reports / "cells").iterdir()) == [
        f"seed{seed}.png" for seed in dataset.seeds("nas")]
    summary = pd.read_csv(reports / "summary.csv")
    for method, seed in dataset.runs():
        for output, metrics_file in OUTPUTS.items():
            metrics = json.loads((dataset.folder(method, "final", seed) / metrics_file).read_text())
            row = summary[(summary.method == method) & (summary.seed == seed) & (summary.output == output)]
            assert len(row) == 1
            for key in ("accuracy", "auc", "macro_f1", "balanced_accuracy"):
                expected = float("nan") if metrics[key] is None else metrics[key]  # undefined: empty in the CSV
                assert row[f"test_{key}"].item() == pytest.approx(expected, abs=1e-12, nan_ok=True)
            assert row["selection_estimate"].item() == pytest.approx(metrics["selection_estimate"])
    markdown = (reports / "summary.md").read_text()
    n = len(dataset.seeds("nas"))
    assert f"n = {n}" in markdown or f"n={n}" in markdown
    assert dataset.entry["flag"] in markdown


def test_a_data_set_of_one_s_own_is_reported_without_published_references(sweep_run):
    for dataset in sweep_run.datasets().values():
        summary = (dataset.reports / "summary.md").read_text()
        incumbent = json.loads((dataset.folder("nas", "bohb", 1) / "incumbent.json").read_text())
        if dataset.entry.get("task"):  # the synthetic set, grayscale
            assert "No published results are listed" in summary and "ResNet-18" not in summary
            assert incumbent["architecture"]["in_channels"] == 1
        else:
            assert "ResNet-18" in summary and incumbent["architecture"]["in_channels"] == 3


def test_the_random_control_runs_the_nas_protocol_on_uniformly_drawn_cells(dataset):
    config = dataset.config
    genotype = load_genotype(dataset.results / "search" / "seed1" / "genotype.json")
    n_test = len(dataset.arrays()["test_labels"])
    for seed in dataset.seeds("random"):
        incumbent = json.loads((dataset.folder("random", "bohb", seed) / "incumbent.json").read_text())
        nas = json.loads((dataset.folder("nas", "bohb", seed) / "incumbent.json").read_text())
        assert incumbent["method"] == "random" and len(incumbent["designs"]) == config["hpo"]["designs_per_cell"]
        assert incumbent["designs"] != nas["designs"]
        assert incumbent["architecture"]["topology"] == genotype.topology.to_dict()
        metrics = json.loads((dataset.folder("random", "final", seed) / "metrics.json").read_text())
        assert metrics["method"] == "random" and metrics["n_images"] == n_test


def test_the_report_compares_the_three_methods_and_summarises_the_search(dataset):
    reports = dataset.reports
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
        frames = [pd.read_csv(dataset.folder(method, "final", 1) / files[output]).sort_values("index")
                  for method in pair.split(" - ")]
        correct = [correct_per_image(labels_of(frame), frame.filter(like="prob_").to_numpy(),
                                     dataset.task) for frame in frames]
        only = (int((correct[0] & ~correct[1]).sum()), int((~correct[0] & correct[1]).sum()))
        assert (rows.at["accuracy", "first_only_correct"], rows.at["accuracy", "second_only_correct"]) == only
        # Per image, or per image and label of a multi-label set.
        assert rows.at["accuracy", "difference"] == pytest.approx((only[0] - only[1]) / correct[0].size)
        expected = binomtest(only[0], sum(only), 0.5).pvalue if sum(only) else 1.0
        assert rows.at["accuracy", "p_value"] == pytest.approx(expected) and pd.isna(rows.at["auc", "p_value"])
    search = pd.read_csv(reports / "search.csv")
    seeds = dataset.seeds("nas")
    assert list(search.columns) == ["seed", "node", "derived", "p_derived", "p_zero", "entropy", "alpha_epochs_run"]
    assert sorted(set(search["seed"])) == seeds and len(search) == 6 * len(seeds)
    genotype = json.loads((dataset.results / "search" / "seed1" / "genotype.json").read_text())
    assert 0 < genotype["cell"]["nodes"][0]["entropy"] <= np.log(4) + 1e-9  # .test's search leaves Zero out
    alpha_epochs = max(genotype["epochs_run"] - genotype["search"]["settings"]["arch"]["warmup_epochs"], 0)
    assert set(search.loc[search["seed"] == 1, "alpha_epochs_run"]) == {alpha_epochs}
    summary = pd.read_csv(reports / "summary.csv")
    nas = summary[(summary["method"] == "nas") & (summary["output"] == "incumbent")].set_index("seed")
    assert nas.at[1, "alpha_epochs_run"] == alpha_epochs
    markdown = (reports / "summary.md").read_text()
    assert "## Verdict" in markdown
    assert all(f"NAS+BOHB − random cells+BOHB, {output}: " in markdown for output in ("incumbent", "per-seed ensemble"))


# --- across data sets ---------------------------------------------------------------------------------

def test_the_leaderboard_s_numbers_are_the_means_of_the_per_seed_metrics_files(sweep_run):
    """Per data set, method and output: n is the method's seeds, and the test ACC and AUC are the means of
    the per-seed metrics.json (the incumbent) or ensemble/metrics.json (the seed ensemble)."""
    reports = sweep_run.workdir / "reports"
    board = pd.read_csv(reports / "leaderboard.csv")
    datasets = sweep_run.datasets()
    assert len(board) == len(datasets) * len(METHODS) * len(OUTPUTS)
    for dataset in datasets.values():
        for method in METHODS:
            seeds = dataset.seeds(method)
            for output, metrics_file in OUTPUTS.items():
                rows = board[(board["dataset"] == dataset.entry["flag"]) & (board["size"] == dataset.entry["size"])
                             & (board["method"] == method) & (board["output"] == output)]
                assert len(rows) == 1, (dataset.name, method, output)
                row = rows.iloc[0]
                metrics = [json.loads((dataset.folder(method, "final", seed) / metrics_file).read_text())
                           for seed in seeds]
                assert row["n"] == len(seeds) == row["n_auc"]
                for key in ("accuracy", "auc"):
                    assert row[f"test_{key}"] == pytest.approx(np.mean([m[key] for m in metrics]), rel=1e-12, abs=0)
                if dataset.entry.get("task"):
                    assert row["scratch_accuracy_reference"] == "none: a data set of one's own"
                else:
                    assert row["scratch_accuracy_difference"] == pytest.approx(
                        row["test_accuracy"] - row["scratch_accuracy"], abs=1e-12)
    markdown = (reports / "leaderboard.md").read_text()
    for dataset in datasets.values():
        assert f"[{dataset.entry['flag']} {dataset.entry['size']} px]({dataset.name}/summary.md)" in markdown
    for name in ("leaderboard.png", "leaderboard.svg"):
        assert (reports / name).stat().st_size > 10_000


# --- Snakemake on the finished run --------------------------------------------------------------------

def test_nothing_left_to_do_after_the_run(sweep_run):
    result = snakemake(sweep_run.workdir, "-n", *SWEEP)
    assert result.returncode == 0 and planned_jobs(result.stdout + result.stderr) == {}


def test_html_report_is_written(sweep_run):
    result = snakemake(sweep_run.workdir, "--report", "reports/report.html", *SWEEP)
    assert result.returncode == 0, result.stderr[-3000:]
    html = (sweep_run.workdir / "reports" / "report.html").read_text(errors="replace")
    assert len(html) > 10_000 and all(name in html for name in SWEEP_SETS)


def test_redoing_one_seeds_genotype_reruns_only_that_seeds_downstream_jobs(sweep_run, tmp_path):
    """Snakemake ignores a deleted intermediate file when what depends on it is up to date
    (by design, snakemake/snakemake#1978), so a stage is redone by asking for its file too."""
    copy = tmp_path / "copy"
    shutil.copytree(sweep_run.workdir, copy, symlinks=True)
    seed = sweep_run.config["seeds"][-1]
    genotype = f"results/{RETINA}/search/seed{seed}/genotype.json"
    (copy / genotype).unlink()
    result = snakemake(copy, "-n", genotype, f"reports/{RETINA}/summary.md", *SWEEP)
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert planned_jobs(output) == {
        "export_genotype": 1, "bohb": 1, "final": 1,
        "plot_bohb_progress": 1, "plot_cells": 1, "plot_scores": 1, "report": 1,
    }
    wildcards = re.findall(r"wildcards: (.*)", output)
    assert wildcards and all("size=28" in line and "flag=retinamnist" in line for line in wildcards)
    assert [re.search(r"seed=(\d+)", line).group(1) for line in wildcards if "seed=" in line] == [str(seed)] * 3


def test_one_figure_alone_needs_only_its_own_inputs(tmp_path, real_data):
    workdir = copy_workflow(tmp_path / "fresh", real_data)
    result = snakemake(workdir, "-n", f"reports/{RETINA}/scores.png", *SWEEP)
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    jobs = planned_jobs(output)
    assert "plot_scores" in jobs and "final" in jobs and "baseline_final" in jobs and "random_final" in jobs
    assert not {"plot_bohb_progress", "plot_arch_weights", "plot_cells", "report", "leaderboard"} & set(jobs)
    # The other data set of the sweep is not touched.
    assert jobs["download_dataset"] == 1 and "synthml" not in output


def test_forcerun_of_a_bohb_rule_redoes_every_trial(sweep_run, tmp_path):
    """`--forcerun RULE` (README: rerunning one stage) trains every trial again instead of rewriting
    the outputs from the finished SMAC run. The baseline's BOHB rule stands for the three: they run
    one script, and its trials are the cheapest."""
    config = sweep_run.config
    copy = tmp_path / "copy"
    shutil.copytree(sweep_run.workdir, copy, symlinks=True)
    seed = config["baseline"]["seeds"][0]
    bohb = copy / "results" / RETINA / "baseline" / "bohb" / f"seed{seed}"
    before = json.loads((bohb / "smac" / str(seed) / "runhistory.json").read_text())["data"]
    result = snakemake(copy, f"results/{RETINA}/baseline/bohb/seed{seed}/incumbent.json", "--forcerun", "baseline_bohb",
                       "--cores", "1", *SWEEP)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = (copy / "results" / RETINA / "logs" / "baseline_bohb" / f"seed{seed}.log").read_text()
    assert "starting a fresh SMAC run" in log and "continuing the SMAC run" not in log
    after = json.loads((bohb / "smac" / str(seed) / "runhistory.json").read_text())["data"]
    n_trials = sum(hyperband_round_trials(config["hpo"]).values())
    assert len(after) == len(before) == n_trials and f"trial {n_trials}/{n_trials}" in log
    assert min(trial["starttime"] for trial in after) > max(trial["endtime"] for trial in before)
