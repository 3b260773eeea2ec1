"""Config validation: the schema checks each key once, settings.py what relates keys; a bad config
fails before any job runs, naming the key."""

from __future__ import annotations

import json
import math
import re
import shutil

import pytest
import yaml
from snakemake.utils import update_config

from config_defaults import config_section
from conftest import REPO, snakemake
from darts_bohb.settings import (
    ConfigError,
    EpochSize,
    FinalSettings,
    HpoSettings,
    SearchSettings,
    from_dict,
    from_json,
    job_scale,
    validate_config,
)
from darts_bohb.tasks import medmnist_info, train_images

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def planned_jobs(output: str) -> dict[str, int]:
    """Job counts from the 'Job stats' table that `snakemake -n` prints."""
    table = output.split("Job stats:", 1)[1]
    return {name: int(count) for name, count in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M)
            if name != "total"}


def changed(config: dict, **overrides) -> dict:
    """`config` with dotted keys set (search.arch.lr=0.1 as search__arch__lr; dataset__flag is the first
    data set's flag)."""
    for dotted, value in overrides.items():
        *parents, key = dotted.split("__")
        node = config
        for parent in parents:
            node = node["datasets"][0] if parent == "dataset" else node.setdefault(parent, {})
        node[key] = value
    return config


def default_config(**overrides) -> dict:
    return changed(yaml.safe_load((REPO / "config.yaml").read_text()), **overrides)


def write_config(workdir, **overrides) -> str:
    path = workdir / "bad.yaml"
    path.write_text(yaml.safe_dump(changed(yaml.safe_load((workdir / ".test" / "config.yaml").read_text()),
                                           **overrides)))
    return path.name


def test_the_shipped_configs_are_valid():
    validate_config(default_config(), SCHEMA)
    for override in [REPO / ".test" / "config.yaml", *(REPO / "configs").glob("*.yaml")]:
        config = default_config()
        update_config(config, yaml.safe_load(override.read_text()))  # as --configfile merges them
        validate_config(config, SCHEMA)


@pytest.mark.parametrize("overrides, named", [
    ({"serach": {"epochs": 1}}, "(top level): Additional properties are not allowed ('serach' was unexpected)"),
    ({"search__epocs": 3}, "search: Additional properties are not allowed ('epocs' was unexpected)"),
    ({"search__epochs": "ten"}, "search.epochs: 'ten' is not of type 'integer'"),
    ({"hpo__eta": 1}, "hpo.eta: 1 is less than the minimum of 2"),
    ({"runtime__device": "gpu"}, "runtime.device: 'gpu' is not one of ['auto', 'cpu', 'cuda']"),
    ({"search__kernel_sizes": [3, 5, 7, 8]}, "search.kernel_sizes.3: 8 should not be valid"),
    ({"dataset__flag": "Retina-MNIST"}, "datasets.0.flag: 'Retina-MNIST' does not match"),
    ({"dataset__flag": "mine", "dataset__task": "regression"}, "datasets.0.task: 'regression' is not one of"),
    ({"hpo__space__channels": [32, 16]}, "hpo.space.channels: expected [low, high] with low <= high, got [32, 16]"),
    ({"hpo__space__weight_decay": [0.0, 1e-2]}, "hpo.space.weight_decay.0: 0.0 is less than or equal to the minimum"),
    ({"hpo__space__cells": [0, 2]}, "hpo.space.cells.0: 0 is less than the minimum of 1"),
    ({"hpo__space__optimizers": ["sgd", "rmsprop"]}, "hpo.space.optimizers.1: 'rmsprop' is not one of"),
    ({"search__pool": [True]}, "search.pool: has 1 entries but search.channels has 3"),
    ({"hpo__min_budget": 30}, "hpo.min_budget (30) exceeds hpo.max_budget (18)"),
    ({"hpo__total_epochs": 20}, "hpo.total_epochs: 20 epochs cannot fill one Hyperband bracket"),
    ({"search__weights__lr_min": 0.5}, "search.weights.lr_min (0.5) exceeds search.weights.lr (0.025)"),
    ({"search__channels": [8] * 6, "search__pool": [True] * 6}, "search.pool: 6 pooled cells need images of at least"),
    ({"dataset__flag": "organmnist3d"}, "datasets[0]: flag: 'organmnist3d' is a 3D MedMNIST data set"),
    ({"datasets": [{"flag": "breastmnist", "size": 28}] * 2}, "datasets: ['breastmnist_28'] listed twice"),
])
def test_a_bad_config_is_named_by_its_key(overrides, named):
    with pytest.raises(ConfigError) as error:
        validate_config(default_config(**overrides), SCHEMA)
    assert named in str(error.value)


def test_every_schema_problem_is_listed_at_once():
    with pytest.raises(ConfigError, match=r"^2 problem\(s\) in the config:\n  - hpo.eta: .*\n  - search.epochs: "):
        validate_config(default_config(search__epochs=0, hpo__eta=1), SCHEMA)


def test_settings_name_unknown_and_missing_keys_of_a_section_passed_by_hand():
    """config.yaml holds every default: a section given by hand must be complete."""
    with pytest.raises(ConfigError, match=r"^search.weights: .*unexpected keyword argument 'momentun'"):
        from_dict(SearchSettings, config_section("search", weights={"momentun": 0.9}), "search")
    partial = config_section("search")
    del partial["epochs"], partial["arch"]
    with pytest.raises(ConfigError, match=r"^search: .*missing 2 required .*'epochs' and 'arch'"):
        from_dict(SearchSettings, partial, "search")
    with pytest.raises(ConfigError, match=r"^final: .*missing 1 required .*'train_on'"):
        from_json(FinalSettings, "{}", "final")
    for cls in (SearchSettings, HpoSettings, FinalSettings):
        with pytest.raises(TypeError):
            cls()  # no dataclass defaults to drift away from config.yaml


