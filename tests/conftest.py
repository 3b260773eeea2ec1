"""Shared test helpers: where the real data set is, running the workflow in a scratch copy, and
which tests are slow.

The end-to-end tests run the real Snakemake workflow in a copy of the workflow files inside a
temporary folder, so they never touch a user's results/ and each starts from nothing.
`pytest -m "not slow"` is the fast unit loop: it leaves out every test that starts Snakemake or a
script, runs BOHB or a whole search, or reads the real data set, so it needs neither the data file
nor minutes. The slow modules and fixtures are listed here; a slow test in another module carries
`@pytest.mark.slow` itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "config.yaml", "configs", "workflow", "scripts", "profiles", "envs", ".test")


SLOW_MODULES = {"test_rerun", "test_search_resume", "test_search_cli", "test_slurm_profile", "test_report_rules"}
SLOW_FIXTURES = {"real_data", "workflow_copy", "workflow_rules", "data_dir"}  # data_dir: test_bohb's BOHB runs
SLOW_MARKERS = {"e2e", "slurm", "cuda"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if (item.module.__name__ in SLOW_MODULES or SLOW_FIXTURES & set(item.fixturenames)
                or SLOW_MARKERS & {marker.name for marker in item.iter_markers()}):
            item.add_marker(pytest.mark.slow)


def real_data_path() -> Path:
    return Path(os.environ.get("DARTS_BOHB_TEST_DATA", REPO.parent / "shared" / "data" / "retinamnist.npz"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The official RetinaMNIST 28 px file; CI sets DARTS_BOHB_REQUIRE_DATA=1 so it is never skipped."""
    path = real_data_path()
    if not path.is_file():
        message = f"real RetinaMNIST file not found at {path} (set DARTS_BOHB_TEST_DATA)"
        if os.environ.get("DARTS_BOHB_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def without_slurm_controller() -> Path:
    """A folder whose `scontrol` fails at once, put on PATH in front of the real one.

    Snakemake loads the SLURM executor plugin on every start, local runs too, and the plugin
    runs `scontrol show config` to read MinJobAge. Where SLURM's commands are installed but no
    controller answers (CI starts its test cluster only after these tests), that call waits 9 s
    before it gives up: 9 s on every Snakemake call of the test run, which a local run never
    needs. A test's own SLURM stand-ins on PATH keep every command but this one."""
    folder = Path(tempfile.gettempdir()) / f"darts-bohb-tests-{os.getuid()}" / "no-slurm-controller"
    stand_in = folder / "scontrol"
    if not stand_in.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".scontrol.{os.getpid()}"
        temporary.write_text("#!/bin/sh\necho 'scontrol: no SLURM controller in these tests' >&2\nexit 1\n")
        temporary.chmod(0o755)
        temporary.replace(stand_in)
    return folder


def copy_workflow(destination: Path, data: Path) -> Path:
    """A runnable copy of the workflow whose test configs read `data` by absolute path: the tiny run
    (.test/config.yaml) and the tiny sweep given after it (.test/sweep.yaml, SWEEP); the sweep's
    synthetic data sets are written where it names them (write_sweep_data)."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, destination / name)
    for name in ("config.yaml", "sweep.yaml"):
        test_config = destination / ".test" / name
        config = yaml.safe_load(test_config.read_text())
        for entry in config["datasets"]:
            if entry["flag"] == "retinamnist":
                entry["source"] = str(data)
        test_config.write_text(yaml.safe_dump(config, sort_keys=False))
    write_sweep_data(destination)
    return destination


# The tiny sweep: RetinaMNIST 28 px and a synthetic multi-label set, with the tiny budgets of .test/config.yaml.
SWEEP = ("--configfile", ".test/config.yaml", ".test/sweep.yaml")


def sweep_datasets(workdir: Path) -> list[dict]:
    """The data sets of .test/sweep.yaml in a workflow copy, as the run reads them."""
    return yaml.safe_load((workdir / ".test" / "sweep.yaml").read_text())["datasets"]


def write_sweep_data(workdir: Path) -> None:
    """Each synthetic data set of .test/sweep.yaml (tests/task_fixtures.py SWEEP_SETS), written to the
    path relative to `workdir` that its `source` names. They are synthetic, not MedMNIST's: only the
    RetinaMNIST file is available to the tests."""
    from task_fixtures import SWEEP_SETS, write_task_npz  # imports torch: only where a copy is made

    for entry in sweep_datasets(workdir):
        if entry["flag"] in SWEEP_SETS:
            path = workdir / entry["source"]
            path.parent.mkdir(parents=True, exist_ok=True)
            write_task_npz(path, **SWEEP_SETS[entry["flag"]])


def snakemake(workdir: Path, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run Snakemake from this interpreter's environment, so rules find the same `python`, and
    without asking a SLURM controller anything (see without_slurm_controller)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(without_slurm_controller()),
                                   env.get("PATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout,
    )


def start_snakemake(workdir: Path, *args: str) -> subprocess.Popen:
    """`snakemake(workdir, *args)` started in the background, its output (both streams) in a pipe: for
    runs that go side by side, such as each data set of the sweep run alone."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(without_slurm_controller()),
                                   env.get("PATH", "")])
    return subprocess.Popen([sys.executable, "-m", "snakemake", *args], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


PREDICT_RUNS = (("torch", "recorded"), ("torch", "fp32"), ("onnx", "recorded"))


def predict_tables(workdir: Path, model_dir: Path, images: Path, out_dir: Path, threads: int) -> dict:
    """scripts/predict.py on the test split of `images`, with each backend and precision of
    PREDICT_RUNS: the CSV each wrote, by (backend, precision)."""
    tables = {}
    for backend, precision in PREDICT_RUNS:
        output = out_dir / f"{backend}_{precision}.csv"
        result = subprocess.run([sys.executable, str(workdir / "scripts" / "predict.py"), "--model-dir", str(model_dir),
                                 "--images", str(images), "--split", "test", "--output", str(output),
                                 "--backend", backend, "--precision", precision, "--threads", str(threads)],
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        tables[backend, precision] = pd.read_csv(output, keep_default_na=False)
    return tables


@pytest.fixture
def workflow_copy(tmp_path: Path, real_data: Path) -> Path:
    return copy_workflow(tmp_path / "workflow", real_data)
