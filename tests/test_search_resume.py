"""Killed and rerun, the search resumes after its last finished epoch and ends with exactly the α
of an uninterrupted run; the same config and seed give the same α; a state from other
settings is not resumed. Real RetinaMNIST file, tiny supernet, one thread."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from config_defaults import CPU_JOB_SECTIONS, TINY_EPOCH_SIZE, config_section
from darts_bohb import darts
from darts_bohb.darts import DartsSearch, fingerprint, load_state, run_search, search_to_files
from darts_bohb.data import load_splits
from darts_bohb.runtime import make_runtime
from darts_bohb.settings import EpochSize, SearchSettings, from_dict

REPO = Path(__file__).resolve().parents[1]
# Every planned epoch runs (no early stop), so that a kill can fall in the middle of the search.
SETTINGS = config_section("search", epochs=3, channels=[4, 8], pool=[True, True], arch={"warmup_epochs": 0},
                          early_stopping={"enabled": False})
THREADS = 1


@pytest.fixture(autouse=True)
def keep_thread_count():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def search_settings(**overrides) -> SearchSettings:
    return from_dict(SearchSettings, config_section("search", **{**SETTINGS, **overrides}), "search")


def outputs(folder: Path) -> dict[str, Path]:
    return {"alphas_path": folder / "alphas.csv", "epochs_path": folder / "epochs.csv",
            "summary_path": folder / "search.json"}


def search_in_process(data: Path, folder: Path, seed: int = 1, **overrides):
    """The search that run_cli starts, in this process: the same settings and epoch."""
    return search_to_files(data, seed, "retinamnist", 28, search_settings(**overrides),
                           make_runtime("cpu", "auto", THREADS), folder / "state", **outputs(folder),
                           epoch=from_dict(EpochSize, TINY_EPOCH_SIZE, "epoch_size"))


@pytest.fixture(scope="module")
def uninterrupted(real_data, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("uninterrupted")
    threads = torch.get_num_threads()
    search_in_process(real_data, folder)
    torch.set_num_threads(threads)
    return folder


def assert_same_search(folder: Path, reference: Path) -> None:
    assert (folder / "alphas.csv").read_bytes() == (reference / "alphas.csv").read_bytes()
    epochs, expected = (pd.read_csv(f / "epochs.csv").drop(columns="seconds") for f in (folder, reference))
    pd.testing.assert_frame_equal(epochs, expected)


class Killed(Exception):
    pass


def test_interrupted_search_resumes_and_ends_with_the_same_alpha(real_data, tmp_path, uninterrupted,
                                                                 monkeypatch, caplog):
    real_epoch = DartsSearch.train_epoch

    def killed_during_second_epoch(self, epoch):
        row = real_epoch(self, epoch)  # the model moves on in memory ...
        if epoch == 1:
            raise Killed  # ... but the job dies before that epoch's state is saved
        return row

    monkeypatch.setattr(DartsSearch, "train_epoch", killed_during_second_epoch)
    with pytest.raises(Killed):
        search_in_process(real_data, tmp_path)
    assert (tmp_path / "state" / darts.STATE_FILE).is_file()
    assert not any(path.exists() for path in outputs(tmp_path).values())

    monkeypatch.undo()
    with caplog.at_level(logging.INFO, logger="darts_bohb.darts"):
        search_in_process(real_data, tmp_path)
    assert "resuming from epoch 1" in caplog.text
    assert_same_search(tmp_path, uninterrupted)
    summary = json.loads((tmp_path / "search.json").read_text())
    assert summary["resumed_from_epoch"] == 1 and summary["epochs_run"] == 3
    assert not (tmp_path / "state").exists()  # a forced rerun starts from scratch


def run_cli(data: Path, folder: Path, **popen) -> subprocess.Popen:
    command = [sys.executable, str(REPO / "scripts" / "darts_search.py"), "--data", str(data), "--seed", "1",
               "--dataset", "retinamnist", "--size", "28", "--settings", json.dumps(SETTINGS),
               *CPU_JOB_SECTIONS, "--threads", str(THREADS),
               "--state-dir", str(folder / "state"), "--alphas", str(folder / "alphas.csv"),
               "--epochs", str(folder / "epochs.csv"), "--summary", str(folder / "search.json")]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def test_search_killed_by_sigkill_resumes_from_its_state(real_data, tmp_path, uninterrupted):
    state = tmp_path / "state" / darts.STATE_FILE
    job = run_cli(real_data, tmp_path)
    deadline = time.monotonic() + 300
    while not state.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert state.exists(), job.communicate()[0] if job.poll() is not None else "no state after 300 s"
    os.kill(job.pid, signal.SIGKILL)  # during the second of three epochs
    job.wait()
    assert not (tmp_path / "alphas.csv").exists()

    rerun = run_cli(real_data, tmp_path)
    log, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, log
    assert "resuming from epoch 1" in log
    assert_same_search(tmp_path, uninterrupted)


def test_same_seed_same_alpha_other_seed_other_start(real_data, tmp_path):
    first = search_in_process(real_data, tmp_path / "first", epochs=1)
    second = search_in_process(real_data, tmp_path / "second", epochs=1)
    assert torch.equal(torch.tensor(first.alphas["alpha"].to_numpy()), torch.tensor(second.alphas["alpha"].to_numpy()))
    assert first.alphas["epoch"].max() == 1

    train = load_splits(real_data, ("train",))["train"]
    runtime = make_runtime("cpu", "auto", THREADS)
    seed1, seed2 = (DartsSearch(search_settings(), runtime, train, 5, seed) for seed in (1, 2))
    assert not torch.equal(seed1.model.alpha, seed2.model.alpha)
    assert not torch.equal(seed1.weights_half.labels, seed2.weights_half.labels)


def test_state_of_other_settings_is_not_resumed(real_data, tmp_path, caplog):
    settings = search_settings(epochs=1)
    runtime = make_runtime("cpu", "auto", THREADS)
    md5 = "bd4c0672f1bba3e3a89f0e4e876791e4"
    wanted = fingerprint(settings, 1, "retinamnist", 28, md5, runtime, settings.batch_size)
    other = fingerprint(search_settings(epochs=1, batch_size=32), 1, "retinamnist", 28, md5, runtime, 32)
    assert other != wanted
    assert fingerprint(settings, 2, "retinamnist", 28, md5, runtime, settings.batch_size) != wanted
    # batches cut by less memory are another search; more memory that cuts nothing is the same one
    assert fingerprint(settings, 1, "retinamnist", 28, md5, runtime, settings.batch_size // 2) != wanted
    (tmp_path / "state").mkdir()
    torch.save({"fingerprint": other, "epoch_rows": [{"epoch": 1}]}, tmp_path / "state" / darts.STATE_FILE)
    with caplog.at_level(logging.INFO, logger="darts_bohb.darts"):
        result = run_search(real_data, 1, "retinamnist", 28, settings, runtime, tmp_path / "state")
    assert "belongs to other settings" in caplog.text and "resuming" not in caplog.text
    assert result.summary["resumed_from_epoch"] is None and result.summary["epochs_run"] == 1


def test_unreadable_state_is_ignored_with_a_warning(tmp_path, caplog):
    (tmp_path / darts.STATE_FILE).write_bytes(b"truncated")
    with caplog.at_level(logging.WARNING, logger="darts_bohb.darts"):
        assert load_state(tmp_path, "any") is None
    assert "ignoring unreadable state" in caplog.text
