"""A synthetic result tree for the report tests, written in exactly the file contracts of the
design for one data set: below its root (results/{flag}_{size}/ in a run) search/, bohb/, final/,
random/..., baseline/... and benchmarks/{rule}/seed{seed}.tsv, as common.smk lays them out.

It stands in for the outputs of darts_search, export_genotype, bohb, final, random_bohb,
random_final, baseline_bohb and baseline_final, so the plots and the summary are tested in
seconds without training anything.
Files the report never reads (epochs.csv, model.pt, SMAC's run folder) are left out. Numbers
are drawn from a seeded generator with many decimals, so a test that compares the summary with
these files compares exact values, not rounded ones. predictions.csv is drawn independently of
metrics.json (the report takes each seed's scores from metrics.json and only the ensemble from
the probabilities), and each seed writes its rows in its own order, as the contract allows.
Each final folder also holds the seed's second output, ensemble/metrics.json and
ensemble/predictions.csv, and both metrics files carry a selection estimate. `manifest()` is the
tree's description as report.smk passes it to the report scripts.
"""

from __future__ import annotations

import json
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
from medmnist.info import INFO
from PIL import Image

from darts_bohb.genotype import Genotype, save_genotype
from darts_bohb.ops import OPERATIONS
from darts_bohb.report.run import Run
from darts_bohb.topology import cell_topology

BENCHMARK_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time"
STAGE_RULES = {"nas": ("darts_search", "bohb", "final"), "random": ("random_bohb", "random_final"),
               "baseline": ("baseline_bohb", "baseline_final")}
BOHB_SALT = {"nas": 7, "random": 19, "baseline": 11}  # each method draws its own numbers
FINAL_SALT = {"nas": 13, "random": 23, "baseline": 17}
ENSEMBLE_SALT = {"nas": 29, "random": 31, "baseline": 37}
SELECTION_METHOD = "3-fold stratified CV over train+val (1200 images), {metric}"  # as BOHB words it
TEST_IMAGES = 40
WARMUP_EPOCHS = 1  # the search's weight-only epochs, before α is updated


@dataclass
class SyntheticResults:
    """Where the tree lies and what it holds, for the tests to compare against."""

    root: Path
    nas_seeds: tuple[int, ...]
    baseline_seeds: tuple[int, ...]
    dataset: str
    size: int
    metric: str
    random_seeds: tuple[int, ...] = ()
    metrics: dict[tuple[str, int], dict] = field(default_factory=dict)  # (method, seed) -> metrics.json
    ensembles: dict[tuple[str, int], dict] = field(default_factory=dict)  # (method, seed) -> ensemble/metrics.json
    incumbents: dict[tuple[str, int], dict] = field(default_factory=dict)
    searches: dict[int, dict] = field(default_factory=dict)
    trials: dict[tuple[str, int], int] = field(default_factory=dict)
    seconds: dict[tuple[str, int], float] = field(default_factory=dict)  # (rule, seed) -> benchmark s
    genotypes: dict[int, Genotype] = field(default_factory=dict)
    test_labels: np.ndarray | None = None  # by test image index, the same for every run
    probabilities: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)  # (images, classes), by index

    def search_file(self, seed: int, name: str) -> Path:
        return self.root / "search" / f"seed{seed}" / name

    def bohb_file(self, method: str, seed: int, name: str) -> Path:
        return self._method_root(method) / "bohb" / f"seed{seed}" / name

    def final_file(self, method: str, seed: int, name: str) -> Path:
        return self._method_root(method) / "final" / f"seed{seed}" / name

    def benchmark_file(self, rule: str, seed: int) -> Path:
        return self.root / "benchmarks" / rule / f"seed{seed}.tsv"

    def _method_root(self, method: str) -> Path:
        return self.root if method == "nas" else self.root / method

    def seeds_of(self, method: str) -> tuple[int, ...]:
        return {"nas": self.nas_seeds, "random": self.random_seeds, "baseline": self.baseline_seeds}[method]

    def runs(self) -> list[tuple[str, int]]:
        """(method, seed) in the order the report lists them: NAS, random, baseline."""
        return [(method, seed) for method in STAGE_RULES for seed in self.seeds_of(method)]

    def manifest(self) -> dict:
        """The run's manifest, as report.smk passes it to the report scripts for this tree."""
        runs = []
        for method, seed in self.runs():
            rules = dict(zip(("search", "bohb", "final")[-len(STAGE_RULES[method]):], STAGE_RULES[method]))
            files = {"trajectory": self.bohb_file(method, seed, "trajectory.csv"),
                     "runhistory": self.bohb_file(method, seed, "runhistory.csv"),
                     **{kind: self.final_file(method, seed, name) for kind, name in (
                         ("metrics", "metrics.json"), ("predictions", "predictions.csv"),
                         ("ensemble_metrics", "ensemble/metrics.json"),
                         ("ensemble_predictions", "ensemble/predictions.csv"))},
                     **{f"benchmark_{stage}": self.benchmark_file(rule, seed) for stage, rule in rules.items()}}
            if method == "nas":
                files |= {kind: self.search_file(seed, f"{kind}.{extension}") for kind, extension in (
                    ("alphas", "csv"), ("search", "json"), ("genotype", "json"))}
            runs.append({"method": method, "seed": seed, **{kind: str(path) for kind, path in files.items()}})
        seeds = {method: list(self.seeds_of(method)) for method in STAGE_RULES}
        return {"dataset": self.dataset, "size": self.size, "task": None, "metric": self.metric, "seeds": seeds,
                "runs": runs}

    def run(self) -> Run:
        return Run.from_json(json.dumps(self.manifest()))


