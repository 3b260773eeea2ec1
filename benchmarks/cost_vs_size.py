"""Cost against image size: seconds per epoch of the DARTS search and of a BOHB trial network, and
the peak memory of each, at 28, 64 and 128 px, on synthetic data (costs do not depend on content).

Each size runs in a fresh process, so its peak resident memory (ru_maxrss) is its own. The search
is one epoch of the config.yaml search section (supernet, both halves of `--images` train images,
alpha updated: no warm-up); the trial is one epoch of train_model on the mid-sized NAS network of
benchmarks/train_throughput.py with `--images` images. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

from darts_bohb.darts import DartsSearch
from darts_bohb.data import Split
from darts_bohb.network import build_network
from darts_bohb.runtime import make_runtime, seed_everything
from darts_bohb.settings import SearchSettings, from_dict
from darts_bohb.training import train_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import ARCHITECTURE, SETTINGS  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"
N_CLASSES = 5


def synthetic_split(n_images: int, size: int) -> Split:
    generator = torch.Generator().manual_seed(size)
    images = torch.randint(0, 256, (n_images, size, size, 3), dtype=torch.uint8, generator=generator)
    labels = torch.arange(n_images) % N_CLASSES
    return Split(images.permute(0, 3, 1, 2), labels)  # NHWC storage, as load_splits gives


def measure(size: int, n_images: int, threads: int, device: str) -> dict:
    runtime = make_runtime(device, "auto", threads)
    data = synthetic_split(n_images, size)
    section = yaml.safe_load(CONFIG.read_text())["search"]
    section["arch"]["warmup_epochs"] = 0
    search = DartsSearch(from_dict(SearchSettings, section, "search"), runtime, data, N_CLASSES, seed=1)
    started = time.perf_counter()
    search.train_epoch(0)
    runtime.synchronize()
    search_seconds = time.perf_counter() - started
    search_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del search
    network = runtime.prepare_model(build_network(ARCHITECTURE))
    result = train_model(network, data, SETTINGS, runtime, seed_everything(1), N_CLASSES)
    runtime.synchronize()
    return {"size": size, "images": n_images, "search_s_per_epoch": search_seconds,
            "trial_s_per_epoch": result.seconds, "search_peak_mb": search_peak,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "runtime": runtime.describe()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[28, 64, 128])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)  # the child process of one size
    args = parser.parse_args()
    if args.one_size is not None:
        print(json.dumps(measure(args.one_size, args.images, args.threads, args.device)))
        return
    rows = []
    for size in args.sizes:
        child = subprocess.run([sys.executable, __file__, "--one-size", str(size), "--images", str(args.images),
                                "--threads", str(args.threads), "--device", args.device],
                               capture_output=True, text=True, check=True)
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
    print(f"{rows[0]['runtime']}; {args.images} synthetic images (3 channels) per size\n")
    print("| px | search s/epoch | trial s/epoch | peak RSS, search (MB) | peak RSS, search + trial (MB) |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['size']} | {row['search_s_per_epoch']:.1f} | {row['trial_s_per_epoch']:.1f} | "
              f"{row['search_peak_mb']:.0f} | {row['peak_mb']:.0f} |")


if __name__ == "__main__":
    main()
