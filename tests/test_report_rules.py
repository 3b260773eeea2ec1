"""The rules of workflow/rules/report.smk, run by Snakemake on a synthetic result tree.

tests/report_fixtures.py writes the tree in the file contracts of the design, standing in for
the search, BOHB and final rules, and `--allowed-rules` limits Snakemake to the report rules,
so these tests need no training and no other stage's code. The real pipeline's end-to-end run
checks the same targets on real results.
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
from report_fixtures import assert_real_png, write_result_tree

pytestmark = pytest.mark.slow  # every test here starts Snakemake

REPORT_RULES = ["plot_bohb_progress", "plot_arch_weights", "plot_cells", "plot_scores", "report"]
NAS_SEEDS, RANDOM_SEEDS, BASELINE_SEEDS = (1, 2), (1, 2), (1,)
REPORT_FILES = [
    "reports/bohb_progress.png", "reports/bohb_progress.svg", "reports/arch_weights.png",
    "reports/arch_weights.svg", "reports/scores.png", "reports/scores.svg", "reports/cells.png",
    *(f"reports/cells/seed{seed}.png" for seed in NAS_SEEDS), "reports/summary.csv", "reports/ensemble.csv",
    "reports/comparisons.csv", "reports/search.csv", "reports/summary.md",
]


def report_rules(workdir: Path, *arguments: str) -> subprocess.CompletedProcess:
    """Snakemake on the repository's workflow in `workdir`, allowed to run the report rules only."""
    return snakemake(workdir, "--snakefile", str(REPO / "Snakefile"), "--cores", "2",
                     "--allowed-rules", *REPORT_RULES, *arguments, timeout=300)


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
def built(tmp_path_factory):
    """A working folder with the repository's config (seeds cut down), the synthetic results,
    and every report file built by Snakemake."""
    workdir = tmp_path_factory.mktemp("workflow")
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["seeds"], config["baseline"]["seeds"] = list(NAS_SEEDS), list(BASELINE_SEEDS)
    config["random"] = {"seeds": list(RANDOM_SEEDS)}
    config["dataset"]["source"] = None
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    write_result_tree(workdir / "results", nas_seeds=NAS_SEEDS, baseline_seeds=BASELINE_SEEDS,
                      dataset=config["dataset"]["flag"], size=config["dataset"]["size"],
                      metric=config["hpo"]["metric"], random_seeds=RANDOM_SEEDS)
    result = report_rules(workdir, "--", *REPORT_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir


def test_the_report_rules_write_every_report_file_and_a_log_each(built):
    for name in REPORT_FILES:
        assert (built / name).is_file(), name
    for name in REPORT_FILES:
        if name.endswith(".png"):
            assert_real_png(built / name)
    for rule in REPORT_RULES:
        assert "INFO wrote" in (built / "results" / "logs" / rule / "all_seeds.log").read_text(), rule
    markdown = (built / "reports" / "summary.md").read_text()
    for method in ("NAS+BOHB", "random cells+BOHB", "baseline"):
        seeds = BASELINE_SEEDS if method == "baseline" else NAS_SEEDS
        count = f"n={len(seeds)} seed" + ("s" if len(seeds) > 1 else "")
        for output in ("incumbent", "per-seed ensemble"):
            assert f"| {method}, {output} | {count} |" in markdown, (method, output)
    assert pd.read_csv(built / "reports" / "ensemble.csv")["n_seeds"].tolist() == [2, 2]  # NAS and random
    summary = pd.read_csv(built / "reports" / "summary.csv")
    assert summary["output"].value_counts().to_dict() == {"incumbent": 5, "seed_ensemble": 5}
    comparisons = pd.read_csv(built / "reports" / "comparisons.csv")
    assert {"comparison", "level", "metric", "difference", "ci_low", "ci_high", "p_value"} <= set(comparisons.columns)
    assert set(comparisons["comparison"]) == {"nas - random", "nas - baseline", "random - baseline"}
    assert {("nas - random", output, "ensemble") for output in ("incumbent", "seed_ensemble")} <= set(
        zip(comparisons["comparison"], comparisons["output"], comparisons["level"]))
    search = pd.read_csv(built / "reports" / "search.csv")
    assert list(search.columns) == ["seed", "node", "derived", "p_derived", "p_zero", "entropy", "alpha_epochs_run"]
    assert len(search) == 6 * len(NAS_SEEDS)


def test_snakemake_report_writes_the_html_report_grouped_by_stage_and_seed(built):
    # Targets named, since rule all is the lead's to wire; the real run's rule all includes them.
    result = report_rules(built, "--report", "reports/report.html", "--", *REPORT_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    html = (built / "reports" / "report.html").read_text()
    for expected in ("1. DARTS search", "2. BOHB", "3. Test scores", "4. Summary", "seed 1", "seed 2",
                     "summary.csv", "scores.png"):
        assert expected in html, expected
    # Captions count the seeds from the config.
    assert "NAS+BOHB (2 seeds)" in html and "baseline (1 seeds)" in html
    assert "random-cell control (2 seeds)" in html and "comparisons.csv" in html and "search.csv" in html


def test_a_changed_metrics_file_reruns_only_the_scores_and_the_report(built):
    # A sibling of `built` keeps the modification times, Snakemake's records and the relative
    # path to the repository's scripts (a rule's params), so only the edit below counts.
    workdir = built.with_name(built.name + "-copy")
    shutil.copytree(built, workdir)
    assert planned_jobs(report_rules(workdir, "-n", "--", *REPORT_FILES)) == {}

    metrics = workdir / "results" / "final" / "seed2" / "metrics.json"
    data = json.loads(metrics.read_text())
    data["accuracy"] = 0.25
    metrics.write_text(json.dumps(data))
    assert planned_jobs(report_rules(workdir, "-n", "--", *REPORT_FILES)) == {"plot_scores": 1, "report": 1}
    assert planned_jobs(report_rules(workdir, "-n", "--", "reports/scores.png")) == {"plot_scores": 1}


def test_a_changed_seed_ensemble_reruns_only_the_scores_and_the_report(built):
    # The scores figure draws each seed's ensemble beside its incumbent; the other figures read neither.
    workdir = built.with_name(built.name + "-seed-ensemble")
    shutil.copytree(built, workdir)
    metrics = workdir / "results" / "random" / "final" / "seed2" / "ensemble" / "metrics.json"
    data = json.loads(metrics.read_text())
    data["accuracy"] = 0.25
    metrics.write_text(json.dumps(data))
    assert planned_jobs(report_rules(workdir, "-n", "--", *REPORT_FILES)) == {"plot_scores": 1, "report": 1}


def test_a_changed_predictions_file_reruns_only_the_report(built):
    # The ensemble reads predictions.csv, so the report rule declares it; no figure reads it.
    workdir = built.with_name(built.name + "-predictions")
    shutil.copytree(built, workdir)
    predictions = workdir / "results" / "baseline" / "final" / "seed1" / "predictions.csv"
    lines = predictions.read_text().splitlines()
    lines[1] = lines[1].replace(",0.", ",0.0", 1)  # one probability of one image, a tenth as large
    predictions.write_text("\n".join(lines) + "\n")
    assert planned_jobs(report_rules(workdir, "-n", "--", *REPORT_FILES)) == {"report": 1}


def test_a_changed_seed_list_reruns_the_rules_whose_manifest_it_changes(built):
    # The manifest is a param, so Snakemake reruns a rule whose run it changes; the NAS-only
    # figures' manifests hold no random seeds.
    workdir = built.with_name(built.name + "-seeds")
    shutil.copytree(built, workdir)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["random"]["seeds"] = [1]
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    assert planned_jobs(report_rules(workdir, "-n", "--", *REPORT_FILES)) == {
        "plot_bohb_progress": 1, "plot_scores": 1, "report": 1}
