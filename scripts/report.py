"""Write a data set's summary.csv, ensemble.csv (each method's seeds as one ensemble), comparisons.csv
(the methods' paired differences, with bootstrap intervals and McNemar's test), search.csv and summary.md."""

import argparse
import logging
import sys
from pathlib import Path

import pandas as pd

from darts_bohb.io import write_csv, write_text
from darts_bohb.report.comparisons import DEFAULT_RESAMPLES, comparison_table, ensemble_scores
from darts_bohb.report.run import Run, read_genotypes, read_predictions, read_scores, run_reporting
from darts_bohb.report.search import search_rows
from darts_bohb.report.summary import build_summary, render_markdown

TABLES = ("summary", "ensemble", "comparisons", "search")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", required=True, type=Run.from_json, help="the run's manifest (JSON), from report.smk")
    parser.add_argument("--figures", nargs="*", type=Path, default=[], help="the figures to link (scores.png, ...)")
    parser.add_argument("--csv", dest="summary", required=True, type=Path, help="where to write summary.csv")
    for table in TABLES[1:]:
        parser.add_argument(f"--{table}-csv", dest=table, required=True, type=Path, help=f"where to write {table}.csv")
    parser.add_argument("--markdown", required=True, type=Path, help="where to write summary.md")
    parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES,
                        help=f"bootstrap resamples per interval (default {DEFAULT_RESAMPLES})")
    args = parser.parse_args()
    run = args.run

    def task() -> None:
        ensembles = run.files("ensemble_predictions")  # checked against the incumbents' test images as they are read
        predictions = {"incumbent": read_predictions(run.files("predictions"), ensembles.values()),
                       "seed_ensemble": read_predictions(ensembles)}
        genotypes = read_genotypes(run)
        tables = {"summary": build_summary(run, read_scores(run), genotypes),
                  "ensemble": ensemble_scores(predictions["incumbent"], run.medmnist_task()),
                  "comparisons": pd.concat([comparison_table(by_method, run.medmnist_task(), args.resamples, output)
                                            for output, by_method in predictions.items()], ignore_index=True),
                  "search": search_rows(genotypes)}
        links = {**{table: getattr(args, table) for table in TABLES}, **{path.stem: path for path in args.figures}}
        markdown = render_markdown(run, tables["summary"], tables["comparisons"], genotypes, links,
                                   args.markdown)
        for table, frame in tables.items():
            write_csv(getattr(args, table), frame)
        write_text(args.markdown, markdown)
        logging.info("wrote %s and %s (%s)", ", ".join(str(getattr(args, table)) for table in TABLES), args.markdown,
                     run.describe())

    return run_reporting(task)


if __name__ == "__main__":
    sys.exit(main())
