"""The CUDA path, checked on the CPU: what `make_runtime` asks of CUDA (with CUDA mocked), that a
training step makes no host sync and builds no tensor from Python numbers, that every op of a
step has a deterministic CUDA kernel, the prediction batch size, the rules' switches and the
`cuda` marker. The same behaviour on a real GPU: tests/test_cuda.py (benchmarks/gpu_check.sh).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from snakemake.utils import update_config
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

import darts_bohb
import darts_bohb.runtime as runtime_module
from conftest import REPO, copy_workflow, snakemake
from cuda_fixtures import TRIAL_ARCHITECTURE, random_split, tiny_search, train_trial_network
from darts_bohb.cli import add_job_arguments, job_runtime
from darts_bohb.network import build_network
from darts_bohb.runtime import Runtime, RuntimeConfigError, make_runtime, resolve_precision
from darts_bohb.settings import validate_config
from darts_bohb.training import predict_probabilities, widest_convolution
from hpo_fixtures import one_torch_thread  # noqa: F401 (fixture)

PACKAGE_DIR = str(Path(darts_bohb.__file__).parent)
CUDA = torch.device("cuda")
# Ops that raise under torch.use_deterministic_algorithms(True) on CUDA, for want of a
# deterministic kernel (torch.use_deterministic_algorithms' documentation, PyTorch 2.13).
NONDETERMINISTIC_CUDA_OPS = frozenset({
    "avg_pool3d_backward", "_adaptive_avg_pool2d_backward", "_adaptive_avg_pool3d_backward",
    "adaptive_max_pool2d_backward", "fractional_max_pool2d_backward", "fractional_max_pool3d_backward",
    "max_unpool2d", "max_unpool3d", "upsample_linear1d_backward", "upsample_bilinear2d_backward",
    "upsample_bicubic2d_backward", "upsample_trilinear3d_backward", "reflection_pad1d_backward",
    "reflection_pad2d_backward", "reflection_pad3d_backward", "nll_loss2d_forward", "_ctc_loss_backward",
    "_embedding_bag_dense_backward", "put", "put_", "histc", "bincount", "median", "nanmedian",
    "grid_sampler_2d_backward", "grid_sampler_3d_backward", "cumsum", "cumsum_", "kthvalue",
})
SYNCS = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.numpy, torch.Tensor.cpu, torch.Tensor.__bool__,
         torch.Tensor.__float__, torch.Tensor.__int__, torch.Tensor.__index__}
FROM_PYTHON = {torch.tensor, torch.as_tensor, torch.Tensor.new_tensor}


class StepAudit(TorchFunctionMode):
    """Records, from calls made by this package's own code: host syncs (.item(), .tolist(),
    bool(tensor), ...), tensors built from Python data (a host-to-device copy on a GPU) and
    device copies without non_blocking=True (which wait for the GPU's queue)."""

    def __init__(self):
        super().__init__()
        self.syncs: list[str] = []
        self.from_python: list[str] = []
        self.blocking_copies: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        caller = sys._getframe(1)
        if caller.f_code.co_filename.startswith(PACKAGE_DIR):
            where = f"{Path(caller.f_code.co_filename).name}:{caller.f_lineno} {getattr(func, '__name__', func)}"
            if func in SYNCS:
                self.syncs.append(where)
            elif func in FROM_PYTHON:
                self.from_python.append(where)
            elif func is torch.Tensor.to and _names_a_device(args[1:], kwargs) and not kwargs.get("non_blocking"):
                self.blocking_copies.append(where)
        return func(*args, **kwargs)


def _names_a_device(args, kwargs) -> bool:
    return "device" in kwargs or any(isinstance(arg, (torch.device, str, torch.Tensor)) for arg in args)


class OpNames(TorchDispatchMode):
    """The names of the aten ops that run, backward included."""

    def __init__(self):
        super().__init__()
        self.names: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        # Two of the listed ops lack a deterministic kernel only in one use: bincount with
        # weights (class counts have none), cumsum of floating-point values.
        if name == "bincount" and (args[1:2] in ((), (None,))) and kwargs.get("weights") is None:
            name = "bincount, unweighted"
        if name.startswith("cumsum") and not args[0].is_floating_point():
            name = "cumsum, integer"
        self.names.add(name)
        return func(*args, **kwargs)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- precision and CUDA numerics, with CUDA mocked -------------------------------------------------

CUDA_FLAGS = ((torch.backends.cudnn, "deterministic"), (torch.backends.cudnn, "benchmark"),
              (torch.backends.cuda.matmul, "fp32_precision"), (torch.backends.cudnn.conv, "fp32_precision"),
              (torch.backends.cudnn.rnn, "fp32_precision"))


@pytest.fixture
def fake_cuda(monkeypatch):
    """A visible CUDA device, and a record of the process-wide switches make_runtime sets; the
    real flags are restored afterwards."""
    applied = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    monkeypatch.setattr(torch, "use_deterministic_algorithms",
                        lambda mode, **kwargs: applied.update(use_deterministic_algorithms=mode))
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = [getattr(flags, name) for flags, name in CUDA_FLAGS]
    yield applied
    for (flags, name), value in zip(CUDA_FLAGS, before):
        setattr(flags, name, value)


def emulating_card(including_emulation: bool = True) -> bool:
    """A V100 or T4: bf16 only through emulation."""
    return including_emulation


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_takes_bf16_only_where_the_card_has_it_natively(monkeypatch, native):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                        (lambda including_emulation=True: True) if native else emulating_card)
    assert resolve_precision("auto", CUDA) == (torch.bfloat16 if native else None)


