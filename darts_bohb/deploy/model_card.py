"""MODEL_CARD.md of a final model: what the network is, what it was trained on and how, its test
scores, and what it is (not) for. Plain text from the final rule's facts; no torch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from darts_bohb.tasks import MULTI_LABEL_TASK

METHOD_DESCRIPTIONS = {
    "nas": "cells sampled from the genotype that the DARTS search found, stacked and tuned by BOHB",
    "random": "cells drawn uniformly at random (the control for the search), stacked and tuned by BOHB",
    "baseline": "plain 3x3 conv cells (the baseline), stacked and tuned by BOHB",
}
TRAINING_KEYS = ("optimizer", "lr", "weight_decay", "momentum", "nesterov", "scheduler", "batch_size",
                 "focal_gamma", "class_weight_exponent", "augment")
SCORE_NAMES = (("accuracy", "accuracy"), ("auc", "AUC"), ("macro_f1", "macro F1"),
               ("balanced_accuracy", "balanced accuracy"))


def model_card_markdown(method: str, seed: int, architecture: Mapping[str, Any], parameters: int, flops: int,
                        incumbent: Mapping[str, Any], metrics: Mapping[str, Any], train_images: int,
                        dataset_info: Mapping[str, Any] | None) -> str:
    """`architecture`, `incumbent` and `metrics` as the final model's architecture.json (with its
    "deployment" entry), the BOHB run's incumbent.json and metrics.json hold them; `dataset_info` is
    the medmnist.INFO entry, None for another data set."""
    deployment = architecture["deployment"]
    preprocessing, output = deployment["preprocessing"], deployment["output"]
    multi_label = output["task"] == MULTI_LABEL_TASK
    kind, kinds = ("label", "Labels") if multi_label else ("class", "Classes")
    height, width = preprocessing["image_size"]
    dataset = deployment["dataset"] or "a custom data set"
    config = incumbent["config"]
    lines = [
        f"# Model card: {method} network, seed {seed}, {dataset} {height}x{width}",
        "",
        f"Written by the final rule of darts-bohb {deployment['package']['version']}. Files beside this card: "
        "`model.pt` (weights), `architecture.json` (the network and its preprocessing), `model.onnx` "
        "(the same network for onnxruntime), `metrics.json` and `predictions.csv` (its test split scores).",
        "",
        "## The network",
        "",
        f"A {method} network: {METHOD_DESCRIPTIONS.get(method, method)}.",
        f"{len(architecture['cells'])} cell(s), then global average pooling and a classifier head; "
        f"{parameters:,} parameters; {flops:,} FLOPs per {height}x{width} image "
        "(convolutions and matrix products, a multiply-add counted as 2; torch.utils.flop_counter).",
        "",
        "| cell | design | channels | batch norm | 2x2 max-pool |",
        "|---|---|---|---|---|",
        *[f"| {index} | {_design(cell['design'])} | {cell['channels']} | {_yes(cell['batch_norm'])} | "
          f"{_yes(cell['pool'])} |" for index, cell in enumerate(architecture["cells"], start=1)],
        "",
        f"Head: hidden layer widths {architecture['head']['widths'] or 'none'}, dropout "
        f"{architecture['head']['dropout']:.3g}; {len(output['class_names'])} outputs ({output['task']}, "
        f"{output['activation']}).",
        "",
        "## Input",
        "",
        f"{preprocessing['channels']} channel(s) ({preprocessing['color_mode']}), {height}x{width} px, "
        f"{preprocessing['layout']} {preprocessing['dtype']}; pixel values 0..255 are mapped to -1..1 by "
        f"`pixel * scale + offset` with scale {preprocessing['scale']:.10g} (2/255) and offset "
        f"{preprocessing['offset']:g}. Resizing: {preprocessing['resize']}. {kinds}: "
        + ", ".join(f"{index} = {name}" for index, name in enumerate(output["class_names"])) + ".",
        "",
        "## Training",
        "",
        f"Trained from scratch for {metrics['epochs']} epochs on the {metrics['trained_on']} split(s) of "
        f"{dataset} ({train_images} images), seed {seed}, with "
        + ("a sigmoid focal loss per label with positive weights." if multi_label else "class-weighted focal loss."),
        f"The configuration is BOHB's incumbent (config {incumbent['config_id']}), chosen by "
        f"{incumbent.get('selection_method', 'the validation split')}: {incumbent['metric']} "
        f"{incumbent['validation_score']:.4f} at {incumbent['budget']} epochs.",
        "Settings: " + ", ".join(f"{key} {config[key]}" for key in TRAINING_KEYS if key in config) + ".",
        "",
        "## Test scores",
        "",
        f"On the {metrics['split']} split: {metrics['n_images']} images, never used for any choice "
        f"(predicted in {deployment['scored_precision']}).",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {label} | {_score(metrics.get(key))} |" for key, label in SCORE_NAMES],
        "",
        f"Accuracy per {kind}: " + ", ".join(f"{name}: {_score(score)}" for name, score
                                           in zip(output["class_names"], metrics["per_class_accuracy"])) + ".",
        "",
        "## Intended use and limits",
        "",
        "- A research artefact: the result of one seed of an architecture and hyperparameter search on a "
        f"{height} px benchmark, for comparing search methods and for experiments with deployment. It is "
        "**not a diagnostic device**, has not been validated clinically, and must not inform decisions "
        "about patients.",
        f"- The images are tiny ({height}x{width} px); fine detail that a clinician would use is gone.",
        "- It has seen one data source only; images from other devices, sites, populations or "
        "preprocessing are out of distribution, and its probabilities are not calibrated for them.",
        f"- The test set is small ({metrics['n_images']} images): the scores above carry sampling "
        "error of several points, and seeds of the same method differ by as much.",
    ]
    if dataset_info is not None:
        lines += ["", "## Data", "", dataset_info.get("description", "").strip(),
                  f"Licence of the data: {dataset_info.get('license', 'see MedMNIST')}."]
    return "\n".join(lines) + "\n"


def _design(design: Any) -> str:
    if isinstance(design, str):
        return "plain 3x3 conv block" if design == "plain_conv" else design
    return ", ".join(f"{node}: {operation}" for node, operation in design.items())


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _score(value: Any) -> str:
    return "undefined" if value is None else f"{value:.4f}"
