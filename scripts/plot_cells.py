"""Draw each seed's derived cell (per node the most probable operation other than Zero) from its genotype.json:
all seeds in one figure, and one figure per seed."""

import sys

from darts_bohb.report.cells import plot_cell, plot_cells
from darts_bohb.report.run import read_genotypes
from darts_bohb.report.style import figure_script

if __name__ == "__main__":
    sys.exit(figure_script(__doc__, lambda run: plot_cells(read_genotypes(run)),
                           lambda run: {seed: plot_cell(genotype) for seed, genotype in read_genotypes(run).items()}))
