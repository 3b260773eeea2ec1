"""BOHB runs: outputs, determinism, test-split independence, a changed run starting afresh, and bad input
(continuing a killed run: tests/test_rerun.py).

All runs use the tiny space of tests/hpo_fixtures.py (budgets 1..3 epochs, 4 or 6 trials) on the
synthetic .npz written there (MedMNIST's layout, a few hundred images): the mechanics tested
here do not need the real file, and it keeps each run to seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from smac.intensifier.hyperband_utils import determine_HB

from config_defaults import CPU_JOB_SECTIONS, config_section
from darts_bohb.bohb import (
    BohbOutputs,
    Problem,
    cross_validated_best,
    plan_trials,
    run_bohb,
    trajectory_rows,
    trial_outcome,
)
from darts_bohb.data import load_splits
from darts_bohb.genotype import save_genotype
from darts_bohb.hpo_space import sample_designs
from darts_bohb.network import PLAIN_CONV, build_network
from darts_bohb.runtime import make_runtime
from darts_bohb.settings import ConfigError, HpoSettings, first_bracket_epochs, from_dict, hyperband_brackets
from hpo_fixtures import hpo_json, make_genotype, one_torch_thread, synthetic_arrays, tiny_hpo, write_synthetic_npz  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parents[1]
SEED = 1
GENOTYPE = make_genotype(seed=5)
RUNHISTORY_COLUMNS = ["config_id", "budget", "seed", "cost", "score", "std_error", "seconds", "status"]
TRAJECTORY_COLUMNS = ["wallclock_s", "cumulative_epochs", "budget", "cost", "score", "config_id"]


def run_script(out: Path, data: Path, hpo: HpoSettings | str, method: str = "nas", genotype: Path | None = None,
               fixed_hash_seed: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if fixed_hash_seed:
        env["PYTHONHASHSEED"] = "0"  # saves the script's restart; one test leaves it unset on purpose
    else:
        env.pop("PYTHONHASHSEED", None)
    args = [sys.executable, str(REPO / "scripts" / "bohb.py"), "--method", method, "--data", str(data),
            "--dataset", "retinamnist", "--size", "28", "--seed", str(SEED),
            "--settings", hpo if isinstance(hpo, str) else hpo_json(hpo),
            *CPU_JOB_SECTIONS, "--threads", "1", "--incumbent", str(out / "incumbent.json"),
            "--trajectory", str(out / "trajectory.csv"), "--runhistory", str(out / "runhistory.csv"),
            "--ensemble", str(out / "ensemble.pt")]
    if genotype is not None:
        args += ["--genotype", str(genotype)]
    return subprocess.run(args, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL, env=env)


def run_in_process(out: Path, data: Path, hpo: HpoSettings) -> dict:
    splits = load_splits(data, ("train", "val"))
    problem = Problem(method="nas", seed=SEED, train=splits["train"], val=splits["val"], task="ordinal-regression",
                      n_classes=5, designs=sample_designs(GENOTYPE, hpo.designs_per_cell, SEED),
                      topology=GENOTYPE.topology, runtime=make_runtime("cpu", "auto"), metric=hpo.metric)
    return run_bohb(problem, hpo, BohbOutputs(out / "incumbent.json", out / "trajectory.csv", out / "runhistory.csv",
                                              out / "ensemble.pt"))


pytestmark = pytest.mark.usefixtures("one_torch_thread")
# 4 trials at budgets of 1 and 3 epochs; 2 folds, the fewest, as the tiny run (.test/config.yaml)
ONE_BRACKET = tiny_hpo(total_epochs=6, cv_folds=2)


def smac_trials(out: Path) -> list[dict]:
    return json.loads((out / "smac" / str(SEED) / "runhistory.json").read_text())["data"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    write_synthetic_npz(folder / "data.npz")
    save_genotype(folder / "genotype.json", GENOTYPE)
    return folder


@pytest.fixture(scope="module")
def script_runs(tmp_path_factory, data_dir) -> dict[str, Path]:
    """Two runs of scripts/bohb.py, each its own process: the second with other test labels and
    another hash seed, so that one equality shows that neither the process nor the test split
    changes what BOHB chooses."""
    root = tmp_path_factory.mktemp("bohb")
    test_labels = synthetic_arrays()["test_labels"]
    write_synthetic_npz(root / "other_test_labels.npz", test_labels=(test_labels + 1) % 5)
    runs = {"first": data_dir / "data.npz", "again_with_other_test_labels": root / "other_test_labels.npz"}
    for name, data in runs.items():
        result = run_script(root / name, data, ONE_BRACKET, genotype=data_dir / "genotype.json",
                            fixed_hash_seed=name == "first")
        assert result.returncode == 0, result.stderr[-3000:]
        (root / name / "log.txt").write_text(result.stderr)
    return {name: root / name for name in runs}


def test_hyperband_arithmetic_matches_smac():
    cases = [(1, 3, 3), (3, 27, 3), (1, 10, 3), (2, 2, 3), (1, 81, 3), (1, 8, 2), (5, 60, 4)]
    for min_budget, max_budget, eta in cases:
        smac = determine_HB(min_budget, max_budget, eta)
        ours = hyperband_brackets(min_budget, max_budget, eta)
        assert [[c for c, _ in stages] for stages in ours] == list(smac["n_configs_in_stage"].values())
        for stages, budgets in zip(ours, smac["budgets_in_stage"].values()):
            assert [budget for _, budget in stages] == pytest.approx(budgets)


def test_trial_plan_follows_the_total_epoch_budget():
    # One Hyperband round: 3 trials x 1 epoch + 1 x 3, then 2 x 3; at 3 epochs, one model per fold (3).
    assert plan_trials(tiny_hpo()) == (6, 3 * 1 + 1 * 3 * 3 + 2 * 3 * 3)
    assert plan_trials(tiny_hpo(total_epochs=6))[0] == 4
    # config.yaml's budgets 2/18, eta 3: one round of 22 trials is 156 epochs; 4 more epochs start two 2-epoch trials
    # The default's 160 epochs, with each 18-epoch trial counted three times (its folds): the ETA's work.
    assert plan_trials(from_dict(HpoSettings, config_section("hpo"), "hpo")) == (24, 340)


def test_the_incumbent_is_the_best_trial_whose_cross_validation_was_kept(caplog):
    """Every top-budget trial scored 0: the first diverged (no cross-validation kept), the later
    one's metric was undefined. The incumbent is the one whose folds exist, with a warning."""
    rows = [{"config_id": config_id, "budget": budget, "cost": 1.0 - score, "score": score, "wallclock_s": 0.0}
            for config_id, budget, score in ((1, 1, 0.5), (2, 3, 0.0), (3, 3, 0.0))]
    best = trajectory_rows(rows)[-1]
    assert best["config_id"] == 2
    assert cross_validated_best(rows, best, {2: "folds", 3: "folds"}) is best
    with caplog.at_level("WARNING", logger="darts_bohb"):
        assert cross_validated_best(rows, best, {3: "folds"})["config_id"] == 3
    assert "config 2, the best at 3 epochs, left no cross-validation" in caplog.text


