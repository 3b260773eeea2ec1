"""The rules of workflow/rules/report.smk, run by Snakemake on synthetic result trees.

tests/report_fixtures.py writes one tree per data set of the config, in the file contracts of the
design (results/{flag}_{size}/...), standing in for the search, BOHB and final rules, and
`--allowed-rules` limits Snakemake to the report rules, so these tests need no training and no
other stage's code. Two data sets, so that every per-data-set rule runs twice and the leaderboard
has something to compare. The real pipeline's end-to-end run checks the same targets on real results.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, snakemake
from darts_bohb.report.comparisons import verdict
from darts_bohb.report.references import best_published, published_results
from report_fixtures import assert_real_png, write_result_tree

pytestmark = pytest.mark.slow  # every test here starts Snakemake

REPORT_RULES = ["plot_bohb_progress", "plot_arch_weights", "plot_cells", "plot_scores", "report"]
NAS_SEEDS, RANDOM_SEEDS, BASELINE_SEEDS = (1, 2), (1, 2), (1,)
# RetinaMNIST at 28 px has published references; PneumoniaMNIST (binary) at 64 px has none.
DATASETS = (("retinamnist", 28), ("pneumoniamnist", 64))
RETINA, PNEUMONIA = (f"reports/{flag}_{size}" for flag, size in DATASETS)
LEADERBOARD = [f"reports/leaderboard.{extension}" for extension in ("csv", "md", "png", "svg")]
REPORT_FILES = [
    f"reports/{flag}_{size}/{name}" for flag, size in DATASETS for name in (
        "bohb_progress.png", "bohb_progress.svg", "arch_weights.png", "arch_weights.svg", "scores.png", "scores.svg",
        "cells.png", *(f"cells/seed{seed}.png" for seed in NAS_SEEDS), "summary.csv", "ensemble.csv",
        "comparisons.csv", "search.csv", "summary.md")
] + LEADERBOARD


def report_rules(workdir: Path, *arguments: str) -> subprocess.CompletedProcess:
    """Snakemake on the repository's workflow in `workdir`, allowed to run the report rules only."""
    return snakemake(workdir, "--snakefile", str(REPO / "Snakefile"), "--cores", "2",
                     "--allowed-rules", *REPORT_RULES, "leaderboard", *arguments, timeout=300)


def planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    if "Nothing to be done" in output:
        return {}
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)\s*$", table, flags=re.MULTILINE)
            if rule != "job"}


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    """A working folder with the repository's config (two data sets, seeds cut down), a synthetic
    result tree per data set, and every report file built by Snakemake; and the trees, by data set."""
    workdir = tmp_path_factory.mktemp("workflow")
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"] = [{"flag": flag, "size": size, "source": None} for flag, size in DATASETS]
    config["seeds"], config["baseline"]["seeds"] = list(NAS_SEEDS), list(BASELINE_SEEDS)
    config["random"] = {"seeds": list(RANDOM_SEEDS)}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    trees = {(flag, size): write_result_tree(
        workdir / "results" / f"{flag}_{size}", nas_seeds=NAS_SEEDS, baseline_seeds=BASELINE_SEEDS, dataset=flag,
        size=size, metric=config["hpo"]["metric"], random_seeds=RANDOM_SEEDS) for flag, size in DATASETS}
    result = report_rules(workdir, "--", *REPORT_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir, trees


@pytest.fixture(scope="module")
def built(trees):
    return trees[0]


def test_the_report_rules_write_every_report_file_and_a_log_each(built):
    for name in REPORT_FILES:
        assert (built / name).is_file(), name
    for name in REPORT_FILES:
        if name.endswith(".png"):
            assert_real_png(built / name)
    for (flag, size), rule in ((dataset, rule) for dataset in DATASETS for rule in REPORT_RULES):
        assert "INFO wrote" in (built / "results" / f"{flag}_{size}" / "logs" / f"{rule}.log").read_text(), rule
    assert "INFO wrote" in (built / "results" / "logs" / "leaderboard.log").read_text()
    markdown = (built / RETINA / "summary.md").read_text()
    for method in ("NAS+BOHB", "random cells+BOHB", "baseline"):
        seeds = BASELINE_SEEDS if method == "baseline" else NAS_SEEDS
        count = f"n={len(seeds)} seed" + ("s" if len(seeds) > 1 else "")
        for output in ("incumbent", "per-seed ensemble"):
            assert f"| {method}, {output} | {count} |" in markdown, (method, output)
    assert pd.read_csv(built / RETINA / "ensemble.csv")["n_seeds"].tolist() == [2, 2]  # NAS and random
    summary = pd.read_csv(built / RETINA / "summary.csv")
    assert summary["output"].value_counts().to_dict() == {"incumbent": 5, "seed_ensemble": 5}
    comparisons = pd.read_csv(built / RETINA / "comparisons.csv")
    assert {"comparison", "level", "metric", "difference", "ci_low", "ci_high", "p_value"} <= set(comparisons.columns)
    assert set(comparisons["comparison"]) == {"nas - random", "nas - baseline", "random - baseline"}
    assert {("nas - random", output, "ensemble") for output in ("incumbent", "seed_ensemble")} <= set(
        zip(comparisons["comparison"], comparisons["output"], comparisons["level"]))
    search = pd.read_csv(built / RETINA / "search.csv")
    assert list(search.columns) == ["seed", "node", "derived", "p_derived", "p_zero", "entropy", "alpha_epochs_run"]
    assert len(search) == 6 * len(NAS_SEEDS)
    # Each data set's report is its own: the binary task's summary names its data set.
    assert "pneumoniamnist 64×64" in (built / PNEUMONIA / "summary.md").read_text()


def test_the_leaderboard_holds_the_per_seed_scores_the_references_and_the_verdicts(trees):
    workdir, by_dataset = trees
    board = pd.read_csv(workdir / "reports" / "leaderboard.csv", dtype={"nas_vs_random_basis": str})
    assert {"dataset", "size", "method", "output", "n", "test_accuracy", "test_auc"} <= set(board.columns)
    assert len(board) == len(DATASETS) * 3 * 2  # per data set, method and output
    for (flag, size), tree in by_dataset.items():
        comparisons = pd.read_csv(workdir / "reports" / f"{flag}_{size}" / "comparisons.csv", dtype={"level": str})
        references = published_results(flag, size)
        for method, output in ((m, o) for m in ("nas", "random", "baseline") for o in ("incumbent", "seed_ensemble")):
            row = board[(board["dataset"] == flag) & (board["size"] == size) & (board["method"] == method)
                        & (board["output"] == output)].iloc[0]
            files = tree.metrics if output == "incumbent" else tree.ensembles  # metrics.json, ensemble/metrics.json
            seeds = tree.seeds_of(method)
            assert row["n"] == len(seeds)
            for metric in ("accuracy", "auc"):
                scores = pd.Series([files[(method, seed)][metric] for seed in seeds])
                assert row[f"test_{metric}"] == pytest.approx(scores.mean(), rel=1e-12), (flag, method, output, metric)
                assert row[f"test_{metric}_std"] == pytest.approx(scores.std(), rel=1e-12, nan_ok=True)
                for kind, training in (("scratch", "from scratch"), ("pretrained", "pretrained")):
                    best, column = best_published(references, metric)[training], f"{kind}_{metric}"
                    if best is None:  # PneumoniaMNIST at 64 px: none, and the row says so
                        assert row[f"{column}_reference"] == f"none in the reference table for {flag} at {size} px"
                        assert pd.isna(row[column]) and pd.isna(row[f"{column}_difference"])
                    else:
                        assert row[f"{column}_reference"].startswith(best.label + " (")
                        assert row[column] == getattr(best, metric)
                        assert row[f"{column}_difference"] == pytest.approx(scores.mean() - getattr(best, metric))
                found = verdict(comparisons, "nas", "random", output, metric)
                if method == "nas":  # NAS − random of this output, read off comparisons.csv's interval
                    assert row[f"nas_vs_random_{metric}"] == found.outcome
                    assert (row["nas_vs_random_seeds"], row["nas_vs_random_basis"]) == (2, "ensemble")
                    for key in ("difference", "ci_low", "ci_high"):
                        assert row[f"nas_vs_random_{metric}_{key}"] == pytest.approx(getattr(found, key))
                else:
                    assert pd.isna(row[f"nas_vs_random_{metric}"])
    markdown = (workdir / "reports" / "leaderboard.md").read_text()
    assert "[retinamnist 28 px](retinamnist_28/summary.md)" in markdown
    assert "[pneumoniamnist 64 px](pneumoniamnist_64/summary.md)" in markdown
    assert "none in the reference table for pneumoniamnist at 64 px" in markdown
    assert "ResNet-50 (28) (from scratch, 28 px; MedMNIST v2) 0.528" in markdown
    assert markdown.count("**NAS+BOHB − random cells+BOHB, ") == len(DATASETS) * 2 * 2  # data sets, outputs, metrics


def test_snakemake_report_groups_the_html_report_by_data_set_and_stage(built):
    # Targets named, since rule all is the lead's to wire; the real run's rule all includes them.
    result = report_rules(built, "--report", "reports/report.html", "--", *REPORT_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    html = (built / "reports" / "report.html").read_text()
    categories = json.loads(re.search(r"var categories = (\{.*?\});\n", html).group(1))
    stages = {"1. DARTS search", "2. BOHB", "3. Test scores", "4. Summary"}
    assert categories.keys() == {f"{flag}_{size}" for flag, size in DATASETS} | {"all data sets"}
    for flag, size in DATASETS:
        assert set(categories[f"{flag}_{size}"]) == stages
        assert all(path.startswith(f"reports/{flag}_{size}/") for files in categories[f"{flag}_{size}"].values()
                   for path in files)
    assert sorted(path for files in categories["all data sets"].values() for path in files) == sorted(
        LEADERBOARD[:3])  # the SVG is the PNG again
    # Captions count the seeds from the config.
    assert "NAS+BOHB (2 seeds)" in html and "baseline (1 seeds)" in html
    assert "random-cell control (2 seeds)" in html and "comparisons.csv" in html and "search.csv" in html
    assert "Data sets: retinamnist at 28 px, pneumoniamnist at 64 px." in html


def test_a_changed_metrics_file_reruns_only_the_scores_the_report_and_the_leaderboard(built):
    # A sibling of `built` keeps the modification times, Snakemake's records and the relative
    # path to the repository's scripts (a rule's params), so only the edit below counts.
    workdir = built.with_name(built.name + "-copy")
    shutil.copytree(built, workdir)
    assert planned_jobs(report_rules(workdir, "-n", "--", *REPORT_FILES)) == {}

    metrics = workdir / "results" / "retinamnist_28" / "final" / "seed2" / "metrics.json"
    data = json.loads(metrics.read_text())
    data["accuracy"] = 0.25
    metrics.write_text(json.dumps(data))
    # Only that data set's: the other's rules stay as they are.
    assert planned_jobs(report_rules(workdir, "-n", "--", *REPORT_FILES)) == {
        "plot_scores": 1, "report": 1, "leaderboard": 1}
    assert planned_jobs(report_rules(workdir, "-n", "--", f"{RETINA}/scores.png")) == {"plot_scores": 1}


def test_a_changed_seed_ensemble_reruns_only_the_scores_the_report_and_the_leaderboard(built):
    # The scores figure draws each seed's ensemble beside its incumbent; the other figures read neither.
    workdir = built.with_name(built.name + "-seed-ensemble")
    shutil.copytree(built, workdir)
    metrics = workdir / "results" / "pneumoniamnist_64" / "random" / "final" / "seed2" / "ensemble" / "metrics.json"
    data = json.loads(metrics.read_text())
    data["accuracy"] = 0.25
    metrics.write_text(json.dumps(data))
    assert planned_jobs(report_rules(workdir, "-n", "--", *REPORT_FILES)) == {
        "plot_scores": 1, "report": 1, "leaderboard": 1}


def test_a_changed_predictions_file_reruns_only_the_report_and_the_leaderboard(built):
    # The ensemble reads predictions.csv, so the report rule declares it; no figure reads it.
    workdir = built.with_name(built.name + "-predictions")
    shutil.copytree(built, workdir)
    predictions = workdir / "results" / "retinamnist_28" / "baseline" / "final" / "seed1" / "predictions.csv"
    lines = predictions.read_text().splitlines()
    lines[1] = lines[1].replace(",0.", ",0.0", 1)  # one probability of one image, a tenth as large
    predictions.write_text("\n".join(lines) + "\n")
    assert planned_jobs(report_rules(workdir, "-n", "--", *REPORT_FILES)) == {"report": 1, "leaderboard": 1}


def test_a_changed_seed_list_reruns_the_rules_whose_manifest_it_changes(built):
    # The manifest is a param, so Snakemake reruns a rule whose run it changes, for every data set;
    # the NAS-only figures' manifests hold no random seeds.
    workdir = built.with_name(built.name + "-seeds")
    shutil.copytree(built, workdir)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["random"]["seeds"] = [1]
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    assert planned_jobs(report_rules(workdir, "-n", "--", *REPORT_FILES)) == {
        "plot_bohb_progress": 2, "plot_scores": 2, "report": 2, "leaderboard": 1}


def test_a_changed_data_set_list_reruns_only_the_leaderboard(built):
    # Its one param lists the data sets: dropping one leaves the other's report as it is.
    workdir = built.with_name(built.name + "-datasets")
    shutil.copytree(built, workdir)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["datasets"] = config["datasets"][:1]
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    targets = [name for name in REPORT_FILES if not name.startswith(PNEUMONIA)]
    assert planned_jobs(report_rules(workdir, "-n", "--", *targets)) == {"leaderboard": 1}
