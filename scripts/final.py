"""Train a BOHB incumbent at max_budget (on train, or train+val) and score it on the test split;
the same for the NAS networks, the random-cell control and the baseline (--method)."""

import argparse
import sys
from pathlib import Path

from darts_bohb.cli import add_job_arguments, job_runtime, run_script
from darts_bohb.data import DatasetError, dataset_spec
from darts_bohb.final import FinalOutputs, run_final
from darts_bohb.memory import MemoryBudgetError
from darts_bohb.methods import METHODS
from darts_bohb.runtime import RuntimeConfigError
from darts_bohb.settings import ConfigError, EpochSize, FinalSettings, from_json
from darts_bohb.training import TrainingDiverged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--method", required=True, choices=METHODS)
    parser.add_argument("--incumbent", required=True, help="incumbent.json of the BOHB run")
    add_job_arguments(parser, "final")
    parser.add_argument("--epochs", required=True, type=int, help="training epochs (hpo.max_budget)")
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--predictions", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--architecture", required=True)
    parser.add_argument("--model-card", required=True, help="MODEL_CARD.md to write")
    parser.add_argument("--ensemble", required=True, help="ensemble.pt of the BOHB run")
    parser.add_argument("--ensemble-metrics", required=True)
    parser.add_argument("--ensemble-predictions", required=True)
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error(f"--epochs: expected at least 1, got {args.epochs}")

    def task() -> None:
        settings = from_json(FinalSettings, args.settings, "final")
        spec = dataset_spec(args.dataset, args.size, args.task, args.data)
        runtime = job_runtime(args)
        outputs = FinalOutputs(Path(args.metrics), Path(args.predictions), Path(args.model), Path(args.architecture),
                               Path(args.model_card), Path(args.ensemble_metrics), Path(args.ensemble_predictions))
        run_final(args.method, args.incumbent, args.data, args.seed, args.epochs, settings, spec.task,
                  spec.n_classes, runtime, outputs, dataset=spec.flag, ensemble_path=args.ensemble,
                  epoch=from_json(EpochSize, args.epoch_size, "epoch_size"))

    return run_script(task, (ConfigError, DatasetError, RuntimeConfigError, TrainingDiverged, MemoryBudgetError))


if __name__ == "__main__":
    sys.exit(main())
