"""Large splits are memory-mapped from an .npy unpacked once beside the .npz, not read into RAM;
what is trained and predicted on them is exactly what the in-memory path gives. A threshold of
0 bytes stands in for the gigabytes of a 224 px MedMNIST set."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from darts_bohb.data import StackedImages, iterate_batches, joined, load_splits
from darts_bohb.final import training_split
from darts_bohb.runtime import make_runtime, seed_everything
from darts_bohb.training import TrainingSettings, predict_probabilities, train_model
from hpo_fixtures import one_torch_thread  # noqa: F401 (fixture)
from task_fixtures import small_network, write_task_npz

pytestmark = pytest.mark.usefixtures("one_torch_thread")
MAPPED = {"map_above_bytes": 0}


def test_a_mapped_split_reads_the_same_images_and_batches(tmp_path):
    path = write_task_npz(tmp_path / "big.npz", "multi-class", n_classes=3, channels=3, size=64)
    in_memory = load_splits(path, ("train", "test"))
    mapped = load_splits(path, ("train", "test"), **MAPPED)
    assert in_memory["train"].rows is None and mapped["train"].rows is not None
    assert sorted(p.name for p in (tmp_path / "big.npz.unpacked").iterdir() if p.suffix == ".npy") == [
        "test_images.npy", "train_images.npy"]
    for name in ("train", "test"):
        assert torch.equal(mapped[name].labels, in_memory[name].labels)
        order = zip(iterate_batches(in_memory[name], 32, torch.Generator().manual_seed(3)),
                    iterate_batches(mapped[name], 32, torch.Generator().manual_seed(3)))
        for (images, labels), (mapped_images, mapped_labels) in order:
            assert torch.equal(images, mapped_images) and torch.equal(labels, mapped_labels)


def test_a_subset_of_a_mapped_split_copies_no_image(tmp_path):
    path = write_task_npz(tmp_path / "big.npz", "binary-class", n_classes=2, channels=1)
    train = load_splits(path, ("train",), **MAPPED)["train"]
    indices = torch.tensor([5, 0, 17])
    half = train.subset(indices)
    assert half.images.data_ptr() == train.images.data_ptr() and len(half) == 3
    whole = load_splits(path, ("train",))["train"]
    assert torch.equal(half.images_at(torch.arange(3)), whole.images[indices])
    assert torch.equal(half.images_at(torch.arange(3)), whole.images[indices])


def test_the_unpacked_file_is_reused_until_the_npz_changes(tmp_path):
    path = write_task_npz(tmp_path / "big.npz", "binary-class", n_classes=2, channels=1)
    load_splits(path, ("val",), **MAPPED)
    unpacked = tmp_path / "big.npz.unpacked" / "val_images.npy"
    os.utime(unpacked, ns=(1, 1))  # an old date: a new unpacking would set the present one
    load_splits(path, ("val",), **MAPPED)
    assert unpacked.stat().st_mtime_ns == 1
    write_task_npz(path, "binary-class", n_classes=2, channels=1, seed=9)
    os.utime(path, ns=(10**18, 10**18))
    val = load_splits(path, ("val",), **MAPPED)["val"]
    assert unpacked.stat().st_mtime_ns != 1
    assert torch.equal(val.images_at(torch.arange(len(val))), load_splits(path, ("val",))["val"].images)


def test_training_and_prediction_on_a_mapped_split_are_those_in_memory(tmp_path):
    path = write_task_npz(tmp_path / "big.npz", "multi-label, binary-class", n_classes=3, channels=1)
    settings = TrainingSettings(epochs=2, batch_size=32, optimizer="adam", lr=0.01, weight_decay=0.0, augment=True)
    runtime = make_runtime("cpu", "fp32")
    results = []
    for options in ({}, MAPPED):
        splits = load_splits(path, ("train", "val", "test"), **options)
        seed_everything(0)
        model = small_network(1, 3)
        losses = train_model(model, training_split(splits, "train+val"), settings, runtime, seed_everything(1), 3)
        results.append((losses.epoch_losses, predict_probabilities(model, splits["test"], runtime)))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_train_and_val_joined_read_their_rows_from_the_mapped_files(tmp_path):
    path = write_task_npz(tmp_path / "big.npz", "multi-class", n_classes=3, channels=3)
    mapped = load_splits(path, ("train", "val"), **MAPPED)
    both = joined(mapped["train"], mapped["val"].subset(torch.tensor([4, 1, 2])))
    assert isinstance(both.images, StackedImages)
    assert [part.data_ptr() for part in both.images.parts] == [mapped[name].images.data_ptr()
                                                               for name in ("train", "val")]
    in_memory = load_splits(path, ("train", "val"))
    expected = torch.cat([in_memory["train"].images, in_memory["val"].images[[4, 1, 2]]])
    assert len(both) == len(expected) and tuple(both.images.shape[1:]) == tuple(expected.shape[1:])
    rows = torch.tensor([len(expected) - 1, 0, len(expected) - 3, 7])  # across both files, in any order
    assert torch.equal(both.images_at(rows), expected[rows])
    assert torch.equal(both.subset(rows).images_at(torch.arange(len(rows))), expected[rows])
