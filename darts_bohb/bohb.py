"""BOHB for one seed: SMAC3's multi-fidelity facade with Hyperband, budget = training epochs.

The target function trains the network a configuration describes for `budget` epochs on the
train split and returns 1 - (validation metric). Only train and val are ever loaded here.

SMAC keeps its own run folder (results/.../smac/{seed}/: scenario.json, runhistory.json,
intensifier.json, ...) beside our CSVs, saved after every trial. It is not a declared output,
so it survives a killed job, and a rerun continues it when nothing that shapes the run has
changed. SMAC itself would ask on stdin what to do with a run that differs; we compare first
(our fingerprint of space, designs, data, settings and package source, and SMAC's scenario)
and start a fresh run, logged, whenever anything differs, so the prompt is never reached.

Once our outputs are written, a marker beside the fingerprint records it. Snakemake reruns a
job that completed only when it is forced or its inputs or params changed, so a run that finds
the marker redoes every trial instead of rewriting the old ones; a job killed before the
marker (mid-run, or while writing the outputs) continues.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import smac
import torch
from ConfigSpace import Configuration, ConfigurationSpace
from smac import Callback, MultiFidelityFacade, Scenario
from smac.intensifier.hyperband_utils import get_n_trials_for_hyperband_multifidelity
from smac.runhistory import StatusType, TrialInfo, TrialValue

from darts_bohb import source_hash
from darts_bohb.cv import CrossValidation
from darts_bohb.data import Split
from darts_bohb.ensemble_selection import select_ensemble, weighted_average
from darts_bohb.hpo_space import architecture_from_config, build_space, plain_values, training_from_config
from darts_bohb.io import atomic_path, write_csv, write_json
from darts_bohb.memory import MemoryBudgetError
from darts_bohb.metrics import score
from darts_bohb.network import build_network, count_parameters
from darts_bohb.runtime import Runtime, seed_everything
from darts_bohb.settings import HpoSettings, hyperband_brackets
from darts_bohb.topology import CellTopology
from darts_bohb.training import (
    TrainingDiverged,
    TrainingSettings,
    portable_state,
    predict_probabilities,
    train_model,
)

LOG = logging.getLogger(__name__)
SMAC_RUN_NAME = "smac"
CV_FOLDER = "cross_validation"  # inside SMAC's run folder: removed with it when a run starts afresh
FINGERPRINT_FILE = "fingerprint.json"
OUTPUTS_WRITTEN_FILE = "outputs_written.json"
SMAC_STATE_FILES = ("scenario.json", "configspace.json", "optimization.json", "runhistory.json",
                    "intensifier.json")


@dataclass(frozen=True)
class BohbOutputs:
    incumbent: Path
    trajectory: Path
    runhistory: Path
    ensemble: Path  # the chosen members' fold models (torch.save), for the final rule


@dataclass(frozen=True)
class Problem:
    """Everything a trial needs besides its configuration."""

    method: str
    seed: int
    train: Split
    val: Split
    task: str
    n_classes: int
    designs: list[dict[str, str]] | None  # None: the baseline's plain conv cells
    topology: CellTopology | None
    runtime: Runtime
    metric: str
    epoch_scale: float = 1.0  # each epoch draws this many times its split's images (settings.EpochSize)

    def architecture(self, config: Configuration) -> dict[str, Any]:
        return architecture_from_config(config, self.designs, self.topology, self.train.images.shape[1], self.n_classes)


def epochs_of(budget: float) -> int:
    """SMAC's budgets are max_budget / eta**k, not always whole; a trial trains whole epochs."""
    return max(1, int(round(budget)))


