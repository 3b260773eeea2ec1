"""Draw one figure of a data set's report: bohb_progress, the BOHB incumbent over wall-clock and epochs;
arch_weights, each node's operation probabilities over the DARTS search; scores, the test scores per seed
and output with published references; cells, each seed's derived cell, with --per-seed also one per seed."""

import argparse
import sys

from darts_bohb.report.arch_weights import plot_arch_weights
from darts_bohb.report.cells import plot_cell, plot_cells
from darts_bohb.report.progress import plot_bohb_progress
from darts_bohb.report.run import Run, read_genotypes, read_scores, read_search_runs, read_tables, run_reporting
from darts_bohb.report.scores import plot_scores
from darts_bohb.report.style import save_figure

FIGURES = {
    "bohb_progress": lambda run: plot_bohb_progress(read_tables(run.files("trajectory")), run),
    "arch_weights": lambda run: plot_arch_weights(read_tables(run.files("alphas", ["nas"])), read_search_runs(run)),
    "scores": lambda run: plot_scores(read_scores(run), run),
    "cells": lambda run: plot_cells(read_genotypes(run)),
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("figure", choices=FIGURES)
    parser.add_argument("--run", required=True, type=Run.from_json, help="the run's manifest (JSON), from report.smk")
    parser.add_argument("--output", nargs="+", required=True, help="figure files; the format follows each extension")
    parser.add_argument("--per-seed", nargs="*", default=[], help="cells: a file per NAS seed, in the manifest's order")
    args = parser.parse_args()

    def task() -> None:
        save_figure(FIGURES[args.figure](args.run), args.output)
        if args.per_seed:  # cells: a file per NAS seed too, in the manifest's order
            for genotype, target in zip(read_genotypes(args.run).values(), args.per_seed, strict=True):
                save_figure(plot_cell(genotype), [target])

    sys.exit(run_reporting(task))
