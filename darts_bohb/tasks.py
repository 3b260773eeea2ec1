"""Which data sets and tasks the workflow takes: MedMNIST's 2D sets (from medmnist.INFO) and data
sets of the user's own. Imports no third-party library: the config check runs it before any job,
and every rule's script may reach it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MULTI_LABEL_TASK = "multi-label, binary-class"


class DatasetChoiceError(ValueError):
    """dataset.flag or dataset.task names a data set or task the workflow cannot take."""


def medmnist_info() -> dict[str, Any] | None:
    """medmnist.INFO, read from medmnist/info.py alone: the package's __init__ imports torch, too
    heavy for a check that runs before any job. None where medmnist is not installed."""
    package = importlib.util.find_spec("medmnist")
    if package is None or not package.submodule_search_locations:
        return None
    info_file = Path(list(package.submodule_search_locations)[0]) / "info.py"
    spec = importlib.util.spec_from_file_location("_medmnist_info_only", info_file)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.INFO


def two_d_flags(info: Mapping[str, Any]) -> list[str]:
    return sorted(flag for flag in info if not flag.endswith("3d"))


def dataset_task(flag: str, task: str | None, source: str | None, info: Mapping[str, Any] | None) -> str | None:
    """The task of the config's data set: medmnist's for an official 2D flag, `dataset.task` for one of
    the user's own (a flag not in medmnist.INFO, which then needs `source` and `task`). Raises
    DatasetChoiceError for a 3D flag, or a custom set given incompletely. None when medmnist is not
    installed and the flag's task is not in the config."""
    if info is None:
        return task
    if flag in info and flag.endswith("3d"):
        raise DatasetChoiceError(f"dataset.flag: {flag!r} is a 3D MedMNIST data set; the workflow takes 2D images "
                                 f"only. Choose one of {', '.join(two_d_flags(info))}, or a data set of your own")
    if flag in info:
        official = info[flag]["task"]
        if task is not None and task != official:
            raise DatasetChoiceError(f"dataset.task: {flag} is a {official!r} task (medmnist.INFO), not "
                                     f"{task!r}; leave dataset.task out for MedMNIST's own data sets")
        return official
    if source is None or task is None:
        raise DatasetChoiceError(
            f"dataset.flag: {flag!r} is not a MedMNIST 2D data set ({', '.join(two_d_flags(info))}); a data set "
            "of your own needs dataset.source (the path of its .npz in MedMNIST's layout, README) and "
            "dataset.task (medmnist's name of its task)")
    return task
