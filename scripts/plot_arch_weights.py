"""Plot each node's operation probabilities over the DARTS search epochs, per seed, early stops marked."""

import argparse
import logging
import sys

from darts_bohb.report.arch_weights import plot_arch_weights
from darts_bohb.report.cli import add_file_arguments, add_seed_arguments, files_by_seed, run_reporting
from darts_bohb.report.collect import read_alphas, read_search_runs
from darts_bohb.report.style import save_figure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_seed_arguments(parser, baseline=False)
    add_file_arguments(parser, "alphas", "alphas.csv of the search", baseline=False)
    add_file_arguments(parser, "searches", "search.json of the search", baseline=False)
    parser.add_argument("--output", nargs="+", required=True, help="figure files; the format follows each extension")
    args = parser.parse_args()
    seeds = tuple(args.seeds)
    alpha_files = files_by_seed(parser, seeds, args.alphas, "--alphas")
    search_files = files_by_seed(parser, seeds, args.searches, "--searches")

    def task() -> None:
        search_runs = read_search_runs(search_files)
        alphas = read_alphas(alpha_files)
        logging.info("read the search of %d seeds: %d probability rows", len(search_runs), len(alphas))
        save_figure(plot_arch_weights(alphas, search_runs), args.output)
        logging.info("wrote %s", ", ".join(args.output))

    return run_reporting(task)


if __name__ == "__main__":
    sys.exit(main())
