"""The whole workflow on data sets of the user's own (dataset.source and dataset.task): a synthetic
multi-label set and a synthetic binary one, grayscale, in MedMNIST's layout, with the tiny budgets
of .test/config.yaml cut to one seed per method and one Hyperband bracket. And a flag the workflow
cannot take fails the config check before any job."""

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

SETS = {"synthml": (MULTI_LABEL_TASK, 4), "synthbin": ("binary-class", 2)}
SPLIT_SIZES = {"train": 200, "val": 60, "test": 60}


def custom_workflow(folder, flag: str, **dataset):
    task, n_classes = SETS.get(flag, ("multi-class", 3))
    data = write_task_npz(folder / f"{flag}.npz", task, n_classes=n_classes, channels=1, split_sizes=SPLIT_SIZES)
    workdir = copy_workflow(folder / "workflow", data)
    test_config = workdir / ".test" / "config.yaml"
    config = yaml.safe_load(test_config.read_text())
    config["dataset"].update({"flag": flag, "task": task} | dataset)
    config.update(seeds=[1], baseline={"seeds": [1]}, random={"seeds": [1]})
    config["hpo"].update(metric="auc", total_epochs=6)  # one Hyperband bracket: 4 trials
    test_config.write_text(yaml.safe_dump(config, sort_keys=False))
    return workdir, data


@pytest.fixture(scope="module", params=sorted(SETS))
def custom_run(request, tmp_path_factory):
    workdir, data = custom_workflow(tmp_path_factory.mktemp(request.param), request.param)
    result = snakemake(workdir, "--cores", "2", "--configfile", ".test/config.yaml")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return request.param, workdir, data


@pytest.mark.e2e
def test_metrics_of_every_method_equal_medmnist_on_predictions_csv(custom_run):
    flag, workdir, data = custom_run
    task, n_classes = SETS[flag]
    test_labels = np.load(data)["test_labels"]
    for folder in ("final", "baseline/final", "random/final"):
        seed_folder = workdir / "results" / folder / "seed1"
        metrics = json.loads((seed_folder / "metrics.json").read_text())
        predictions = pd.read_csv(seed_folder / "predictions.csv")
        probabilities = predictions.filter(like="prob_").to_numpy()
        assert probabilities.shape == (60, n_classes)
        if task == MULTI_LABEL_TASK:
            label_columns = [f"label_{j}" for j in range(n_classes)]
            assert list(predictions.columns) == ["index", *label_columns, *(f"prob_{j}" for j in range(n_classes))]
            labels = predictions[label_columns].to_numpy()
        else:
            assert list(predictions.columns) == ["index", "label", "prob_0", "prob_1"]
            labels = predictions[["label"]].to_numpy()
        assert np.array_equal(labels, test_labels)
        assert metrics["accuracy"] == pytest.approx(getACC(labels, probabilities, task), abs=1e-12)
        assert metrics["auc"] == pytest.approx(getAUC(labels, probabilities, task), abs=1e-12)
        assert (seed_folder / "model.onnx").is_file()


@pytest.mark.e2e
def test_both_backends_of_the_predict_script_give_the_task_s_probabilities(custom_run, tmp_path):
    flag, workdir, data = custom_run
    task, n_classes = SETS[flag]
    folder = workdir / "results" / "final" / "seed1"
    expected = pd.read_csv(folder / "predictions.csv").filter(like="prob_").to_numpy()
    found = {}
    for run, table in predict_tables(workdir, folder, data, tmp_path, threads=1).items():
        found[run] = table.filter(like="prob_").to_numpy()
        if task == MULTI_LABEL_TASK:  # the labels above 0.5, by name, instead of one most probable class
            above = [";".join(str(j) for j in np.flatnonzero(row > 0.5)) for row in found[run]]
            assert table["predicted_labels"].astype(str).tolist() == above
    # As for RetinaMNIST: the final job's precision on record gives its predictions back; ONNX is fp32.
    np.testing.assert_allclose(found["torch", "recorded"], expected, atol=1e-6, rtol=0)
    np.testing.assert_allclose(found["onnx", "recorded"], found["torch", "fp32"], atol=1e-5, rtol=0)


@pytest.mark.e2e
def test_the_report_is_written_without_published_references(custom_run):
    flag, workdir, _ = custom_run
    summary = (workdir / "reports" / "summary.md").read_text()
    assert flag in summary and "No published results are listed" in summary and "ResNet-18" not in summary
    incumbent = json.loads((workdir / "results" / "bohb" / "seed1" / "incumbent.json").read_text())
    assert incumbent["metric"] == "auc" and incumbent["architecture"]["in_channels"] == 1


@pytest.mark.parametrize("flag, dataset, named", [
    ("organmnist3d", {"task": None}, "3D"),
    ("mine", {"task": None}, "dataset.task"),
])
def test_a_flag_the_workflow_cannot_take_fails_before_any_job(tmp_path, flag, dataset, named):
    workdir, _ = custom_workflow(tmp_path, flag, **dataset)
    result = snakemake(workdir, "-n", "--configfile", ".test/config.yaml")
    assert result.returncode != 0
    assert flag in result.stderr + result.stdout and named in result.stderr + result.stdout
    assert "download_dataset" not in result.stdout
