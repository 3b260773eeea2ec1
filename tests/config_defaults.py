"""Settings for tests, built from config.yaml: the one place where default values live.

The settings classes have no defaults of their own, so a test states only what it changes and
takes everything else from the shipped config, as a rule does.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import yaml

from conftest import REPO


def config_section(name: str, **overrides: Any) -> dict[str, Any]:
    """One section of config.yaml with `overrides` merged in (nested mappings key by key)."""
    section = copy.deepcopy(yaml.safe_load((REPO / "config.yaml").read_text())[name])
    return _merged(section, overrides)


def _merged(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            base[key] = _merged(base[key], value)
        else:
            base[key] = value
    return base


# The runtime and epoch sections that a test passes to a job script that it runs on the CPU. The
# epoch is the tiny run's (.test/config.yaml): 300 images, whatever the data set's size.
TINY_EPOCH_SIZE = yaml.safe_load((REPO / ".test" / "config.yaml").read_text())["epoch_size"]
CPU_JOB_SECTIONS = ["--runtime", json.dumps(config_section("runtime", device="cpu")),
                    "--epoch-size", json.dumps(TINY_EPOCH_SIZE)]
