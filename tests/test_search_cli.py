"""The search and export scripts: a bad --settings or a broken input fails with one clear
line and writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from config_defaults import CPU_JOB_SECTIONS, config_section

REPO = Path(__file__).resolve().parents[1]


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / name), *args],
                          capture_output=True, text=True, timeout=120)


def search_args(data: Path, folder: Path, settings: str) -> list[str]:
    return ["--data", str(data), "--seed", "1", "--dataset", "retinamnist", "--size", "28",
            "--settings", settings, *CPU_JOB_SECTIONS, "--threads", "1",
            "--state-dir", str(folder / "state"), "--alphas", str(folder / "alphas.csv"),
            "--epochs", str(folder / "epochs.csv"), "--summary", str(folder / "search.json")]


def test_unknown_settings_key_fails_clearly_and_writes_nothing(real_data, tmp_path):
    result = run_script("darts_search.py", *search_args(real_data, tmp_path, json.dumps({"epoch": 3})))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "search:" in errors[0] and "'epoch'" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_export_of_a_missing_search_fails_clearly(tmp_path):
    result = run_script("export_genotype.py", "--alphas", str(tmp_path / "alphas.csv"),
                        "--summary", str(tmp_path / "search.json"), "--output", str(tmp_path / "genotype.json"))
    assert result.returncode == 1
    assert "alphas.csv: no such file" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "genotype.json").exists()


def test_partial_settings_fail_naming_the_missing_keys(real_data, tmp_path):
    settings = config_section("search")
    del settings["order"]
    result = run_script("darts_search.py", *search_args(real_data, tmp_path, json.dumps(settings)))
    assert result.returncode == 1
    assert "search:" in result.stderr and "'order'" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_settings_that_are_not_json_fail_clearly_and_write_nothing(real_data, tmp_path):
    result = run_script("darts_search.py", *search_args(real_data, tmp_path, "{epochs: 3"))
    assert result.returncode == 1
    assert "search: not valid JSON" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
