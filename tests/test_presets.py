"""One dry run per preset of several data sets (configs/medmnist-2d.yaml: the twelve MedMNIST 2D sets at
28 px; configs/medmnist-2d-all-sizes.yaml: each at 28, 64, 128 and 224 px): the jobs it plans, per rule,
from its data sets and config.yaml's seeds. A dry run reads no data: it only plans MedMNIST's downloads."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import REPO, copy_workflow, snakemake

pytestmark = pytest.mark.slow


def planned_jobs(output: str) -> dict[str, int]:
    """Job counts from the first 'Job stats' table that `snakemake -n` prints."""
    table = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {name: int(count) for name, count in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M)
            if name != "total"}


def expected_jobs(datasets: int, nas: int, random: int, baseline: int) -> dict[str, int]:
    """Per data set: its download, per seed of each method its jobs and the ONNX export of each final
    model, and its figures and report; then one leaderboard across them, and `all`."""
    per_dataset = {"download_dataset": 1, "darts_search": nas, "export_genotype": nas, "bohb": nas, "final": nas,
                   "random_bohb": random, "random_final": random, "baseline_bohb": baseline,
                   "baseline_final": baseline, "export_onnx": nas + random + baseline, "plot_bohb_progress": 1,
                   "plot_arch_weights": 1, "plot_cells": 1, "plot_scores": 1, "report": 1}
    return {rule: datasets * count for rule, count in per_dataset.items()} | {"leaderboard": 1, "all": 1}


# The counts each preset is known by (issue 23): 12 or 48 data sets, config.yaml's 5 NAS seeds, 3 random, 3 baseline.
KNOWN = {
    "medmnist-2d.yaml": {"download_dataset": 12, "darts_search": 60, "bohb": 60, "random_bohb": 36,
                         "baseline_bohb": 36, "export_onnx": 132, "report": 12, "leaderboard": 1},
    "medmnist-2d-all-sizes.yaml": {"download_dataset": 48, "darts_search": 240, "bohb": 240, "random_bohb": 144,
                                   "baseline_bohb": 144, "export_onnx": 528, "report": 48, "leaderboard": 1},
}


@pytest.mark.parametrize("preset", sorted(KNOWN))
def test_a_preset_plans_every_job_of_every_data_set(tmp_path, preset):
    workdir = copy_workflow(tmp_path / "workflow", tmp_path / "unused.npz")
    result = snakemake(workdir, "-n", "--configfile", f"configs/{preset}", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    jobs = planned_jobs(output)
    assert {rule: jobs.get(rule) for rule in KNOWN[preset]} == KNOWN[preset]
    entries = yaml.safe_load((REPO / "configs" / preset).read_text())["datasets"]
    default = yaml.safe_load((REPO / "config.yaml").read_text())
    seeds = {"nas": len(default["seeds"]), "baseline": len(default["baseline"]["seeds"]),
             "random": len(default.get("random", default["baseline"])["seeds"])}
    assert jobs == expected_jobs(len(entries), **seeds)
    # Every data set is downloaded into its own folder, the file that all its jobs read.
    for entry in entries:
        assert f"output: results/{entry['flag']}_{entry['size']}/data.npz" in output, entry
