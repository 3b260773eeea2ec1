"""Which data sets the workflow takes: the config check (before any download) and a data set of the
user's own, whose file is validated array by array. Synthetic files in MedMNIST's layout."""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from conftest import REPO
from darts_bohb.data import (
    DatasetError,
    check_custom_file,
    dataset_spec,
    fetch_dataset,
    load_splits,
)
from darts_bohb.settings import ConfigError, validate_config
from darts_bohb.tasks import MULTI_LABEL_TASK, medmnist_info
from task_fixtures import task_arrays, write_task_npz

CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def config_with(**dataset) -> dict:
    config = copy.deepcopy(CONFIG)
    config["datasets"] = [{"size": 28, "source": None} | dataset]
    return config


@pytest.mark.slow
def test_the_light_info_reader_sees_medmnist_info_without_importing_the_package():
    from medmnist.info import INFO

    assert medmnist_info() == INFO
    # The config check runs before any job: in a fresh interpreter it must import neither torch nor medmnist.
    probe = ("import sys, yaml; from darts_bohb.settings import validate_config; "
             f"validate_config(yaml.safe_load(open({str(REPO / 'config.yaml')!r})), {str(SCHEMA)!r}); "
             "print(sorted(name for name in ('torch', 'medmnist', 'numpy') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr


@pytest.mark.parametrize("flag", ["retinamnist", "chestmnist", "pneumoniamnist", "pathmnist", "organsmnist"])
def test_every_medmnist_2d_flag_passes_the_config_check(flag):
    validate_config(config_with(flag=flag), SCHEMA)


@pytest.mark.parametrize("dataset, named", [
    ({"flag": "retinamnistt"}, ["datasets[0]: flag: 'retinamnistt'", "a source", "a task", "chestmnist"]),
    ({"flag": "organmnist3d"}, ["datasets[0]: flag: 'organmnist3d'", "3D", "pathmnist"]),
    ({"flag": "mine", "source": "x.npz"}, ["datasets[0]: flag: 'mine'", "a task"]),
    ({"flag": "mine", "task": "multi-class"}, ["datasets[0]: flag: 'mine'", "a source"]),
    ({"flag": "chestmnist", "task": "multi-class"}, ["datasets[0]: task: chestmnist", "multi-label, binary-class"]),
])
def test_config_check_names_the_flag_task_and_choices_before_any_download(dataset, named):
    with pytest.raises(ConfigError) as error:
        validate_config(config_with(**dataset), SCHEMA)
    for text in named:
        assert text in str(error.value)


def test_a_custom_set_with_source_and_task_passes_the_check():
    validate_config(config_with(flag="mine", source="mine.npz", task=MULTI_LABEL_TASK), SCHEMA)


@pytest.mark.parametrize("flag, task", [("chestmnist", None), ("mine", MULTI_LABEL_TASK)])
def test_balanced_accuracy_is_no_metric_for_a_multi_label_task(flag, task):
    config = config_with(flag=flag, source="mine.npz", task=task)
    config["hpo"]["metric"] = "balanced_accuracy"
    with pytest.raises(ConfigError, match="hpo.metric.*balanced_accuracy.*accuracy.*auc.*macro_f1"):
        validate_config(config, SCHEMA)
    config["hpo"]["metric"] = "auc"
    validate_config(config, SCHEMA)


@pytest.mark.parametrize("task, n_classes, channels, size", [
    ("binary-class", 2, 1, 28),
    ("multi-class", 4, 3, 28),
    ("ordinal-regression", 5, 3, 28),
    (MULTI_LABEL_TASK, 3, 1, 28),
    ("multi-class", 3, 1, 64),
])
def test_custom_spec_reads_channels_and_classes_from_the_file(tmp_path, task, n_classes, channels, size):
    path = write_task_npz(tmp_path / "mine.npz", task, n_classes=n_classes, channels=channels, size=size)
    spec = dataset_spec("mine", size, task, path)
    assert (spec.task, spec.n_classes, spec.n_channels, spec.md5, spec.url) == (task, n_classes, channels, None, None)
    assert spec.multi_label == (task == MULTI_LABEL_TASK)
    splits = load_splits(path, ("train", "test"))
    assert splits["train"].images.shape[1:] == (channels, size, size)
    expected_labels = (160, n_classes) if task == MULTI_LABEL_TASK else (160,)
    assert splits["train"].labels.shape == expected_labels
    check_custom_file(path, size, task)  # no MD5 to compare: the layout is checked instead


def test_official_spec_keeps_its_md5_and_rejects_another_task():
    assert dataset_spec("chestmnist", 64).md5 is not None and dataset_spec("chestmnist", 64).multi_label
    with pytest.raises(DatasetError, match="task: chestmnist is a 'multi-label, binary-class' task"):
        dataset_spec("chestmnist", 28, "binary-class")


def _arrays(task=MULTI_LABEL_TASK):
    return task_arrays(task, n_classes=3, channels=3, split_sizes={"train": 8, "val": 4, "test": 4})


@pytest.mark.parametrize("task, change, named", [
    (MULTI_LABEL_TASK, lambda a: a.pop("val_labels"), ["val_labels", "test_images"]),
    (MULTI_LABEL_TASK, lambda a: a.update(train_images=a["train_images"].astype(np.float32)),
     ["train_images", "uint8"]),
    (MULTI_LABEL_TASK, lambda a: a.update(test_images=a["test_images"][:, :20, :20]), ["test_images", "(N, 28, 28"]),
    (MULTI_LABEL_TASK, lambda a: a.update(val_images=a["val_images"][..., :2]), ["val_images", "C 1 or 3"]),
    (MULTI_LABEL_TASK, lambda a: a.update(test_images=a["test_images"][..., 0]), ["different channels"]),
    (MULTI_LABEL_TASK, lambda a: a.update(train_labels=a["train_labels"].astype(np.float64)), ["train_labels",
                                                                                               "integers"]),
    (MULTI_LABEL_TASK, lambda a: a.update(val_labels=a["val_labels"][:3]), ["val_images has 4", "val_labels"]),
    (MULTI_LABEL_TASK, lambda a: a.update(train_labels=a["train_labels"][:, :1]), ["train_labels", "(N, L)"]),
    (MULTI_LABEL_TASK, lambda a: a["test_labels"].__setitem__((0, 0), 2), ["test_labels", "value 2", "0 and 1"]),
    ("multi-class", lambda a: a.update(train_labels=np.zeros((8, 2), np.uint8)), ["train_labels", "(N, 1)"]),
    ("multi-class", lambda a: a.update(val_labels=np.full((4, 1), -1, np.int64)), ["val_labels", "negative"]),
    ("binary-class", lambda a: a["train_labels"].__setitem__((0, 0), 3), ["train_labels", "value 3"]),
    ("multi-class", lambda a: [a[key].fill(0) for key in a if key.endswith("labels")], ["at least two classes"]),
])
def test_each_fault_of_a_custom_file_gets_its_own_error(tmp_path, task, change, named):
    arrays = _arrays(task)
    change(arrays)
    path = tmp_path / "mine.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetError) as error:
        check_custom_file(path, 28, task)
    for text in named:
        assert text in str(error.value)
    assert "mine.npz" in str(error.value)


def test_a_file_that_is_no_npz_is_named(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_text("not a zip")
    with pytest.raises(DatasetError, match="broken.npz.*not a readable .npz"):
        check_custom_file(path, 28, "multi-class")


def test_fetch_copies_a_custom_set_without_md5_and_refuses_a_bad_one(tmp_path):
    good = write_task_npz(tmp_path / "good.npz", "binary-class", n_classes=2, channels=1)
    spec = dataset_spec("mine", 28, "binary-class", good)
    target = tmp_path / "out" / "mine_28.npz"
    fetch_dataset(spec, target, source=good)
    assert target.read_bytes() == good.read_bytes()
    bad_arrays = task_arrays("binary-class", n_classes=2, channels=1)
    bad_arrays["val_labels"][0, 0] = 4
    bad = tmp_path / "bad.npz"
    np.savez(bad, **bad_arrays)
    other = tmp_path / "out" / "other_28.npz"
    with pytest.raises(DatasetError, match="val_labels"):
        fetch_dataset(spec, other, source=bad)
    assert sorted(p.name for p in other.parent.iterdir()) == ["mine_28.npz"]


def test_multi_label_counts_are_positives_per_label(tmp_path):
    path = write_task_npz(tmp_path / "ml.npz", MULTI_LABEL_TASK, n_classes=4)
    train = load_splits(path, ("train",))["train"]
    labels = np.load(path)["train_labels"]
    assert torch.equal(train.class_counts(4), torch.from_numpy(labels.sum(axis=0).astype(np.int64)))