def test_bf16_on_a_card_that_only_emulates_it_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", emulating_card)
    with pytest.raises(RuntimeConfigError, match="precision: 'bf16'.*no native bf16.*8.0"):
        resolve_precision("bf16", CUDA)


def test_cuda_runs_deterministic_kernels_without_tf32_by_default(fake_cuda):
    runtime = make_runtime("cuda", "auto")
    assert fake_cuda == {"use_deterministic_algorithms": True}
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert torch.backends.cuda.matmul.fp32_precision == "ieee"
    assert torch.backends.cudnn.conv.fp32_precision == "ieee"  # PyTorch's own default is TF32 here
    assert runtime.numerics() == {"device": "cuda", "precision": "bf16", "deterministic": True, "tf32": False}


def test_the_config_can_trade_determinism_for_speed_and_allow_tf32(fake_cuda):
    runtime = make_runtime("cuda", "fp32", deterministic=False, tf32=True)
    assert fake_cuda == {"use_deterministic_algorithms": False}
    assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    assert torch.backends.cuda.matmul.fp32_precision == "tf32" and torch.backends.cudnn.conv.fp32_precision == "tf32"
    assert runtime.numerics() == {"device": "cuda", "precision": "fp32", "deterministic": False, "tf32": True}


def test_a_cublas_workspace_set_by_the_user_is_kept_or_named_when_unusable(fake_cuda, monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    make_runtime("cuda", "fp32")
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":0:0")
    with pytest.raises(RuntimeConfigError, match="CUBLAS_WORKSPACE_CONFIG.*':0:0'"):
        make_runtime("cuda", "fp32")


def test_a_cpu_run_leaves_the_process_numerics_and_its_fingerprint_alone(fake_cuda):
    before = torch.backends.cudnn.conv.fp32_precision
    runtime = make_runtime("cpu", "fp32", deterministic=False, tf32=True)
    assert fake_cuda == {} and "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    assert torch.backends.cudnn.conv.fp32_precision == before
    # The keys the search and BOHB fingerprints had before the CUDA switches existed.
    assert runtime.numerics() == {"device": "cpu", "precision": "fp32"}


def test_scripts_take_the_runtime_section_as_the_rules_write_it():
    parser = argparse.ArgumentParser()
    add_job_arguments(parser, "search")
    args = parser.parse_args(["--data", "d", "--dataset", "retinamnist", "--size", "28", "--seed", "1",
                              "--settings", "{}", "--epoch-size", "{}", "--threads", "1", "--memory-mb", "900",
                              "--runtime",
                              '{"device": "cpu", "precision": "fp32", "deterministic": false, "tf32": true}'])
    runtime = job_runtime(args)
    assert (runtime.device.type, runtime.precision, runtime.deterministic, runtime.tf32) == ("cpu", "fp32", False, True)
    assert runtime.memory_mb == 900 and torch.get_num_threads() == 1


