"""Plot test accuracy, AUC and macro F1 per seed for NAS+BOHB and the baseline, with published references."""

import argparse
import logging
import sys

from darts_bohb.report.cli import add_file_arguments, add_seed_arguments, files_by_run, run_reporting, seeds_from
from darts_bohb.report.collect import read_test_metrics
from darts_bohb.report.references import published_results
from darts_bohb.report.scores import plot_scores
from darts_bohb.report.style import save_figure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_seed_arguments(parser)
    add_file_arguments(parser, "metrics", "metrics.json of the final training")
    parser.add_argument("--dataset", required=True, help="MedMNIST flag (dataset.flag); selects the references")
    parser.add_argument("--size", required=True, type=int, help="image side (dataset.size); selects the references")
    parser.add_argument("--output", nargs="+", required=True, help="figure files; the format follows each extension")
    args = parser.parse_args()
    seeds, files = seeds_from(args), files_by_run(parser, args, "metrics")

    def task() -> None:
        metrics = read_test_metrics(files)
        references = published_results(args.dataset, args.size)
        logging.info("read the test metrics of %s; %d published references for %s at %d px",
                     seeds.describe(), len(references), args.dataset, args.size)
        save_figure(plot_scores(metrics, seeds, references), args.output)
        logging.info("wrote %s", ", ".join(args.output))

    return run_reporting(task)


if __name__ == "__main__":
    sys.exit(main())
