"""Would a wider ensemble help? Read off the stored out-of-fold predictions, no training.

    python benchmarks/wider_ensemble_check.py RUN_DIR --data ../shared/data/retinamnist.npz \
        [--dataset retinamnist --size 28]

Each seed's ensemble (ensemble.pt of a finished workflow run; RUN_DIR is the folder Snakemake ran
in) has pooled out-of-fold probabilities over train+val: the weighted mean of its members' stored
ones. Every image's probability there comes from fold models that did not train on it, whatever
the seed's folds, so the mean of several seeds' ensembles is out of fold too: it is what an
ensemble m times as wide (m seeds' BOHB runs) would have scored. Prints per method and m the mean
accuracy and AUC over every set of m seeds. Each seed's members were chosen greedily on these
same images by the run's metric (accuracy by default), which favours the single seeds on that
metric: read the accuracy column across m with that in mind. It reads train and val only: the
test split plays no part.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from darts_bohb.bohb import CV_FOLDER, SMAC_RUN_NAME, config_key
from darts_bohb.data import dataset_spec, joined, load_splits
from darts_bohb.ensemble_selection import weighted_average
from darts_bohb.methods import METHODS, RESULT_PREFIX
from darts_bohb.metrics import score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from finished_run import finished_run_parser  # noqa: E402


def ensemble_out_of_fold(bohb: Path, labels: np.ndarray, task: str) -> np.ndarray:
    """The seed ensemble's out-of-fold probabilities over train+val (in cv.py's order, train then
    val, whatever the seed), which must give back its stored estimate."""
    ensemble = torch.load(bohb / "ensemble.pt", weights_only=True)
    store = bohb / SMAC_RUN_NAME / str(ensemble["seed"]) / CV_FOLDER
    members = {member["config_id"]: torch.load(store / f"{config_key(member['config'])}.pt",
                                               weights_only=True)["out_of_fold"].numpy()
               for member in ensemble["members"]}
    probabilities = weighted_average(members, {member["config_id"]: member["weight"] for member in ensemble["members"]})
    if abs(score(ensemble["metric"], labels, probabilities, task) - ensemble["selection_estimate"]) > 1e-9:
        raise SystemExit(f"{bohb}: the ensemble's stored estimate does not come back from its members; "
                         "another data file?")
    return probabilities


def main() -> None:
    args = finished_run_parser(__doc__, folds=False).parse_args()  # the stored estimates need no folds
    task = dataset_spec(args.dataset, args.size).task
    splits = load_splits(args.data, ("train", "val"))
    labels = joined(splits["train"], splits["val"]).labels.numpy()
    rows = []
    for method in METHODS:
        seeds = sorted((args.run / "results" / f"{RESULT_PREFIX[method]}bohb").glob("seed*"))
        if not seeds:
            continue
        by_seed = [ensemble_out_of_fold(bohb, labels, task) for bohb in seeds]
        for width in range(1, len(seeds) + 1):
            pooled = [np.mean([by_seed[index] for index in chosen], axis=0)
                      for chosen in itertools.combinations(range(len(seeds)), width)]
            rows.append({"method": method, "seeds pooled": width, "sets": len(pooled),
                         **{metric: np.mean([score(metric, labels, probabilities, task) for probabilities in pooled])
                            for metric in ("accuracy", "auc")}})
    print("Out-of-fold accuracy and AUC over train+val of the mean of m seeds' ensembles, averaged over every "
          "set of m seeds (m = 1: the seed ensembles themselves)")
    print(pd.DataFrame(rows).to_string(index=False, float_format="%.4f"))


if __name__ == "__main__":
    main()
