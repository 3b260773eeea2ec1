"""Typed views of the config sections, and the checks a JSON schema cannot express.

The schema (workflow/schemas/config.schema.yaml) checks keys and types; `check_config` checks
relations between values (one pool flag per cell, min_budget <= max_budget, ...), and each
script rebuilds its section with `from_dict`, so a script run by hand gets the same errors.
This module imports no heavy library: the Snakefile calls it before any job runs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, TypeVar, get_type_hints


class ConfigError(ValueError):
    """A config value is missing, unknown, or inconsistent with another; names the key."""


T = TypeVar("T")


def from_dict(cls: type[T], data: Mapping[str, Any], where: str) -> T:
    """Build a (nested) settings dataclass, naming any unknown or missing key by its config path."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(fields)}")
    hints = get_type_hints(cls)
    values = {}
    for name, field in fields.items():
        if name not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{where}.{name}: missing")
            continue
        value = data[name]
        if dataclasses.is_dataclass(hints[name]):
            value = from_dict(hints[name], value, f"{where}.{name}")
        values[name] = value
    return cls(**values)


@dataclass(frozen=True)
class WeightOptimizer:
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0


@dataclass(frozen=True)
class ArchOptimizer:
    lr: float = 3e-4
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 1e-3


@dataclass(frozen=True)
class SurrogateSkip:
    mode: str = "add"  # add | blend | none
    beta0: float = 1.0


@dataclass(frozen=True)
class EarlyStopping:
    enabled: bool = True
    skip_threshold: float = 0.3
    max_skips: int = 2


@dataclass(frozen=True)
class LossSettings:
    name: str = "focal"  # ce | focal
    gamma: float = 2.0
    class_weight_exponent: float = 0.5


@dataclass(frozen=True)
class SearchSettings:
    epochs: int = 30
    batch_size: int = 64
    channels: tuple[int, ...] = (32, 64, 128)
    pool: tuple[bool, ...] = (True, True, True)
    kernel_sizes: tuple[int, ...] = (3, 5, 7, 9)
    order: str = "first"  # first | second
    weights: WeightOptimizer = WeightOptimizer()
    arch: ArchOptimizer = ArchOptimizer()
    surrogate_skip: SurrogateSkip = SurrogateSkip()
    early_stopping: EarlyStopping = EarlyStopping()
    loss: LossSettings = LossSettings()

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "pool", tuple(self.pool))
        object.__setattr__(self, "kernel_sizes", tuple(self.kernel_sizes))
        if len(self.pool) != len(self.channels):
            raise ConfigError(
                f"search.pool: has {len(self.pool)} entries but search.channels has "
                f"{len(self.channels)}; give one pool flag per cell"
            )
        if any(k < 1 or k % 2 == 0 for k in self.kernel_sizes) or len(set(self.kernel_sizes)) != 4:
            raise ConfigError(f"search.kernel_sizes: expected four distinct odd sizes, got {list(self.kernel_sizes)}")
        _choice("search.order", self.order, ("first", "second"))
        _choice("search.surrogate_skip.mode", self.surrogate_skip.mode, ("add", "blend", "none"))
        _choice("search.loss.name", self.loss.name, ("ce", "focal"))
        if self.weights.lr_min > self.weights.lr:
            raise ConfigError(f"search.weights.lr_min ({self.weights.lr_min}) exceeds search.weights.lr ({self.weights.lr})")
        if self.surrogate_skip.mode == "blend" and self.surrogate_skip.beta0 > 1:
            raise ConfigError(f"search.surrogate_skip.beta0: the blend mode needs beta0 <= 1, got {self.surrogate_skip.beta0}")

    def min_image_size(self) -> int:
        """Smallest input side the supernet accepts: every pooled cell halves it."""
        return 2 ** sum(self.pool)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _choice(where: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{where}: {value!r} is not one of {allowed}")


def schema_problems(config: Mapping[str, Any], schema_path: str | Path) -> list[str]:
    """Every schema violation as one line 'key.path: what is wrong', in key order.

    Used instead of a bare jsonschema error, which names one problem and dumps the schema.
    """
    import jsonschema  # light, and installed wherever Snakemake is
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in validator.iter_errors(config):
        where = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        problems.append(f"{where}: {error.message}")
    return sorted(problems)


def validate_config(config: Mapping[str, Any], schema_path: str | Path) -> None:
    """Schema check, then cross-field checks; one ConfigError listing what is wrong."""
    problems = schema_problems(config, schema_path)
    if problems:
        listing = "\n  - ".join(problems)
        raise ConfigError(f"{len(problems)} problem(s) in the config:\n  - {listing}")
    check_config(config)


def check_config(config: Mapping[str, Any]) -> None:
    """Cross-field checks of a schema-valid config; raise ConfigError naming the key."""
    search = from_dict(SearchSettings, config["search"], "search")
    size = config["dataset"]["size"]
    if search.min_image_size() > size:
        raise ConfigError(
            f"search.pool: {sum(search.pool)} pooled cells need images of at least "
            f"{search.min_image_size()} px; dataset.size is {size}"
        )
    hpo = config.get("hpo")
    if hpo is not None:
        if hpo["min_budget"] > hpo["max_budget"]:
            raise ConfigError(
                f"hpo.min_budget ({hpo['min_budget']}) exceeds hpo.max_budget ({hpo['max_budget']})"
            )
        for key, bounds in hpo["space"].items():
            if key == "batch_size":
                continue
            low, high = bounds
            if low > high:
                raise ConfigError(f"hpo.space.{key}: lower bound {low} exceeds upper bound {high}")
        if hpo["space"]["cells"][0] < 1:
            raise ConfigError(f"hpo.space.cells: at least one cell is needed, got {hpo['space']['cells']}")
