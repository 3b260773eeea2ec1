"""Plot the BOHB incumbent's selection score (val, or out of fold at the largest budget) over wall-clock and
cumulative epochs, per method and seed."""

import sys

from darts_bohb.report.progress import plot_bohb_progress
from darts_bohb.report.run import read_tables
from darts_bohb.report.style import figure_script

if __name__ == "__main__":
    sys.exit(figure_script(__doc__, lambda run: plot_bohb_progress(read_tables(run.files("trajectory")), run)))