def write_result_tree(root: Path, nas_seeds: tuple[int, ...] = (1, 2), baseline_seeds: tuple[int, ...] = (1,),
                      dataset: str = "retinamnist", size: int = 28, metric: str = "accuracy",
                      epochs_planned: int = 4, random_seeds: tuple[int, ...] = ()) -> SyntheticResults:
    """Write a complete tree below `root`. The last NAS seed stops its search early."""
    results = SyntheticResults(Path(root), tuple(nas_seeds), tuple(baseline_seeds), dataset, size, metric,
                               random_seeds=tuple(random_seeds))
    # One test split for every run; every class occurs, so the AUC of an ensemble is defined.
    n_classes = len(INFO[dataset]["label"])
    results.test_labels = np.random.default_rng(99).permutation(np.arange(TEST_IMAGES) % n_classes)
    for index, seed in enumerate(nas_seeds):
        stopped_early = index == len(nas_seeds) - 1
        _write_search(results, seed, epochs_planned, epochs_run=2 if stopped_early else epochs_planned)
    for method in STAGE_RULES:
        for seed in results.seeds_of(method):
            _write_bohb(results, method, seed)
            _write_final(results, method, seed)
            _write_seed_ensemble(results, method, seed)
            for rule in STAGE_RULES[method]:
                seconds = round(float(np.random.default_rng([seed, len(rule)]).uniform(5, 500)), 4)
                results.seconds[(rule, seed)] = seconds
                _write(results.benchmark_file(rule, seed),
                       f"{BENCHMARK_HEADER}\n{seconds:.4f}\t0:00:{int(seconds) % 60:02d}\t812.1\t2048.5\t790.3\t"
                       f"795.0\t1.2\t3.4\t95.1\t{seconds * 1.9:.2f}\n")
    return results


