"""model.onnx: a dynamic batch axis, the same outputs as PyTorch to 1e-4 on the test images, the
preprocessing inside; a graph that does not reproduce PyTorch is never written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from darts_bohb.deploy import onnx_export
from darts_bohb.deploy.model import load_final_model
from darts_bohb.deploy.onnx_export import OnnxExportError, export_onnx
from darts_bohb.deploy.record import normalise
from deploy_fixtures import train_final_model
from hpo_fixtures import one_torch_thread  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
EXPORT = Path(__file__).resolve().parents[1] / "scripts" / "export_onnx.py"


@pytest.fixture(scope="module")
def exported(request, tmp_path_factory):
    request.getfixturevalue("one_torch_thread")  # one thread before training, restored after the module
    folder = train_final_model(tmp_path_factory.mktemp("final") / "seed3")
    check = export_onnx(folder, folder / "data.npz", folder / "model.onnx")
    return folder, check


def test_onnx_equals_pytorch_on_the_test_images_for_any_batch_size(exported):
    folder, check = exported
    assert check.n_images == 60 and check.max_logit_difference <= 1e-4 and check.max_probability_difference <= 1e-4
    network, _ = load_final_model(folder)
    images = normalise(np.load(folder / "data.npz")["test_images"].transpose(0, 3, 1, 2))
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [(node.name, node.shape) for node in session.get_inputs()] == [("images", ["batch", 3, 28, 28])]
    assert [node.name for node in session.get_outputs()] == ["logits", "probabilities"]
    for size in (1, 7, 60):
        logits, probabilities = session.run(None, {"images": images[:size]})
        with torch.inference_mode():
            expected = network(torch.from_numpy(images[:size]))
        assert logits.shape == (size, 5)
        np.testing.assert_allclose(logits, expected.numpy(), atol=1e-4, rtol=0)
        np.testing.assert_allclose(probabilities, torch.softmax(expected, 1).numpy(), atol=1e-4, rtol=0)


def test_the_check_reads_the_split_in_batches_that_fit_the_jobs_memory(exported, tmp_path, monkeypatch):
    """A large set's test split at 224 px is gigabytes: the check never normalises it whole. With
    6 MB, the synthetic split's 60 images go through in batches of 3."""
    folder, _ = exported
    network, _ = load_final_model(folder)
    assert onnx_export.check_batch_size(network, (3, 28, 28), memory_mb=6) == 3
    assert onnx_export.check_batch_size(network, (3, 28, 28), memory_mb=2000) == 128
    seen = []
    real_normalise = onnx_export.normalise
    monkeypatch.setattr(onnx_export, "normalise", lambda images: (seen.append(len(images)), real_normalise(images))[1])
    check = export_onnx(folder, folder / "data.npz", tmp_path / "model.onnx", memory_mb=6)
    assert check.n_images == 60 and check.max_logit_difference <= 1e-4
    assert seen == [2] + [3] * 20  # the exporter's example, then the check's batches


def test_the_onnx_file_carries_the_preprocessing(exported):
    folder, _ = exported
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    carried = json.loads(session.get_modelmeta().custom_metadata_map["deployment"])
    assert carried == json.loads((folder / "architecture.json").read_text())["deployment"]


def test_a_graph_that_differs_from_pytorch_fails_and_writes_nothing(exported, tmp_path, monkeypatch):
    folder, _ = exported

    def shifted(self, images):  # the exported graph, not the network it is checked against, is off by 1e-3
        logits = self.network(images) + 1e-3
        return logits, torch.softmax(logits, dim=1)

    monkeypatch.setattr(onnx_export.WithProbabilities, "forward", shifted)
    target = tmp_path / "model.onnx"
    with pytest.raises(OnnxExportError, match=r"differs from PyTorch by up to 0\.001 .*\(allowed 0\.0001\)"):
        export_onnx(folder, folder / "data.npz", target)
    assert list(tmp_path.iterdir()) == []


def test_an_exporter_failure_names_the_model_and_writes_nothing(exported, tmp_path, monkeypatch):
    folder, _ = exported

    def failing_export(*args, **kwargs):
        raise RuntimeError("unsupported operator aten::something\nmore detail")

    monkeypatch.setattr(torch.onnx, "export", failing_export)
    with pytest.raises(OnnxExportError, match=r"could not be exported to a valid ONNX graph \(RuntimeError: "
                                              r"unsupported operator aten::something\); nothing was written"):
        export_onnx(folder, folder / "data.npz", tmp_path / "model.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_script_names_a_missing_model_and_exits_1(exported, tmp_path):
    folder, _ = exported
    result = subprocess.run([sys.executable, str(EXPORT), "--model-dir", str(tmp_path), "--data",
                             str(folder / "data.npz"), "--output", str(tmp_path / "model.onnx")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and f"{tmp_path / 'architecture.json'}: no such file" in result.stderr
    assert not (tmp_path / "model.onnx").exists()
