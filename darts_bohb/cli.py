"""What the rules' scripts share: the arguments of every training job, and how a script ends on
an error it expects (one logged line naming the problem, exit code 1, no traceback).

Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
from typing import Callable

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def add_job_arguments(parser: argparse.ArgumentParser, section: str) -> None:
    """The data, seed, config section and runtime that darts_search, bohb and final all take."""
    parser.add_argument("--data", required=True, help="the MedMNIST .npz")
    parser.add_argument("--dataset", required=True, help="MedMNIST flag, e.g. retinamnist")
    parser.add_argument("--size", required=True, type=int)
    parser.add_argument("--seed", required=True, type=int)
    parser.add_argument("--settings", required=True, help=f"the config's {section} section as JSON")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int)


def run_script(task: Callable[[], object], expected: tuple[type[Exception], ...]) -> int:
    """Run a script's work with logging set up; an `expected` error ends it with exit code 1."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        task()
    except expected as error:
        logging.error("%s", error)
        return 1
    return 0
