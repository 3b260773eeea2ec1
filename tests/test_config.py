"""Config validation and bad input, through the real Snakemake workflow (in a scratch copy)."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml

from config_defaults import config_section
from conftest import REPO, snakemake
from darts_bohb.settings import (
    ConfigError,
    FinalSettings,
    HpoSettings,
    SearchSettings,
    check_config,
    from_dict,
    from_json,
)


def planned_jobs(output: str) -> dict[str, int]:
    """Job counts from the 'Job stats' table that `snakemake -n` prints."""
    table = output.split("Job stats:", 1)[1]
    return {name: int(count) for name, count in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M)
            if name != "total"}


def write_config(workdir, **overrides) -> str:
    config = yaml.safe_load((workdir / ".test" / "config.yaml").read_text())
    for dotted, value in overrides.items():
        *parents, key = dotted.split(".")
        node = config
        for parent in parents:
            node = node.setdefault(parent, {})
        node[key] = value
    path = workdir / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    return path.name


def test_dry_run_plans_search_for_every_seed(workflow_copy):
    result = snakemake(workflow_copy, "-n", "--configfile", ".test/config.yaml")
    assert result.returncode == 0, result.stderr
    jobs = planned_jobs(result.stdout + result.stderr)
    seeds = len(yaml.safe_load((workflow_copy / ".test" / "config.yaml").read_text())["seeds"])
    assert jobs["download_dataset"] == 1
    assert jobs["darts_search"] == seeds and jobs["export_genotype"] == seeds


@pytest.mark.parametrize("preset", sorted(path.name for path in (REPO / "configs").glob("*.yaml")))
def test_a_preset_overrides_only_its_own_keys_of_the_default_run(workflow_copy, preset):
    """configs/*.yaml are given after config.yaml: the same jobs, with the preset's values for its
    keys (hpo settings and rule resources) and the default's for every other key."""
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
    for family, resources in overrides.get("resources", {}).items():
        for name, value in resources.items():
            if name != "threads":  # threads is capped by --cores, not printed as given
                assert f"{name}={value}" in given.stdout, f"resources.{family}.{name}"


@pytest.mark.parametrize("key, value, named", [
    ("serach", {"epochs": 1}, "serach"),
    ("search.epocs", 3, "epocs"),
    ("search.epochs", "ten", "ten"),
    ("hpo.eta", 1, "eta"),
    ("search.pool", [True], "search.pool"),
    ("hpo.min_budget", 9, "hpo.min_budget"),
])
def test_bad_config_fails_before_any_job_naming_the_key(workflow_copy, key, value, named):
    config = write_config(workflow_copy, **{key: value})
    result = snakemake(workflow_copy, "--cores", "1", "--configfile", config)
    assert result.returncode != 0
    assert named in result.stdout + result.stderr
    assert not (workflow_copy / "results").exists()


def test_wrong_md5_fails_the_download_rule_and_leaves_no_output(workflow_copy, real_data, tmp_path):
    tampered = tmp_path / "retinamnist.npz"
    shutil.copyfile(real_data, tampered)
    with open(tampered, "ab") as handle:
        handle.write(b"\0")
    config = write_config(workflow_copy, **{"dataset.source": str(tampered)})
    result = snakemake(workflow_copy, "results/data/retinamnist_28.npz", "--cores", "1", "--configfile", config)
    assert result.returncode != 0
    assert not (workflow_copy / "results" / "data" / "retinamnist_28.npz").exists()
    assert list((workflow_copy / "results" / "data").glob("*")) == []
    log = (workflow_copy / "results" / "logs" / "download_dataset" / "retinamnist_28.log").read_text()
    assert "MD5 mismatch" in log and "bd4c0672f1bba3e3a89f0e4e876791e4" in log


def test_settings_name_unknown_and_inconsistent_keys():
    with pytest.raises(ConfigError, match=r"search.weights: unknown key\(s\) \['momentun'\]"):
        from_dict(SearchSettings, config_section("search", weights={"momentun": 0.9}), "search")
    with pytest.raises(ConfigError, match="search.weights.lr_min"):
        from_dict(SearchSettings, config_section("search", weights={"lr": 0.01, "lr_min": 0.1}), "search")


def test_config_yaml_is_the_only_source_of_defaults():
    """A section given by hand must be complete: every key left out is named, none is filled in."""
    partial = config_section("search")
    del partial["epochs"], partial["arch"]
    with pytest.raises(ConfigError, match=r"^search: missing key\(s\) \['epochs', 'arch'\]"):
        from_dict(SearchSettings, partial, "search")
    partial = config_section("hpo")
    del partial["space"]["lr"]
    with pytest.raises(ConfigError, match=r"^hpo.space: missing key\(s\) \['lr'\]"):
        from_dict(HpoSettings, partial, "hpo")
    with pytest.raises(ConfigError, match=r"^final: missing key\(s\) \['train_on'\]"):
        from_json(FinalSettings, "{}", "final")
    for cls in (SearchSettings, HpoSettings, FinalSettings):
        with pytest.raises(TypeError):
            cls()  # no dataclass defaults to drift away from config.yaml


def test_more_skips_than_nodes_is_a_config_error():
    """Early stopping could never fire: a cell has six nodes."""
    every_node = {"parameter_free_only": False}
    with pytest.raises(ConfigError, match="search.early_stopping.max_skips: a cell has 6 nodes"):
        from_dict(SearchSettings, config_section("search", early_stopping={**every_node, "max_skips": 7}), "search")
    assert from_dict(SearchSettings, config_section("search", early_stopping={**every_node, "max_skips": 6}), "search")


def test_check_config_rejects_more_pooling_than_the_image_allows():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["search"]["channels"] = [8] * 6
    config["search"]["pool"] = [True] * 6
    with pytest.raises(ConfigError, match="search.pool: 6 pooled cells need images of at least 64 px"):
        check_config(config)


def test_a_section_passed_as_json_names_itself_when_broken():
    with pytest.raises(ConfigError, match=r"hpo: --settings is not valid JSON"):
        from_json(HpoSettings, "{not json", "hpo")
    with pytest.raises(ConfigError, match=r"final.train_on: 'test' is not one of"):
        from_json(FinalSettings, '{"train_on": "test"}', "final")
    assert from_json(FinalSettings, '{"train_on": "train+val"}', "final") == FinalSettings(train_on="train+val")
