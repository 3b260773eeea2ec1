"""Which data sets and tasks the workflow takes: MedMNIST's 2D sets (from medmnist.INFO) and data
sets of the user's own. Imports no third-party library: the config check runs it before any job,
and every rule's script may reach it.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import runpy
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MULTI_LABEL_TASK = "multi-label, binary-class"


class DatasetError(ValueError):
    """The data set named by the config, or the file given for it, is not usable."""


@functools.cache
def medmnist_info() -> dict[str, Any]:
    """medmnist.INFO, read once from medmnist/info.py alone: the package's __init__ imports torch and
    scikit-learn, too heavy for the config check that runs before any job and a cost at the start
    of every job that does not score."""
    info_file = Path(importlib.util.find_spec("medmnist").origin).with_name("info.py")
    return runpy.run_path(str(info_file))["INFO"]


def dataset_task(flag: str, task: str | None, source: str | None, info: Mapping[str, Any]) -> str:
    """The task of the config's data set: medmnist's for an official 2D flag, `task` for one of
    the user's own (a flag not in medmnist.INFO, which then needs `source` and `task`). Raises
    DatasetError for a 3D flag, or a custom set given incompletely."""
    two_d_flags = ", ".join(sorted(name for name in info if not name.endswith("3d")))
    if flag in info and flag.endswith("3d"):
        raise DatasetError(f"flag: {flag!r} is a 3D MedMNIST data set; the workflow takes 2D images "
                           f"only. Choose one of {two_d_flags}, or a data set of your own")
    if flag in info:
        official = info[flag]["task"]
        if task is not None and task != official:
            raise DatasetError(f"task: {flag} is a {official!r} task (medmnist.INFO), not "
                               f"{task!r}; leave task out for MedMNIST's own data sets")
        return official
    if source is None or task is None:
        raise DatasetError(
            f"flag: {flag!r} is not a MedMNIST 2D data set ({two_d_flags}); a data set "
            "of your own needs a source (the path of its .npz in MedMNIST's layout, README) and "
            "a task (medmnist's name of its task)")
    return task


def train_images(flag: str, source: str | None, info: Mapping[str, Any]) -> int:
    """How many images the data set's train split holds: medmnist.INFO's count for MedMNIST's sets
    (the same at every size), else the length in the header of `train_images` in the user's .npz
    (read without numpy: the Snakefile sizes jobs with it before any job runs)."""
    if flag in info:
        return int(info[flag]["n_samples"]["train"])
    with zipfile.ZipFile(source) as archive, archive.open("train_images.npy") as array:
        major = array.read(8)[6]  # after the magic string: the format's major version
        length = struct.unpack("<H" if major == 1 else "<I", array.read(2 if major == 1 else 4))[0]
        return int(ast.literal_eval(array.read(length).decode("latin1"))["shape"][0])