def _write_search(results: SyntheticResults, seed: int, epochs_planned: int, epochs_run: int) -> None:
    rng = np.random.default_rng(seed)
    topology = cell_topology()
    alpha = {node.name: rng.normal(0, 1e-3, len(OPERATIONS)) for node in topology.nodes}
    drift = {node.name: rng.normal(0, 0.6, len(OPERATIONS)) for node in topology.nodes}
    rows = ["epoch,node,kernel_size,operation,alpha,probability"]
    probabilities: dict[str, dict[str, float]] = {}
    for epoch in range(epochs_run + 1):
        for node in topology.nodes:
            values = alpha[node.name] + epoch * drift[node.name]
            probs = np.exp(values - values.max())
            probs /= probs.sum()
            probabilities[node.name] = dict(zip(OPERATIONS, map(float, probs)))
            rows += [f"{epoch},{node.name},{node.kernel_size},{op},{a!r},{p!r}"
                     for op, a, p in zip(OPERATIONS, map(float, values), map(float, probs))]
    _write(results.search_file(seed, "alphas.csv"), "\n".join(rows) + "\n")
    stopped_early = epochs_run < epochs_planned
    reason = ("2 nodes chose identity with probability >= 0.3 (max_skips 2)" if stopped_early
              else f"reached the planned {epochs_planned} epochs")
    search = {"dataset": results.dataset, "size": results.size, "seed": seed, "epochs_planned": epochs_planned,
              "epochs_run": epochs_run, "stopped_early": stopped_early, "stop_reason": reason,
              "resumed_from_epoch": None, "skip_threshold": 0.3,
              "runtime": {"device": "cpu", "precision": "bf16", "threads": 1},
              "seconds": 12.5, "settings": {"epochs": epochs_planned, "arch": {"warmup_epochs": WARMUP_EPOCHS},
                                            "early_stopping": {"enabled": True, "skip_ratio": 1.2, "max_skips": 2}}}
    results.searches[seed] = search
    _write(results.search_file(seed, "search.json"), json.dumps(search, indent=2))
    genotype = Genotype(operations=OPERATIONS, topology=topology, probabilities=probabilities, seed=seed,
                        dataset=results.dataset, size=results.size, epochs_run=epochs_run,
                        epochs_planned=epochs_planned, stop_reason=reason, extra={"settings": search["settings"]})
    results.genotypes[seed] = genotype
    save_genotype(results.search_file(seed, "genotype.json"), genotype)


def _write_bohb(results: SyntheticResults, method: str, seed: int) -> None:
    rng = np.random.default_rng([seed, BOHB_SALT[method]])
    trials = 6 + seed
    budgets = rng.choice([1, 3, 9], size=trials)
    seconds = rng.uniform(2, 20, size=trials)
    scores = rng.uniform(0.3, 0.6, size=trials)
    history = ["config_id,budget,seed,cost,score,seconds,status"]
    history += [f"{i + 1},{b},{seed},{1 - s!r},{s!r},{t!r},SUCCESS"
                for i, (b, s, t) in enumerate(zip(budgets, map(float, scores), map(float, seconds)))]
    _write(results.bohb_file(method, seed, "runhistory.csv"), "\n".join(history) + "\n")
    results.trials[(method, seed)] = trials
    trajectory = ["wallclock_s,cumulative_epochs,budget,cost,score,config_id"]
    best = -1.0
    for i in range(trials):
        if scores[i] > best:
            best = float(scores[i])
            trajectory.append(f"{float(seconds[:i + 1].sum())!r},{int(budgets[:i + 1].sum())},{budgets[i]},"
                              f"{1 - best!r},{best!r},{i + 1}")
    _write(results.bohb_file(method, seed, "trajectory.csv"), "\n".join(trajectory) + "\n")
    incumbent = {"method": method, "seed": seed, "metric": results.metric, "validation_score": best,
                 "budget": 9, "config_id": 3, "config": {"cells": 2, "lr": 0.01}, "architecture": {"cells": []}}
    # BOHB chose by the estimate, so it is the validation score too.
    incumbent.update(selection_estimate=best, selection_std_error=_std_error(rng),
                     selection_method=SELECTION_METHOD.format(metric=results.metric))
    results.incumbents[(method, seed)] = incumbent
    _write(results.bohb_file(method, seed, "incumbent.json"), json.dumps(incumbent, indent=2))


def _write_final(results: SyntheticResults, method: str, seed: int) -> None:
    rng = np.random.default_rng([seed, FINAL_SALT[method]])
    metrics = {"method": method, "seed": seed, "split": "test", "trained_on": "train", "epochs": 9,
               "n_images": 400, "accuracy": float(rng.uniform(0.45, 0.58)), "auc": float(rng.uniform(0.65, 0.78)),
               "macro_f1": float(rng.uniform(0.25, 0.45)), "balanced_accuracy": float(rng.uniform(0.3, 0.45)),
               "per_class_accuracy": [float(x) for x in rng.uniform(0, 1, 5)],
               "confusion_matrix": [[int(x) for x in row] for row in rng.integers(0, 50, (5, 5))],
               "validation_score": results.incumbents[(method, seed)]["validation_score"], "seconds": 33.3}
    # As the final rule does: the incumbent's selection fields are carried over from incumbent.json.
    metrics.update({key: value for key, value in results.incumbents[(method, seed)].items()
                    if key.startswith("selection_")})
    results.metrics[(method, seed)] = metrics
    _write(results.final_file(method, seed, "metrics.json"), json.dumps(metrics, indent=2))
    results.probabilities[(method, seed)] = _write_predictions(
        results, results.final_file(method, seed, "predictions.csv"), rng)


