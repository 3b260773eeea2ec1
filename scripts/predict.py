"""Class probabilities of new images from a final model folder (results/final/seed{s}/ or a
baseline's): a MedMNIST-layout .npz (one split) or a folder of PNG/JPEG images, with PyTorch
(model.pt) or onnxruntime (model.onnx; then torch need not be installed). Writes one CSV row per
image: its index or file name, prob_0..prob_{C-1}, the predicted class and its name. An unreadable
image is named in a warning and skipped; the others are still predicted."""

import argparse
import logging
import sys

from darts_bohb.cli import run_script
from darts_bohb.deploy.predict import BACKENDS, predict_images
from darts_bohb.deploy.record import DeployError
from darts_bohb.io import write_csv


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", required=True, help="a final folder: architecture.json, model.pt, model.onnx")
    parser.add_argument("--images", required=True, help="a MedMNIST .npz file or a folder of .png/.jpg images")
    parser.add_argument("--split", default="test", help="the split of an .npz to predict (default: test)")
    parser.add_argument("--output", required=True, help="the CSV to write")
    parser.add_argument("--backend", choices=BACKENDS, default="torch",
                        help="torch: model.pt; onnx: model.onnx with onnxruntime, no torch needed")
    parser.add_argument("--device", default="cpu", help="torch backend: auto, cpu or cuda")
    parser.add_argument("--precision", default="recorded",
                        help="torch backend: fp32, bf16, or recorded (as the final rule scored the test split)")
    parser.add_argument("--threads", type=int, help="torch backend: CPU threads (bf16 results may depend on them)")
    args = parser.parse_args()

    def task() -> None:
        table, skipped = predict_images(args.model_dir, args.images, args.backend, args.split, args.device,
                                        args.precision, args.threads)
        write_csv(args.output, table)
        logging.info("wrote %d prediction(s) to %s", len(table), args.output)
        if skipped:
            logging.warning("skipped %d unreadable file(s): %s", len(skipped), ", ".join(skipped))

    return run_script(task, (DeployError,))


if __name__ == "__main__":
    sys.exit(main())
