"""MedMNIST data: which file to fetch, fetching it safely, and holding whole splits as tensors.

Most splits are small (RetinaMNIST at 28 px is 3 MB), so they live in memory as uint8 tensors and
batches are cut by indexing; there is no per-sample Python loading anywhere. The images of a split
above MAP_IMAGES_ABOVE_BYTES are memory-mapped from an .npy unpacked once beside the .npz instead.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from darts_bohb.io import atomic_path
from darts_bohb.tasks import MULTI_LABEL_TASK, DatasetError, dataset_task, medmnist_info

SPLITS = ("train", "val", "test")
# Larger image arrays are memory-mapped, not read into RAM: PathMNIST at 224 px is 16 GB.
MAP_IMAGES_ABOVE_BYTES = 1 << 30


@dataclass(frozen=True)
class DatasetSpec:
    """A data set and its task; url and md5 are None for a data set of the user's own."""

    flag: str
    size: int
    url: str | None
    md5: str | None
    task: str
    n_channels: int
    n_classes: int  # the classes, or for a multi-label task the labels

    @property
    def multi_label(self) -> bool:
        return self.task == MULTI_LABEL_TASK


def dataset_spec(flag: str, size: int, task: str | None = None, data_path: str | Path | None = None) -> DatasetSpec:
    """URL, MD5 and task of a MedMNIST 2D data set; for a flag not in medmnist.INFO, a data set of
    the user's own, whose `task` must be given and whose channels and classes (or labels) are read
    from the file at `data_path` (validated once, by fetch_dataset). Names what is wrong otherwise."""
    official = medmnist_info()
    task = dataset_task(flag, task, None if data_path is None else str(data_path), official)
    if flag not in official:
        return custom_dataset_spec(data_path, flag, size, task)
    info = official[flag]
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


def custom_dataset_spec(path: str | Path, flag: str, size: int, task: str) -> DatasetSpec:
    """The spec of a data set of the user's own: its channels from the train images' shape, its
    classes (the largest label of any split plus one; 2 for a binary task) or labels (the columns)."""
    shape, _ = _array_headers(path)["train_images"]
    labels = _read_labels(path)
    if task == MULTI_LABEL_TASK:
        n_classes = int(labels["train"].shape[1])
    elif task == "binary-class":
        n_classes = 2
    else:
        n_classes = int(max(values.max() for values in labels.values())) + 1
    return DatasetSpec(flag=flag, size=size, url=None, md5=None, task=task,
                       n_channels=1 if len(shape) == 3 else shape[3], n_classes=n_classes)


def check_custom_file(path: Path, size: int, task: str) -> None:
    """A data set of the user's own must have MedMNIST's layout (README, "Your own data set"):
    {train,val,test}_images uint8 (N, size, size) or (N, size, size, C) with C 1 or 3, and
    {train,val,test}_labels of an integer type, (N, 1) (or (N,)) class indices from 0, or for a
    multi-label task (N, L) of 0 and 1. Each fault raises DatasetError naming the file and array."""
    shapes = _array_headers(path)
    channels = set()
    for split in SPLITS:
        images, labels = f"{split}_images", f"{split}_labels"
        shape, dtype = shapes[images]
        if dtype != np.uint8 or len(shape) not in (3, 4) or shape[1:3] != (size, size) \
                or (len(shape) == 4 and shape[3] not in (1, 3)):
            raise DatasetError(f"{path}: {images} must be uint8 of shape (N, {size}, {size}) or (N, {size}, {size}, "
                               f"C) with C 1 or 3 (its size is {size}); got {dtype} {shape}")
        channels.add(1 if len(shape) == 3 else shape[3])
        label_shape, label_dtype = shapes[labels]
        if not np.issubdtype(label_dtype, np.integer):
            raise DatasetError(f"{path}: {labels} must hold integers (MedMNIST's are uint8); got {label_dtype}")
        if label_shape[:1] != shape[:1]:
            raise DatasetError(f"{path}: {images} has {shape[0]} images but {labels} has shape {label_shape}")
        if shape[0] == 0:
            raise DatasetError(f"{path}: {images} holds no image")
        if task == MULTI_LABEL_TASK and (len(label_shape) != 2 or label_shape[1] < 2):
            raise DatasetError(f"{path}: {labels} must be (N, L) with one 0/1 column per label, L >= 2, for a "
                               f"multi-label task; got shape {label_shape}")
        if task != MULTI_LABEL_TASK and label_shape[1:] not in ((), (1,)):
            raise DatasetError(f"{path}: {labels} must be (N, 1) class indices for a {task!r} task; got shape "
                               f"{label_shape} (task {MULTI_LABEL_TASK!r} takes one column per label)")
    if len(channels) != 1:
        raise DatasetError(f"{path}: the splits' images have different channels {sorted(channels)}")
    for split, values in _read_labels(path).items():
        if values.size and values.min() < 0:
            raise DatasetError(f"{path}: {split}_labels has the negative value {values.min()}; labels count from 0")
        if task in (MULTI_LABEL_TASK, "binary-class") and values.size and values.max() > 1:
            raise DatasetError(f"{path}: {split}_labels has the value {values.max()}; a {task!r} task takes 0 and 1 "
                               "only")
    if task not in (MULTI_LABEL_TASK, "binary-class") and custom_dataset_spec(path, "", size, task).n_classes < 2:
        raise DatasetError(f"{path}: every label is 0; a {task!r} task needs at least two classes")


