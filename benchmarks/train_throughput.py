"""Training throughput of a typical BOHB trial network: fp32 eager vs the default fast path.

Both paths run the real training loop (darts_bohb.training.train_model) on the same in-memory
data and network, in one process, one after the other, and print images per second and their
ratio. The default path is what `precision: auto` gives: bf16 autocast where the CPU (or GPU)
has native bf16, and channels_last tensors. On CUDA both run deterministic kernels (the
config's default), and a third path shows the default with `deterministic: false`. Run it on an
idle machine (check `uptime`).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from darts_bohb.data import Split
from darts_bohb.network import build_network, count_parameters
from darts_bohb.runtime import Runtime, configure_cuda_numerics, make_runtime, seed_everything
from darts_bohb.topology import cell_topology
from darts_bohb.training import TrainingSettings, train_model

# A mid-sized network of the default space: three cells of the kind DARTS tends to hand over.
DESIGN = {"k3": "conv_block", "k5": "resnet_block", "k7": "identity", "k9": "resnet_bottleneck",
          "k7_k3": "conv_block", "k9_k3": "zero"}
ARCHITECTURE = {
    "in_channels": 3, "n_classes": 5, "topology": cell_topology().to_dict(),
    "cells": [{"design": DESIGN, "channels": channels, "batch_norm": True, "pool": True} for channels in (32, 64, 64)],
    "head": {"widths": [64], "dropout": 0.2},
}
SETTINGS = TrainingSettings(epochs=1, batch_size=64, optimizer="adamw", lr=1e-3, weight_decay=1e-4,
                            scheduler="cosine", focal_gamma=2.0, class_weight_exponent=0.5, augment=True)


def images_per_second(runtime: Runtime, data: Split, repeats: int) -> float:
    best = 0.0
    if runtime.device.type == "cuda":
        configure_cuda_numerics(runtime.deterministic, runtime.tf32)
    for repeat in range(repeats + 1):  # the first epoch warms up oneDNN's kernels and is not counted
        generator = seed_everything(repeat)
        model = runtime.prepare_model(build_network(ARCHITECTURE))
        start = time.perf_counter()
        result = train_model(model, data, SETTINGS, runtime, generator, n_classes=5)
        rate = result.images_seen / (time.perf_counter() - start)
        if repeat:
            best = max(best, rate)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=2048, help="synthetic 28 px RGB training images")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per path (best is kept)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args()

    default = make_runtime(args.device, "auto", args.threads)
    eager = dataclasses.replace(default, autocast_dtype=None, channels_last=False)
    generator = torch.Generator().manual_seed(0)
    data = Split(torch.randint(0, 256, (args.images, 3, 28, 28), dtype=torch.uint8, generator=generator),
                 torch.randint(0, 5, (args.images,), generator=generator))
    print(f"network: 3 cells (32, 64, 64 channels), {count_parameters(build_network(ARCHITECTURE))} parameters; "
          f"batch {SETTINGS.batch_size}, {args.images} images of 28 px, augmentation on; "
          f"{args.threads} threads, device {default.device}")
    fp32 = images_per_second(eager, data, args.repeats)
    fast = images_per_second(default, data, args.repeats)
    print(f"fp32 eager (NCHW)            : {fp32:8.1f} images/s")
    print(f"default ({default.precision}, channels_last) : {fast:8.1f} images/s")
    print(f"ratio default / fp32         : {fast / fp32:8.2f}x")
    if default.device.type == "cuda":
        autotuned = images_per_second(dataclasses.replace(default, deterministic=False), data, args.repeats)
        print(f"default, deterministic: false: {autotuned:8.1f} images/s")


if __name__ == "__main__":
    main()