# --- no host sync in a step -----------------------------------------------------------------------

@pytest.mark.parametrize("order,mode", [("first", "add"), ("second", "add"), ("first", "blend")])
def test_a_search_epoch_syncs_with_the_host_once_whatever_its_steps(order, mode):
    search = tiny_search(make_runtime("cpu", "fp32"), order, mode)
    with StepAudit() as audit:
        search.train_epoch(0)  # β = beta0 > 0: the surrogate skip is in every node
    assert audit.from_python == [] and audit.blocking_copies == []
    assert len(audit.syncs) == 1 and "darts.py" in audit.syncs[0], audit.syncs  # the epoch's totals


def test_a_training_epoch_syncs_with_the_host_once_whatever_its_steps():
    with StepAudit() as audit:
        train_trial_network(make_runtime("cpu", "fp32"))  # 2 epochs of 4 steps
    assert audit.from_python == [] and audit.blocking_copies == []
    assert len(audit.syncs) == 2 and all("training.py" in sync for sync in audit.syncs), audit.syncs


def test_the_audit_sees_what_it_is_meant_to_forbid():
    """The detector itself: the β tensor the fused node used to build, a blocking copy, an .item()."""
    from darts_bohb import search_space

    def old_forward(weights: torch.Tensor, beta: float):
        return weights.new_tensor(beta), weights.to(torch.device("cpu")), weights.sum().item()

    old_forward.__code__ = old_forward.__code__.replace(co_filename=search_space.__file__)
    with StepAudit() as audit:
        old_forward(torch.ones(3), 0.5)
    assert len(audit.from_python) == len(audit.blocking_copies) == len(audit.syncs) == 1


# --- deterministic kernels ------------------------------------------------------------------------

def test_every_op_of_a_search_and_a_training_step_has_a_deterministic_cuda_kernel():
    with OpNames() as ops:
        tiny_search(make_runtime("cpu", "fp32")).train_epoch(0)
        train_trial_network(make_runtime("cpu", "fp32"))
    assert {"convolution_backward", "max_pool2d_with_indices_backward", "grid_sampler_2d"} <= ops.names
    assert ops.names & NONDETERMINISTIC_CUDA_OPS == set()


def test_the_op_check_would_catch_an_adaptive_pool_of_more_than_one_pixel():
    """nn.AdaptiveAvgPool2d(1), as our heads use it, is a mean; a larger output is not."""
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    with OpNames() as ops:
        (nn.AdaptiveAvgPool2d(1)(x).sum() + nn.AdaptiveAvgPool2d(2)(x).sum()).backward()
    assert ops.names & NONDETERMINISTIC_CUDA_OPS == {"_adaptive_avg_pool2d_backward"}


# --- prediction batches ---------------------------------------------------------------------------

def test_prediction_batches_shrink_with_image_area_and_width():
    runtime = make_runtime("cpu", "fp32")
    at_28 = runtime.prediction_batch_size((3, 28, 28), widest_channels=32)
    assert at_28 >= 400  # RetinaMNIST's test split in one batch, as with the former constant 512
    assert runtime.prediction_batch_size((3, 224, 224), 32) == at_28 // 64
    assert runtime.prediction_batch_size((3, 28, 28), 64) == at_28 // 2


def test_prediction_batches_on_cuda_follow_the_card_not_what_other_jobs_leave_free(monkeypatch):
    memory = {"free": 2**30, "total": 16 * 2**30}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (memory["free"], memory["total"]))
    runtime = Runtime(device=CUDA, autocast_dtype=None)
    per_image = 64 * 64 * 32 * 4 * runtime_module.PREDICTION_LIVE_MAPS
    budget = int(16 * 2**30 * runtime_module.PREDICTION_GPU_SHARE)
    size = runtime.prediction_batch_size((3, 64, 64), 32)
    assert size == budget // per_image
    memory["free"] = 15 * 2**30  # other jobs finished: the batches, so the results, stay the same
    assert runtime.prediction_batch_size((3, 64, 64), 32) == size
    memory["total"] = 1024 * 2**30
    assert runtime.prediction_batch_size((3, 64, 64), 32) == runtime_module.MAX_PREDICTION_BATCH