def _array_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every array, read from the .npy headers without loading the arrays."""
    headers = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                with archive.open(name) as handle:
                    shape, _, dtype = _npy_header(handle)
                    headers[name.removesuffix(".npy")] = (tuple(shape), dtype)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise DatasetError(f"{path} is not a readable .npz file: {error}") from error
    expected = [f"{split}_{kind}" for split in SPLITS for kind in ("images", "labels")]
    missing = [key for key in expected if key not in headers]
    if missing:
        raise DatasetError(f"{path}: no array(s) {missing}; found {sorted(headers)} (MedMNIST's layout has "
                           "train_images, train_labels, val_images, val_labels, test_images, test_labels)")
    return headers


def _npy_header(handle) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) from the header of an .npy stream, which is left at the data."""
    version = np.lib.format.read_magic(handle)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return read(handle)


def _read_labels(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {split: np.asarray(archive[f"{split}_labels"]) for split in SPLITS}


def md5sum(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


def fetch_dataset(spec: DatasetSpec, target: str | Path, source: str | Path | None = None,
                  timeout_s: float = 60.0) -> None:
    """Copy `source` (a local file) or download the official file to `target`, MD5-checked (a data
    set of the user's own, without an MD5, is validated instead).

    The bytes go to a temporary file beside `target`, which is renamed into place only once its
    MD5 matches, so a wrong or truncated file never appears under the target's name.
    """
    with atomic_path(target) as tmp:
        if source is not None:
            shutil.copyfile(source, tmp)
        else:
            _download(spec.url, tmp, timeout_s)
        if spec.md5 is None:  # the user's own file has no published MD5: its layout is checked instead
            check_custom_file(tmp, spec.size, spec.task)
            return
        actual = md5sum(tmp)
        if actual != spec.md5:
            raise DatasetError(f"MD5 mismatch for {source or spec.url}: got {actual}, expected {spec.md5} "
                               f"(medmnist.INFO for {spec.flag} at {spec.size} px). The file is not the official "
                               f"{spec.flag}_{spec.size}.npz; nothing was written to {target}.")


def _download(url: str, destination: Path, timeout_s: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, open(destination, "wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as error:  # URLError and TimeoutError too
        raise DatasetError(
            f"could not download {url}: {error}. If this machine is offline, fetch the file "
            "elsewhere and set the data set's `source` in config.yaml (or in a --configfile) to its "
            "local path; the MD5 is checked all the same."
        ) from error


@dataclass
class Split:
    """One split: uint8 images (N, C, H, W) and integer labels, (N,) class indices or, for a
    multi-label task, (N, L) of 0 and 1. The images of a large split are memory-mapped (load_splits);
    then `rows` picks the split's images out of the mapped array, so a subset copies no image."""

    images: torch.Tensor
    labels: torch.Tensor
    rows: torch.Tensor | None = None  # memory-mapped images only: the row of `images` of each image

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: torch.Tensor) -> Split:
        if self.rows is not None:
            return Split(self.images, self.labels[indices], self.rows[indices])
        return Split(self.images[indices], self.labels[indices])

    def images_at(self, index: torch.Tensor) -> torch.Tensor:
        return self.images[index] if self.rows is None else self.images[self.rows[index]]

    @property
    def multi_label(self) -> bool:
        return self.labels.ndim == 2

    def class_counts(self, n_classes: int) -> torch.Tensor:
        """Images per class; for a multi-label split, the positives of each label."""
        if self.multi_label:
            return self.labels.sum(dim=0)
        return torch.bincount(self.labels, minlength=n_classes)


class StackedImages:
    """Image arrays read as one, end to end, without joining them: indexing reads only the rows
    asked for, so memory-mapped arrays stay on disk. Serves as the `images` of a Split with rows."""

    def __init__(self, parts: Sequence[torch.Tensor]):
        self.parts = tuple(parts)
        self.starts = torch.tensor([0, *np.cumsum([len(part) for part in self.parts])[:-1].tolist()])

    @property
    def shape(self) -> torch.Size:
        return torch.Size((sum(len(part) for part in self.parts), *self.parts[0].shape[1:]))

    def __getitem__(self, rows: torch.Tensor) -> torch.Tensor:
        which = torch.searchsorted(self.starts, rows, right=True) - 1
        out = torch.empty((len(rows), *self.shape[1:]), dtype=self.parts[0].dtype)
        for part in torch.unique(which).tolist():
            chosen = which == part
            out[chosen] = self.parts[part][rows[chosen] - self.starts[part]]
        return out


def joined(*splits: Split) -> Split:
    """The splits one after the other (train+val for the final training and for cross-validation).
    Splits in RAM are concatenated; if any is memory-mapped, none is read: the result picks its
    rows out of the splits' arrays (StackedImages)."""
    if all(split.rows is None for split in splits):
        return Split(torch.cat([split.images for split in splits]), torch.cat([split.labels for split in splits]))
    rows, start = [], 0
    for split in splits:
        rows.append(torch.arange(len(split)) + start if split.rows is None else split.rows + start)
        start += len(split.images)
    return Split(StackedImages([split.images for split in splits]), torch.cat([split.labels for split in splits]),
                 torch.cat(rows))


def load_splits(path: str | Path, splits: Sequence[str] = ("train", "val"),
                map_above_bytes: int = MAP_IMAGES_ABOVE_BYTES) -> dict[str, Split]:
    """Read only the named splits of a MedMNIST .npz that fetch_dataset checked (arrays of other
    splits are never read).

    Images of more than `map_above_bytes` are unpacked once to an .npy in `<file>.unpacked/` and
    memory-mapped rather than read into RAM; smaller ones are read whole, as before."""
    with np.load(path) as archive:
        return {name: _read_split(archive, path, name, map_above_bytes) for name in splits}


def _read_split(archive: np.lib.npyio.NpzFile, path: str | Path, name: str, map_above_bytes: int) -> Split:
    mapped = _mapped_images(archive, Path(path), f"{name}_images", map_above_bytes)
    images = np.asarray(archive[f"{name}_images"]) if mapped is None else mapped
    labels = np.asarray(archive[f"{name}_labels"])
    # One column: class indices; more: one 0/1 column per label of a multi-label task.
    labels = labels.reshape(-1) if labels.ndim < 2 or labels.shape[1] == 1 else labels
    if images.ndim == 3:
        images = images[..., None]
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    # NHWC storage seen as NCHW is exactly channels_last, the fast layout for oneDNN convolutions.
    rows = None if mapped is None else torch.arange(len(labels))
    return Split(images=tensor, labels=torch.from_numpy(labels.astype(np.int64)), rows=rows)


def _mapped_images(archive: np.lib.npyio.NpzFile, path: Path, key: str, map_above_bytes: int) -> np.ndarray | None:
    """`key` memory-mapped from its unpacked .npy (unpacked now if missing or older than the .npz),
    or None when the array is small enough to read whole (or not in C order)."""
    with archive.zip.open(f"{key}.npy") as member:
        shape, fortran_order, dtype = _npy_header(member)
        if fortran_order or int(np.prod(shape)) * dtype.itemsize <= map_above_bytes:
            return None
        folder = path.with_name(path.name + ".unpacked")
        target, stamp = folder / f"{key}.npy", folder / f"{key}.source"
        stat = path.stat()
        source = f"{path.name} {stat.st_size} bytes, modified {stat.st_mtime_ns} ns"
        if not (target.is_file() and stamp.is_file() and stamp.read_text() == source):
            member.seek(0)  # the member is an .npy: copied whole, chunk by chunk, never whole in RAM
            with atomic_path(target) as tmp, open(tmp, "wb") as out:
                shutil.copyfileobj(member, out, 1 << 24)
            stamp.write_text(source)
    # Copy-on-write: a writable view (torch wants one) that never writes to the file.
    return np.load(target, mmap_mode="c")


def iterate_batches(split: Split, batch_size: int, generator: torch.Generator | None = None,
                    shuffle: bool = True, drop_last: bool = False, n_images: int | None = None
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (uint8 images, labels) batches cut from the split: one pass over it, or with `n_images`
    (shuffled only) that many images, from as many shuffled passes as it takes, the last one cut."""
    n = len(split)
    wanted = n if n_images is None else n_images
    if shuffle:
        order = torch.cat([torch.randperm(n, generator=generator) for _ in range(-(-wanted // n))])[:wanted]
    else:
        order = torch.arange(n)
    stop = wanted - wanted % batch_size if drop_last and wanted >= batch_size else wanted
    for start in range(0, stop, batch_size):
        index = order[start:start + batch_size]
        yield split.images_at(index), split.labels[index]
