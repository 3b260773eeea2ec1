"""What the final rule adds for users of its model: the deployment record in architecture.json
and MODEL_CARD.md."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from darts_bohb.deploy.flops import flops_per_image
from darts_bohb.deploy.model_card import model_card_markdown
from darts_bohb.deploy.record import DEPLOYMENT_KEY, deployment_record, medmnist_class_names, medmnist_entry
from darts_bohb.io import write_text
from darts_bohb.network import count_parameters


def architecture_with_record(architecture: Mapping[str, Any], dataset: str | None, image_size: tuple[int, int],
                             task: str, scored_precision: str) -> dict[str, Any]:
    """The incumbent's architecture dict plus its "deployment" entry, as architecture.json holds it."""
    record = deployment_record(dataset, image_size, architecture["in_channels"], task,
                               medmnist_class_names(dataset, architecture["n_classes"]), scored_precision)
    return {**architecture, DEPLOYMENT_KEY: record}


def write_model_card(path: str | Path, method: str, seed: int, model: nn.Module, architecture: Mapping[str, Any],
                     incumbent: Mapping[str, Any], metrics: Mapping[str, Any], train_images: int) -> None:
    """MODEL_CARD.md for the trained `model`; `architecture` is architecture.json's content."""
    deployment = architecture[DEPLOYMENT_KEY]
    image_size = tuple(deployment["preprocessing"]["image_size"])
    write_text(path, model_card_markdown(method, seed, architecture, count_parameters(model),
                                         flops_per_image(model, architecture["in_channels"], image_size),
                                         incumbent, metrics, train_images, medmnist_entry(deployment["dataset"])))
