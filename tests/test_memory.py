"""Training steps fit in the job's memory at any image size: the activations per image are measured,
a batch that does not fit is cut into micro-batches whose gradients add up to the whole batch's,
and the default RetinaMNIST run keeps its whole batches. Synthetic data throughout."""

from __future__ import annotations

import math

import pytest
import torch
import yaml

from darts_bohb.darts import DartsSearch
from darts_bohb.data import Split
from darts_bohb.losses import make_loss, make_multi_label_loss
from darts_bohb.memory import (
    PROBE_IMAGES,
    MemoryBudgetError,
    activation_bytes_per_image,
    fitting_micro_batch,
    loss_shares,
    micro_batch_size,
)
from darts_bohb.network import build_network
from darts_bohb.runtime import Runtime, cpu_supports_bf16, make_runtime, seed_everything
from darts_bohb.settings import SearchSettings, from_dict
from darts_bohb.topology import cell_topology
from darts_bohb.training import TrainingSettings, train_model
from hpo_fixtures import one_torch_thread  # noqa: F401 (fixture)
from task_fixtures import small_network

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CONFIG = yaml.safe_load(open("config.yaml"))


def random_split(n: int, size: int, n_classes: int = 5, seed: int = 0) -> Split:
    generator = torch.Generator().manual_seed(seed)
    return Split(torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator),
                 torch.arange(n) % n_classes)


def bytes_per_image(model, split: Split, runtime: Runtime) -> float:
    criterion = make_loss("focal", torch.ones(5))
    images, labels = split.images[:4], split.labels[:4]
    return activation_bytes_per_image(
        model, lambda probe, n: criterion(probe(runtime.images_to_device(images[:n])), labels[:n]), runtime.device)


def test_the_activations_per_image_grow_with_the_pixels():
    runtime = make_runtime("cpu", "fp32")
    model = small_network(3, 5)
    at_28, at_56 = (bytes_per_image(model, random_split(4, size), runtime) for size in (28, 56))
    assert at_28 > 0
    assert 3.5 < at_56 / at_28 < 4.5  # every feature map has 4x the pixels


def test_the_probe_leaves_the_model_and_the_random_stream_as_they_were():
    runtime = make_runtime("cpu", "fp32")
    model = build_network({"in_channels": 3, "n_classes": 5, "head": {"widths": [8], "dropout": 0.5},
                           "cells": [{"design": "plain_conv", "channels": 8, "batch_norm": True, "pool": True}]})
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    bytes_per_image(model, random_split(4, 28), runtime)  # dropout and batch norm run in the probe
    assert torch.equal(torch.rand(4), expected)
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())


def test_a_batch_is_cut_only_when_it_does_not_fit():
    mb = 2**20
    assert micro_batch_size(64, 1 * mb, None, "step") == 64  # no budget: whole batches
    assert micro_batch_size(64, 1 * mb, 128 * mb, "step") == 64  # 2 MB an image at the peak: 64 fit
    assert micro_batch_size(64, 1 * mb, 127 * mb, "step") == 32  # two equal parts
    assert micro_batch_size(100, 1 * mb, 80 * mb, "step") == 34  # 40 fit: three parts of 34, 33, 33
    with pytest.raises(MemoryBudgetError, match=r"step: a step on 2 images needs about 4 MB .* gives training 3 MB; "
                                                r"raise the rule's resources mem_mb"):
        micro_batch_size(64, 1 * mb, 3 * mb, "step")


@pytest.mark.parametrize("criterion, labels", [
    (make_loss("focal", torch.tensor([50.0, 10.0, 3.0]), gamma=2.0, class_weight_exponent=1.0),
     torch.arange(10) % 3),
    (make_loss("ce", torch.tensor([5.0, 5.0, 5.0])), torch.arange(10) % 3),
    (make_multi_label_loss("focal", torch.tensor([4.0, 1.0]), 10, gamma=1.0, class_weight_exponent=0.5),
     (torch.arange(20).reshape(10, 2) % 3 == 0).long()),
])
def test_the_parts_losses_times_their_shares_add_up_to_the_batch_loss(criterion, labels):
    logits = torch.randn(10, 3 if labels.ndim == 1 else 2, generator=torch.Generator().manual_seed(1))
    parts = loss_shares(criterion.normaliser, labels, 4)
    assert [part.stop - part.start for part, _ in parts] == [4, 3, 3]  # near-equal: no part of one image
    total = sum(criterion(logits[part], labels[part]) * share for part, share in parts)
    torch.testing.assert_close(total, criterion(logits, labels))
    assert loss_shares(criterion.normaliser, labels, 10) == [(slice(None), 1.0)]