def _write_seed_ensemble(results: SyntheticResults, method: str, seed: int) -> None:
    """ensemble/: metrics.json with the keys of metrics.json plus the ensemble's own, and predictions."""
    rng = np.random.default_rng([seed, ENSEMBLE_SALT[method]])
    incumbent = results.metrics[(method, seed)]
    members = [{"config_id": 3, "weight": 0.5}, {"config_id": 5 + seed, "weight": 0.3},
               {"config_id": 2, "weight": 0.2}]
    ensemble = {**incumbent, "trained_on": "the cross-validation folds of train+val",
                "accuracy": float(rng.uniform(0.45, 0.6)), "auc": float(rng.uniform(0.65, 0.8)),
                "macro_f1": float(rng.uniform(0.25, 0.45)), "balanced_accuracy": float(rng.uniform(0.3, 0.45)),
                "selection_estimate": float(rng.uniform(0.5, 0.65)), "selection_std_error": _std_error(rng),
                "members": members, "n_models": 3 * len(members), "seconds": 4.4}
    ensemble["validation_score"] = ensemble["selection_estimate"]
    results.ensembles[(method, seed)] = ensemble
    _write(results.final_file(method, seed, "ensemble/metrics.json"), json.dumps(ensemble, indent=2))
    _write_predictions(results, results.final_file(method, seed, "ensemble/predictions.csv"), rng)


def _std_error(rng: np.random.Generator) -> float:
    return float(rng.uniform(0.01, 0.02))


def _write_predictions(results: SyntheticResults, path: Path, rng: np.random.Generator) -> np.ndarray:
    """Softmax-like rows that lean towards the true class: about half right alone, more so averaged.
    Returns the probabilities by test image index."""
    labels = results.test_labels
    n_classes = len(INFO[results.dataset]["label"])
    probabilities = rng.dirichlet(np.ones(n_classes), size=len(labels))
    probabilities[np.arange(len(labels)), labels] += rng.uniform(0, 0.5, size=len(labels))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    frame = pd.DataFrame(probabilities, columns=[f"prob_{c}" for c in range(n_classes)])
    frame.insert(0, "label", labels)
    frame.insert(0, "index", range(len(labels)))
    order = rng.permutation(len(labels))  # row order is not part of the contract; `index` is
    _write(path, frame.iloc[order].to_csv(index=False))
    return probabilities


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def run_script(name: str, args: list[str]) -> int:
    """Run scripts/NAME in this process, as `python scripts/NAME ARGS` would; return its exit code.

    In-process keeps the tests fast (matplotlib is imported once); test_report_rules.py runs
    the same scripts as separate processes through Snakemake.
    """
    script = Path(__file__).resolve().parent.parent / "scripts" / name
    saved_argv = sys.argv
    sys.argv = [str(script), *args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exit_:
        return int(exit_.code or 0)
    finally:
        sys.argv = saved_argv
    raise AssertionError(f"{name} returned without calling sys.exit")


def assert_real_png(path: Path) -> None:
    """A rendered figure, not a blank canvas: many colours and a fair share of inked pixels."""
    with Image.open(path) as image:
        assert image.format == "PNG", f"{path} is a {image.format}, not a PNG"
        pixels = np.asarray(image.convert("RGB"))
    height, width, _ = pixels.shape
    assert height >= 300 and width >= 300, f"{path} is only {width}x{height} px"
    inked = (pixels < 235).any(axis=2).mean()
    assert inked > 0.02, f"{path}: only {inked:.1%} of the pixels are not white"
    packed = (pixels[..., 0].astype(np.uint32) << 16) | (pixels[..., 1].astype(np.uint32) << 8) | pixels[..., 2]
    colours = len(np.unique(packed))
    assert colours > 64, f"{path}: only {colours} distinct colours"


def assert_real_svg(path: Path) -> None:
    root = ElementTree.parse(path).getroot()
    assert root.tag.endswith("svg"), f"{path}: the root element is {root.tag}, not svg"
    drawn = [element for element in root.iter() if element.tag.endswith(("path", "use"))]
    assert len(drawn) > 50, f"{path}: only {len(drawn)} drawn elements"
