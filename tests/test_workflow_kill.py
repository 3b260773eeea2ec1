"""A whole `snakemake` run killed mid-BOHB (SIGKILL to its process group, as a node failure or
`kill -9` would) is unlocked and run again: BOHB continues its SMAC run without repeating a trial.
The baseline's BOHB is the target: the same BOHB code as the NAS rule's, without a search before it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import snakemake, without_slurm_controller

pytestmark = pytest.mark.e2e
RUN = Path("results/retinamnist_28/baseline/bohb/seed1")
TARGET = str(RUN / "incumbent.json")


def finished_trials(runhistory: Path) -> list[tuple]:
    """(config_id, budget, seed, instance) of every trial SMAC saved, in its order."""
    if not runhistory.is_file():
        return []
    try:
        data = json.loads(runhistory.read_text())["data"]
    except (ValueError, KeyError):  # caught while SMAC writes it
        return []
    return [(t["config_id"], t["budget"], t["seed"], t["instance"]) for t in data]


def test_a_killed_snakemake_run_continues_bohb_without_repeating_a_trial(workflow_copy):
    command = [sys.executable, "-m", "snakemake", TARGET, "--cores", "2", "--configfile", ".test/config.yaml"]
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), str(without_slurm_controller()),
                                                  os.environ["PATH"]])}
    runhistory = workflow_copy / RUN / "smac" / "1" / "runhistory.json"
    run = subprocess.Popen(command, cwd=workflow_copy, env=env, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while len(finished_trials(runhistory)) < 2 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGKILL)  # Snakemake and every job it started, at once
    run.wait()
    before = finished_trials(runhistory)
    assert len(before) >= 2 and not (workflow_copy / TARGET).exists(), "the kill came too late to test anything"

    assert snakemake(workflow_copy, "--unlock", "--configfile", ".test/config.yaml").returncode == 0
    again = snakemake(workflow_copy, TARGET, "--cores", "2", "--configfile", ".test/config.yaml")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    after = finished_trials(runhistory)
    assert after[:len(before)] == before and len(after) == len(set(after)) == 6  # the tiny config's 6 trials
    log = (workflow_copy / "results" / "retinamnist_28" / "logs" / "baseline_bohb" / "seed1.log").read_text()
    assert "continuing the SMAC run" in log
