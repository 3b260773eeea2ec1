"""BOHB (SMAC3 Hyperband) for one seed: NAS networks stacked from the genotype's cell designs,
or the baseline's plain CNN (--method baseline, no genotype). Reads train and val only."""

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
from darts_bohb.cli import add_job_arguments, run_script
from darts_bohb.data import DatasetError, dataset_spec, load_splits
from darts_bohb.genotype import GenotypeError, load_genotype
from darts_bohb.hpo_space import sample_designs
from darts_bohb.runtime import RuntimeConfigError, make_runtime
from darts_bohb.settings import ConfigError, HpoSettings, from_json


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--method", required=True, choices=("nas", "baseline"))
    parser.add_argument("--genotype", help="genotype.json of the search (nas only)")
    add_job_arguments(parser, "hpo")
    parser.add_argument("--incumbent", required=True, help="incumbent.json to write (SMAC's run goes beside it)")
    parser.add_argument("--trajectory", required=True)
    parser.add_argument("--runhistory", required=True)
    args = parser.parse_args()
    if (args.method == "nas") != (args.genotype is not None):
        parser.error("--genotype is required for --method nas and not accepted for --method baseline")

    def task() -> None:
        hpo = from_json(HpoSettings, args.settings, "hpo")
        spec = dataset_spec(args.dataset, args.size)
        designs = topology = None
        if args.method == "nas":
            genotype = load_genotype(args.genotype)
            if (genotype.dataset, genotype.size) != (spec.flag, spec.size):
                raise GenotypeError(f"{args.genotype}: searched on {genotype.dataset} at {genotype.size} px, "
                                    f"but the config's dataset is {spec.flag} at {spec.size} px")
            designs = sample_designs(genotype, hpo.designs_per_cell, args.seed)
            topology = genotype.topology
        runtime = make_runtime(args.device, args.precision, args.threads)
        splits = load_splits(args.data, ("train", "val"))
        problem = Problem(method=args.method, seed=args.seed, train=splits["train"], val=splits["val"],
                          task=spec.task, n_classes=spec.n_classes, designs=designs, topology=topology,
                          runtime=runtime, metric=hpo.metric)
        run_bohb(problem, hpo, BohbOutputs(Path(args.incumbent), Path(args.trajectory), Path(args.runhistory)))

    return run_script(task, (ConfigError, DatasetError, GenotypeError, RuntimeConfigError))


if __name__ == "__main__":
    sys.exit(main())