def hpo_error(**changes) -> str:
    """The ConfigError message of the tiny hpo settings with `changes`, or '' if they are accepted."""
    settings = {**json.loads(hpo_json(tiny_hpo())), **changes}
    try:
        from_dict(HpoSettings, settings, "hpo")
    except ConfigError as error:
        return str(error)
    return ""


def test_impossible_budgets_are_config_errors():
    assert hpo_error(min_budget=9, max_budget=3) == "hpo.min_budget (9) exceeds hpo.max_budget (3)"
    assert hpo_error(min_budget=3, max_budget=3, total_epochs=3) == ""  # equal budgets: plain successive trials
    assert hpo_error(total_epochs=5) == ("hpo.total_epochs: 5 epochs cannot fill one Hyperband bracket of "
                                         "min_budget=1, max_budget=3, eta=3; it needs at least 6")
    assert hpo_error(total_epochs=6) == ""  # exactly the first bracket: 3 x 1 + 1 x 3 epochs
    assert hpo_error(min_budget=3, max_budget=27, total_epochs=80).endswith(
        "min_budget=3, max_budget=27, eta=3; it needs at least 81")  # 9 x 3 + 3 x 9 + 1 x 27


def test_first_bracket_epochs_is_the_widest_brackets_sum():
    assert first_bracket_epochs(1, 3, 3) == 6
    assert first_bracket_epochs(3, 27, 3) == 81
    assert first_bracket_epochs(2, 2, 3) == 2


