"""Export a final model (model.pt + architecture.json) to ONNX with a dynamic batch axis, and
check with onnxruntime that it reproduces PyTorch's fp32 outputs on the test images to 1e-4;
model.onnx is written only if it does."""

import argparse
import sys
from pathlib import Path

import torch

from darts_bohb.cli import run_script
from darts_bohb.deploy.onnx_export import TOLERANCE, export_onnx
from darts_bohb.deploy.record import DeployError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", required=True, help="the final folder holding model.pt and architecture.json")
    parser.add_argument("--data", required=True, help="the MedMNIST .npz whose test split checks the export")
    parser.add_argument("--output", required=True, help="model.onnx to write")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE, help="largest |ONNX - PyTorch| allowed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--memory-mb", type=int, default=2000, help="the job's memory: the check's batches fit in half")
    args = parser.parse_args()

    def task() -> None:
        torch.set_num_threads(args.threads)
        export_onnx(args.model_dir, args.data, Path(args.output), tolerance=args.tolerance, memory_mb=args.memory_mb)

    return run_script(task, (DeployError,))


if __name__ == "__main__":
    sys.exit(main())
