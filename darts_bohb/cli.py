"""What the rules' scripts share: the arguments of every training job, and how a script ends on
an error it expects (one logged line naming the problem, exit code 1, no traceback).

Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable


class _SourceFormatter(logging.Formatter):
    """Names the logger of a package message (darts_bohb.bohb, smac, ...); the script's own
    lines, logged on the root logger, read "time LEVEL message"."""

    def format(self, record: logging.LogRecord) -> str:
        record.source = "" if record.name == "root" else f"{record.name}: "
        return super().format(record)


def add_job_arguments(parser: argparse.ArgumentParser, section: str) -> None:
    """The data, seed, config sections and job resources that darts_search, bohb and final all take."""
    parser.add_argument("--data", required=True, help="the MedMNIST .npz")
    parser.add_argument("--dataset", required=True, help="MedMNIST flag, e.g. retinamnist")
    parser.add_argument("--size", required=True, type=int)
    parser.add_argument("--task", help="medmnist's task name of a data set of your own (dataset.task); "
                                       "MedMNIST's sets take theirs from medmnist.INFO")
    parser.add_argument("--seed", required=True, type=int)
    parser.add_argument("--settings", required=True, help=f"the config's {section} section as JSON")
    parser.add_argument("--runtime", required=True, help="the config's runtime section as JSON")
    parser.add_argument("--epoch-size", required=True, help="the config's epoch_size section as JSON")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--memory-mb", type=int,
                        help="the job's memory (the rule's resources mem_mb): a training batch whose activations "
                             "do not fit in half of it is cut into micro-batches; unset, batches run whole")


def job_runtime(args: argparse.Namespace):
    from darts_bohb.runtime import make_runtime

    return make_runtime(**json.loads(args.runtime), threads=args.threads, memory_mb=args.memory_mb)


def run_script(task: Callable[[], object], expected: tuple[type[Exception], ...]) -> int:
    """Run a script's work with logging set up; an `expected` error ends it with exit code 1."""
    handler = logging.StreamHandler()
    handler.setFormatter(_SourceFormatter("%(asctime)s %(levelname)s %(source)s%(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    try:
        task()
    except expected as error:
        logging.error("%s", error)
        return 1
    return 0
