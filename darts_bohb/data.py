"""MedMNIST data: which file to fetch, fetching it safely, and holding whole splits as tensors.

The splits are small (RetinaMNIST at 28 px is 3 MB), so they live in memory as uint8 tensors and
batches are cut by indexing; there is no per-sample Python loading anywhere.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from medmnist.info import INFO

from darts_bohb.io import atomic_path

SIZES = (28, 64, 128, 224)
SPLITS = ("train", "val", "test")
SINGLE_LABEL_TASKS = ("multi-class", "binary-class", "ordinal-regression")


class DatasetError(ValueError):
    """The data set named by the config, or the file given for it, is not usable."""


@dataclass(frozen=True)
class DatasetSpec:
    flag: str
    size: int
    url: str
    md5: str
    task: str
    n_channels: int
    n_classes: int

    @property
    def file_name(self) -> str:
        return f"{self.flag}_{self.size}.npz"


def two_d_flags() -> list[str]:
    return sorted(flag for flag in INFO if not flag.endswith("3d"))


def dataset_spec(flag: str, size: int) -> DatasetSpec:
    """Look up URL, MD5 and task of a MedMNIST 2D data set, naming what is wrong if it is unknown."""
    if flag not in INFO or flag.endswith("3d"):
        raise DatasetError(
            f"dataset.flag: unknown MedMNIST 2D data set {flag!r}; known: {', '.join(two_d_flags())}"
        )
    if size not in SIZES:
        raise DatasetError(f"dataset.size: {size!r} is not a MedMNIST size; choose one of {SIZES}")
    info = INFO[flag]
    suffix = "" if size == 28 else f"_{size}"
    return DatasetSpec(
        flag=flag,
        size=size,
        url=info[f"url{suffix}"],
        md5=info[f"MD5{suffix}"],
        task=info["task"],
        n_channels=info["n_channels"],
        n_classes=len(info["label"]),
    )


def md5sum(path: str | Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_dataset(spec: DatasetSpec, target: str | Path, source: str | Path | None = None,
                  timeout_s: float = 60.0) -> None:
    """Copy `source` (a local file) or download the official file to `target`, MD5-checked.

    The bytes go to a temporary file beside `target`, which is renamed into place only once its
    MD5 matches, so a wrong or truncated file never appears under the target's name.
    """
    with atomic_path(target) as tmp:
        if source is not None:
            source = Path(source)
            if not source.is_file():
                raise DatasetError(f"dataset.source: {source} does not exist or is not a file")
            shutil.copyfile(source, tmp)
            origin = str(source)
        else:
            _download(spec.url, tmp, timeout_s)
            origin = spec.url
        check_md5(tmp, spec.md5, origin, f" (medmnist.INFO for {spec.flag} at {spec.size} px). The file is not "
                                         f"the official {spec.file_name}; nothing was written to {target}.")


def check_md5(path: str | Path, expected: str, origin: str, explanation: str = "") -> None:
    """Raise DatasetError naming `origin` and both sums unless the file at `path` has MD5 `expected`."""
    actual = md5sum(path)
    if actual != expected:
        raise DatasetError(f"MD5 mismatch for {origin}: got {actual}, expected {expected}{explanation}")


def check_data_file(path: str | Path, spec: DatasetSpec, expected_md5: str | None = None) -> None:
    """A training job's --data: the official file of `spec` (MD5 from medmnist.INFO), or, given
    `expected_md5`, the file with that MD5 (a copy made for tests, or another file on purpose)."""
    if not Path(path).is_file():
        raise DatasetError(f"--data {path}: no such file")
    official = expected_md5 is None
    check_md5(path, spec.md5 if official else expected_md5, f"--data {path}",
              f" (the official {spec.file_name}, medmnist.INFO)" if official else " (--data-md5)")


def _download(url: str, destination: Path, timeout_s: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, open(destination, "wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise DatasetError(
            f"could not download {url}: {error}. If this machine is offline, fetch the file "
            "elsewhere and set `dataset.source` in config.yaml (or in a --configfile) to its "
            "local path; the MD5 is checked all the same."
        ) from error


@dataclass
class Split:
    """One split held in memory: uint8 images (N, C, H, W) and integer labels (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: torch.Tensor) -> Split:
        return Split(self.images[indices], self.labels[indices])

    def class_counts(self, n_classes: int) -> torch.Tensor:
        return torch.bincount(self.labels, minlength=n_classes)


def load_splits(path: str | Path, splits: Sequence[str] = ("train", "val")) -> dict[str, Split]:
    """Read only the named splits of a MedMNIST .npz (arrays of other splits are never read)."""
    unknown = [name for name in splits if name not in SPLITS]
    if unknown:
        raise DatasetError(f"unknown split(s) {unknown}; expected some of {SPLITS}")
    try:
        archive = np.load(path)
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path} is not a readable .npz file: {error}") from error
    with archive:
        return {name: _read_split(archive, path, name) for name in splits}


def _read_split(archive: np.lib.npyio.NpzFile, path: str | Path, name: str) -> Split:
    missing = [key for key in (f"{name}_images", f"{name}_labels") if key not in archive.files]
    if missing:
        raise DatasetError(f"{path} has no array(s) {missing}; found {sorted(archive.files)}")
    images = np.asarray(archive[f"{name}_images"])
    labels = np.asarray(archive[f"{name}_labels"])
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise DatasetError(
            f"{path}: {name}_images must be uint8 of shape (N, H, W) or (N, H, W, C); "
            f"got {images.dtype} {images.shape}"
        )
    if labels.ndim == 2 and labels.shape[1] != 1:
        raise DatasetError(
            f"{path}: {name}_labels has {labels.shape[1]} columns; only single-label tasks "
            f"({', '.join(SINGLE_LABEL_TASKS)}) are supported"
        )
    labels = labels.reshape(-1)
    if labels.shape[0] != images.shape[0]:
        raise DatasetError(
            f"{path}: {name}_images has {images.shape[0]} rows but {name}_labels has {labels.shape[0]}"
        )
    if images.ndim == 3:
        images = images[..., None]
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    # NHWC storage seen as NCHW is exactly channels_last, the fast layout for oneDNN convolutions.
    return Split(images=tensor, labels=torch.from_numpy(labels.astype(np.int64)))


def iterate_batches(split: Split, batch_size: int, generator: torch.Generator | None = None,
                    shuffle: bool = True, drop_last: bool = False
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (uint8 images, labels) batches cut from the in-memory split."""
    n = len(split)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        index = order[start:start + batch_size]
        yield split.images[index], split.labels[index]
