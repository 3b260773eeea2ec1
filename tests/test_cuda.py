"""The CUDA path on a real GPU (marker `cuda`; skipped without one, so CI lists them as skipped).

`bash benchmarks/gpu_check.sh` runs them with `pytest -m cuda`; on the CPU,
tests/test_runtime_cuda.py checks the same behaviour with CUDA mocked. Each script here runs in a
process of its own, as a rule's job does, so each sets CUDA's numerics before its first kernel.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

from config_defaults import config_section
from conftest import REPO
from cuda_fixtures import TRIAL_ARCHITECTURE, TRIAL_SETTINGS, random_split, tiny_search
from darts_bohb.genotype import save_genotype
from darts_bohb.network import build_network
from darts_bohb.runtime import RuntimeConfigError, make_runtime
from darts_bohb.search_space import SuperNet
from darts_bohb.training import train_model
from hpo_fixtures import hpo_json, make_genotype, tiny_hpo

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (benchmarks/gpu_check.sh)")]
SYNC_WARNING = "synchronizing CUDA operation"


@pytest.fixture(autouse=True, scope="module")
def restore_process_numerics():
    """make_runtime('cuda') sets process-wide flags; leave the rest of a test session as it was."""
    flags = [(torch.backends.cudnn, "deterministic"), (torch.backends.cudnn, "benchmark")]
    precision_owners = (torch.backends.cuda.matmul, getattr(torch.backends.cudnn, "conv", None))
    flags += [(owner, "fp32_precision") for owner in precision_owners if hasattr(owner, "fp32_precision")]
    before = [getattr(owner, name) for owner, name in flags]
    deterministic = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(deterministic)
    for (owner, name), value in zip(flags, before):
        setattr(owner, name, value)


def cuda_runtime(precision: str = "auto"):
    return make_runtime("cuda", precision, threads=1)


def test_auto_precision_is_bf16_exactly_where_the_card_has_it_natively():
    native = torch.cuda.get_device_capability()[0] >= 8
    assert cuda_runtime("auto").precision == ("bf16" if native else "fp32")
    if not native:
        with pytest.raises(RuntimeConfigError, match="no native bf16"):
            cuda_runtime("bf16")


def test_cuda_runs_deterministic_kernels_without_tf32():
    runtime = cuda_runtime()
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] in (":4096:8", ":16:8")
    assert torch.backends.cuda.matmul.fp32_precision == torch.backends.cudnn.conv.fp32_precision == "ieee"
    assert "deterministic=True tf32=False" in runtime.describe()


def count_syncs(work) -> list[str]:
    """Every host sync (blocking copy, .item(), ...) that `work` makes, as file:line."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            work()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return [f"{Path(w.filename).name}:{w.lineno}" for w in caught if SYNC_WARNING in str(w.message)]


def test_a_search_epoch_syncs_with_the_host_once_whatever_its_steps():
    syncs = {}
    for images in (96, 192):  # three and six steps an epoch
        search = tiny_search(cuda_runtime(), n_images=images)
        search.train_epoch(0)  # warm-up: cuDNN, cuBLAS and the allocator start on the first steps
        syncs[images] = count_syncs(lambda search=search: search.train_epoch(1))
    assert syncs[96] == syncs[192] and len(syncs[96]) == 1 and syncs[96][0].startswith("darts.py"), syncs


def test_a_training_epoch_syncs_with_the_host_once_whatever_its_steps():
    runtime = cuda_runtime()

    def syncs_of_training(epochs: int, images: int) -> list[str]:
        model = runtime.prepare_model(build_network(TRIAL_ARCHITECTURE))  # its copies are not counted
        settings = dataclasses.replace(TRIAL_SETTINGS, epochs=epochs)
        split, generator = random_split(images), torch.Generator().manual_seed(0)
        return count_syncs(lambda: train_model(model, split, settings, runtime, generator, n_classes=5))

    syncs_of_training(1, 64)  # warm-up
    two_epochs = syncs_of_training(2, 64)
    assert syncs_of_training(2, 128) == two_epochs  # twice the steps, the same syncs
    three_epochs = syncs_of_training(3, 64)
    assert len(three_epochs) == len(two_epochs) + 1 and three_epochs[-1].startswith("training.py"), three_epochs


