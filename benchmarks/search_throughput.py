"""Throughput of the DARTS search on the default-config supernet, plain fp32 against the default path.

    python benchmarks/search_throughput.py [--threads 2] [--rounds 4]

One "step" is what the search does per batch: an α step on 64 images of the α half, then a
weight step on 64 images of the weights half; throughput is counted in such image pairs per
second. Three paths, in one run, on the same model and data:

- plain fp32: every operation module called one by one (Zero included), NCHW, full backward
  into every parameter in both steps: what a straightforward implementation does;
- fp32, this code: the search's own steps (fused convolutions, no Zero, α step without weight
  gradients, weight step without α gradient, channels_last), in fp32;
- default path: the same with precision auto (bf16 autocast where the CPU has it).

Then one full search epoch (540 + 540 images, as RetinaMNIST's train split gives) of the
default path. The paths take turns, step by step, and each reports its fastest step, so a burst
of other work on the machine moves them less; compare figures only within one run.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from darts_bohb.darts import DartsSearch
from darts_bohb.data import Split
from darts_bohb.runtime import Runtime, make_runtime
from darts_bohb.search_space import MixedNode
from darts_bohb.settings import SearchSettings, from_config_file

N_CLASSES = 5
TRAIN_IMAGES = 1080  # RetinaMNIST's train split: two halves of 540
IMAGE_SIZE = 28


# The default experiment's search settings (config.yaml is the one place they live).
DEFAULT_SEARCH = from_config_file(SearchSettings, Path(__file__).resolve().parents[1] / "config.yaml", "search")


def random_train_split(seed: int = 0) -> Split:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (TRAIN_IMAGES, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=torch.uint8, generator=generator)
    return Split(images=images, labels=torch.arange(TRAIN_IMAGES) % N_CLASSES)


def make_search(runtime: Runtime, fused: bool = True) -> DartsSearch:
    search = DartsSearch(DEFAULT_SEARCH, runtime, random_train_split(), N_CLASSES, seed=0)
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


def timed_batches(search: DartsSearch, rounds: int):
    """One batch of each half per round (plus one for warm-up), on the search's device."""
    size, runtime = search.settings.batch_size, search.runtime
    for i in range(rounds + 1):
        rows = slice(i * size, (i + 1) * size)
        yield tuple((runtime.images_to_device(half.images[rows]), half.labels[rows])
                    for half in (search.arch_half, search.weights_half))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4,
                        help="timed steps per path; the paths take turns and each keeps its fastest step")
    args = parser.parse_args()

    fp32 = make_runtime("cpu", "fp32", args.threads)
    default = make_runtime("cpu", "auto", args.threads)
    plain_runtime = Runtime(device=fp32.device, autocast_dtype=None, channels_last=False)
    print(f"default-config supernet (3 cells, 32/64/128 channels, batch 64, {IMAGE_SIZE} px), "
          f"threads={torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")
    print(f"default path: {default.describe()}")

    paths = {
        "plain fp32 eager": (make_search(plain_runtime, fused=False), plain_step),
        "fp32 eager, this code": (make_search(fp32), search_step),
        f"default path ({default.precision}, channels_last)": (make_search(default), search_step),
    }
    batches = {name: list(timed_batches(search, args.rounds)) for name, (search, _) in paths.items()}
    fastest = {name: float("inf") for name in paths}
    for i in range(args.rounds + 1):  # round 0 warms up
        for name, (search, step) in paths.items():
            started = time.perf_counter()
            step(search, *batches[name][i], 0.5)
            if i > 0:
                fastest[name] = min(fastest[name], time.perf_counter() - started)
    batch_size = DEFAULT_SEARCH.batch_size
    plain = batch_size / fastest["plain fp32 eager"]
    print(f"{'path':<36}{'image pairs/s':>14}{'vs plain fp32':>15}")
    for name, seconds in fastest.items():
        print(f"{name:<36}{batch_size / seconds:>14.1f}{batch_size / seconds / plain:>14.2f}x")

    search = paths[f"default path ({default.precision}, channels_last)"][0]
    print(f"one search epoch, default path ({len(search.arch_half)} α + {len(search.weights_half)} weight "
          f"images): {search.train_epoch(0)['seconds']:.1f} s (load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
