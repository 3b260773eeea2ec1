"""Fetching and reading MedMNIST files. Synthetic .npz files of the MedMNIST layout stand in
where the real file is not needed; the MD5 tests use the real RetinaMNIST file."""

from __future__ import annotations

import hashlib
import io
import shutil
import urllib.request

import numpy as np
import pytest
import torch

from darts_bohb.data import DatasetError, dataset_spec, fetch_dataset, iterate_batches, load_splits, md5sum


def write_fake_medmnist(path, n_train=10, n_val=4, n_test=6, channels=3, side=28, label_columns=1):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        shape = (n, side, side, channels) if channels > 1 else (n, side, side)
        arrays[f"{split}_images"] = rng.integers(0, 256, size=shape, dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, 5, size=(n, label_columns), dtype=np.uint8)
    np.savez(path, **arrays)
    return arrays


def test_spec_knows_retinamnist_urls_and_md5_per_size():
    spec28 = dataset_spec("retinamnist", 28)
    spec64 = dataset_spec("retinamnist", 64)
    assert spec28.md5 == "bd4c0672f1bba3e3a89f0e4e876791e4"
    assert spec64.url.endswith("retinamnist_64.npz?download=1") and spec64.md5 != spec28.md5
    assert (spec28.n_classes, spec28.n_channels, spec28.task) == (5, 3, "ordinal-regression")


@pytest.mark.parametrize("flag, size, named", [
    ("retinamnistt", 28, "flag: .retinamnistt. is not a MedMNIST 2D data set"),
    ("organmnist3d", 28, "flag: .organmnist3d. is a 3D MedMNIST data set"),
])
def test_spec_rejects_unknown_flag_naming_the_key(flag, size, named):
    with pytest.raises(DatasetError, match=named):
        dataset_spec(flag, size)


def test_fetch_copies_local_file_after_md5_check(tmp_path, real_data):
    target = tmp_path / "out" / "retinamnist_28.npz"
    fetch_dataset(dataset_spec("retinamnist", 28), target, source=real_data)
    assert md5sum(target) == md5sum(real_data)
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_fetch_rejects_wrong_md5_printing_both_sums_and_writes_nothing(tmp_path, real_data):
    wrong = tmp_path / "wrong.npz"
    shutil.copyfile(real_data, wrong)
    with open(wrong, "ab") as handle:
        handle.write(b"tampered")
    target = tmp_path / "out" / "retinamnist_28.npz"
    with pytest.raises(DatasetError) as error:
        fetch_dataset(dataset_spec("retinamnist", 28), target, source=wrong)
    message = str(error.value)
    assert md5sum(wrong) in message and "bd4c0672f1bba3e3a89f0e4e876791e4" in message
    assert list(target.parent.iterdir()) == []


def test_fetch_keeps_an_existing_good_file_when_the_new_one_is_wrong(tmp_path, real_data):
    target = tmp_path / "retinamnist_28.npz"
    shutil.copyfile(real_data, target)
    wrong = tmp_path / "wrong.npz"
    wrong.write_bytes(b"not a data set")
    with pytest.raises(DatasetError):
        fetch_dataset(dataset_spec("retinamnist", 28), target, source=wrong)
    assert md5sum(target) == md5sum(real_data)


