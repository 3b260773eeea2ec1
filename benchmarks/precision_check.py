"""Does the fast path (bf16 autocast + channels_last) change results beyond the noise of seeds?

For each incumbent.json given (the configs BOHB chose, NAS and baseline), train its network
three times on the train split and score it on the val split (never on test):

    fp32 seed s, bf16 seed s   -> the change that precision makes
    fp32 seed s+1              -> the change that another seed makes, for scale

and print the validation scores side by side with their absolute differences and the training
time of each precision. Everything runs in one process, one training after another:

    python benchmarks/precision_check.py results/retinamnist_28/bohb/seed*/incumbent.json \
        results/retinamnist_28/baseline/bohb/seed*/incumbent.json --data results/retinamnist_28/data.npz \
        [--epochs 27] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from darts_bohb.data import dataset_spec, load_splits
from darts_bohb.hpo_space import training_from_config
from darts_bohb.metrics import score
from darts_bohb.network import build_network
from darts_bohb.runtime import Runtime, make_runtime, seed_everything
from darts_bohb.training import predict_probabilities, train_model


def train_and_score(incumbent: dict, epochs: int, runtime: Runtime, seed: int, splits, spec) -> tuple[dict, float]:
    generator = seed_everything(seed)
    model = runtime.prepare_model(build_network(incumbent["architecture"]))
    seconds = train_model(model, splits["train"], training_from_config(incumbent["config"], epochs), runtime,
                          generator, spec.n_classes).seconds
    probabilities = predict_probabilities(model, splits["val"], runtime)
    labels = splits["val"].labels.numpy()
    return {metric: score(metric, labels, probabilities, spec.task) for metric in ("accuracy", "auc")}, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("incumbents", nargs="+", type=Path)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--dataset", default="retinamnist")
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--epochs", type=int, default=None, help="default: each incumbent's own budget")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    spec = dataset_spec(args.dataset, args.size)
    splits = load_splits(args.data, ("train", "val"))
    fast = make_runtime("cpu", "bf16", args.threads)
    fp32 = Runtime(device=fast.device, autocast_dtype=None, channels_last=False)  # the plain reference path
    print(f"val split: {len(splits['val'])} images; {args.threads} threads; fast path: {fast.describe()}")
    print(f"{'incumbent':<42} {'ep':>3} {'metric':>8} {'fp32 s':>8} {'bf16 s':>8} {'|diff|':>7} "
          f"{'fp32 s+1':>8} {'|seed diff|':>11}")
    precision_gaps, seed_gaps, times = [], [], []
    for path in args.incumbents:
        incumbent = json.loads(path.read_text())  # NAS and baseline incumbents alike
        seed, epochs = int(incumbent["seed"]), args.epochs or int(incumbent["budget"])
        reference, fp32_seconds = train_and_score(incumbent, epochs, fp32, seed, splits, spec)
        bf16, bf16_seconds = train_and_score(incumbent, epochs, fast, seed, splits, spec)
        other_seed, _ = train_and_score(incumbent, epochs, fp32, seed + 1, splits, spec)
        times.append((fp32_seconds, bf16_seconds))
        for metric in ("accuracy", "auc"):
            precision_gaps.append(abs(bf16[metric] - reference[metric]))
            seed_gaps.append(abs(other_seed[metric] - reference[metric]))
            print(f"{str(path):<42} {epochs:>3} {metric:>8} {reference[metric]:8.4f} {bf16[metric]:8.4f} "
                  f"{precision_gaps[-1]:7.4f} {other_seed[metric]:8.4f} {seed_gaps[-1]:11.4f}")
    fp32_total, bf16_total = map(sum, zip(*times))
    print(f"mean |bf16 - fp32| over {len(args.incumbents)} configs x 2 metrics: {np.mean(precision_gaps):.4f}; "
          f"mean |seed s+1 - seed s| (fp32): {np.mean(seed_gaps):.4f}")
    print(f"training seconds: fp32 {fp32_total:.1f}, bf16 {bf16_total:.1f}, ratio fp32 / bf16 "
          f"{fp32_total / bf16_total:.2f}x")


if __name__ == "__main__":
    main()
