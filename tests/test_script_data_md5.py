"""The BOHB and final scripts check their --data file's MD5 before anything else reads it: the
official one of --dataset/--size (medmnist.INFO), or the one given with --data-md5."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from config_defaults import config_section
from darts_bohb.data import dataset_spec, md5sum
from hpo_fixtures import hpo_json, tiny_hpo, write_synthetic_npz

REPO = Path(__file__).resolve().parents[1]


def run(script: str, data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    common = ["--data", str(data), "--dataset", "retinamnist", "--size", "28", "--seed", "1", "--device", "cpu",
              "--threads", "1", *extra]
    if script == "bohb.py":
        args = ["--method", "baseline", "--settings", hpo_json(tiny_hpo()), *common,
                "--incumbent", str(out / "incumbent.json"), "--trajectory", str(out / "trajectory.csv"),
                "--runhistory", str(out / "runhistory.csv"), "--ensemble", str(out / "ensemble.pt")]
    else:
        args = ["--method", "baseline", "--incumbent", str(out / "missing_incumbent.json"),
                "--settings", json.dumps(config_section("final")), *common, "--epochs", "1",
                *(arg for name in ("metrics.json", "predictions.csv", "model.pt", "architecture.json", "MODEL_CARD.md")
                  for arg in (f"--{name.split('.')[0].lower().replace('_', '-')}", str(out / name))),
                "--ensemble", str(out / "ensemble.pt"), "--ensemble-metrics", str(out / "ensemble" / "metrics.json"),
                "--ensemble-predictions", str(out / "ensemble" / "predictions.csv")]
    return subprocess.run([sys.executable, str(REPO / "scripts" / script), *args], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("script", ["bohb.py", "final.py"])
def test_a_data_file_that_is_not_the_official_one_stops_the_job(tmp_path, script):
    data = write_synthetic_npz(tmp_path / "retinamnist_28.npz")
    result = run(script, data, tmp_path / "out")
    assert result.returncode == 1, result.stderr[-2000:]
    official = dataset_spec("retinamnist", 28).md5
    assert f"MD5 mismatch for --data {data}: got {md5sum(data)}, expected {official}" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("script", ["bohb.py", "final.py"])
def test_data_md5_names_the_file_a_job_accepts(tmp_path, script):
    data = write_synthetic_npz(tmp_path / "retinamnist_28.npz")
    wrong = run(script, data, tmp_path / "out", "--data-md5", "0" * 32)
    assert wrong.returncode == 1 and f"expected {'0' * 32} (--data-md5)" in wrong.stderr
    accepted = run(script, data, tmp_path / "out", "--data-md5", md5sum(data))
    assert "MD5 mismatch" not in accepted.stderr
    if script == "final.py":  # past the data check, the next problem is the (missing) incumbent
        assert accepted.returncode == 1 and "missing_incumbent.json" in accepted.stderr
    else:
        assert accepted.returncode == 0, accepted.stderr[-2000:]