def test_an_epoch_is_the_train_split_within_its_bounds_and_jobs_are_sized_by_it():
    epoch = from_dict(EpochSize, config_section("epoch_size"), "epoch_size")
    assert (epoch.min_images, epoch.max_images) == (1000, 10000)
    assert epoch.scale(1080) == 1.0  # RetinaMNIST: the epochs it always had
    assert epoch.scale(546) == pytest.approx(1000 / 546) and epoch.scale(165466) == pytest.approx(10000 / 165466)
    config = default_config()
    assert job_scale(config, 28, 1080) == {"time": pytest.approx(1.08), "memory": 1.0}
    assert job_scale(config, 64, 546)["time"] == pytest.approx(5.2) and job_scale(config, 224, 165466) == {
        "time": pytest.approx(1040.0), "memory": 24.5}
    with pytest.raises(ConfigError, match=r"epoch_size.min_images \(5000\) exceeds epoch_size.max_images \(100\)"):
        validate_config(default_config(epoch_size__min_images=5000, epoch_size__max_images=100), SCHEMA)


def test_more_skips_than_nodes_is_a_config_error():
    """Early stopping could never fire: a cell has six nodes."""
    every_node = {"parameter_free_only": False}
    with pytest.raises(ConfigError, match="search.early_stopping.max_skips: a cell has 6 nodes"):
        from_dict(SearchSettings, config_section("search", early_stopping={**every_node, "max_skips": 7}), "search")
    assert from_dict(SearchSettings, config_section("search", early_stopping={**every_node, "max_skips": 6}), "search")


@pytest.mark.slow
def test_dry_run_plans_search_for_every_seed(workflow_copy):
    result = snakemake(workflow_copy, "-n", "--configfile", ".test/config.yaml")
    assert result.returncode == 0, result.stderr
    jobs = planned_jobs(result.stdout + result.stderr)
    seeds = len(yaml.safe_load((workflow_copy / ".test" / "config.yaml").read_text())["seeds"])
    assert jobs["download_dataset"] == 1
    assert jobs["darts_search"] == seeds and jobs["export_genotype"] == seeds


# The presets of several data sets plan other jobs on purpose: tests/test_presets.py counts them.
SINGLE_DATASET_PRESETS = sorted(path.name for path in (REPO / "configs").glob("*.yaml")
                                if "datasets" not in yaml.safe_load(path.read_text()))


@pytest.mark.slow
@pytest.mark.parametrize("preset", SINGLE_DATASET_PRESETS)
def test_a_preset_overrides_only_its_own_keys_of_the_default_run(workflow_copy, preset):
    """configs/*.yaml are given after config.yaml: the same jobs, with the preset's values for its
    keys (hpo settings and rule resources, which the job scales to RetinaMNIST's training images)
    and the default's for every other key."""
    default = snakemake(workflow_copy, "-n", "-p")
    given = snakemake(workflow_copy, "-n", "-p", "--configfile", f"configs/{preset}")
    assert default.returncode == 0 and given.returncode == 0, given.stderr
    assert planned_jobs(given.stdout + given.stderr) == planned_jobs(default.stdout + default.stderr)
    overrides = yaml.safe_load((workflow_copy / "configs" / preset).read_text())
    assert set(overrides) <= {"hpo", "resources"}, "a preset that changes more needs this test to check it"
    defaults = yaml.safe_load((workflow_copy / "config.yaml").read_text())
    for key, value in defaults["hpo"].items():
        expected = overrides.get("hpo", {}).get(key, value)
        assert f'"{key}": {json.dumps(expected, sort_keys=True)}' in given.stdout, key
    scale = job_scale(defaults, 28, train_images("retinamnist", None, medmnist_info()))
    for family, resources in overrides.get("resources", {}).items():
        for name, value in resources.items():
            if name != "threads":  # threads is capped by --cores, not printed as given
                scaled = math.ceil(value * scale["memory" if name == "mem_mb" else "time"])
                assert f"{name}={scaled}" in given.stdout, f"resources.{family}.{name}"


@pytest.mark.slow
def test_bad_config_fails_before_any_job_naming_the_key(workflow_copy):
    config = write_config(workflow_copy, search__epocs=3, hpo__min_budget=9)
    result = snakemake(workflow_copy, "--cores", "1", "--configfile", config)
    assert result.returncode != 0
    assert "epocs" in result.stdout + result.stderr
    assert not (workflow_copy / "results").exists()


@pytest.mark.slow
def test_wrong_md5_fails_the_download_rule_and_leaves_no_output(workflow_copy, real_data, tmp_path):
    tampered = tmp_path / "retinamnist.npz"
    shutil.copyfile(real_data, tampered)
    with open(tampered, "ab") as handle:
        handle.write(b"\0")
    config = write_config(workflow_copy, dataset__source=str(tampered))
    result = snakemake(workflow_copy, "results/retinamnist_28/data.npz", "--cores", "1", "--configfile", config)
    assert result.returncode != 0
    folder = workflow_copy / "results" / "retinamnist_28"
    assert sorted(path.name for path in folder.iterdir()) == ["logs"]  # no data.npz, no partial file
    log = (folder / "logs" / "download_dataset.log").read_text()
    assert "MD5 mismatch" in log and "bd4c0672f1bba3e3a89f0e4e876791e4" in log
