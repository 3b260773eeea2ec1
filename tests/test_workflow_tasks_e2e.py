"""The whole workflow on a data set of the user's own (a `datasets` entry with `source` and `task`) of the
task type the tiny sweep does not run: a SYNTHETIC multi-label set, grayscale, in MedMNIST's layout
(tests/task_fixtures.py), with the tiny budgets of .test/config.yaml cut to one seed per method and one
Hyperband bracket. (The sweep of test_workflow_e2e.py runs a synthetic binary set beside RetinaMNIST.)
And a flag the workflow cannot take fails the config check before any job."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from medmnist.evaluator import getACC, getAUC

from conftest import copy_workflow, predict_tables, snakemake
from darts_bohb.tasks import MULTI_LABEL_TASK
from task_fixtures import write_task_npz

FLAG, N_LABELS = "synthml", 4
SPLIT_SIZES = {"train": 200, "val": 60, "test": 60}
METHOD_FOLDERS = ("final", "baseline/final", "random/final")


def custom_workflow(folder, flag: str, **entry):
    """A workflow copy whose test config runs one data set of the user's own, `flag`, from a synthetic
    .npz (multi-label, N_LABELS labels) with one seed per method; `entry` overrides its datasets entry."""
    data = write_task_npz(folder / f"{flag}.npz", MULTI_LABEL_TASK, n_classes=N_LABELS, channels=1,
                          split_sizes=SPLIT_SIZES)  # synthetic, not a MedMNIST file
    workdir = copy_workflow(folder / "workflow", data)
    test_config = workdir / ".test" / "config.yaml"
    config = yaml.safe_load(test_config.read_text())
    config["datasets"] = [{"flag": flag, "size": 28, "source": str(data), "task": MULTI_LABEL_TASK} | entry]
    config.update(seeds=[1], baseline={"seeds": [1]}, random={"seeds": [1]})
    config["hpo"].update(metric="auc", total_epochs=6)  # one Hyperband bracket: 4 trials
    test_config.write_text(yaml.safe_dump(config, sort_keys=False))
    return workdir, data


@pytest.fixture(scope="module")
def custom_run(tmp_path_factory):
    workdir, data = custom_workflow(tmp_path_factory.mktemp(FLAG), FLAG)
    result = snakemake(workdir, "--cores", "2", "--configfile", ".test/config.yaml")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return workdir / "results" / f"{FLAG}_28", workdir, data


@pytest.mark.e2e
def test_metrics_of_every_method_equal_medmnist_on_predictions_csv(custom_run):
    results, _, data = custom_run
    test_labels = np.load(data)["test_labels"]
    for folder in METHOD_FOLDERS:
        seed_folder = results / folder / "seed1"
        metrics = json.loads((seed_folder / "metrics.json").read_text())
        predictions = pd.read_csv(seed_folder / "predictions.csv")
        probabilities = predictions.filter(like="prob_").to_numpy()
        assert probabilities.shape == (60, N_LABELS)
        label_columns = [f"label_{j}" for j in range(N_LABELS)]
        assert list(predictions.columns) == ["index", *label_columns, *(f"prob_{j}" for j in range(N_LABELS))]
        labels = predictions[label_columns].to_numpy()
        assert np.array_equal(labels, test_labels)
        assert metrics["accuracy"] == pytest.approx(getACC(labels, probabilities, MULTI_LABEL_TASK), abs=1e-12)
        assert metrics["auc"] == pytest.approx(getAUC(labels, probabilities, MULTI_LABEL_TASK), abs=1e-12)
        assert (seed_folder / "model.onnx").is_file()


@pytest.mark.e2e
def test_both_backends_of_the_predict_script_give_the_task_s_probabilities(custom_run, tmp_path):
    results, workdir, data = custom_run
    folder = results / "final" / "seed1"
    expected = pd.read_csv(folder / "predictions.csv").filter(like="prob_").to_numpy()
    found = {}
    for run, table in predict_tables(workdir, folder, data, tmp_path, threads=1).items():
        found[run] = table.filter(like="prob_").to_numpy()
        # The labels above 0.5, by name, instead of one most probable class.
        above = [";".join(str(j) for j in np.flatnonzero(row > 0.5)) for row in found[run]]
        assert table["predicted_labels"].astype(str).tolist() == above
    # As for RetinaMNIST: the final job's precision on record gives its predictions back; ONNX is fp32.
    np.testing.assert_allclose(found["torch", "recorded"], expected, atol=1e-6, rtol=0)
    np.testing.assert_allclose(found["onnx", "recorded"], found["torch", "fp32"], atol=1e-5, rtol=0)


@pytest.mark.e2e
def test_the_report_is_written_without_published_references(custom_run):
    results, workdir, _ = custom_run
    summary = (workdir / "reports" / f"{FLAG}_28" / "summary.md").read_text()
    assert FLAG in summary and "No published results are listed" in summary and "ResNet-18" not in summary
    incumbent = json.loads((results / "bohb" / "seed1" / "incumbent.json").read_text())
    assert incumbent["metric"] == "auc" and incumbent["architecture"]["in_channels"] == 1
    board = pd.read_csv(workdir / "reports" / "leaderboard.csv")
    assert set(board["dataset"]) == {FLAG} and set(board["scratch_accuracy_reference"]) == {
        "none: a data set of one's own"}


@pytest.mark.parametrize("flag, entry, named", [
    ("organmnist3d", {"task": None}, "datasets[0]: flag: 'organmnist3d' is a 3D MedMNIST data set"),
    ("mine", {"task": None}, "needs a source (the path of its .npz in MedMNIST's layout, README) and a task"),
], ids=["3d", "no-task"])
def test_a_flag_the_workflow_cannot_take_fails_before_any_job(tmp_path, flag, entry, named):
    workdir, _ = custom_workflow(tmp_path, flag, **entry)
    result = snakemake(workdir, "-n", "--configfile", ".test/config.yaml")
    output = result.stderr + result.stdout
    assert result.returncode != 0
    assert flag in output and named in output
    assert "download_dataset" not in result.stdout
