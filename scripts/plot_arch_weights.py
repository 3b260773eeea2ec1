"""Plot each node's operation probabilities over the DARTS search epochs, per seed, early stops marked."""

import sys

from darts_bohb.report.arch_weights import plot_arch_weights
from darts_bohb.report.run import read_search_runs, read_tables
from darts_bohb.report.style import figure_script

if __name__ == "__main__":
    sys.exit(figure_script(__doc__, lambda run: plot_arch_weights(read_tables(run.files("alphas", ["nas"])),
                                                                  read_search_runs(run))))
