"""The workflow on a real SLURM: the one-node test cluster that .ci/slurm/up.sh starts.

The tiny sweep (`--configfile .test/config.yaml .test/sweep.yaml`: RetinaMNIST and a synthetic
multi-label set, the tiny budgets) runs through the shipped profile, every job of a non-local rule by sbatch; and a
job that fails under SLURM fails the workflow.

Skipped unless that cluster answers (`sinfo` knows its partition `ci`); CI runs these through
.ci/slurm/run-workflow.sh. Jobs go through snakemake-executor-plugin-slurm with the profile that
users get: profiles/slurm, installed as the README says (profiles/install_slurm_profile.py) and
called as `--profile slurm`, with only the site values of the test cluster given: partition `ci`,
and job states from squeue (it has no accounting database, so sacct cannot answer).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SWEEP, copy_workflow, sweep_datasets

CI_PARTITION = "ci"
SITE_VALUES = ("--partition", CI_PARTITION, "--status-command", "squeue")
# Every Snakemake run here is wrapped in `timeout -k 10`, so a hung run is stopped with TERM
# (Snakemake then cancels its SLURM jobs) and, 10 s later, killed.
WORKFLOW_LIMIT_S = 1500
FAILURE_LIMIT_S = 600  # two attempts (the profile retries once), each waiting for its first status check


@functools.cache
def ci_cluster_problem() -> str | None:
    """Why the test cluster cannot take jobs, or None when it can. Asked once per session:
    with SLURM installed but not running, sinfo takes seconds to give up."""
    hint = "start the test cluster with .ci/slurm/up.sh"
    if shutil.which("sinfo") is None:
        return f"no SLURM here (sinfo not found); {hint}"
    try:
        result = subprocess.run(["sinfo", "--noheader", f"--partition={CI_PARTITION}", "--format=%t"],
                                capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return f"sinfo did not answer within 5 s; {hint}"
    state = result.stdout.strip()
    if result.returncode != 0 or not state:
        return f"no SLURM partition '{CI_PARTITION}' ({result.stderr.strip() or 'sinfo lists none'}); {hint}"
    if state not in ("idle", "mix", "alloc", "comp"):
        return f"the node of partition '{CI_PARTITION}' is '{state}', not ready for jobs"
    return None


pytestmark = pytest.mark.slurm


@pytest.fixture(autouse=True)
def ci_cluster() -> None:
    """Skip without the test cluster; CI sets DARTS_BOHB_REQUIRE_SLURM=1 so it fails instead."""
    problem = ci_cluster_problem()
    if problem:
        if os.environ.get("DARTS_BOHB_REQUIRE_SLURM") == "1":
            pytest.fail(problem)
        pytest.skip(problem)


@pytest.fixture(scope="module")
def profile_home(tmp_path_factory) -> Path:
    """A user config folder holding the shipped profile, installed as the README's set-up step says."""
    home = tmp_path_factory.mktemp("config")
    subprocess.run([sys.executable, str(REPO / "profiles" / "install_slurm_profile.py"), *SITE_VALUES],
                   env={**os.environ, "XDG_CONFIG_HOME": str(home)}, check=True, timeout=60)
    return home


def snakemake_on_slurm(workdir: Path, profile_home: Path, *args: str, limit_s: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_CONFIG_HOME=str(profile_home))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # The plugin first asks for the jobs' status after 40 s, and waits 10 s longer each time none has
    # finished: right for a real cluster's controller, but the tiny jobs here last seconds.
    command = ["timeout", "-k", "10", str(limit_s), sys.executable, "-m", "snakemake", *args, "--profile", "slurm",
               "--slurm-init-seconds-before-status-checks", "5"]
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    # Shown by pytest for a failing test, and by `pytest -s` / -rP in CI's log.
    print(f"$ {' '.join(command)}  (in {workdir})\nexit status {result.returncode}\n{result.stdout}{result.stderr}")
    return result


# The workflow's localrules: they run on the submit host, every other rule's jobs go through sbatch.
LOCAL_RULES = {"all", "download_dataset", "export_genotype", "plot_bohb_progress", "plot_arch_weights", "plot_cells",
               "plot_scores", "report", "leaderboard"}


def started_jobs(output: str) -> dict[int, tuple[str, bool]]:
    """Every job Snakemake started, by its job id: (rule, whether it ran locally)."""
    return {int(job_id): (rule, local == "local") for local, rule, job_id in
            re.findall(r"^(local)?rule (\w+):\n(?:    .*\n)*?    jobid: (\d+)$", output, re.MULTILINE)}


