"""How far a DARTS search separates the operations, for settings that differ from config.yaml.

    python benchmarks/search_levers.py --data ../shared/data/retinamnist.npz --seeds 1 2 \
        --set include_zero=false --set arch.lr=0.03 --set arch.warmup_epochs=5 [--threads 1]

Runs the real search (darts_bohb.darts.run_search, train split only) per seed with the search
section of config.yaml changed by each --set (dotted key = YAML value), and prints per seed the
share of the derived operation among the non-Zero ones, p(derived) / (1 − p(zero)), per node and
averaged (uniform α gives 0.25), next to p(zero), the stop reason, the last epoch's accuracy on
the α half of train, and the seconds. Nothing here reads the val or test split.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import torch
import yaml

from darts_bohb.darts import run_search
from darts_bohb.export import genotype_from_search
from darts_bohb.runtime import make_runtime
from darts_bohb.settings import SearchSettings, from_dict

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


def search_section(overrides: list[str]) -> dict:
    section = copy.deepcopy(yaml.safe_load(CONFIG.read_text())["search"])
    for override in overrides:
        dotted, _, value = override.partition("=")
        *parents, key = dotted.split(".")
        node = section
        for parent in parents:
            node = node[parent]
        if key not in node:
            raise SystemExit(f"--set {override}: search.{dotted} is not a key of config.yaml")
        node[key] = yaml.safe_load(value)
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    settings = from_dict(SearchSettings, search_section(args.set), "search")
    runtime = make_runtime("cpu", "auto", args.threads)
    print(f"settings changed: {args.set or 'none'}; torch threads {torch.get_num_threads()}")
    shares = []
    for seed in args.seeds:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as state_dir:
            result = run_search(args.data, seed, "retinamnist", 28, settings, runtime, state_dir)
        genotype = genotype_from_search(result.alphas, result.summary)
        per_node = {}
        for node in genotype.topology.node_names:
            probabilities = genotype.probabilities[node]
            derived = genotype.derived(node)
            per_node[node] = (derived, probabilities[derived] / (1.0 - probabilities["zero"]), probabilities["zero"])
        share = sum(value[1] for value in per_node.values()) / len(per_node)
        shares.append(share)
        last = result.epochs.iloc[-1]
        print(f"seed {seed}: mean share {share:.3f}  mean p_zero "
              f"{sum(value[2] for value in per_node.values()) / len(per_node):.3f}  epochs "
              f"{result.summary['epochs_run']}/{result.summary['epochs_planned']}  arch-half acc "
              f"{last['arch_acc']:.3f}  {time.perf_counter() - started:.0f} s  stop: {result.summary['stop_reason']}")
        print("    " + "  ".join(f"{node}:{derived}={value:.2f}" for node, (derived, value, _) in per_node.items()))
    print(f"mean share over seeds {sum(shares) / len(shares):.3f}, min {min(shares):.3f}")


if __name__ == "__main__":
    main()
