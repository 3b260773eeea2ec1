"""Fetch one MedMNIST 2D data set (official URL or a local copy), MD5-checked, atomically."""

import argparse
import logging
import sys

from darts_bohb.cli import run_script
from darts_bohb.data import DatasetError, dataset_spec, fetch_dataset


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flag", required=True, help="MedMNIST flag, e.g. retinamnist")
    parser.add_argument("--size", required=True, type=int, help="image side: 28, 64, 128 or 224")
    parser.add_argument("--source", help="local path of the official .npz (default: download), or of your own")
    parser.add_argument("--task", help="medmnist's task name of a data set of your own (dataset.task)")
    parser.add_argument("--output", required=True, help="where to write the .npz")
    args = parser.parse_args()

    def task() -> None:
        spec = dataset_spec(args.flag, args.size, args.task, args.source)
        logging.info("fetching %s at %d px from %s", spec.flag, spec.size, args.source or spec.url)
        fetch_dataset(spec, args.output, source=args.source)
        logging.info("wrote %s (%s)", args.output,
                     f"MD5 {spec.md5} verified" if spec.md5 else f"{spec.task}, {spec.n_classes} classes or labels, "
                     f"{spec.n_channels} channel(s): layout verified")

    return run_script(task, (DatasetError,))


if __name__ == "__main__":
    sys.exit(main())