def test_unreachable_server_says_how_to_give_the_file_offline(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    target = tmp_path / "retinamnist_28.npz"
    with pytest.raises(DatasetError, match="set the data set.s `source` in config.yaml"):
        fetch_dataset(dataset_spec("retinamnist", 28), target)
    assert not target.exists()


def serve(monkeypatch, payload: bytes) -> list[str]:
    """Stands in for zenodo: urlopen returns `payload`; returns the URLs asked for."""
    asked: list[str] = []

    class Response(io.BytesIO):
        def __enter__(self):
            return self

    def urlopen(url, timeout):
        asked.append(url)
        return Response(payload)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return asked


def test_download_path_keeps_the_official_file(tmp_path, monkeypatch, real_data):
    spec = dataset_spec("retinamnist", 28)
    asked = serve(monkeypatch, real_data.read_bytes())
    target = tmp_path / "retinamnist_28.npz"
    fetch_dataset(spec, target)
    assert asked == [spec.url]
    assert target.read_bytes() == real_data.read_bytes()


@pytest.mark.parametrize("damage", [lambda data: data[: len(data) // 2],  # a cut-off download
                                    lambda data: data[:100] + bytes([data[100] ^ 1]) + data[101:]])
def test_download_path_rejects_a_file_whose_md5_differs(tmp_path, monkeypatch, real_data, damage):
    spec = dataset_spec("retinamnist", 28)
    sent = damage(real_data.read_bytes())
    serve(monkeypatch, sent)
    target = tmp_path / "retinamnist_28.npz"
    with pytest.raises(DatasetError) as error:
        fetch_dataset(spec, target)
    assert f"got {hashlib.md5(sent).hexdigest()}, expected {spec.md5}" in str(error.value)
    assert spec.url in str(error.value)
    assert list(tmp_path.iterdir()) == []  # neither the target nor a temporary file is left


def test_load_splits_reads_only_requested_splits_as_channels_last_tensors(tmp_path):
    path = tmp_path / "fake.npz"
    arrays = write_fake_medmnist(path)
    splits = load_splits(path, ("train", "val"))
    assert set(splits) == {"train", "val"}
    train = splits["train"]
    assert train.images.shape == (10, 3, 28, 28) and train.images.dtype == torch.uint8
    assert train.images.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(train.images.permute(0, 2, 3, 1), torch.from_numpy(arrays["train_images"]))
    assert torch.equal(train.labels, torch.from_numpy(arrays["train_labels"][:, 0].astype(np.int64)))


def test_load_splits_adds_channel_axis_to_grayscale(tmp_path):
    path = tmp_path / "gray.npz"
    write_fake_medmnist(path, channels=1)
    assert load_splits(path, ("val",))["val"].images.shape == (4, 1, 28, 28)


def test_load_splits_keeps_multilabel_columns(tmp_path):
    multilabel = tmp_path / "multi.npz"
    arrays = write_fake_medmnist(multilabel, label_columns=14)
    train = load_splits(multilabel, ("train",))["train"]
    assert train.multi_label and train.labels.shape == (10, 14)
    assert torch.equal(train.class_counts(14), torch.from_numpy(arrays["train_labels"].sum(axis=0).astype(np.int64)))


def test_batches_cover_the_split_once_in_seeded_order(tmp_path):
    path = tmp_path / "fake.npz"
    write_fake_medmnist(path, n_train=10)
    train = load_splits(path, ("train",))["train"]
    first = [y for _, y in iterate_batches(train, 4, torch.Generator().manual_seed(3))]
    again = [y for _, y in iterate_batches(train, 4, torch.Generator().manual_seed(3))]
    assert [len(y) for y in first] == [4, 4, 2]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert sorted(torch.cat(first).tolist()) == sorted(train.labels.tolist())
    assert [len(y) for _, y in iterate_batches(train, 4, drop_last=True)] == [4, 4]


def test_an_epoch_of_more_or_fewer_images_than_the_split_draws_from_whole_shuffled_passes(tmp_path):
    """EpochSize: a small set's epoch takes more images than it has, a large set's fewer."""
    path = tmp_path / "fake.npz"
    write_fake_medmnist(path, n_train=10)
    train = load_splits(path, ("train",))["train"]
    one_pass = [y for _, y in iterate_batches(train, 4, torch.Generator().manual_seed(3))]
    same = [y for _, y in iterate_batches(train, 4, torch.Generator().manual_seed(3), n_images=10)]
    assert all(torch.equal(a, b) for a, b in zip(one_pass, same))  # the whole split: exactly the one pass
    labels = torch.cat([y for _, y in iterate_batches(train, 4, torch.Generator().manual_seed(3), n_images=25)])
    counts = torch.bincount(torch.cat([labels, train.labels]))
    assert len(labels) == 25 and sorted(labels[:20].tolist()) == sorted(train.labels.tolist() * 2)
    assert counts.sum() == 35  # two whole passes, then half of a third
    fewer = torch.cat([y for _, y in iterate_batches(train, 4, torch.Generator().manual_seed(3), n_images=6)])
    assert len(fewer) == 6
