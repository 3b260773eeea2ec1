#!/usr/bin/env bash
# Post-deploy script of every env in this folder (envs/NAME.post-deploy.sh links here).
# Snakemake runs it inside a freshly created env and hashes it together with the env file, so
# changing it rebuilds the envs.
#  - medmnist comes from PyPI without its dependencies, as in the README's set-up: its metadata
#    asks for torchvision and scikit-image, which the workflow never imports, and pip would
#    take PyPI's torchvision and with it a second torch in place of conda-forge's pytorch. What
#    `import medmnist` does import (numpy, pandas, scikit-learn, pillow, torch) is in each env,
#    which tests/test_envs.py checks.
#  - The project itself is installed editable from the source tree, so a job always runs the
#    checkout's code: Snakemake reuses an env until the env file changes, not when code does.
#    The tree is $DARTS_BOHB_SOURCE, else the folder Snakemake runs in.
set -euo pipefail

python -m pip install --no-deps medmnist==3.0.2

source_dir=${DARTS_BOHB_SOURCE:-$PWD}
if ! grep -qs '^name = "darts-bohb"' "$source_dir/pyproject.toml"; then
    echo "error: no darts-bohb source tree at '$source_dir' (pyproject.toml of darts-bohb not found);" \
        "run snakemake from the repository root, or set DARTS_BOHB_SOURCE to it" >&2
    exit 1
fi
python -m pip install --no-deps -e "$source_dir"