def test_training_in_micro_batches_takes_the_steps_of_whole_batches(monkeypatch):
    # Without batch norm, only the order of the sums differs between the two.
    architecture = {"in_channels": 3, "n_classes": 5, "head": {"widths": [16], "dropout": 0.0},
                    "cells": [{"design": "plain_conv", "channels": 8, "batch_norm": False, "pool": True}]}
    settings = TrainingSettings(epochs=2, batch_size=32, optimizer="sgd", lr=0.05, weight_decay=1e-4, momentum=0.9,
                                focal_gamma=2.0, class_weight_exponent=0.5, augment=True)
    train = random_split(96, 28)
    runtime = make_runtime("cpu", "fp32")
    per_image = bytes_per_image(build_network(architecture), train, runtime)
    results = {}
    for budget in (None, int(2 * per_image * 8.5)):
        monkeypatch.setattr(Runtime, "training_memory_bytes", lambda self, budget=budget: budget)
        criterion = make_loss("focal", train.class_counts(5), 2.0, 0.5)
        micro = fitting_micro_batch(build_network(architecture), lambda m, x: m(x), criterion, train, 32, runtime, "t")
        seed_everything(0)
        model = build_network(architecture)
        seen = set()  # the batches the network is given, so that a budget train_model ignored would fail
        model.register_forward_pre_hook(lambda module, inputs, seen=seen: seen.add(len(inputs[0])))
        result = train_model(model, train, settings, runtime, seed_everything(1), 5)
        assert seen - set(PROBE_IMAGES) == {micro}  # the probe, on a copy, runs 2 and 4 images
        results[micro] = (result.epoch_losses, model.state_dict())
    assert sorted(results) == [8, 32]
    (whole_losses, whole), (micro_losses, in_parts) = results[32], results[8]
    assert whole_losses == pytest.approx(micro_losses, rel=1e-5)
    for name, tensor in whole.items():
        torch.testing.assert_close(in_parts[name], tensor, rtol=1e-4, atol=1e-6)


def test_a_network_that_cannot_fit_two_images_is_a_clear_error():
    runtime = make_runtime("cpu", "fp32", memory_mb=1)
    settings = TrainingSettings(epochs=1, batch_size=32, optimizer="adam", lr=1e-3, weight_decay=0.0)
    with pytest.raises(MemoryBudgetError, match="a training step: a step on 2 images needs about"):
        train_model(small_network(3, 5), random_split(64, 112), settings, runtime, seed_everything(0), 5)


def search_settings(**changes) -> SearchSettings:
    section = CONFIG["search"] | {"channels": [8, 16], "pool": [True, True], "epochs": 1} | changes
    section["arch"] = section["arch"] | {"warmup_epochs": 0}
    return from_dict(SearchSettings, section, "search")


def test_the_search_cuts_its_batches_when_the_supernet_does_not_fit(monkeypatch):
    train = random_split(128, 28)
    monkeypatch.setattr(Runtime, "training_memory_bytes", lambda self: 60 * 2**20)
    search = DartsSearch(search_settings(batch_size=32), make_runtime("cpu", "fp32"), train, 5, seed=1)
    assert 2 <= search.micro_batch < 32
    row = search.train_epoch(0)
    assert math.isfinite(row["train_loss"]) and math.isfinite(row["arch_loss"])
    with pytest.raises(MemoryBudgetError, match="search.order: 'second' needs whole batches"):
        DartsSearch(search_settings(batch_size=32, order="second"), make_runtime("cpu", "fp32"), train, 5, seed=1)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_default_retinamnist_run_keeps_whole_batches(precision):
    """config.yaml at 28 px: the supernet, and the largest network of the BOHB space (every cell
    the widest, unpooled, of ResNet blocks, the costliest operation) at the largest batch, fit
    the resources of their rules in either precision (fp32 where the CPU has no native bf16), so
    the default run trains exactly as before micro-batches."""
    if precision == "bf16" and not cpu_supports_bf16():
        pytest.skip("this CPU has no native bf16")
    space, resources = CONFIG["hpo"]["space"], CONFIG["resources"]
    train = random_split(8, 28)
    search = DartsSearch(search_settings(channels=CONFIG["search"]["channels"], pool=CONFIG["search"]["pool"]),
                         make_runtime("cpu", precision, memory_mb=resources["search"]["mem_mb"]), train, 5, seed=1)
    assert search.micro_batch == CONFIG["search"]["batch_size"]
    topology = cell_topology(tuple(CONFIG["search"]["kernel_sizes"]))
    cell = {"design": dict.fromkeys(topology.node_names, "resnet_block"), "channels": space["channels"][1],
            "batch_norm": True, "pool": False}
    largest = build_network({"in_channels": 3, "n_classes": 5, "topology": topology.to_dict(),
                             "cells": [cell] * space["cells"][1],
                             "head": {"widths": [space["head_width"][1]] * space["head_layers"][1], "dropout": 0.5}})
    criterion = make_loss("focal", torch.ones(5))
    for rule in ("hpo", "final"):
        runtime = make_runtime("cpu", precision, memory_mb=resources[rule]["mem_mb"])
        batch = max(space["batch_size"])
        assert fitting_micro_batch(largest, lambda m, x: m(x), criterion, train, batch, runtime, rule) == batch
