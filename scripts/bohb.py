"""BOHB (SMAC3 Hyperband) for one seed: NAS networks stacked from the genotype's cell designs,
random cell designs (--method random, the control for the search: no genotype, the cell's
--kernel-sizes) or the baseline's plain CNN (--method baseline). Reads train and val only."""

import argparse
import os
import sys
from pathlib import Path

# SMAC iterates over sets of configurations, whose order follows Python's per-process string
# hash seed; with a fixed seed, the same config and seed propose the same trials in every run.
# Restart once with it set, before anything heavy is imported.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])

from darts_bohb.bohb import BohbOutputs, Problem, run_bohb
from darts_bohb.cli import add_job_arguments, job_runtime, run_script
from darts_bohb.data import DatasetError, dataset_spec, load_splits
from darts_bohb.genotype import GenotypeError, load_genotype
from darts_bohb.hpo_space import sample_designs
from darts_bohb.memory import MemoryBudgetError
from darts_bohb.methods import METHODS
from darts_bohb.random_cells import design_operations, sample_random_designs
from darts_bohb.runtime import RuntimeConfigError
from darts_bohb.settings import ConfigError, EpochSize, HpoSettings, check_metric_for_task, from_json
from darts_bohb.topology import cell_topology


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--method", required=True, choices=METHODS)
    parser.add_argument("--genotype", help="genotype.json of the search (nas only)")
    parser.add_argument("--kernel-sizes", type=int, nargs=4,
                        help="the cell's four first-stage kernel sizes, as search.kernel_sizes (random only)")
    parser.add_argument("--without-zero", action="store_true",
                        help="random designs leave Zero out, as the designs of a search without Zero do (random only)")
    add_job_arguments(parser, "hpo")
    parser.add_argument("--incumbent", required=True, help="incumbent.json to write (SMAC's run goes beside it)")
    parser.add_argument("--trajectory", required=True)
    parser.add_argument("--runhistory", required=True)
    parser.add_argument("--ensemble", required=True, help="ensemble.pt to write: the chosen members' fold models")
    args = parser.parse_args()
    if (args.method == "nas") != (args.genotype is not None):
        parser.error("--genotype is required for --method nas and accepted for no other method")
    if (args.method == "random") != (args.kernel_sizes is not None):
        parser.error("--kernel-sizes is required for --method random and accepted for no other method")

    def task() -> None:
        hpo = from_json(HpoSettings, args.settings, "hpo")
        spec = dataset_spec(args.dataset, args.size, args.task, args.data)
        check_metric_for_task(hpo.metric, spec.task)
        designs = topology = None
        if args.method == "nas":
            genotype = load_genotype(args.genotype)  # the search's of this data set (the workflow's paths)
            designs = sample_designs(genotype, hpo.designs_per_cell, args.seed)
            topology = genotype.topology
        elif args.method == "random":
            topology = cell_topology(tuple(args.kernel_sizes))
            designs = sample_random_designs(topology, hpo.designs_per_cell, args.seed,
                                            design_operations(include_zero=not args.without_zero))
        runtime = job_runtime(args)
        splits = load_splits(args.data, ("train", "val"))
        problem = Problem(method=args.method, seed=args.seed, train=splits["train"], val=splits["val"],
                          task=spec.task, n_classes=spec.n_classes, designs=designs, topology=topology,
                          runtime=runtime, metric=hpo.metric,
                          epoch_scale=from_json(EpochSize, args.epoch_size, "epoch_size").scale(len(splits["train"])))
        run_bohb(problem, hpo, BohbOutputs(Path(args.incumbent), Path(args.trajectory), Path(args.runhistory),
                                             Path(args.ensemble)))

    return run_script(task, (ConfigError, DatasetError, GenotypeError, MemoryBudgetError, RuntimeConfigError))


if __name__ == "__main__":
    sys.exit(main())
