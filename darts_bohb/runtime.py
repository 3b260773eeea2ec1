"""Where and how tensors are computed: device, precision, threads and seeding.

One `Runtime` is resolved per job from the config (`device`, `precision`) and the threads that
Snakemake gave the rule, and every training loop goes through it, so the search, the BOHB trials
and the final training share the same fast path.
"""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")


class RuntimeConfigError(ValueError):
    """`device` or `precision` in the config asks for something this machine cannot do."""


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    autocast_dtype: torch.dtype | None  # None: plain fp32
    channels_last: bool = True

    @property
    def precision(self) -> str:
        return "fp32" if self.autocast_dtype is None else "bf16"

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def images_to_device(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 NCHW batch -> normalised float on the device, in the layout the convolutions like."""
        images = images.to(self.device, non_blocking=True).float().mul_(2.0 / 255.0).sub_(1.0)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def prepare_model(self, model: torch.nn.Module) -> torch.nn.Module:
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def describe(self) -> str:
        return f"device={self.device} precision={self.precision} threads={torch.get_num_threads()}"


def cpu_supports_bf16() -> bool:
    """bf16 pays off on CPUs with native bf16 dot products (AVX-512 BF16 or AMX)."""
    cpu = torch.backends.cpu
    capability = cpu.get_cpu_capability() if hasattr(cpu, "get_cpu_capability") else ""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return "AVX512" in capability and any(probe() for probe in probes if probe is not None)


def resolve_device(choice: str = "auto") -> torch.device:
    if choice not in DEVICES:
        raise RuntimeConfigError(f"device: {choice!r} is not one of {DEVICES}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeConfigError(
            "device: 'cuda' was asked for but no CUDA device is visible "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')!r}); "
            "use device: auto or cpu"
        )
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def resolve_precision(choice: str, device: torch.device) -> torch.dtype | None:
    if choice not in PRECISIONS:
        raise RuntimeConfigError(f"precision: {choice!r} is not one of {PRECISIONS}")
    if choice == "fp32":
        return None
    supported = torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_supports_bf16()
    if choice == "bf16" and not supported:
        raise RuntimeConfigError(f"precision: 'bf16' was asked for but {device} has no fast bf16 support")
    return torch.bfloat16 if supported else None


def make_runtime(device: str = "auto", precision: str = "auto", threads: int | None = None) -> Runtime:
    if threads is not None:
        if threads < 1:
            raise RuntimeConfigError(f"threads: must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    resolved = resolve_device(device)
    return Runtime(device=resolved, autocast_dtype=resolve_precision(precision, resolved))


def seed_everything(seed: int) -> torch.Generator:
    """Seed every global RNG and return a dedicated generator for data order."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
