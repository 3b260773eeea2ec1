"""Run the DARTS search for one seed (resuming from --state-dir if a matching state is there)."""

import argparse
import sys

from darts_bohb.cli import add_job_arguments, job_runtime, run_script
from darts_bohb.darts import search_to_files
from darts_bohb.data import DatasetError
from darts_bohb.memory import MemoryBudgetError
from darts_bohb.runtime import RuntimeConfigError
from darts_bohb.settings import ConfigError, EpochSize, SearchSettings, from_json


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_job_arguments(parser, "search")
    parser.add_argument("--state-dir", required=True, help="where the per-epoch state is kept")
    parser.add_argument("--alphas", required=True, help="output: alphas.csv")
    parser.add_argument("--epochs", required=True, help="output: epochs.csv")
    parser.add_argument("--summary", required=True, help="output: search.json")
    args = parser.parse_args()

    def task() -> None:
        settings = from_json(SearchSettings, args.settings, "search")
        epoch = from_json(EpochSize, args.epoch_size, "epoch_size")
        runtime = job_runtime(args)
        search_to_files(args.data, args.seed, args.dataset, args.size, settings, runtime, args.state_dir,
                        args.alphas, args.epochs, args.summary, args.task, epoch)

    return run_script(task, (ConfigError, DatasetError, MemoryBudgetError, RuntimeConfigError))


if __name__ == "__main__":
    sys.exit(main())
