"""What a final model expects and returns, recorded in architecture.json under "deployment".

architecture.json rebuilds the network (darts_bohb.network.build_network ignores this key); the
"deployment" entry says how to feed it: image size, channels and their order, the normalisation
that darts_bohb.runtime.Runtime.images_to_device applies, the task and the class names, and the
version of this package that trained it. Reading the record needs no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from darts_bohb import __version__
from darts_bohb.io import read_json_object
from darts_bohb.tasks import MULTI_LABEL_TASK, medmnist_info

DEPLOYMENT_KEY = "deployment"
# Runtime.images_to_device: float32(pixel) * (2 / 255) - 1, so 0..255 maps onto -1..1.
PIXEL_SCALE = 2.0 / 255.0
PIXEL_OFFSET = -1.0
COLOR_MODES = {1: "L", 3: "RGB"}  # Pillow's names of the channel layouts MedMNIST uses


class DeployError(ValueError):
    """Anything that stops a final model from being used; the message names the file at fault."""


class ModelRecordError(DeployError):
    """A model folder's architecture.json lacks, or contradicts, what is needed to feed the model."""


@dataclass(frozen=True)
class ModelRecord:
    """The parts of architecture.json that prediction needs."""

    path: Path
    architecture: dict[str, Any]
    image_size: tuple[int, int]  # height, width
    channels: int
    task: str
    class_names: tuple[str, ...]
    scored_precision: str  # the precision of the final rule's test predictions

    @property
    def color_mode(self) -> str:
        return COLOR_MODES[self.channels]

    @property
    def multi_label(self) -> bool:
        return self.task == MULTI_LABEL_TASK


def medmnist_entry(flag: str | None) -> dict[str, Any] | None:
    """The medmnist.INFO entry of a data set (description, label names, licence), None for another."""
    return medmnist_info().get(flag)


def medmnist_class_names(flag: str | None, n_classes: int) -> list[str]:
    """The label names of medmnist.INFO in class order; the class indices for another data set."""
    info = medmnist_entry(flag)
    if info is not None and len(info["label"]) == n_classes:
        return [info["label"][str(index)] for index in range(n_classes)]
    return [str(index) for index in range(n_classes)]


def deployment_record(dataset: str | None, image_size: tuple[int, int], channels: int, task: str,
                      class_names: list[str], scored_precision: str) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "preprocessing": {
            "image_size": list(image_size),
            "channels": channels,
            "color_mode": COLOR_MODES.get(channels),
            "layout": "NCHW",
            "dtype": "float32",
            "input_range": [0, 255],
            "scale": PIXEL_SCALE,
            "offset": PIXEL_OFFSET,
            "formula": "float32(pixel) * scale + offset  (0..255 -> -1..1)",
            "resize": "bicubic (Pillow), for an image of another size; none at image_size",
        },
        "output": {"task": task, "activation": "sigmoid" if task == MULTI_LABEL_TASK else "softmax",
                   "class_names": list(class_names)},
        "scored_precision": scored_precision,
        "package": {"name": "darts-bohb", "version": __version__},
    }


def read_model_record(architecture_path: str | Path) -> ModelRecord:
    """Read architecture.json, naming a missing key (a file the final rule did not write) and channels
    that no Pillow layout has (a data set of one's own with 2 or 4)."""
    path = Path(architecture_path)
    data = read_json_object(path, ModelRecordError, missing="no such file (a final model folder has one)")
    try:
        deployment = data[DEPLOYMENT_KEY]
        preprocessing, output = deployment["preprocessing"], deployment["output"]
        (height, width), channels = preprocessing["image_size"], preprocessing["channels"]
        task, class_names = output["task"], output["class_names"]
    except KeyError as error:
        raise ModelRecordError(f"{path}: key {error} is missing; a final model written by this package's final "
                               "rule records it") from None
    if channels not in COLOR_MODES or channels != data.get("in_channels"):
        raise ModelRecordError(f"{path}: key '{DEPLOYMENT_KEY}.preprocessing.channels' is {channels!r}, but the "
                               f"network takes in_channels={data.get('in_channels')!r} (expected 1 or 3, equal)")
    return ModelRecord(path=path, architecture=data, image_size=(height, width), channels=channels, task=task,
                       class_names=tuple(str(name) for name in class_names),
                       scored_precision=deployment.get("scored_precision", "fp32"))


def normalise(images: np.ndarray) -> np.ndarray:
    """uint8 (N, C, H, W) -> float32 as the network was trained on; bit for bit the values of
    Runtime.images_to_device (the same fp32 multiply, then subtract)."""
    return images.astype(np.float32) * np.float32(PIXEL_SCALE) - np.float32(-PIXEL_OFFSET)
