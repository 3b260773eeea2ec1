#!/usr/bin/env bash
# Run the workflow on the CI SLURM that up.sh started: tests/test_slurm.py installs the shipped
# profile (profiles/slurm) as the README says, with the test cluster's site values, runs the tiny
# sweep (.test/config.yaml .test/sweep.yaml: RetinaMNIST and a synthetic multi-label set) through
# `snakemake --profile slurm`, checks that every job of a non-local rule went through sbatch and that
# both data sets' outputs exist, and shows that a job failing under SLURM fails Snakemake. Output is
# not captured (-s), so CI's log shows every sbatch submission.
# Usage: bash .ci/slurm/run-workflow.sh   (PYTHON defaults to .venv/bin/python, else python3)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
python=${PYTHON:-.venv/bin/python}
[[ -x $python ]] || python=python3

sinfo --Node --long
# Fail, not skip, when the cluster or the data set is missing.
DARTS_BOHB_REQUIRE_SLURM=1 DARTS_BOHB_REQUIRE_DATA=1 \
    "$python" -m pytest tests/test_slurm.py -m slurm -v -s -p no:cacheprovider
