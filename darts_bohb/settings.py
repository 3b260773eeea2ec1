"""Typed views of the config sections, and the checks that relate one value to another.

Each key's type, range and choices are checked once, by the JSON schema
(workflow/schemas/config.schema.yaml), before any job runs. What a schema cannot say (one pool
flag per cell, min_budget <= max_budget, low <= high in a range, ...) is checked here, by the
Snakefile through `validate_config` and by each script when it rebuilds its section. The classes
have no default values on purpose: config.yaml is the one place where defaults live, so a section
must be complete, and a key left out is named rather than silently filled in.
This module imports no heavy library: the Snakefile calls it before any job runs.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

from darts_bohb.tasks import MULTI_LABEL_TASK, DatasetError, dataset_task, medmnist_info
from darts_bohb.topology import cell_topology


class ConfigError(ValueError):
    """A config value is missing, unknown, or inconsistent with another; names the key."""


T = TypeVar("T")


def from_dict(cls: type[T], data: Mapping[str, Any], where: str) -> T:
    """Build a (nested) settings dataclass. The schema has checked the config's keys; a section
    passed by hand with an unknown or a missing key fails naming it and its config path."""
    hints = get_type_hints(cls)
    values = {name: from_dict(hints[name], value, f"{where}.{name}") if dataclasses.is_dataclass(hints.get(name))
              else value for name, value in data.items()}
    try:
        return cls(**values)
    except TypeError as error:
        raise ConfigError(f"{where}: {error}") from None


def from_config_file(cls: type[T], path: str | Path, section: str) -> T:
    """One section of a config file (config.yaml, say), for tools outside the workflow."""
    import yaml

    return from_dict(cls, yaml.safe_load(Path(path).read_text())[section], section)


def from_json(cls: type[T], text: str, where: str) -> T:
    """from_dict for a config section that a rule passes to its script as one JSON argument."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{where}: not valid JSON ({error})") from None
    return from_dict(cls, data, where)


@dataclass(frozen=True)
class WeightOptimizer:
    lr: float
    lr_min: float
    momentum: float
    weight_decay: float
    grad_clip: float


@dataclass(frozen=True)
class ArchOptimizer:
    lr: float
    beta1: float
    beta2: float
    weight_decay: float
    warmup_epochs: int  # α is not updated in these first epochs


@dataclass(frozen=True)
class SurrogateSkip:
    mode: str  # add | blend | none
    beta0: float


@dataclass(frozen=True)
class EarlyStopping:
    enabled: bool
    skip_ratio: float  # identity counts above this many times the uniform probability (darts.skip_threshold)
    patience: int  # epochs in a row that must each have max_skips skips
    max_skips: int
    parameter_free_only: bool  # count only nodes whose identity is a true skip, not a 1x1 projection


@dataclass(frozen=True)
class LossSettings:
    name: str  # ce | focal
    gamma: float
    class_weight_exponent: float


