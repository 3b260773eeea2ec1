"""Plot test accuracy, AUC and macro F1 per seed and output for the three methods, with published references."""

import sys

from darts_bohb.report.run import read_scores
from darts_bohb.report.scores import plot_scores
from darts_bohb.report.style import figure_script

if __name__ == "__main__":
    sys.exit(figure_script(__doc__, lambda run: plot_scores(read_scores(run), run)))
