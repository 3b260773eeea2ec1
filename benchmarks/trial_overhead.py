"""What a cross-validated BOHB trial spends besides training, measured side by side in one run.

    python benchmarks/trial_overhead.py --data ../shared/data/retinamnist.npz [--epochs 18] [--memory-mb 5200]

On the real train+val images, with the mid-sized network of train_throughput.py and the job's
memory, one thread: the time of one build of the network with its parameter count (what a trial
spent to count parameters on a network it then built again), of one memory probe (which every
fold of a trial repeated for the same network and batch size), and of cutting the folds' images
out of train+val, each set against the training of the trial's folds at the largest budget. Run
it on an idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from darts_bohb.cv import CrossValidation
from darts_bohb.data import load_splits
from darts_bohb.losses import loss_for_split
from darts_bohb.memory import fitting_micro_batch
from darts_bohb.network import build_network, count_parameters
from darts_bohb.runtime import make_runtime, seed_everything
from darts_bohb.training import _forward, train_model
from train_throughput import ARCHITECTURE, SETTINGS


def median_seconds(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=18, help="the largest budget (hpo.max_budget)")
    parser.add_argument("--folds", type=int, default=3, help="hpo.cv_folds")
    parser.add_argument("--memory-mb", type=int, default=5200, help="the hpo rule's mem_mb")
    parser.add_argument("--repeats", type=int, default=20, help="repeats of each short operation (median kept)")
    args = parser.parse_args()
    runtime = make_runtime("cpu", "auto", threads=1, memory_mb=args.memory_mb)
    splits = load_splits(args.data, ("train", "val"))
    cv = CrossValidation.over(splits["train"], splits["val"], args.folds, "accuracy", "ordinal-regression", seed=1)
    fitted_on, _ = cv.fold_splits(0)
    criterion = loss_for_split("focal", fitted_on, 5, gamma=2.0, class_weight_exponent=0.5)
    seed_everything(0)
    network = runtime.prepare_model(build_network(ARCHITECTURE))

    build = median_seconds(lambda: count_parameters(build_network(ARCHITECTURE)), args.repeats)
    probe = median_seconds(lambda: fitting_micro_batch(network, _forward, criterion, fitted_on, SETTINGS.batch_size,
                                                       runtime, "a training step"), args.repeats)
    cut = median_seconds(lambda: [cv.fold_splits(fold) for fold in range(args.folds)], args.repeats)
    settings = SETTINGS.__class__(**{**SETTINGS.__dict__, "epochs": args.epochs})
    start = time.perf_counter()
    for fold in range(args.folds):
        train_model(runtime.prepare_model(build_network(ARCHITECTURE)), cv.fold_splits(fold)[0], settings, runtime,
                    seed_everything(fold), n_classes=5)
    training = time.perf_counter() - start

    print(f"one cross-validated trial: {args.folds} folds x {args.epochs} epochs of {len(fitted_on)} images, "
          f"{count_parameters(network):,} parameters, {torch.get_num_threads()} thread")
    print(f"  training of its folds (probes included): {training:8.2f} s")
    for what, seconds, times in (("network built to count parameters", build, 1),
                                 ("memory probe of a fold after the first", probe, args.folds - 1),
                                 ("folds' images cut out of train+val", cut, 1)):
        print(f"  {what:40s} {seconds * 1000:8.1f} ms x {times} = {seconds * times / training:.4%} of the training")


if __name__ == "__main__":
    main()