def test_a_trial_scored_0_for_failing_says_why_instead_of_a_score():
    assert trial_outcome({"scored_on": "out-of-fold"}, "auc", 0.71234) == "out-of-fold auc 0.7123"
    assert trial_outcome({"scored_on": "out-of-fold", "diverged": True}, "auc", 0.0) == "training diverged, scored 0"
    assert trial_outcome({"out_of_memory": True}, "accuracy", 0.0) == "did not fit in memory, scored 0"
    assert trial_outcome({"scored_on": "val", "undefined": True}, "auc", 0.0) == "auc undefined, scored 0"
    assert trial_outcome({"scored_on": "val"}, "accuracy", 0.5) == "val accuracy 0.5000"


def test_bohb_writes_a_complete_smac_run_beside_our_csvs(script_runs):
    out = script_runs["first"]
    smac_dir = out / "smac" / str(SEED)
    for name in ("runhistory.json", "intensifier.json", "scenario.json", "configspace.json", "optimization.json"):
        assert (smac_dir / name).is_file(), name
    runhistory = pd.read_csv(out / "runhistory.csv")
    assert list(runhistory.columns) == RUNHISTORY_COLUMNS
    assert len(runhistory) == 4 and set(runhistory["budget"]) == {1, 3} and set(runhistory["status"]) == {"SUCCESS"}
    assert runhistory["cost"].tolist() == [trial["cost"] for trial in smac_trials(out)]
    assert np.allclose(runhistory["score"], 1 - runhistory["cost"])

    incumbent = json.loads((out / "incumbent.json").read_text())
    at_max = runhistory[runhistory.budget == runhistory.budget.max()]
    assert incumbent["budget"] == 3 and incumbent["validation_score"] == at_max.score.max()
    assert incumbent["config_id"] in json.loads((smac_dir / "intensifier.json").read_text())["incumbent_ids"]
    assert incumbent["method"] == "nas" and incumbent["seed"] == SEED and incumbent["metric"] == "accuracy"
    assert incumbent["designs"][0] == GENOTYPE.derived_design() and len(incumbent["designs"]) == 3
    used = [cell["design"] for cell in incumbent["architecture"]["cells"]]
    assert all(design in incumbent["designs"] for design in used)
    build_network(incumbent["architecture"])
    # the largest budget is scored by 2-fold CV over train+val (260 images), with its error; lower ones on val
    assert incumbent["selection_estimate"] == incumbent["validation_score"]
    assert incumbent["selection_method"] == "2-fold stratified CV over train+val (260 images), accuracy"
    # with a bootstrap standard error (0 for a network right on every image); a trial that diverged has none
    scored = at_max[at_max["score"] > 0]
    assert len(scored) >= 1 and scored["std_error"].between(0, 0.05).all()
    assert at_max.loc[at_max["score"] == 0, "std_error"].isna().all()
    assert runhistory.loc[runhistory.budget == 1, "std_error"].isna().all()
    chosen = at_max.config_id == incumbent["config_id"]
    assert incumbent["selection_std_error"] == at_max.loc[chosen, "std_error"].item()
    # the ensemble: members among the cross-validated configurations, two fold models each
    ensemble = torch.load(out / "ensemble.pt", weights_only=True)
    assert {member["config_id"] for member in ensemble["members"]} <= set(at_max.config_id)
    assert sum(member["weight"] for member in ensemble["members"]) == pytest.approx(1.0)
    assert all(len(member["fold_states"]) == 2 for member in ensemble["members"])
    assert ensemble["selection_estimate"] >= at_max.score.max()  # greedy selection starts from the best one

    trajectory = pd.read_csv(out / "trajectory.csv")
    assert list(trajectory.columns) == TRAJECTORY_COLUMNS
    assert trajectory["config_id"].iloc[-1] == incumbent["config_id"]
    assert trajectory["score"].iloc[-1] == incumbent["validation_score"]
    assert trajectory["cumulative_epochs"].is_monotonic_increasing and trajectory["wallclock_s"].is_monotonic_increasing
    log = (out / "log.txt").read_text()
    assert "trial 4/4" in log and "ETA" in log
    # a line per trial, named by what scored it or why it was scored 0, and the incumbent's closing line
    assert log.count("out-of-fold accuracy") + log.count("training diverged, scored 0") == len(at_max) + 1
    assert log.count("val accuracy") == len(runhistory) - len(at_max)


