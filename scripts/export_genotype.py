"""Turn a search's alphas.csv and search.json into genotype.json (last epoch's probabilities)."""

import argparse
import logging
import sys

from darts_bohb.cli import run_script
from darts_bohb.export import export_genotype
from darts_bohb.genotype import GenotypeError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alphas", required=True, help="alphas.csv of the search")
    parser.add_argument("--summary", required=True, help="search.json of the search")
    parser.add_argument("--output", required=True, help="where to write genotype.json")
    args = parser.parse_args()

    def task() -> None:
        genotype = export_genotype(args.alphas, args.summary, args.output)
        logging.info("wrote %s: %s (%s)", args.output, genotype.derived_design(), genotype.stop_reason)

    return run_script(task, (GenotypeError,))


if __name__ == "__main__":
    sys.exit(main())
