"""Write reports/summary.csv (one row per method, seed and output: the incumbent and the per-seed
ensemble), reports/ensemble.csv (one row per method with at least 2 seeds: the ensemble of its
seeds' final models), reports/comparisons.csv (paired differences of the methods with bootstrap
intervals and McNemar's test), reports/search.csv (the searched probabilities per seed and node)
and reports/summary.md (the aggregated report)."""

import argparse
import logging
import sys
from pathlib import Path

from darts_bohb.data import DatasetError, dataset_spec
from darts_bohb.io import write_csv, write_text
from darts_bohb.report.cli import (
    add_benchmark_arguments,
    add_file_arguments,
    add_seed_arguments,
    benchmark_files,
    files_by_run,
    files_by_seed,
    optional_files_by_run,
    run_reporting,
    seeds_from,
)
from darts_bohb.report.collect import (
    check_same_test_images,
    read_genotypes,
    read_incumbents,
    read_predictions,
    read_search_runs,
    read_seed_ensembles,
    read_stage_seconds,
    read_test_metrics,
    read_trial_counts,
)
from darts_bohb.report.comparisons import DEFAULT_RESAMPLES, comparison_table
from darts_bohb.report.ensemble import ensemble_scores
from darts_bohb.report.references import published_results
from darts_bohb.report.search import diagnose_search, search_rows
from darts_bohb.report.summary import FIGURES, build_summary, render_markdown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_seed_arguments(parser)
    add_file_arguments(parser, "metrics", "metrics.json of the final training")
    add_file_arguments(parser, "incumbents", "incumbent.json of the BOHB run")
    add_file_arguments(parser, "runhistories", "runhistory.csv of the BOHB run")
    add_file_arguments(parser, "predictions", "predictions.csv (test probabilities) of the final training")
    # Optional, so that results from before the per-seed ensembles still make a report.
    add_file_arguments(parser, "ensemble_metrics", "ensemble/metrics.json of the final training", required=False)
    add_file_arguments(parser, "ensemble_predictions", "ensemble/predictions.csv of the final training",
                       required=False)
    add_file_arguments(parser, "searches", "search.json of the search", baseline=False)
    add_file_arguments(parser, "genotypes", "genotype.json of the search", baseline=False)
    add_benchmark_arguments(parser)
    parser.add_argument("--dataset", required=True, help="MedMNIST flag (dataset.flag)")
    parser.add_argument("--size", required=True, type=int, help="image side (dataset.size)")
    parser.add_argument("--task", help="medmnist's task name of a data set of your own (dataset.task)")
    for kind in FIGURES:
        parser.add_argument(f"--{kind.replace('_', '-')}", type=Path, help=f"the {kind} figure to link")
    parser.add_argument("--csv", required=True, type=Path, help="where to write summary.csv")
    parser.add_argument("--ensemble-csv", required=True, type=Path, help="where to write ensemble.csv")
    parser.add_argument("--comparisons-csv", required=True, type=Path, help="where to write comparisons.csv")
    parser.add_argument("--search-csv", required=True, type=Path, help="where to write search.csv")
    parser.add_argument("--markdown", required=True, type=Path, help="where to write summary.md")
    parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES,
                        help=f"bootstrap resamples per interval (default {DEFAULT_RESAMPLES})")
    args = parser.parse_args()
    seeds = seeds_from(args)
    files = {kind: files_by_run(parser, args, kind)
             for kind in ("metrics", "incumbents", "runhistories", "predictions")}
    ensemble_files = {kind: optional_files_by_run(parser, args, kind)
                      for kind in ("ensemble_metrics", "ensemble_predictions")}
    if (ensemble_files["ensemble_metrics"] is None) != (ensemble_files["ensemble_predictions"] is None):
        parser.error("--ensemble-metrics and --ensemble-predictions: give both (the per-seed ensembles) or neither")
    search_files = files_by_seed(parser, seeds.nas, args.searches, "--searches")
    genotype_files = files_by_seed(parser, seeds.nas, args.genotypes, "--genotypes")
    if args.resamples < 10:
        parser.error(f"--resamples: expected at least 10, got {args.resamples}")
    benchmarks = benchmark_files(parser, args)
    figures = {kind: getattr(args, kind) for kind in FIGURES if getattr(args, kind) is not None}
    try:
        # How the ensemble is scored: the task of the user's own data set, or medmnist.INFO's.
        medmnist_task = args.task or dataset_spec(args.dataset, args.size).task
    except DatasetError as error:
        parser.error(str(error))

    def task() -> None:
        stage_seconds = read_stage_seconds(seeds, benchmarks)
        predictions = read_predictions(files["predictions"])
        seed_ensembles = None
        if ensemble_files["ensemble_metrics"] is not None:
            seed_ensembles = read_seed_ensembles(ensemble_files["ensemble_metrics"])
            check_same_test_images(files["predictions"], ensemble_files["ensemble_predictions"])
        summary = build_summary(
            metrics=read_test_metrics(files["metrics"]),
            incumbents=read_incumbents(files["incumbents"]),
            trials=read_trial_counts(files["runhistories"]),
            search_runs=read_search_runs(search_files),
            stage_seconds=stage_seconds,
            seed_ensembles=seed_ensembles,
        )
        ensemble = ensemble_scores(predictions, medmnist_task)
        comparisons = comparison_table(predictions, medmnist_task, args.resamples)
        genotypes = read_genotypes(genotype_files)
        markdown = render_markdown(summary, stage_seconds, ensemble, seeds, args.dataset, args.size,
                                   published_results(args.dataset, args.size), figures, args.markdown,
                                   comparisons=comparisons, search=diagnose_search(genotypes))
        write_csv(args.csv, summary)
        write_csv(args.ensemble_csv, ensemble)
        write_csv(args.comparisons_csv, comparisons)
        write_csv(args.search_csv, search_rows(genotypes))
        write_text(args.markdown, markdown)
        logging.info("wrote %s, %s, %s, %s and %s (%s)", args.csv, args.ensemble_csv, args.comparisons_csv,
                     args.search_csv, args.markdown, seeds.describe())

    return run_reporting(task)


if __name__ == "__main__":
    sys.exit(main())
