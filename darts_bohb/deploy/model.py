"""A final model folder loaded into PyTorch: architecture.json rebuilds the network, model.pt
fills it; either file being damaged or the two not matching is an error naming both."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

from darts_bohb.deploy.record import DeployError, ModelRecord, ModelRecordError, read_model_record
from darts_bohb.network import build_network

MODEL_FILE = "model.pt"
ARCHITECTURE_FILE = "architecture.json"


class ModelLoadError(DeployError):
    """model.pt cannot be read, or does not hold the weights of the network architecture.json describes."""


def load_final_model(model_dir: str | Path) -> tuple[nn.Module, ModelRecord]:
    """The trained network in eval mode on the CPU (fp32), and its record."""
    model_dir = Path(model_dir)
    weights_path, architecture_path = model_dir / MODEL_FILE, model_dir / ARCHITECTURE_FILE
    try:
        record = read_model_record(architecture_path)
        network = build_network(record.architecture)
    except ModelRecordError as error:
        raise ModelLoadError(str(error)) from None
    except (KeyError, TypeError, ValueError, AttributeError) as error:  # a hand-edited network description
        raise ModelLoadError(f"{architecture_path}: not a network this package builds ({error!r})") from None
    if not weights_path.is_file():
        raise ModelLoadError(f"{weights_path}: no such file (the final rule writes it beside {ARCHITECTURE_FILE})")
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError, ValueError) as error:
        raise ModelLoadError(f"{weights_path}: not a readable PyTorch state dict ({_first_line(error)})") from None
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ModelLoadError(f"{weights_path}: expected a state dict of tensors, got {type(state).__name__}")
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelLoadError(
            f"{weights_path} does not hold the weights of the network {architecture_path} describes "
            f"(were they copied from different runs?): {_first_line(error, skip_header=True)}") from None
    return network.eval(), record


def _first_line(error: Exception, skip_header: bool = False) -> str:
    """torch's load errors run over many lines; the first (after load_state_dict's header) names the problem."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if skip_header and len(lines) > 1:
        lines = lines[1:]
    return lines[0] if lines else type(error).__name__