def plan_trials(hpo: HpoSettings) -> tuple[int, int]:
    """(number of trials, epochs of the models they train) for the total epoch budget. The epochs are
    taken bracket by bracket, stage by stage: exact for whole Hyperband rounds; for a cut round only
    an estimate (SMAC may promote before a stage is full), which is all the ETA needs."""
    n_trials = int(get_n_trials_for_hyperband_multifidelity(
        hpo.total_epochs, hpo.min_budget, hpo.max_budget, hpo.eta, print_summary=False))
    brackets = hyperband_brackets(hpo.min_budget, hpo.max_budget, hpo.eta)
    trials = epochs = 0
    while True:
        for stages in brackets:
            for configs, budget in stages:
                take = min(configs, n_trials - trials)
                trials += take
                epochs += take * trained_epochs(epochs_of(budget), hpo)
                if trials >= n_trials:
                    return n_trials, epochs


def trained_epochs(epochs: int, hpo: HpoSettings) -> int:
    """The epochs a trial of `epochs` trains: one model per fold of the cross-validation at the
    largest budget, one model below it."""
    return epochs * (hpo.cv_folds if epochs == epochs_of(hpo.max_budget) else 1)


class TrialTarget:
    """SMAC's target function: train(config, seed, budget) -> 1 - selection score.

    Below the largest budget a trial trains on train and is scored on val, which is cheap and
    noisy; that is enough to decide what Hyperband promotes. At the largest budget, where the
    incumbent is chosen, it trains one model per fold of `cv` and is scored on the pooled
    out-of-fold predictions; these and the fold models are kept in `store` for the ensemble.
    """

    def __init__(self, problem: Problem, cv: CrossValidation, cv_epochs: int, store: Path):
        self.problem, self.cv, self.cv_epochs, self.store = problem, cv, cv_epochs, store

    def train(self, config: Configuration, seed: int = 0, budget: float = 1.0) -> tuple[float, dict[str, Any]]:
        problem = self.problem
        generator = seed_everything(seed)
        epochs = epochs_of(budget)
        settings = training_from_config(config, epochs, problem.epoch_scale)
        architecture = problem.architecture(config)
        cross_validated = epochs == self.cv_epochs
        model = problem.runtime.prepare_model(build_network(architecture))  # the first fold's, if cross-validated
        info = {"parameters": count_parameters(model), "scored_on": "out-of-fold" if cross_validated else "val"}
        try:
            if cross_validated:
                value, std_error = self._cross_validate(config, model, architecture, settings, generator)
                info["std_error"] = std_error
            else:
                train_model(model, problem.train, settings, problem.runtime, generator, problem.n_classes)
                probabilities = predict_probabilities(model, problem.val, problem.runtime)
                value = score(problem.metric, problem.val.labels.numpy(), probabilities, problem.task)
        except TrainingDiverged as error:
            LOG.info("trial diverged (%s); scored 0", error)
            return 1.0, {**info, "diverged": True}
        except MemoryBudgetError as error:  # the space reaches networks this job cannot train at this size
            LOG.warning("trial does not fit in memory (%s); scored 0", error)
            return 1.0, {**info, "out_of_memory": True}
        if math.isnan(value):  # e.g. AUC while a class has no val sample
            LOG.warning("%s is undefined (a class has no sample); scored 0", problem.metric)
            value, info["undefined"] = 0.0, True
        return 1.0 - value, info

    def _cross_validate(self, config: Configuration, model: torch.nn.Module, architecture: dict[str, Any],
                        settings: TrainingSettings, generator: torch.Generator) -> tuple[float, float]:
        runtime = self.problem.runtime
        out_of_fold = np.zeros((len(self.cv.data), self.problem.n_classes), dtype=np.float32)  # train+val's order
        fold_states, micro_batch = [], None  # the folds share one memory probe: the same network
        for fold in range(len(self.cv.folds)):
            fitted_on, held_out = self.cv.fold_splits(fold)
            if fold > 0:  # the first fold trains `model`; the folds draw from one random stream in turn
                model = runtime.prepare_model(build_network(architecture))
            micro_batch = train_model(model, fitted_on, settings, runtime, generator, self.problem.n_classes,
                                      micro_batch=micro_batch).micro_batch
            out_of_fold[self.cv.folds[fold]] = predict_probabilities(model, held_out, runtime)
            fold_states.append(portable_state(model))
        value, std_error = self.cv.estimate(out_of_fold)
        with atomic_path(self.store / f"{config_key(config)}.pt") as tmp:
            torch.save({"config": plain_values(config), "out_of_fold": torch.from_numpy(out_of_fold),
                        "fold_states": fold_states, "estimate": value, "std_error": std_error}, tmp)
        return value, std_error


