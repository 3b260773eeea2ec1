"""Throughput of the DARTS search step on the default-config supernet, on the CPU or a GPU.

One "step" is what the search does per batch: an α step on a batch of the α half, then a
weight step on a batch of the weights half; throughput is counted in such image pairs per
second. All paths run in one process, on the same kind of model and data:

- plain fp32: every operation module called one by one (Zero included), NCHW, full backward
  into every parameter in both steps: what a straightforward implementation does;
- fp32, this code: the search's own steps (fused convolutions, no Zero, α step without weight
  gradients, weight step without α gradient, channels_last), in fp32;
- default path: the same with precision auto (bf16 autocast where the device has it natively).

On CUDA, with deterministic kernels (the config's default) unless a path says otherwise, also:
the default path with `deterministic: false` (cuDNN autotunes), and at batch 256 (a larger
batch amortises the kernel launches that bound a step of this small net). `--cpu-reference`
then times the CPU default path at --threads, in the same run, for the GPU / CPU ratio.

Then one full search epoch (540 + 540 images, as RetinaMNIST's train split gives) of the
default path. The paths take turns, step by step, and each reports its fastest step, so a burst
of other work on the machine moves them less; compare figures only within one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

from darts_bohb.darts import DartsSearch
from darts_bohb.data import Split
from darts_bohb.runtime import Runtime, configure_cuda_numerics, make_runtime
from darts_bohb.search_space import MixedNode
from darts_bohb.settings import SearchSettings, from_config_file

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"
N_CLASSES = 5
TRAIN_IMAGES = 1080  # RetinaMNIST's train split: two halves of 540
IMAGE_SIZE = 28
LARGE_BATCH = 256


@dataclasses.dataclass
class TimedPath:
    """One way of running the step: its search (model, optimizers, data) and its step function."""

    search: DartsSearch
    step: Callable
    batches: list
    fastest: float = float("inf")


def make_search(settings: SearchSettings, runtime: Runtime, n_images: int, fused: bool = True) -> DartsSearch:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n_images, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=torch.uint8, generator=generator)
    data = Split(images=images, labels=torch.arange(n_images) % N_CLASSES)
    search = DartsSearch(settings, runtime, data, N_CLASSES, seed=0)
    for module in search.model.modules():
        if isinstance(module, MixedNode):
            module.fused = fused
    return search


def plain_step(search: DartsSearch, arch_batch, train_batch, beta: float) -> None:
    """α step then weight step, each a full backward into every parameter."""
    model, loss_fn = search.model, search.loss_fn
    for batch, optimizer in ((arch_batch, search.arch_optimizer), (train_batch, search.weight_optimizer)):
        model.zero_grad(set_to_none=True)
        loss_fn(model(batch[0], beta), batch[1]).backward()
        if optimizer is search.weight_optimizer:
            torch.nn.utils.clip_grad_norm_(search.weights, search.settings.weights.grad_clip)
        optimizer.step()


def search_step(search: DartsSearch, arch_batch, train_batch, beta: float) -> None:
    search._arch_step(arch_batch, train_batch, beta)
    search._weight_step(train_batch, beta)


def device_batches(search: DartsSearch, rounds: int) -> list:
    """One batch of each half per round (plus one for warm-up), already on the search's device;
    the halves' batches are taken in turn, so a large batch repeats them."""
    size, runtime = search.settings.batch_size, search.runtime
    starts = [(i % (len(search.arch_half) // size)) * size for i in range(rounds + 1)]
    return [tuple((runtime.images_to_device(half.images[start:start + size]),
                   runtime.to_device(half.labels[start:start + size]))
                  for half in (search.arch_half, search.weights_half))
            for start in starts]


def time_paths(paths: dict[str, TimedPath], rounds: int) -> None:
    """Round 0 warms up; afterwards each path keeps its fastest step."""
    for i in range(rounds + 1):
        for path in paths.values():
            runtime = path.search.runtime
            if runtime.device.type == "cuda":
                configure_cuda_numerics(runtime.deterministic, runtime.tf32)
            runtime.synchronize()
            started = time.perf_counter()
            path.step(path.search, *path.batches[i], 0.5)
            runtime.synchronize()
            if i > 0:
                path.fastest = min(path.fastest, time.perf_counter() - started)


def build_paths(settings: SearchSettings, device: str, threads: int, rounds: int) -> dict[str, TimedPath]:
    fp32 = make_runtime(device, "fp32", threads)
    default = make_runtime(device, "auto", threads)
    plain = dataclasses.replace(fp32, channels_last=False)
    label = f"default ({default.precision}, channels_last)"
    runs = {"plain fp32 eager": (settings, plain, False, plain_step),
            "fp32, this code": (settings, fp32, True, search_step),
            label: (settings, default, True, search_step)}
    if default.device.type == "cuda":
        runs[f"{label}, deterministic: false"] = (settings, dataclasses.replace(default, deterministic=False),
                                                  True, search_step)
        large = dataclasses.replace(settings, batch_size=LARGE_BATCH)
        runs[f"{label}, batch {LARGE_BATCH}"] = (large, default, True, search_step)
    paths = {}
    for name, (path_settings, runtime, fused, step) in runs.items():
        search = make_search(path_settings, runtime, TRAIN_IMAGES, fused)
        paths[name] = TimedPath(search, step, device_batches(search, rounds))
    return paths


def cpu_reference(settings: SearchSettings, threads: int, rounds: int) -> float:
    """Image pairs per second of the CPU default path (fastest of `rounds` steps after a warm-up)."""
    search = make_search(settings, make_runtime("cpu", "auto", threads), TRAIN_IMAGES)
    path = TimedPath(search, search_step, device_batches(search, rounds))
    time_paths({"cpu": path}, rounds)
    return settings.batch_size / path.fastest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (of the CPU paths and the reference)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="timed steps per path; the paths take turns and each keeps its fastest step")
    parser.add_argument("--cpu-reference", action="store_true",
                        help="with --device cuda: also time the CPU default path at --threads")
    args = parser.parse_args()

    settings = from_config_file(SearchSettings, CONFIG, "search")
    paths = build_paths(settings, args.device, args.threads, args.rounds)
    default_name = next(name for name in paths if name.startswith("default"))
    default = paths[default_name].search.runtime
    print(f"default-config supernet ({len(settings.channels)} cells, {'/'.join(map(str, settings.channels))} "
          f"channels, batch {settings.batch_size}, {IMAGE_SIZE} px), load average {os.getloadavg()[0]:.2f}")
    print(f"default path: {default.describe()}")

    time_paths(paths, args.rounds)
    plain = settings.batch_size / paths["plain fp32 eager"].fastest
    print(f"{'path':<58}{'image pairs/s':>14}{'vs plain fp32':>15}")
    for name, path in paths.items():
        rate = path.search.settings.batch_size / path.fastest
        print(f"{name:<58}{rate:>14.1f}{rate / plain:>14.2f}x")

    if args.cpu_reference and default.device.type == "cuda":
        cpu = cpu_reference(settings, args.threads, min(args.rounds, 3))
        gpu = settings.batch_size / paths[default_name].fastest
        print(f"{'CPU default path, ' + str(args.threads) + ' threads (reference)':<58}{cpu:>14.1f}")
        print(f"GPU default path / CPU default path at batch {settings.batch_size}: {gpu / cpu:.1f}x")

    search = paths[default_name].search  # warm: it has just taken its timed steps
    if default.device.type == "cuda":
        configure_cuda_numerics(default.deterministic, default.tf32)
    print(f"one search epoch, default path ({len(search.arch_half)} α + {len(search.weights_half)} weight "
          f"images): {search.train_epoch(0)['seconds']:.2f} s (load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
