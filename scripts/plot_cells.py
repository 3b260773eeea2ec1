"""Draw each seed's derived cell (per node the most probable operation other than Zero) from its genotype.json:
all seeds in one figure, and one figure per seed."""

import argparse
import logging
import sys

from darts_bohb.report.cells import plot_cell, plot_cells
from darts_bohb.report.cli import add_file_arguments, add_seed_arguments, files_by_seed, run_reporting
from darts_bohb.report.collect import read_genotypes
from darts_bohb.report.style import save_figure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_seed_arguments(parser, baseline=False)
    add_file_arguments(parser, "genotypes", "genotype.json of the search", baseline=False)
    parser.add_argument("--output", nargs="+", required=True, help="the all-seeds figure file(s)")
    parser.add_argument("--per-seed", nargs="*", default=[], help="one figure file per seed, in the order of --seeds")
    args = parser.parse_args()
    seeds = tuple(args.seeds)
    genotype_files = files_by_seed(parser, seeds, args.genotypes, "--genotypes")
    if args.per_seed:
        files_by_seed(parser, seeds, args.per_seed, "--per-seed")

    def task() -> None:
        genotypes = read_genotypes(genotype_files)
        logging.info("read the genotypes of %d seeds", len(genotypes))
        save_figure(plot_cells(genotypes), args.output)
        for seed, target in zip(seeds, args.per_seed):
            save_figure(plot_cell(genotypes[seed]), [target])
        logging.info("wrote %s", ", ".join([*args.output, *args.per_seed]))

    return run_reporting(task)


if __name__ == "__main__":
    sys.exit(main())