def ensemble_members(runhistory, rows: list[dict[str, Any]], store: Path) -> dict[int, dict[str, Any]]:
    """The cross-validated trials of the largest budget that did not diverge, by config id."""
    top = max(row["budget"] for row in rows)
    members = {}
    for row in rows:
        if row["budget"] != top or row["status"] != "SUCCESS":
            continue
        path = store / f"{config_key(runhistory.get_config(row['config_id']))}.pt"
        if path.exists():
            members[row["config_id"]] = torch.load(path, weights_only=True)
    if not members:
        raise RuntimeError(f"no cross-validated trial at {top} epochs left its fold models in {store}")
    return members


def cross_validated_best(rows: list[dict[str, Any]], best: dict[str, Any], members: dict[int, Any]) -> dict[str, Any]:
    """BOHB's incumbent if its cross-validation was kept; else the best trial at the same budget
    whose was (a trial that diverged keeps none, and scores 0 like one whose metric was undefined),
    the earliest on a tie. The incumbent's selection estimate is its cross-validation's."""
    if best["config_id"] in members:
        return best
    kept = min((row for row in rows if row["budget"] == best["budget"] and row["config_id"] in members),
               key=lambda row: row["cost"])
    LOG.warning("config %d, the best at %d epochs, left no cross-validation (its training diverged); the incumbent "
                "is config %d, the best that did", best["config_id"], best["budget"], kept["config_id"])
    return kept


def config_key(config: Configuration | dict) -> str:
    """A file name for a configuration's cross-validation, the same in a continued run."""
    return hashlib.sha256(json.dumps(plain_values(config), sort_keys=True).encode()).hexdigest()[:16]


class TrialLogger(Callback):
    """One log line per finished trial: progress, its score, the incumbent, time and ETA."""

    def __init__(self, hpo: HpoSettings, n_trials: int, planned: int):
        self.hpo = hpo
        self.n_trials = n_trials
        self.planned = planned

    def on_tell_start(self, smbo, info: TrialInfo, value: TrialValue) -> None:
        # Stored with the trial in SMAC's runhistory.json, so trajectory.csv can be rebuilt
        # with true wall-clock times after a continued run.
        value.additional_info["wallclock_s"] = smbo.used_walltime

    def on_tell_end(self, smbo, info: TrialInfo, value: TrialValue) -> None:
        rows = trial_rows(smbo.runhistory)
        done_epochs = sum(trained_epochs(row["budget"], self.hpo) for row in rows)
        config_id = smbo.runhistory.get_config_id(info.config)
        best = trajectory_rows(rows)[-1]
        incumbent_text = f"config {best['config_id']} {best['score']:.4f} at {best['budget']} epochs"
        elapsed = smbo.used_walltime
        eta = elapsed / max(done_epochs, 1) * max(self.planned - done_epochs, 0)
        status = StatusType(value.status).name
        outcome = ("crashed, scored 0" if value.status == StatusType.CRASHED
                   else trial_outcome(value.additional_info, self.hpo.metric, 1.0 - value.cost))
        LOG.info("trial %d/%d: config %d, %d epochs, %s (%s, %.1f s) | incumbent %s | elapsed %s, ETA %s",
                 len(rows), self.n_trials, config_id, epochs_of(info.budget), outcome, status, value.time,
                 incumbent_text, format_seconds(elapsed), format_seconds(eta))
        if value.status == StatusType.CRASHED:
            LOG.warning("trial crashed:\n%s", value.additional_info.get("traceback", value.additional_info))