def test_predictions_do_not_depend_on_the_batch_size():
    runtime = make_runtime("cpu", "fp32")
    model = runtime.prepare_model(build_network(TRIAL_ARCHITECTURE))
    split = random_split(40)
    assert widest_convolution(model) == 16
    whole = predict_probabilities(model, split, runtime)
    assert torch.allclose(torch.from_numpy(whole), torch.from_numpy(predict_probabilities(model, split, runtime, 7)),
                          atol=1e-6)


# --- the workflow's switches and the GPU share ----------------------------------------------------

@pytest.mark.slow
def test_rules_pass_the_runtime_section_and_count_gpu_slots(tmp_path):
    """A dry run with runtime.device: cuda needs no GPU: every training job gets the config's runtime
    section whole, one GPU for SLURM and one of the machine's gpu_slots."""
    placeholder = tmp_path / "retinamnist.npz"  # a dry run reads no data
    placeholder.touch()
    workdir = copy_workflow(tmp_path / "workflow", placeholder)
    (workdir / "cuda.yaml").write_text("runtime: {device: cuda, deterministic: false, tf32: true}\n")
    result = snakemake(workdir, "-n", "-p", "--cores", "1", "--configfile", ".test/config.yaml", "cuda.yaml",
                       timeout=300)
    assert result.returncode == 0, result.stderr
    training = [line for line in result.stdout.splitlines() if line.startswith("Shell command: python")
                and any(f"scripts/{name} " in line for name in ("darts_search.py", "bohb.py", "final.py"))]
    runtime = '{"deterministic": false, "device": "cuda", "precision": "auto", "tf32": true}'
    assert len(training) >= 6 and all(f"--runtime '{runtime}'" in line for line in training)
    blocks = result.stdout.split("\n\n")
    jobs = [block for block in blocks if any(f"rule {name}:" in block for name in ("darts_search", "bohb", "final"))]
    assert len(jobs) >= 6 and all("gpu=1, gpu_slots=1" in block for block in jobs)


@pytest.mark.slow
def test_the_config_that_gpu_check_writes_is_valid(tmp_path):
    """CI has no GPU to run gpu_check.sh's pipeline: its config, over config.yaml and each preset,
    is checked against the schema here."""
    result = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--print-config", "--data",
                             str(tmp_path / "retinamnist.npz")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    written = yaml.safe_load(result.stdout)
    assert written["runtime"]["device"] == "cuda"
    assert written["datasets"][0]["source"] == str(tmp_path / "retinamnist.npz")
    for preset in [None, *sorted((REPO / "configs").glob("*.yaml"))]:
        config = yaml.safe_load((REPO / "config.yaml").read_text())
        for layer in ([] if preset is None else [yaml.safe_load(preset.read_text())]) + [written]:
            update_config(config, layer)
        validate_config(config, REPO / "workflow" / "schemas" / "config.schema.yaml")


@pytest.mark.slow
def test_pytest_collects_the_gpu_tests_under_the_cuda_marker():
    result = subprocess.run([sys.executable, "-m", "pytest", "-m", "cuda", "--collect-only", "-q",
                             str(REPO / "tests" / "test_cuda.py")], capture_output=True, text=True, timeout=300,
                            cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    collected = [line for line in result.stdout.splitlines() if "::" in line]
    assert len(collected) >= 6, result.stdout
    assert all(line.startswith("tests/test_cuda.py::") for line in collected)


@pytest.mark.slow
def test_gpu_check_script_explains_itself():
    result = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for option in ("--out", "--wheels", "--data", "pip download"):
        assert option in result.stdout


@pytest.mark.slow
def test_gpu_check_installs_everything_except_torch_and_what_the_node_brings():
    """The pins the script installs from --wheels are requirements.txt's, less torch and the
    packages a CUDA node provides; the list is what --print-requirements writes."""
    result = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--print-requirements"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    listed = set(result.stdout.split())
    pinned = {line.strip() for line in (REPO / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    assert listed <= pinned
    names = {pin.split("==")[0].lower() for pin in listed}
    assert {"snakemake", "smac", "configspace", "jsonschema", "pytest"} <= names
    assert "torch" not in names
