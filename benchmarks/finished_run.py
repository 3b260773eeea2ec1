"""What the checks that revisit a finished workflow run share: the run's folder and its data."""

from __future__ import annotations

import argparse
from pathlib import Path


def finished_run_parser(doc: str, folds: bool = True) -> argparse.ArgumentParser:
    """The arguments naming a finished run (the folder Snakemake ran in), its data file, data set,
    image size and, for a check that rebuilds the run's folds, hpo.cv_folds."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--data", required=True)
    parser.add_argument("--dataset", default="retinamnist")
    parser.add_argument("--size", type=int, default=28)
    if folds:
        parser.add_argument("--folds", type=int, default=3, help="hpo.cv_folds of the run")
    return parser
