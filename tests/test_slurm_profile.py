"""The shipped SLURM profile, without a cluster: its site values, its installation as a named
profile (`snakemake --profile slurm`), and the sbatch line it makes for a `runtime.device: cuda` job.

The sbatch here is a stand-in on PATH that records its arguments and refuses the job, so
Snakemake reports the exact submission it attempted. The real submission path is tested on
the CI cluster (tests/test_slurm.py).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
import yte

from conftest import REPO, snakemake

SHIPPED = REPO / "profiles" / "slurm" / "config.yaml"
INSTALLER = REPO / "profiles" / "install_slurm_profile.py"
SITE_VARIABLES = ("PARTITION", "GPU_PARTITION", "ACCOUNT", "STATUS_COMMAND")


def rendered(text: str, monkeypatch, **site: str) -> dict:
    """The profile as Snakemake reads it, with the DARTS_BOHB_SLURM_* variables given as `site`."""
    for name in SITE_VARIABLES:
        monkeypatch.delenv(f"DARTS_BOHB_SLURM_{name}", raising=False)
    for name, value in site.items():
        monkeypatch.setenv(f"DARTS_BOHB_SLURM_{name.upper()}", value)
    return yte.process_yaml(io.StringIO(text), require_use_yte=True)


def install(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(INSTALLER), *args], env={**os.environ, "XDG_CONFIG_HOME": str(home)},
                          capture_output=True, text=True, timeout=60)


def test_without_site_values_jobs_go_to_the_default_partition_and_keep_their_own_resources(monkeypatch):
    profile = rendered(SHIPPED.read_text(), monkeypatch)
    assert profile["executor"] == "slurm"
    assert profile["default-resources"] == {"mem_mb": 1000, "runtime": 30}
    assert "set-resources" not in profile and "slurm-status-command" not in profile


def test_site_values_from_the_environment(monkeypatch):
    profile = rendered(SHIPPED.read_text(), monkeypatch, partition="short", account="lab42", status_command="squeue")
    assert profile["default-resources"] == {"mem_mb": 1000, "runtime": 30, "slurm_partition": "short",
                                            "slurm_account": "lab42"}
    assert profile["slurm-status-command"] == "squeue" and "slurm-partition-config" not in profile


def test_a_gpu_partition_routes_jobs_by_what_they_ask_for(monkeypatch):
    """No partition as a resource (it would hold for every job of a rule, whatever its device): the
    plugin's partition file sends a job asking for a GPU to the GPU partition, any other to the CPU one."""
    profile = rendered(SHIPPED.read_text(), monkeypatch, partition="short", gpu_partition="gpu")
    assert profile["default-resources"] == {"mem_mb": 1000, "runtime": 30} and "set-resources" not in profile
    partitions = yaml.safe_load(Path(profile["slurm-partition-config"]).read_text())["partitions"]
    assert partitions == {"short": {"max_gpu": 0}, "gpu": {"max_gpu": 64}}
    with pytest.raises(Exception, match="needs DARTS_BOHB_SLURM_PARTITION"):
        rendered(SHIPPED.read_text(), monkeypatch, gpu_partition="gpu")


def test_the_installer_writes_the_site_values_and_the_environment_still_wins(tmp_path, monkeypatch):
    result = install(tmp_path, "--partition", "short", "--account", "lab42")
    assert result.returncode == 0, result.stderr
    installed = tmp_path / "snakemake" / "slurm" / "config.yaml"
    profile = rendered(installed.read_text(), monkeypatch)
    assert profile["default-resources"]["slurm_partition"] == "short"
    assert profile["default-resources"]["slurm_account"] == "lab42"
    overridden = rendered(installed.read_text(), monkeypatch, partition="long")
    assert overridden["default-resources"]["slurm_partition"] == "long"


def test_the_installer_does_not_overwrite_another_profile_unless_forced(tmp_path):
    assert install(tmp_path, "--partition", "short").returncode == 0
    assert install(tmp_path, "--partition", "short").returncode == 0  # the same text again: fine
    refused = install(tmp_path, "--partition", "long")
    assert refused.returncode == 1 and "exists and differs; give --force" in refused.stderr
    installed = tmp_path / "snakemake" / "slurm" / "config.yaml"
    assert "partition='short'" in installed.read_text()
    assert install(tmp_path, "--partition", "long", "--force").returncode == 0
    assert "partition='long'" in installed.read_text()


@pytest.fixture
def stand_in_slurm(tmp_path, monkeypatch) -> Path:
    """sbatch that records its call and refuses it; the other SLURM commands answer nothing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "sbatch_calls.txt"
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\necho "sbatch $*" >> "{calls}"\necho "stand-in: refused" >&2\nexit 1\n')
    for command in ("sinfo", "squeue", "sacct", "sacctmgr", "scontrol"):
        (bin_dir / command).write_text("#!/bin/sh\nexit 0\n")
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return calls


@pytest.mark.parametrize("device, partition", [("cuda", "gpu"), ("cpu", "short")])
def test_profile_slurm_as_typed_sends_a_training_job_to_the_partition_of_its_device(
        workflow_copy, tmp_path, monkeypatch, stand_in_slurm, device, partition):
    home = tmp_path / "config"
    assert install(home, "--partition", "short", "--gpu-partition", "gpu", "--status-command", "squeue").returncode == 0
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    for name in SITE_VARIABLES:
        monkeypatch.delenv(f"DARTS_BOHB_SLURM_{name}", raising=False)

    result = snakemake(workflow_copy, "results/retinamnist_28/search/seed1/search.json",
                       "--configfile", ".test/config.yaml",
                       "--config", f"runtime={{device: {device}}}", "--profile", "slurm",
                       # Not site values: only how long Snakemake waits for jobs that were never submitted.
                       "--retries", "0", "--slurm-init-seconds-before-status-checks", "1", timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "stand-in: refused" in output, output[-3000:]
    calls = stand_in_slurm.read_text().splitlines()
    assert len(calls) == 1 and "--comment rule_darts_search" in calls[0], calls
    call = calls[0]
    assert bool(re.search(r"(^|\s)--gpus[= ]1(\s|$)", call)) == (device == "cuda"), call
    assert re.search(rf"\s-p {partition}\s", call), call
    # The download is a local rule: it ran on the submit host, never through sbatch.
    assert (workflow_copy / "results" / "retinamnist_28" / "data.npz").is_file()