def test_fused_mixed_nodes_compute_the_module_path_on_cuda():
    torch.manual_seed(0)
    cuda_runtime("fp32")
    kwargs = dict(in_channels=3, n_classes=5, channels=(8, 16), pool=(True, True), kernel_sizes=(3, 5, 7, 9),
                  skip_mode="add")
    fused, modules = SuperNet(**kwargs).cuda(), SuperNet(**kwargs, fused=False).cuda()
    modules.load_state_dict(fused.state_dict())
    x = torch.randn(8, 3, 28, 28, device="cuda")
    torch.testing.assert_close(fused(x, beta=0.5), modules(x, beta=0.5), rtol=1e-4, atol=1e-4)


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONHASHSEED="0")
    result = subprocess.run([sys.executable, str(REPO / "scripts" / name), *args, "--runtime",
                             json.dumps(config_section("runtime", device="cuda")), "--epoch-size",
                             json.dumps(config_section("epoch_size")), "--threads", "1"],
                            capture_output=True, text=True, timeout=600, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def tiny_search_on_cuda(real_data: Path, folder: Path) -> Path:
    settings = config_section("search", epochs=2, channels=[8, 16], pool=[True, True], arch={"warmup_epochs": 1})
    run_script("darts_search.py", "--data", str(real_data), "--dataset", "retinamnist", "--size", "28",
               "--seed", "1", "--settings", json.dumps(settings), "--state-dir", str(folder / "state"),
               "--alphas", str(folder / "alphas.csv"), "--epochs", str(folder / "epochs.csv"),
               "--summary", str(folder / "search.json"))
    return folder


def test_two_tiny_searches_on_cuda_give_identical_alphas(real_data, tmp_path):
    first, second = (tiny_search_on_cuda(real_data, tmp_path / name) for name in ("first", "second"))
    assert (first / "alphas.csv").read_bytes() == (second / "alphas.csv").read_bytes()
    alphas = pd.read_csv(first / "alphas.csv")
    assert alphas["epoch"].max() == 2 and alphas["alpha"].abs().max() > 1e-3  # α moved: the search ran
    runtime = json.loads((first / "search.json").read_text())["runtime"]
    assert runtime["device"].startswith("cuda") and runtime["deterministic"] is True and runtime["tf32"] is False


def test_a_bohb_run_and_the_final_training_run_on_cuda(real_data, tmp_path):
    genotype = tmp_path / "genotype.json"
    save_genotype(genotype, make_genotype(seed=5))
    run_script("bohb.py", "--method", "nas", "--genotype", str(genotype), "--data", str(real_data),
               "--dataset", "retinamnist", "--size", "28", "--seed", "1",
               "--settings", hpo_json(tiny_hpo(total_epochs=6)), "--incumbent", str(tmp_path / "incumbent.json"),
               "--trajectory", str(tmp_path / "trajectory.csv"), "--runhistory", str(tmp_path / "runhistory.csv"),
               "--ensemble", str(tmp_path / "ensemble.pt"))
    runhistory = pd.read_csv(tmp_path / "runhistory.csv")
    assert len(runhistory) == 4 and set(runhistory["status"]) == {"SUCCESS"}, runhistory

    final = tmp_path / "final"
    final.mkdir()
    run_script("final.py", "--method", "nas", "--incumbent", str(tmp_path / "incumbent.json"),
               "--data", str(real_data), "--dataset", "retinamnist", "--size", "28", "--seed", "1",
               "--settings", json.dumps(config_section("final")), "--epochs", "3",
               "--metrics", str(final / "metrics.json"), "--predictions", str(final / "predictions.csv"),
               "--model", str(final / "model.pt"), "--architecture", str(final / "architecture.json"),
               "--model-card", str(final / "MODEL_CARD.md"), "--ensemble", str(tmp_path / "ensemble.pt"),
               "--ensemble-metrics", str(final / "ensemble" / "metrics.json"),
               "--ensemble-predictions", str(final / "ensemble" / "predictions.csv"))
    for predictions_file in (final / "predictions.csv", final / "ensemble" / "predictions.csv"):
        predictions = pd.read_csv(predictions_file)
        assert len(predictions) == 400  # RetinaMNIST's test split
        probabilities = predictions.filter(like="prob_").to_numpy()
        assert abs(probabilities.sum(axis=1) - 1).max() < 1e-4
