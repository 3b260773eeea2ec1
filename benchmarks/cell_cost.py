"""Cost of one training epoch by cell kind and width: why the BOHB space keeps channels narrow.

Trains (darts_bohb.training.train_model, the loop every BOHB trial runs) a network of three
cells of one width on synthetic 28 px images, for a searched cell (six nodes, all of them
convolution, ResNet or bottleneck blocks with kernels 3-9) and for the baseline's plain 3x3 conv
cell, with the first cell pooled or kept at 28x28 (cells 2 and 3 always pool). Prints seconds per
epoch of the second epoch (the first warms up oneDNN's kernels). Default precision (`auto`: bf16
autocast where the CPU has it), one thread; run it on an idle machine (check `uptime`).
EXPERIMENTS.md ("Cost of one training epoch by cell") records its table.
"""

from __future__ import annotations

import argparse
import time

import torch

from darts_bohb.data import Split
from darts_bohb.network import PLAIN_CONV, build_network
from darts_bohb.runtime import Runtime, make_runtime, seed_everything
from darts_bohb.topology import cell_topology
from darts_bohb.training import train_model
from train_throughput import SETTINGS

# No identity or zero node: the full cost of a searched cell.
SEARCHED = {"k3": "conv_block", "k5": "resnet_block", "k7": "resnet_bottleneck", "k9": "conv_block",
            "k7_k3": "resnet_block", "k9_k3": "resnet_bottleneck"}


def architecture(design: dict[str, str] | str, channels: int, first_pooled: bool) -> dict:
    cells = [{"design": design, "channels": channels, "batch_norm": True, "pool": pool}
             for pool in (first_pooled, True, True)]
    network = {"in_channels": 3, "n_classes": 5, "cells": cells, "head": {"widths": [], "dropout": 0.0}}
    if design != PLAIN_CONV:
        network["topology"] = cell_topology().to_dict()
    return network


def seconds_per_epoch(runtime: Runtime, data: Split, network: dict) -> float:
    """The second of two epochs, each on a freshly built network."""
    seconds = 0.0
    for repeat in range(2):
        generator = seed_everything(repeat)
        model = runtime.prepare_model(build_network(network))
        start = time.perf_counter()
        train_model(model, data, SETTINGS, runtime, generator, n_classes=5)
        seconds = time.perf_counter() - start
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32, 48], help="channels of every cell")
    parser.add_argument("--images", type=int, default=1080, help="synthetic 28 px RGB images (RetinaMNIST's train)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    runtime = make_runtime(args.device, "auto", args.threads)
    generator = torch.Generator().manual_seed(0)
    data = Split(torch.randint(0, 256, (args.images, 3, 28, 28), dtype=torch.uint8, generator=generator),
                 torch.randint(0, 5, (args.images,), generator=generator))
    print(f"seconds per training epoch, {args.images} images of 28 px, batch {SETTINGS.batch_size}; "
          f"{runtime.describe()}")
    print("| cells | " + " | ".join(f"{width} ch" for width in args.widths) + " |")
    print("|---|" + "---|" * len(args.widths))
    for label, design in (("searched", SEARCHED), ("plain conv", PLAIN_CONV)):
        for first_pooled, where in ((True, "first cell pooled"), (False, "first cell at 28×28")):
            times = [seconds_per_epoch(runtime, data, architecture(design, width, first_pooled))
                     for width in args.widths]
            print(f"| {label}, {where} | " + " | ".join(f"{seconds:.2f}" for seconds in times) + " |")


if __name__ == "__main__":
    main()