def trial_outcome(info: dict, metric: str, value: float) -> str:
    """'val accuracy 0.5123', 'out-of-fold accuracy 0.5123', or why a trial was scored 0 without a score."""
    for flag, reason in (("diverged", "training diverged"), ("out_of_memory", "did not fit in memory"),
                         ("undefined", f"{metric} undefined")):
        if info.get(flag):
            return f"{reason}, scored 0"
    return f"{info.get('scored_on', 'val')} {metric} {value:.4f}"


def format_seconds(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def trial_rows(runhistory) -> list[dict[str, Any]]:
    """Finished trials in the order SMAC ran them (running ones are left out)."""
    rows = []
    for key, value in runhistory.items():
        if value.status == StatusType.RUNNING:
            continue
        rows.append({
            "config_id": key.config_id,
            "budget": epochs_of(key.budget),
            "seed": key.seed,
            "cost": float(value.cost),
            "score": 1.0 - float(value.cost),
            "seconds": float(value.time),
            "status": StatusType(value.status).name,
            "wallclock_s": float(value.additional_info.get("wallclock_s", float("nan"))),
            "std_error": float(value.additional_info.get("std_error", float("nan"))),  # CV trials only
        })
    return rows


def trajectory_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per change of BOHB's incumbent, in trial order: the best trial on the largest budget
    reached so far (the earliest on a tie). SMAC's intensifier is set to the same rule
    (incumbent_selection="highest_budget"); following it here keeps our files right even before a
    run reaches max_budget. The last row is the incumbent."""
    out: list[dict[str, Any]] = []
    best, epochs = None, 0
    for row in rows:
        epochs += row["budget"]
        if best is None or (row["budget"], -row["cost"]) > (best["budget"], -best["cost"]):
            best = row
            out.append({"wallclock_s": row["wallclock_s"], "cumulative_epochs": epochs, "budget": best["budget"],
                        "cost": best["cost"], "score": best["score"], "config_id": best["config_id"]})
    return out


def data_digest(*splits: Split) -> str:
    digest = hashlib.sha256()
    for split in splits:
        # Seen as NHWC, the images are the arrays as loaded (load_splits): hashed without a copy.
        digest.update(np.ascontiguousarray(split.images.permute(0, 2, 3, 1).numpy()).data)
        digest.update(np.ascontiguousarray(split.labels.numpy()).data)
    return digest.hexdigest()


def fingerprint(problem: Problem, hpo: HpoSettings, space: ConfigurationSpace) -> dict[str, Any]:
    """Everything that shapes the trials' results; a stored run with another one is not continued."""
    return {  # the package's version is in its source (__init__.py)
        "smac": smac.version,
        "source_sha256": source_hash.package_source_sha256(),
        "method": problem.method,
        "seed": problem.seed,
        "hpo": json.loads(json.dumps(hpo.to_dict())),
        "space": space.to_serialized_dict(),
        "designs": problem.designs,
        "topology": problem.topology.to_dict() if problem.topology is not None else None,
        "train_val_sha256": data_digest(problem.train, problem.val),
        "task": problem.task,
        "epoch_scale": problem.epoch_scale,
        **problem.runtime.numerics(),
        # It decides where a batch is cut into micro-batches (memory.py), so the trials' results.
        "training_memory_bytes": problem.runtime.training_memory_bytes(),
    }


def reason_not_to_continue(scenario: Scenario, stored_fingerprint: Path, wanted: dict[str, Any]) -> str | None:
    """Why the SMAC run of `scenario` cannot be continued, or None if it can."""
    run_dir = scenario.output_directory
    outputs_written = stored_fingerprint.parent / OUTPUTS_WRITTEN_FILE
    try:
        stored_identity = json.loads(stored_fingerprint.read_text())
        if stored_identity.get("source_sha256") != wanted["source_sha256"]:
            return "the package source (darts_bohb/*.py) changed since it was started"
        if stored_identity != json.loads(json.dumps(wanted)):
            return "the space, designs, data, hpo settings or training memory differ from the stored run's"
        for name in SMAC_STATE_FILES:
            json.loads((run_dir / name).read_text())
        stored = Scenario.make_serializable(Scenario.load(run_dir))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        return f"its files are incomplete or unreadable ({error})"
    # SMAC's meta data (its components' settings) follows from its version and our source, both
    # in the fingerprint; the rest is what SMAC would compare, and ask about on stdin if it differed.
    current = Scenario.make_serializable(scenario)
    del stored["_meta"], current["_meta"]
    if current != stored:
        changed = sorted(key for key in set(current) | set(stored) if current.get(key) != stored.get(key))
        return f"SMAC's scenario differs in {changed}"
    if outputs_written.exists():
        return (f"it finished and its outputs were written ({outputs_written}): running the job again "
                "(forced, or its inputs or params changed) redoes every trial")
    return None


def prepare_run_folder(smac_root: Path, scenario: Scenario, wanted: dict[str, Any]) -> None:
    """Keep a continuable SMAC run; otherwise remove it (logged) and record the new fingerprint."""
    stored_fingerprint = smac_root / FINGERPRINT_FILE
    if smac_root.exists():
        reason = reason_not_to_continue(scenario, stored_fingerprint, wanted)
        if reason is None:
            LOG.info("continuing the SMAC run in %s", scenario.output_directory)
            return
        LOG.warning("starting a fresh SMAC run: the stored one in %s is not continued because %s", smac_root, reason)
        shutil.rmtree(smac_root)
    write_json(stored_fingerprint, wanted)


def run_bohb(problem: Problem, hpo: HpoSettings, outputs: BohbOutputs) -> dict[str, Any]:
    """Run (or continue) BOHB and write incumbent.json, trajectory.csv and runhistory.csv."""
    logging.getLogger("smac").setLevel(logging.WARNING)
    n_trials, planned = plan_trials(hpo)
    space = build_space(hpo.space, None if problem.designs is None else len(problem.designs), problem.seed)
    LOG.info("%s BOHB, seed %d: %d trials, %d epochs planned (budgets %d..%d, eta %d), %d hyperparameters, "
             "%s designs; %s", problem.method, problem.seed, n_trials, planned, hpo.min_budget, hpo.max_budget,
             hpo.eta, len(space), "plain conv" if problem.designs is None else len(problem.designs),
             problem.runtime.describe())

    for index, design in enumerate(problem.designs or []):
        LOG.info("cell design %d%s: %s", index, " (derived)" if index == 0 and problem.method == "nas" else "", design)
    directory = outputs.incumbent.parent
    smac_root = directory / SMAC_RUN_NAME
    scenario = Scenario(
        space,
        name=SMAC_RUN_NAME,
        output_directory=directory,  # SMAC appends name/seed: the run lives in {directory}/smac/{seed}
        deterministic=True,
        crash_cost=1.0,
        n_trials=n_trials,
        walltime_limit=hpo.walltime_s if hpo.walltime_s is not None else float("inf"),
        min_budget=hpo.min_budget,
        max_budget=hpo.max_budget,
        seed=problem.seed,
    )
    cv = CrossValidation.over(problem.train, problem.val, hpo.cv_folds, problem.metric, problem.task, problem.seed)
    LOG.info("selection at %d epochs: %s", epochs_of(hpo.max_budget), cv.describe())
    cv_store = Path(scenario.output_directory) / CV_FOLDER
    target = TrialTarget(problem, cv, epochs_of(hpo.max_budget), cv_store)
    prepare_run_folder(smac_root, scenario, fingerprint(problem, hpo, space))
    facade = MultiFidelityFacade(
        scenario,
        target.train,
        intensifier=MultiFidelityFacade.get_intensifier(scenario, eta=hpo.eta, incumbent_selection="highest_budget"),
        callbacks=[TrialLogger(hpo, n_trials, planned)],
        logging_level=False,  # SMAC's own setup would reconfigure the root logger
        overwrite=False,
    )
    start = time.perf_counter()
    # Not facade.optimize(): on an exception it saves the interrupted trial as RUNNING, and a
    # continued run would count that never-finished trial against its budget. The optimizer
    # itself saves after every finished trial.
    facade.optimizer.optimize()
    facade.optimizer.save()
    rows = trial_rows(facade.runhistory)
    if not rows:
        raise RuntimeError(
            f"SMAC finished without any trial (hpo.walltime_s too short?); see {scenario.output_directory}")
    trajectory = trajectory_rows(rows)
    best = trajectory[-1]
    if best["budget"] != epochs_of(hpo.max_budget):
        raise RuntimeError(
            f"no trial reached max_budget ({hpo.max_budget} epochs) within hpo.walltime_s ({hpo.walltime_s} s), so "
            f"no configuration was cross-validated; raise hpo.walltime_s or lower hpo.total_epochs")
    members = ensemble_members(facade.runhistory, rows, cv_store)
    best = cross_validated_best(rows, best, members)
    config_id = best["config_id"]
    incumbent = facade.runhistory.get_config(config_id)
    weights = select_ensemble({key: member["out_of_fold"].numpy() for key, member in members.items()},
                              cv.data.labels.numpy(), problem.metric, problem.task, hpo.ensemble_size)
    ensemble_estimate, ensemble_error = cv.estimate(
        weighted_average({key: members[key]["out_of_fold"].numpy() for key in weights}, weights))
    LOG.info("ensemble of %d configuration(s) %s: %s %.4f ± %.4f (out of fold)", len(weights),
             {key: round(weight, 3) for key, weight in weights.items()}, problem.metric, ensemble_estimate,
             ensemble_error)
    record = {
        "method": problem.method,
        "seed": problem.seed,
        "metric": problem.metric,
        "validation_score": best["score"],
        "selection_estimate": best["score"],
        "selection_std_error": members[config_id]["std_error"],
        "selection_method": cv.describe(),
        "budget": best["budget"],
        "config_id": config_id,
        "config": plain_values(incumbent),
        "architecture": problem.architecture(incumbent),
        "designs": problem.designs,
    }
    ensemble = {
        "method": problem.method, "seed": problem.seed, "metric": problem.metric,
        "selection_estimate": ensemble_estimate, "selection_std_error": ensemble_error,
        "selection_method": cv.describe(),
        "members": [{"config_id": key, "weight": weight, "config": members[key]["config"],
                     "architecture": problem.architecture(facade.runhistory.get_config(key)),
                     "fold_states": members[key]["fold_states"]} for key, weight in weights.items()],
    }
    parameters = count_parameters(build_network(record["architecture"]))
    LOG.info("incumbent: config %d, out-of-fold %s %.4f at %d epochs, %d parameters; %d trials, %d epochs, "
             "%.1f s in this session", config_id, problem.metric, best["score"], best["budget"], parameters,
             len(rows), sum(row["budget"] for row in rows), time.perf_counter() - start)

    columns = ["config_id", "budget", "seed", "cost", "score", "std_error", "seconds", "status"]
    write_csv(outputs.runhistory, pd.DataFrame(rows, columns=columns))
    with atomic_path(outputs.ensemble) as tmp:
        torch.save(ensemble, tmp)
    write_csv(outputs.trajectory, pd.DataFrame(trajectory, columns=[
        "wallclock_s", "cumulative_epochs", "budget", "cost", "score", "config_id"]))
    write_json(outputs.incumbent, record)
    write_json(smac_root / OUTPUTS_WRITTEN_FILE, {"incumbent": str(outputs.incumbent), "trials": len(rows)})
    return record
