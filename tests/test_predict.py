"""Predicting new images from a final model folder: a folder of PNGs (one of them broken) and an
.npz split give the final rule's test probabilities, with PyTorch and with onnxruntime; damaged or
mismatched model files give errors that name them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from darts_bohb.deploy.images import ImageInputError, load_image, read_images
from darts_bohb.deploy.model import ModelLoadError, load_final_model
from darts_bohb.deploy.onnx_export import export_onnx
from darts_bohb.deploy.predict import OnnxModelError, predict_images
from darts_bohb.deploy.record import ModelRecordError, normalise, read_model_record
from darts_bohb.runtime import make_runtime
from deploy_fixtures import train_final_model
from hpo_fixtures import one_torch_thread  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREDICT = os.path.join(REPO, "scripts", "predict.py")
PNG_INDICES = (0, 3, 7, 11, 42)
# Outputs of the same fp32 network in other batches (or in onnxruntime) differ by float rounding only.
SAME = 1e-5


@pytest.fixture(scope="module")
def final_folder(request, tmp_path_factory):
    request.getfixturevalue("one_torch_thread")  # one thread before training, restored after the module
    folder = train_final_model(tmp_path_factory.mktemp("final") / "seed3")
    export_onnx(folder, folder / "data.npz", folder / "model.onnx")
    return folder


@pytest.fixture(scope="module")
def png_folder(final_folder, tmp_path_factory):
    """Five test images as PNG (lossless), a broken PNG, and a text file that is not an image."""
    folder = tmp_path_factory.mktemp("pngs")
    images = np.load(final_folder / "data.npz")["test_images"]
    for index in PNG_INDICES:
        Image.fromarray(images[index]).save(folder / f"test_{index:03d}.png")
    (folder / "test_005_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (folder / "notes.txt").write_text("not an image")
    return folder


def final_probabilities(folder, indices=None) -> np.ndarray:
    table = pd.read_csv(folder / "predictions.csv")
    probabilities = table.filter(like="prob_").to_numpy()
    return probabilities if indices is None else probabilities[list(indices)]


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_png_folder_with_a_broken_file_gives_the_final_probabilities_of_the_others(
        final_folder, png_folder, backend, caplog):
    caplog.set_level("WARNING")
    table, skipped = predict_images(final_folder, png_folder, backend)
    assert list(skipped) == ["test_005_broken.png"]
    assert "test_005_broken.png" in caplog.text and "cannot be read as an image" in caplog.text
    assert table["file"].tolist() == [f"test_{index:03d}.png" for index in PNG_INDICES]
    probabilities = table.filter(like="prob_").to_numpy()
    np.testing.assert_allclose(probabilities, final_probabilities(final_folder, PNG_INDICES), atol=SAME, rtol=0)
    assert table["predicted_class"].tolist() == probabilities.argmax(axis=1).tolist()
    assert table["predicted_name"].tolist() == [str(c) for c in probabilities.argmax(axis=1)]


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_npz_split_gives_the_final_rules_predictions(final_folder, backend):
    table, skipped = predict_images(final_folder, final_folder / "data.npz", backend, split="test")
    assert not skipped and table["index"].tolist() == list(range(60))
    # torch: the final rule's own code path and batches, so only the CSV's rounding to 8 digits remains.
    tolerance = 1e-7 if backend == "torch" else SAME
    np.testing.assert_allclose(table.filter(like="prob_").to_numpy(), final_probabilities(final_folder),
                               atol=tolerance, rtol=0)


@pytest.mark.slow
def test_the_onnx_backend_runs_the_script_without_torch(final_folder, png_folder, tmp_path):
    """torch is made unimportable in the child: the ONNX path must not need it."""
    output = tmp_path / "predictions.csv"
    blocker = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = sys.argv[1:]; "
               "runpy.run_path(sys.argv[0], run_name='__main__')")
    result = subprocess.run(
        [sys.executable, "-c", blocker, PREDICT, "--model-dir", str(final_folder), "--images", str(png_folder),
         "--output", str(output), "--backend", "onnx"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "skipped 1 unreadable file(s): test_005_broken.png" in result.stderr
    table = pd.read_csv(output)
    np.testing.assert_allclose(table.filter(like="prob_").to_numpy(), final_probabilities(final_folder, PNG_INDICES),
                               atol=SAME, rtol=0)
    # The same child does fail when it does need torch: the blocker works.
    result = subprocess.run(
        [sys.executable, "-c", blocker, PREDICT, "--model-dir", str(final_folder), "--images", str(png_folder),
         "--output", str(output), "--backend", "torch"], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "torch" in result.stderr


def test_normalisation_on_record_is_bit_for_bit_the_training_one():
    pixels = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    trained = make_runtime("cpu", "fp32").images_to_device(pixels).numpy()
    assert np.array_equal(normalise(pixels.numpy()), trained)
    assert normalise(np.array([0, 255], dtype=np.uint8)).tolist() == [-1.0, 1.0]


def test_folder_images_are_converted_to_the_models_size_and_channels(final_folder, tmp_path):
    record = read_model_record(final_folder / "architecture.json")
    Image.new("L", (40, 56), color=90).save(tmp_path / "grey.png")
    Image.new("RGB", (28, 28), color=(10, 200, 30)).save(tmp_path / "green.jpg", quality=100)
    grey = load_image(tmp_path / "grey.png", record)
    assert grey.shape == (3, 28, 28) and grey.dtype == np.uint8 and (grey == 90).all()
    green = load_image(tmp_path / "green.jpg", record)
    assert np.abs(green.astype(int) - np.array([10, 200, 30])[:, None, None]).max() <= 2


def copy_model(final_folder, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(final_folder, folder)
    return folder


@pytest.mark.slow
def test_a_corrupt_model_pt_is_named(final_folder, tmp_path):
    folder = copy_model(final_folder, tmp_path)
    (folder / "model.pt").write_bytes((folder / "model.pt").read_bytes()[:500])
    with pytest.raises(ModelLoadError, match="not a readable PyTorch state dict") as error:
        load_final_model(folder)
    assert str(folder / "model.pt") in str(error.value)
    # The script ends with exit code 1 and one line naming the file, not a traceback.
    result = subprocess.run([sys.executable, PREDICT, "--model-dir", str(folder), "--images",
                             str(folder / "data.npz"), "--output", str(tmp_path / "out.csv")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and str(folder / "model.pt") in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_an_architecture_json_of_another_network_is_named(final_folder, tmp_path):
    folder = copy_model(final_folder, tmp_path)
    architecture = json.loads((folder / "architecture.json").read_text())
    architecture["cells"][1]["channels"] = 32
    architecture["head"]["widths"] = [16]
    (folder / "architecture.json").write_text(json.dumps(architecture))
    with pytest.raises(ModelLoadError, match="does not hold the weights of the network") as error:
        load_final_model(folder)
    assert str(folder / "model.pt") in str(error.value) and str(folder / "architecture.json") in str(error.value)
    assert "size mismatch" in str(error.value)


@pytest.mark.parametrize("damage, message", [
    (lambda a: a.pop("deployment"), "key 'deployment' is missing"),
    (lambda a: a["deployment"]["output"].pop("task"), "key 'task' is missing"),
    (lambda a: a["deployment"]["preprocessing"].update(channels=1), "'deployment.preprocessing.channels' is 1"),
])
def test_a_deployment_record_that_contradicts_the_network_is_named(final_folder, tmp_path, damage, message):
    folder = copy_model(final_folder, tmp_path)
    architecture = json.loads((folder / "architecture.json").read_text())
    damage(architecture)
    (folder / "architecture.json").write_text(json.dumps(architecture))
    for backend in ("torch", "onnx"):
        with pytest.raises((ModelRecordError, ModelLoadError), match=message) as error:
            predict_images(folder, folder / "data.npz", backend)
        assert str(folder / "architecture.json") in str(error.value)


def test_an_onnx_file_for_other_images_or_missing_is_named(final_folder, tmp_path):
    folder = copy_model(final_folder, tmp_path)
    architecture = json.loads((folder / "architecture.json").read_text())
    architecture["deployment"]["preprocessing"]["image_size"] = [64, 64]
    (folder / "architecture.json").write_text(json.dumps(architecture))
    with pytest.raises(OnnxModelError, match=r"expected an input 'images' of shape \(batch, \[3, 64, 64\]\)"):
        predict_images(folder, folder / "data.npz", "onnx")
    (folder / "model.onnx").unlink()
    with pytest.raises(OnnxModelError, match="model.onnx: no such file"):
        predict_images(folder, folder / "data.npz", "onnx")


def test_unusable_image_inputs_are_named(final_folder, tmp_path):
    record = read_model_record(final_folder / "architecture.json")
    np.savez(tmp_path / "big.npz", test_images=np.zeros((2, 64, 64, 3), np.uint8))
    with pytest.raises(ImageInputError, match="holds 64x64 images with 3 channel"):
        read_images(tmp_path / "big.npz", record)
    with pytest.raises(ImageInputError, match="no array 'val_images'"):
        read_images(tmp_path / "big.npz", record, split="val")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"nothing")
    with pytest.raises(ImageInputError, match="none of its 1 image file"):
        read_images(tmp_path / "broken", record)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageInputError, match="holds no image file"):
        read_images(tmp_path / "empty", record)