def submissions(output: str) -> dict[int, tuple[str, str]]:
    """Every job that went to SLURM through sbatch, as Snakemake reports it, by its job id: its SLURM job
    id and the folder of its SLURM log (.snakemake/slurm_logs/rule_{rule}/{wildcards})."""
    found = re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)/\2\.log\)", output)
    return {int(job_id): (slurm_id, folder) for job_id, slurm_id, folder in found}


def submitted_rules(output: str) -> set[str]:
    """Rules of which at least one job went to SLURM through sbatch, as Snakemake reports them."""
    jobs = started_jobs(output)
    return {jobs[job_id][0] for job_id in submissions(output) if job_id in jobs}


def test_a_job_failing_under_slurm_fails_the_workflow(tmp_path, real_data, profile_home):
    workdir = copy_workflow(tmp_path / "workflow", real_data)
    # A corrupt data file where the download would have put it: the search job, run by SLURM,
    # cannot read it and exits non-zero.
    corrupt = workdir / "results" / "retinamnist_28" / "data.npz"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(b"this is not an npz archive")

    result = snakemake_on_slurm(workdir, profile_home, "results/retinamnist_28/search/seed1/search.json",
                                "--configfile", ".test/config.yaml", limit_s=FAILURE_LIMIT_S)
    output = result.stdout + result.stderr

    assert result.returncode not in (0, 124, 137), "Snakemake must fail on its own, not by timeout"
    assert "darts_search" in submitted_rules(output), "the failing job did not go through sbatch"
    assert re.search(r"Error in rule darts_search:", output)
    assert re.search(r"SLURM-job '\d+' failed, SLURM status is: 'FAILED'", output)
    assert not (workdir / "results" / "retinamnist_28" / "search" / "seed1" / "search.json").exists()


def test_the_tiny_sweep_completes_with_every_remote_job_through_sbatch(tmp_path, real_data, profile_home):
    workdir = copy_workflow(tmp_path / "workflow", real_data)

    # SLURM's own log of each job is kept (the plugin deletes it once the job succeeds, by default).
    result = snakemake_on_slurm(workdir, profile_home, *SWEEP, "--slurm-keep-successful-logs",
                                limit_s=WORKFLOW_LIMIT_S)
    output = result.stdout + result.stderr
    assert result.returncode == 0, "the tiny sweep failed under SLURM"

    # Every job of a rule that is not a localrule went through sbatch, in the partition the profile
    # was given, and no local job did; SLURM wrote the log of each, in the folder of its rule and wildcards.
    jobs, submitted = started_jobs(output), submissions(output)
    remote = {job_id for job_id, (_, local) in jobs.items() if not local}
    assert {rule for rule, local in jobs.values() if local} <= LOCAL_RULES
    assert {rule for rule, local in jobs.values() if not local} == {
        "darts_search", "bohb", "final", "random_bohb", "random_final", "baseline_bohb", "baseline_final",
        "export_onnx"}
    assert set(submitted) == remote
    assert f"slurm_partition={CI_PARTITION}" in output
    datasets = sweep_datasets(workdir)
    config = yaml.safe_load((workdir / ".test" / "config.yaml").read_text())
    nas, others = len(config["seeds"]), len(config["random"]["seeds"]) + len(config["baseline"]["seeds"])
    assert len(remote) == len(datasets) * (3 * nas + 2 * others + nas + others)  # search, bohb, final; ONNX
    for job_id, (slurm_id, folder) in submitted.items():
        rule = jobs[job_id][0]
        assert Path(folder).parent.name == f"rule_{rule}", folder
        assert (workdir / folder / f"{slurm_id}.log").is_file(), folder  # folder: absolute
    for entry in datasets:  # each data set's jobs went to SLURM, each seed its own job
        name = f"{entry['flag']}_{entry['size']}"
        for rule in ("darts_search", "bohb", "final"):
            assert sum(jobs[job_id][0] == rule and Path(folder).name.startswith(name)
                       for job_id, (_, folder) in submitted.items()) == nas, (name, rule)

    # Nothing is left to do: every target of `all` exists and is up to date, for both data sets.
    check = subprocess.run([sys.executable, "-m", "snakemake", "-n", *SWEEP],
                           cwd=workdir, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and "Nothing to be done" in check.stdout + check.stderr, check.stdout
    for entry in datasets:
        results = workdir / "results" / f"{entry['flag']}_{entry['size']}"
        for seed in config["seeds"]:
            assert (results / "search" / f"seed{seed}" / "genotype.json").is_file()
            assert (results / "final" / f"seed{seed}" / "model.onnx").is_file()
        assert (workdir / "reports" / f"{entry['flag']}_{entry['size']}" / "summary.md").is_file()
    board = (workdir / "reports" / "leaderboard.csv").read_text()
    assert all(entry["flag"] in board for entry in datasets)