def test_same_seed_in_another_process_with_other_test_labels_gives_the_same_incumbent(script_runs):
    first, again = (script_runs[name] for name in ("first", "again_with_other_test_labels"))
    assert json.loads((first / "incumbent.json").read_text()) == json.loads((again / "incumbent.json").read_text())
    columns = ["config_id", "budget", "cost"]
    assert pd.read_csv(first / "runhistory.csv")[columns].equals(pd.read_csv(again / "runhistory.csv")[columns])


def test_baseline_runs_the_same_protocol_with_plain_conv_cells(tmp_path, data_dir):
    result = run_script(tmp_path, data_dir / "data.npz", ONE_BRACKET, method="baseline")
    assert result.returncode == 0, result.stderr[-3000:]
    incumbent = json.loads((tmp_path / "incumbent.json").read_text())
    assert incumbent["method"] == "baseline" and incumbent["designs"] is None
    assert {cell["design"] for cell in incumbent["architecture"]["cells"]} == {PLAIN_CONV}
    runhistory = pd.read_csv(tmp_path / "runhistory.csv")
    assert len(runhistory) == 4 and set(runhistory["budget"]) == {1, 3}


def test_a_changed_or_damaged_run_starts_fresh_without_asking(tmp_path, data_dir, monkeypatch, caplog):
    def no_prompt(*args):
        raise AssertionError("SMAC asked on stdin")

    monkeypatch.setattr("builtins.input", no_prompt)
    caplog.set_level("INFO", logger="darts_bohb")
    data = data_dir / "data.npz"
    run_in_process(tmp_path, data, ONE_BRACKET)
    run_dir = tmp_path / "smac" / str(SEED)

    changed = tiny_hpo(total_epochs=6, cv_folds=2, designs_per_cell=2)
    run_in_process(tmp_path, data, changed)
    assert "not continued because the space, designs, data, hpo settings or training memory differ" in caplog.text
    caplog.clear()

    scenario = json.loads((run_dir / "scenario.json").read_text())
    scenario["crash_cost"] = 2.0  # SMAC's own record differs, our fingerprint does not
    (run_dir / "scenario.json").write_text(json.dumps(scenario))
    run_in_process(tmp_path, data, changed)
    assert "SMAC's scenario differs in ['crash_cost']" in caplog.text
    caplog.clear()

    text = (run_dir / "runhistory.json").read_text()
    (run_dir / "runhistory.json").write_text(text[: len(text) // 2])  # killed while SMAC was saving
    run_in_process(tmp_path, data, changed)
    assert "its files are incomplete or unreadable" in caplog.text
    assert len(smac_trials(tmp_path)) == 4


@pytest.mark.parametrize("damage, message", [
    (lambda g: "{not json", "not valid JSON"),
    (lambda g: json.dumps({**g, "operations": [*g["operations"][:-1], "sep_conv_3x3"]}), "sep_conv_3x3"),
])
def test_bad_genotype_fails_before_any_training(tmp_path, data_dir, damage, message):
    genotype = tmp_path / "genotype.json"
    genotype.write_text(damage(json.loads((data_dir / "genotype.json").read_text())))
    result = run_script(tmp_path / "out", data_dir / "data.npz", tiny_hpo(), genotype=genotype)
    assert result.returncode == 1
    assert str(genotype) in result.stderr and message in result.stderr
    assert not (tmp_path / "out").exists()


def test_total_budget_below_one_bracket_fails_before_any_training(tmp_path, data_dir):
    settings = json.loads(hpo_json(tiny_hpo()))
    settings["total_epochs"] = 5
    result = run_script(tmp_path / "out", data_dir / "data.npz", json.dumps(settings),
                        genotype=data_dir / "genotype.json")
    assert result.returncode == 1
    assert "hpo.total_epochs: 5 epochs cannot fill one Hyperband bracket" in result.stderr
    assert "it needs at least 6" in result.stderr
    assert not (tmp_path / "out").exists()
