"""Plot the BOHB incumbent's validation score over wall-clock and cumulative epochs, per method and seed."""

import argparse
import logging
import sys

from darts_bohb.report.cli import add_file_arguments, add_seed_arguments, files_by_run, run_reporting, seeds_from
from darts_bohb.report.collect import SCORE_METRICS, read_trajectories
from darts_bohb.report.progress import plot_bohb_progress
from darts_bohb.report.style import save_figure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_seed_arguments(parser)
    add_file_arguments(parser, "trajectories", "trajectory.csv of the BOHB run")
    parser.add_argument("--metric", required=True, choices=SCORE_METRICS, help="the metric BOHB maximised (hpo.metric)")
    parser.add_argument("--output", nargs="+", required=True, help="figure files; the format follows each extension")
    args = parser.parse_args()
    seeds, files = seeds_from(args), files_by_run(parser, args, "trajectories")

    def task() -> None:
        trajectories = read_trajectories(files)
        logging.info("read %d incumbent changes (%s)", len(trajectories), seeds.describe())
        save_figure(plot_bohb_progress(trajectories, seeds, args.metric), args.output)
        logging.info("wrote %s", ", ".join(args.output))

    return run_reporting(task)


if __name__ == "__main__":
    sys.exit(main())
