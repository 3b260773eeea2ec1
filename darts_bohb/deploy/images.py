"""New images for a final model: a split of a MedMNIST-layout .npz, or a folder of PNG/JPEG files.

Either way the result is a uint8 (N, C, H, W) batch at the model's size and channel count; a
folder image of another size is resized (bicubic), and one of another channel layout converted
(Pillow: grey to RGB or RGB to grey). An unreadable file is reported by name and skipped, so one
broken file does not stop the others. No torch here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from darts_bohb.deploy.record import DeployError, ModelRecord

LOG = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class ImageInputError(DeployError):
    """The images given for prediction cannot be used at all (as opposed to one broken file)."""


@dataclass
class ImageBatch:
    """Images ready for the model, named by file (a folder) or by index (an .npz split)."""

    images: np.ndarray  # uint8 (N, C, H, W)
    names: list[str] | list[int]
    name_column: str  # "file" or "index"
    skipped: dict[str, str] = field(default_factory=dict)  # file name -> why it was not read


def read_npz_split(path: str | Path, split: str, record: ModelRecord) -> ImageBatch:
    """`{split}_images` of a MedMNIST .npz, checked against the model's size and channels."""
    try:
        archive = np.load(path)
    except (OSError, ValueError) as error:
        raise ImageInputError(f"{path}: not a readable .npz file ({error})") from None
    key = f"{split}_images"
    with archive:
        if key not in archive.files:
            raise ImageInputError(f"{path}: no array {key!r}; found {sorted(archive.files)}")
        images = np.asarray(archive[key])
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ImageInputError(f"{path}: {key} must be uint8 of shape (N, H, W) or (N, H, W, C); "
                              f"got {images.dtype} {images.shape}")
    if images.ndim == 3:
        images = images[..., None]
    height, width, channels = images.shape[1:]
    if (height, width) != record.image_size or channels != record.channels:
        raise ImageInputError(
            f"{path}: {key} holds {height}x{width} images with {channels} channel(s), but the model "
            f"({record.path}) takes {record.image_size[0]}x{record.image_size[1]} with {record.channels}; "
            f"use the MedMNIST file of that size, or a folder of images (which is resized)")
    return ImageBatch(np.ascontiguousarray(images.transpose(0, 3, 1, 2)), list(range(len(images))), "index")


def read_image_folder(folder: str | Path, record: ModelRecord) -> ImageBatch:
    """Every PNG/JPEG directly in `folder`, by sorted name; unreadable ones are logged and skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageInputError(f"{folder}: neither a folder of images nor an .npz file")
    files = sorted(path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImageInputError(f"{folder}: holds no image file (expected names ending in {', '.join(IMAGE_SUFFIXES)})")
    arrays, names, skipped = [], [], {}
    for path in files:
        try:
            arrays.append(load_image(path, record))
            names.append(path.name)
        # Pillow reports a damaged file as OSError, or as SyntaxError for some broken PNG chunks.
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            skipped[path.name] = f"cannot be read as an image ({error})"
            LOG.warning("skipped %s: %s", path, skipped[path.name])
    if not arrays:
        raise ImageInputError(f"{folder}: none of its {len(files)} image file(s) could be read")
    return ImageBatch(np.stack(arrays), names, "file", skipped)


def load_image(path: Path, record: ModelRecord) -> np.ndarray:
    """One file as uint8 (C, H, W) at the model's size and channel layout."""
    with Image.open(path) as image:
        image = image.convert(record.color_mode)
        height, width = record.image_size
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.BICUBIC)
        pixels = np.asarray(image, dtype=np.uint8)
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def read_images(path: str | Path, record: ModelRecord, split: str = "test") -> ImageBatch:
    """An .npz file (its `split`) or a folder of images."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        return read_npz_split(path, split, record)
    return read_image_folder(path, record)
