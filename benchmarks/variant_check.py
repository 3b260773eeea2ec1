"""Would a change to how the incumbents train help? Asked of the selection estimate only.

    python benchmarks/variant_check.py RUN_DIR --data ../shared/data/retinamnist.npz \
        --variant swa|ordinal|corn|colour|mixup|more_data [--swa-epochs 5] [--colour-jitter 0.2] \
        [--mixup-alpha 0.2] [--folds-after 6] [--methods nas random baseline] [--workers 2] [--memory-mb MB] \
        [--dataset retinamnist --size 28]

For a finished workflow run (RUN_DIR is the folder Snakemake ran in), each method's incumbent of
each seed is cross-validated again exactly as its BOHB job did at the largest budget (the same
trial seed, folds, epochs, one thread), with one change, the variant:
- swa: stochastic weight averaging over the last --swa-epochs epochs: the learning rate held
  where the schedule had brought it, the weights of each of those epochs averaged, and batch
  norm's statistics recomputed (training.TrainingSettings.swa_epochs);
- ordinal: CORN's ordinal output layer instead of the softmax classifier (darts_bohb.ordinal;
  ordered classes only), everything else the incumbent's own, its class-weighted focal loss too;
- corn: the ordinal layer trained as CORN trains it, by its plain likelihood: focal gamma 0 and
  no class weights;
- colour: colour augmentation of every training image, brightness, contrast and saturation each
  scaled by up to ±--colour-jitter, on top of the incumbent's own geometric augmentation or none;
- mixup: mixup of training pairs with weights from Beta(--mixup-alpha, --mixup-alpha);
- more_data: the same images scored out of fold, by --folds-after folds instead of the run's, so
  that each model trains on more of train+val (5/6 of 1,200 images instead of 2/3 with the
  defaults): a point of the learning curve, to judge whether models trained on all of train+val
  would do better than the fold models the ensembles average.
The estimate without the change is the one the BOHB job stored. To show that the retraining is the
BOHB job's own, the first incumbent is also retrained without the change and must give the stored
out-of-fold probabilities exactly. Prints per incumbent the pooled out-of-fold ACC and AUC
without and with the change, and the mean paired difference with its 95% t-interval. It reads
train and val only: the test split plays no part in whether a variant is kept.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from darts_bohb.bohb import CV_FOLDER, SMAC_RUN_NAME, config_key, cross_validate
from darts_bohb.cv import CrossValidation
from darts_bohb.data import dataset_spec, load_splits
from darts_bohb.hpo_space import training_from_config
from darts_bohb.methods import METHODS, RESULT_PREFIX
from darts_bohb.metrics import score
from darts_bohb.network import build_network, count_parameters
from darts_bohb.ordinal import ORDINAL_OUTPUT
from darts_bohb.runtime import make_runtime, seed_everything
from darts_bohb.training import TrainingSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from finished_run import finished_run_parser  # noqa: E402
from paired_difference import mean_with_t_interval  # noqa: E402


def trial_seed(bohb: Path, config_id: int, budget: int) -> int:
    runs = pd.read_csv(bohb / "runhistory.csv")
    return int(runs[(runs["config_id"] == config_id) & (runs["budget"] == budget)]["seed"].iloc[0])


def variant(incumbent: dict, name: str | None, options: dict) -> tuple[dict, TrainingSettings]:
    """The incumbent's architecture and training settings, with the variant's change (None: none);
    `options` holds the --swa-epochs, --colour-jitter and --mixup-alpha settings (more_data changes
    the folds, not the network or its training)."""
    architecture = incumbent["architecture"]
    settings = training_from_config(incumbent["config"], int(incumbent["budget"]))
    if name == "swa":
        settings = dataclasses.replace(settings, swa_epochs=options["swa_epochs"])
    elif name == "colour":
        settings = dataclasses.replace(settings, colour_jitter=options["colour_jitter"])
    elif name == "mixup":
        settings = dataclasses.replace(settings, mixup_alpha=options["mixup_alpha"])
    elif name in ("ordinal", "corn"):
        architecture = {**architecture, "head": {**architecture["head"], "output": ORDINAL_OUTPUT}}
        if name == "corn":
            settings = dataclasses.replace(settings, focal_gamma=0.0, class_weight_exponent=0.0)
    elif name not in (None, "more_data"):
        raise ValueError(f"unknown variant {name!r}")
    return architecture, settings


def out_of_fold(incumbent: dict, seed: int, cv: CrossValidation, name: str | None, n_classes: int,
                job: dict) -> np.ndarray:
    """The incumbent's pooled out-of-fold probabilities, by the BOHB job's own cross-validation."""
    runtime = make_runtime("cpu", "auto", threads=1, memory_mb=job["memory_mb"])
    generator = seed_everything(seed)
    architecture, settings = variant(incumbent, name, job["options"])
    # The trial's first build, of its own architecture, draws weights too.
    count_parameters(build_network(incumbent["architecture"]))
    probabilities, _ = cross_validate(cv, architecture, settings, runtime, generator, n_classes)
    return probabilities


def check_one(job: dict) -> dict:
    torch.set_num_threads(1)
    spec = dataset_spec(job["dataset"], job["size"])
    splits = load_splits(job["data"], ("train", "val"))
    bohb = Path(job["bohb"])
    incumbent = json.loads((bohb / "incumbent.json").read_text())
    seed = trial_seed(bohb, incumbent["config_id"], incumbent["budget"])
    cv = CrossValidation.over(splits["train"], splits["val"], job["folds"], incumbent["metric"], spec.task,
                              incumbent["seed"])
    stored = torch.load(bohb / SMAC_RUN_NAME / str(incumbent["seed"]) / CV_FOLDER
                        / f"{config_key(incumbent['config'])}.pt", weights_only=True)
    before = stored["out_of_fold"].numpy()
    if abs(score(incumbent["metric"], cv.data.labels.numpy(), before, spec.task) - stored["estimate"]) > 1e-9:
        raise SystemExit(f"{bohb}: the stored estimate does not come back from its probabilities")
    if job["verify"]:
        again = out_of_fold(incumbent, seed, cv, None, spec.n_classes, job)
        if not np.array_equal(again, before):
            raise SystemExit(f"{bohb}: retraining without the change does not give the BOHB job's probabilities "
                             f"(largest difference {np.abs(again - before).max():.3g})")
    if job["variant"] == "more_data":
        cv = CrossValidation.over(splits["train"], splits["val"], job["options"]["folds_after"], incumbent["metric"],
                                  spec.task, incumbent["seed"])
    after = out_of_fold(incumbent, seed, cv, job["variant"], spec.n_classes, job)
    labels = cv.data.labels.numpy()
    return {"method": job["method"], "seed": incumbent["seed"], "config_id": incumbent["config_id"],
            "verified": job["verify"],
            **{f"{metric}_{when}": score(metric, labels, probabilities, spec.task)
               for metric in ("accuracy", "auc")
               for when, probabilities in (("before", before), (job["variant"], after))}}


def main() -> None:
    parser = finished_run_parser(__doc__)
    parser.add_argument("--variant", required=True, choices=("swa", "ordinal", "corn", "colour", "mixup", "more_data"))
    parser.add_argument("--swa-epochs", type=int, default=5, help="--variant swa: the epochs averaged")
    parser.add_argument("--colour-jitter", type=float, default=0.2,
                        help="--variant colour: the largest relative change of brightness, contrast, saturation")
    parser.add_argument("--mixup-alpha", type=float, default=0.2, help="--variant mixup: Beta(alpha, alpha)")
    parser.add_argument("--folds-after", type=int, default=6, help="--variant more_data: the folds to train by")
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-mb", type=int,
                        help="the run's resources.hpo.mem_mb, if its BOHB jobs were given one: it decides where "
                             "batches were cut into micro-batches")
    args = parser.parse_args()
    jobs = []
    for method in args.methods:
        for bohb in sorted((args.run / "results" / f"{RESULT_PREFIX[method]}bohb").glob("seed*")):
            jobs.append({"method": method, "bohb": str(bohb), "data": args.data, "dataset": args.dataset,
                         "size": args.size, "folds": args.folds, "variant": args.variant,
                         "options": {"swa_epochs": args.swa_epochs, "colour_jitter": args.colour_jitter,
                                       "mixup_alpha": args.mixup_alpha, "folds_after": args.folds_after},
                         "memory_mb": args.memory_mb,
                         "verify": not jobs})
    with ProcessPoolExecutor(args.workers) as pool:
        rows = pd.DataFrame(list(pool.map(check_one, jobs)))
    change = {"swa": f"SWA over the last {args.swa_epochs} epochs", "ordinal": "CORN's ordinal output",
              "corn": "CORN's ordinal output and plain likelihood (no focal factor, no class weights)",
              "colour": f"colour augmentation (brightness, contrast, saturation ±{args.colour_jitter})",
              "mixup": f"mixup with Beta({args.mixup_alpha}, {args.mixup_alpha}) weights",
              "more_data": f"{args.folds_after} folds instead of {args.folds}: each model trains on "
                           f"{args.folds_after - 1}/{args.folds_after} of train+val"}[args.variant]
    print(f"{change}; {args.folds}-fold CV estimates over train+val, {len(rows)} incumbents; the first was "
          "retrained without the change too and matched its BOHB job exactly")
    print(rows.to_string(index=False, float_format="%.4f"))
    for metric in ("accuracy", "auc"):
        difference = rows[f"{metric}_{args.variant}"] - rows[f"{metric}_before"]
        (mean, low, high), n = mean_with_t_interval(difference), len(difference)
        print(f"{metric}: {args.variant} - without = {mean:+.4f} (95% t-interval {low:+.4f} to {high:+.4f}, "
              f"n={n}), better on {(difference > 0).sum()} of {n}")


if __name__ == "__main__":
    main()
