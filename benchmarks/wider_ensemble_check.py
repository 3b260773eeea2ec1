"""Would a wider ensemble help? Read off the stored out-of-fold predictions, no training.

    python benchmarks/wider_ensemble_check.py RUN_DIR --data ../shared/data/retinamnist.npz \
        [--dataset retinamnist --size 28 --folds 3]

Each seed's ensemble (ensemble.pt of a finished workflow run; RUN_DIR is the folder Snakemake ran
in) has pooled out-of-fold probabilities over train+val: the weighted mean of its members' stored
ones. Every image's probability there comes from fold models that did not train on it, whatever
the seed's folds, so the mean of several seeds' ensembles is out of fold too: it is what an
ensemble m times as wide (m seeds' BOHB runs) would have scored. Prints per method and m the mean
accuracy and AUC over every set of m seeds. Each seed's members were chosen on these same images,
so every number is somewhat optimistic, the pooled ones no less than the single ones. It reads
train and val only: the test split plays no part.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from darts_bohb.bohb import CV_FOLDER, SMAC_RUN_NAME, config_key
from darts_bohb.cv import CrossValidation
from darts_bohb.data import dataset_spec, load_splits
from darts_bohb.methods import METHODS, RESULT_PREFIX
from darts_bohb.metrics import score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from finished_run import finished_run_parser  # noqa: E402


def ensemble_out_of_fold(bohb: Path, splits: dict, folds: int, task: str) -> tuple[np.ndarray, np.ndarray]:
    """The seed ensemble's out-of-fold probabilities in train+val's order (which must give back
    its stored estimate), and the labels."""
    incumbent = json.loads((bohb / "incumbent.json").read_text())
    seed = incumbent["seed"]
    cv = CrossValidation.over(splits["train"], splits["val"], folds, incumbent["metric"], task, seed)
    ensemble = torch.load(bohb / "ensemble.pt", weights_only=True)
    store = bohb / SMAC_RUN_NAME / str(seed) / CV_FOLDER
    probabilities = sum(member["weight"] * torch.load(store / f"{config_key(member['config'])}.pt",
                                                      weights_only=True)["out_of_fold"].numpy()
                        for member in ensemble["members"])
    labels = cv.data.labels.numpy()
    if abs(score(incumbent["metric"], labels, probabilities, task) - ensemble["selection_estimate"]) > 1e-9:
        raise SystemExit(f"{bohb}: the ensemble's stored estimate does not come back from its members")
    return probabilities, labels


def main() -> None:
    args = finished_run_parser(__doc__).parse_args()
    task = dataset_spec(args.dataset, args.size).task
    splits = load_splits(args.data, ("train", "val"))
    rows = []
    for method in METHODS:
        seeds = sorted((args.run / "results" / f"{RESULT_PREFIX[method]}bohb").glob("seed*"))
        if not seeds:
            continue
        by_seed = [ensemble_out_of_fold(bohb, splits, args.folds, task) for bohb in seeds]
        labels = by_seed[0][1]
        if any(not np.array_equal(other[1], labels) for other in by_seed[1:]):
            raise SystemExit(f"{method}: the seeds' train+val labels differ; not the same data?")
        for width in range(1, len(seeds) + 1):
            pooled = [np.mean([by_seed[index][0] for index in chosen], axis=0)
                      for chosen in itertools.combinations(range(len(seeds)), width)]
            rows.append({"method": method, "seeds pooled": width, "sets": len(pooled),
                         **{metric: np.mean([score(metric, labels, probabilities, task) for probabilities in pooled])
                            for metric in ("accuracy", "auc")}})
    print("Out-of-fold accuracy and AUC over train+val of the mean of m seeds' ensembles, averaged over every "
          "set of m seeds (m = 1: the seed ensembles themselves)")
    print(pd.DataFrame(rows).to_string(index=False, float_format="%.4f"))


if __name__ == "__main__":
    main()