@dataclass(frozen=True)
class SearchSettings:
    epochs: int
    batch_size: int
    channels: tuple[int, ...]
    pool: tuple[bool, ...]
    kernel_sizes: tuple[int, ...]
    order: str  # first | second
    include_zero: bool
    weights: WeightOptimizer
    arch: ArchOptimizer
    surrogate_skip: SurrogateSkip
    early_stopping: EarlyStopping
    loss: LossSettings

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "pool", tuple(self.pool))
        object.__setattr__(self, "kernel_sizes", tuple(self.kernel_sizes))
        if len(self.pool) != len(self.channels):
            raise ConfigError(
                f"search.pool: has {len(self.pool)} entries but search.channels has "
                f"{len(self.channels)}; give one pool flag per cell"
            )
        if not 0 <= self.arch.warmup_epochs < self.epochs:
            raise ConfigError(f"search.arch.warmup_epochs: {self.arch.warmup_epochs} leaves no epoch of the "
                              f"{self.epochs} (search.epochs) to move alpha; give 0 to {self.epochs - 1}")
        alpha_epochs = self.epochs - self.arch.warmup_epochs
        if self.early_stopping.patience > alpha_epochs:
            raise ConfigError(f"search.early_stopping.patience: {self.early_stopping.patience} epochs in a row cannot "
                              f"happen in the {alpha_epochs} epochs that move alpha; give at most {alpha_epochs}")
        n_nodes, what = self._countable_skip_nodes()
        if self.early_stopping.max_skips > n_nodes:
            raise ConfigError(f"search.early_stopping.max_skips: a cell has {n_nodes} {what}, so "
                              f"{self.early_stopping.max_skips} skips can never be reached; give at most {n_nodes}")
        if self.weights.lr_min > self.weights.lr:
            raise ConfigError(f"search.weights.lr_min ({self.weights.lr_min}) exceeds "
                              f"search.weights.lr ({self.weights.lr})")
        if self.surrogate_skip.mode == "blend" and self.surrogate_skip.beta0 > 1:
            raise ConfigError("search.surrogate_skip.beta0: the blend mode needs beta0 <= 1, "
                              f"got {self.surrogate_skip.beta0}")

    def _countable_skip_nodes(self) -> tuple[int, str]:
        """How many nodes the early stop can count, and what they are, for its error message.
        A first-stage node's identity is a 1x1 projection unless some cell after the first keeps
        its width (the first cell reads the image channels)."""
        nodes = cell_topology(self.kernel_sizes).nodes
        if not self.early_stopping.parameter_free_only:
            return len(nodes), "nodes"
        keeps_width = any(a == b for a, b in zip(self.channels, self.channels[1:]))
        return sum(keeps_width or not node.first_stage for node in nodes), "nodes with a parameter-free identity"

    def check_image_size(self, size: int, where: str) -> None:
        """Raise ConfigError unless images of side `size` (the value of `where`) survive the pooling:
        every pooled cell halves it."""
        if 2 ** sum(self.pool) > size:
            raise ConfigError(f"search.pool: {sum(self.pool)} pooled cells need images of at least "
                              f"{2 ** sum(self.pool)} px; {where} is {size}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class HpoSettings:
    metric: str
    min_budget: int
    max_budget: int
    eta: int
    total_epochs: int
    walltime_s: float | None
    designs_per_cell: int
    cv_folds: int  # the largest budget's selection estimate: stratified k-fold CV over train+val
    ensemble_size: int  # rounds of greedy ensemble selection over the cross-validated configurations
    space: dict[str, list]  # BOHB's space (hpo_space.build_space reads it), as config.yaml gives it

    def __post_init__(self):
        if self.min_budget > self.max_budget:
            raise ConfigError(f"hpo.min_budget ({self.min_budget}) exceeds hpo.max_budget ({self.max_budget})")
        needed = first_bracket_epochs(self.min_budget, self.max_budget, self.eta)
        if self.total_epochs < needed:
            raise ConfigError(
                f"hpo.total_epochs: {self.total_epochs} epochs cannot fill one Hyperband bracket of "
                f"min_budget={self.min_budget}, max_budget={self.max_budget}, eta={self.eta}; "
                f"it needs at least {needed}"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EpochSize:
    """What one epoch of every budget is (search.epochs, hpo's budgets, the final training): a pass
    over the train split, but at least min_images and at most max_images, so that a budget means
    the same amount of training on a data set of 500 images as on one of 150,000."""

    min_images: int
    max_images: int

    def __post_init__(self):
        if self.min_images > self.max_images:
            raise ConfigError(f"epoch_size.min_images ({self.min_images}) exceeds epoch_size.max_images "
                              f"({self.max_images})")

    def images(self, train_images: int) -> int:
        return min(max(train_images, self.min_images), self.max_images)

    def scale(self, train_images: int) -> float:
        """How many times its own images every epoch of a job on this data set draws: 1.0 where the
        train split's images lie between the bounds."""
        return self.images(train_images) / train_images


@dataclass(frozen=True)
class FinalSettings:
    train_on: str  # train | train+val


def hyperband_brackets(min_budget: float, max_budget: float, eta: int) -> list[list[tuple[int, float]]]:
    """Successive-halving brackets of one Hyperband round: per bracket, (configs, budget) per stage.

    The same arithmetic as SMAC's Hyperband (smac.intensifier.successive_halving), without
    importing SMAC, so the config check stays light; tests/test_bohb.py compares both.
    """
    s_max = int(math.floor(math.log(max_budget / min_budget) / math.log(eta)))
    brackets = []
    for max_iter in range(s_max, -1, -1):
        initial = math.ceil(eta**max_iter * (s_max + 1) / (max_iter + 1))
        brackets.append([(int(round(math.floor(initial * eta ** -stage))), max_budget * eta ** (stage - max_iter))
                         for stage in range(max_iter + 1)])
    return brackets


def first_bracket_epochs(min_budget: int, max_budget: int, eta: int) -> int:
    """Epochs that Hyperband's first (widest) bracket trains; fewer cannot reach max_budget once."""
    first = hyperband_brackets(min_budget, max_budget, eta)[0]
    return int(math.ceil(sum(configs * budget for configs, budget in first) - 1e-9))


def job_scale(config: Mapping[str, Any], size: int, train_images: int) -> dict[str, float]:
    """How much more time and memory a job needs than at 28 px on 1,000 training images: the
    config's resources.by_size row of `size`, its time also scaled by the images an epoch draws
    (EpochSize). The workflow sizes its jobs with it, benchmarks/sweep_cost.py prices a run."""
    row = next(row for row in config["resources"]["by_size"] if row["size"] == size)
    images = from_dict(EpochSize, config["epoch_size"], "epoch_size").images(train_images)
    return {"time": row["time"] * images / 1000, "memory": row["memory"]}


def validate_config(config: Mapping[str, Any], schema_path: str | Path) -> None:
    """Schema check, then cross-field checks. One ConfigError lists every schema violation as a line
    'key.path: what is wrong', in key order (a bare jsonschema error names one problem and dumps the
    schema), or else every range of hpo.space (a `*_range` of the schema) whose low end exceeds its
    high end."""
    import jsonschema  # light, and installed wherever Snakemake is
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    problems = sorted(f"{'.'.join(map(str, error.absolute_path)) or '(top level)'}: {error.message}"
                      for error in jsonschema.Draft202012Validator(schema).iter_errors(config))
    if not problems:
        space_schema = schema["properties"]["hpo"]["properties"]["space"]["properties"]
        problems = [f"hpo.space.{name}: expected [low, high] with low <= high, got {value}"
                    for name, value in config["hpo"]["space"].items()
                    if space_schema[name].get("$ref", "").endswith("_range") and value[0] > value[1]]
    if problems:
        listing = "\n  - ".join(problems)
        raise ConfigError(f"{len(problems)} problem(s) in the config:\n  - {listing}")
    search = from_dict(SearchSettings, config["search"], "search")
    hpo = from_dict(HpoSettings, config["hpo"], "hpo")
    from_dict(EpochSize, config["epoch_size"], "epoch_size")
    names = [f"{entry['flag']}_{entry['size']}" for entry in config["datasets"]]
    if len(set(names)) < len(names):
        raise ConfigError(f"datasets: {sorted({n for n in names if names.count(n) > 1})} listed twice; each data set "
                          "and size is one entry")
    for index, entry in enumerate(config["datasets"]):
        try:
            task = dataset_task(entry["flag"], entry.get("task"), entry.get("source"), medmnist_info())
        except DatasetError as error:
            raise ConfigError(f"datasets[{index}]: {error}") from None
        search.check_image_size(entry["size"], f"datasets[{index}].size")
        if entry["size"] not in {row["size"] for row in config["resources"]["by_size"]}:
            raise ConfigError(f"resources.by_size: no row for {entry['size']} px, the size of datasets[{index}]")
        check_metric_for_task(hpo.metric, task)


def check_metric_for_task(metric: str, task: str) -> None:
    """Raise ConfigError unless BOHB's `metric` has a meaning for the data set's `task`: balanced
    accuracy averages the recall of classes, and a multi-label set has labels, not classes."""
    if task == MULTI_LABEL_TASK and metric == "balanced_accuracy":
        raise ConfigError(f"hpo.metric: {metric!r} means nothing for a {task!r} task; choose accuracy, auc or "
                          "macro_f1")
