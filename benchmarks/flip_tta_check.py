"""Would test-time augmentation by horizontal flips help? Asked of the selection estimate only.

    python benchmarks/flip_tta_check.py RUN_DIR --data ../shared/data/retinamnist.npz \
        [--dataset retinamnist --size 28 --folds 3]

For a finished workflow run (RUN_DIR is the folder Snakemake ran in), every configuration BOHB
cross-validated at its largest budget left its fold models in
results/{method}/bohb/seed{s}/smac/{s}/cross_validation/. This script rebuilds the same folds of
train+val (same seed, same stratification), predicts each fold's held-out images once as they
are and once as the mean of the image and its mirror image, and prints per method the pooled
out-of-fold accuracy and AUC of every configuration and of each seed's ensemble (weights from
ensemble.pt), without and with the flips, and the mean differences. It reads train and val only:
the test split plays no part in whether flips are kept.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from darts_bohb.bohb import CV_FOLDER, SMAC_RUN_NAME
from darts_bohb.cv import CrossValidation
from darts_bohb.data import Split, dataset_spec, load_splits
from darts_bohb.ensemble_selection import weighted_average
from darts_bohb.hpo_space import architecture_from_config
from darts_bohb.methods import METHODS, RESULT_PREFIX
from darts_bohb.metrics import score
from darts_bohb.network import build_network
from darts_bohb.runtime import make_runtime
from darts_bohb.topology import CellTopology
from darts_bohb.training import predict_probabilities

sys.path.insert(0, str(Path(__file__).resolve().parent))
from finished_run import finished_run_parser  # noqa: E402


def mirrored(split: Split) -> Split:
    in_memory = split.in_memory()  # a fold of memory-mapped splits picks its rows from the files
    return Split(in_memory.images.flip(-1), in_memory.labels)


def out_of_fold(cv: CrossValidation, architecture: dict, fold_states: list, runtime) -> tuple[np.ndarray, np.ndarray]:
    """Pooled out-of-fold probabilities without and with flips."""
    model = runtime.prepare_model(build_network(architecture))
    plain = flipped = None
    for fold, state in enumerate(fold_states):
        model.load_state_dict(state)
        held_out = cv.fold_splits(fold)[1]
        as_is = predict_probabilities(model, held_out, runtime)
        both = (as_is + predict_probabilities(model, mirrored(held_out), runtime)) / 2
        if plain is None:
            plain, flipped = np.zeros((len(cv.data), as_is.shape[1])), np.zeros((len(cv.data), as_is.shape[1]))
        plain[cv.folds[fold]], flipped[cv.folds[fold]] = as_is, both
    return plain, flipped


def seed_rows(run: Path, method: str, seed: int, splits: dict, task: str, folds: int, runtime) -> list[dict]:
    bohb = run / "results" / f"{RESULT_PREFIX[method]}bohb" / f"seed{seed}"
    incumbent = json.loads((bohb / "incumbent.json").read_text())
    architecture = incumbent["architecture"]
    topology = CellTopology.from_dict(architecture["topology"]) if "topology" in architecture else None
    cv = CrossValidation.over(splits["train"], splits["val"], folds, incumbent["metric"], task, seed)
    labels = cv.data.labels.numpy()
    ensemble = torch.load(bohb / "ensemble.pt", weights_only=True)
    weights = {member["config_id"]: member["weight"] for member in ensemble["members"]}
    rows, plain_by_id, flipped_by_id = [], {}, {}
    for path in sorted((bohb / SMAC_RUN_NAME / str(seed) / CV_FOLDER).glob("*.pt")):
        stored = torch.load(path, weights_only=True)
        config_architecture = architecture_from_config(stored["config"], incumbent["designs"], topology,
                                                       architecture["in_channels"], architecture["n_classes"])
        plain, flipped = out_of_fold(cv, config_architecture, stored["fold_states"], runtime)
        # the stored estimate comes back: the same folds, models and images as in the BOHB job
        if abs(score(incumbent["metric"], labels, plain, task) - stored["estimate"]) > 1e-9:
            raise SystemExit(f"{path}: its estimate {stored['estimate']} does not come back; other folds?")
        config_id = next((member["config_id"] for member in ensemble["members"]
                          if member["config"] == stored["config"]), None)
        if config_id is not None:
            plain_by_id[config_id], flipped_by_id[config_id] = plain, flipped
        rows.append({"method": method, "seed": seed, "candidate": path.stem,
                     **scores(labels, plain, flipped, task)})
    rows.append({"method": method, "seed": seed, "candidate": "ensemble",
                 **scores(labels, weighted_average(plain_by_id, weights), weighted_average(flipped_by_id, weights),
                          task)})
    return rows


def scores(labels: np.ndarray, plain: np.ndarray, flipped: np.ndarray, task: str) -> dict:
    return {f"{metric}_{kind}": score(metric, labels, probabilities, task)
            for metric in ("accuracy", "auc") for kind, probabilities in (("plain", plain), ("flips", flipped))}


def main() -> None:
    parser = finished_run_parser(__doc__)
    args = parser.parse_args()
    task = dataset_spec(args.dataset, args.size).task
    runtime = make_runtime("cpu", "auto", 1)
    splits = load_splits(args.data, ("train", "val"))
    rows = []
    for method in METHODS:
        for bohb in sorted((args.run / "results" / f"{RESULT_PREFIX[method]}bohb").glob("seed*")):
            rows += seed_rows(args.run, method, int(bohb.name.removeprefix("seed")), splits, task, args.folds, runtime)
    frame = pd.DataFrame(rows)
    for metric in ("accuracy", "auc"):
        frame[f"{metric}_gain"] = frame[f"{metric}_flips"] - frame[f"{metric}_plain"]
    pd.set_option("display.width", 200)
    print(frame.round(4).to_string(index=False))
    frame["kind"] = np.where(frame["candidate"] == "ensemble", "ensemble", "configuration")
    print("\nmean gain from flips (out of fold, train+val only), per method and kind, with the count:")
    print(frame.groupby(["method", "kind"])[["accuracy_gain", "auc_gain"]].agg(["mean", "count"]).round(4))


if __name__ == "__main__":
    main()
