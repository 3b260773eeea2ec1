"""Where and how tensors are computed: device, precision, threads, seeding and CUDA's numerics.

One `Runtime` is resolved per job from the config's `runtime` section, the threads that Snakemake
gave the rule and its memory, and every training loop goes through it,
so the search, the BOHB trials and the final training share the same fast path.

On CUDA, `make_runtime` also sets PyTorch's process-wide numerics before any kernel runs:
deterministic algorithms (cuDNN and cuBLAS included) unless `deterministic: false`, and TF32
for fp32 convolutions and matrix products only with `tf32: true`. On the CPU these switches
change nothing: a CPU run with the same threads is deterministic anyway, and has no TF32.
"""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

# cuBLAS picks its reduction order per call unless its workspace is fixed; PyTorch raises in
# deterministic mode without one of these settings (CUDA docs, "Results reproducibility").
CUBLAS_DETERMINISTIC_WORKSPACES = (":4096:8", ":16:8")
# Prediction in inference mode keeps only a few feature maps alive at once: a cell's input, its
# six node outputs and their sum. Budgeting that many maps at the widest convolution's width
# and the full image size, in fp32, bounds the memory of one image from above.
PREDICTION_LIVE_MAPS = 8
PREDICTION_CPU_BYTES = 512 * 2**20  # beside the job's mem_mb, which also holds the data and torch
# Of the card's total memory, not of what is free: free memory depends on the other jobs sharing
# the card (README, GPU section), and a batch size that did would change the batch shapes, so
# cuDNN's choice of kernels, so the predictions from run to run. A sixteenth leaves room for them.
PREDICTION_GPU_SHARE = 1 / 16
MAX_PREDICTION_BATCH = 4096
# A training step's activations may take this share of the job's memory (resources mem_mb); the
# rest holds torch itself, the data, the weights and the optimizer's state (memory.py).
TRAINING_CPU_SHARE = 1 / 2
# Of the card's total memory, as PREDICTION_GPU_SHARE and for the same reason: a sixteenth, so
# that the up to 16 jobs the README lets share one card (gpu_slots) fit beside each other.
TRAINING_GPU_SHARE = 1 / 16


class RuntimeConfigError(ValueError):
    """`device`, `precision` or a CUDA switch asks for something this machine cannot do."""


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    autocast_dtype: torch.dtype | None  # None: plain fp32
    channels_last: bool = True
    deterministic: bool = True  # CUDA only: what make_runtime applied
    tf32: bool = False  # CUDA only
    memory_mb: int | None = None  # the job's memory (resources mem_mb); None: whole training batches

    @property
    def precision(self) -> str:
        return "fp32" if self.autocast_dtype is None else "bf16"

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def images_to_device(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 NCHW batch -> normalised float on the device, in the layout the convolutions like."""
        images = self.to_device(images).float().mul_(2.0 / 255.0).sub_(1.0)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """Copy without waiting: a blocking copy inside a training step would stall the GPU's queue."""
        return tensor.to(self.device, non_blocking=True)

    def prepare_model(self, model: torch.nn.Module) -> torch.nn.Module:
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def numerics(self) -> dict[str, Any]:
        """What decides a run's numbers besides settings, seed and threads: resuming a search or
        continuing a BOHB run is only exact when this matches."""
        identity: dict[str, Any] = {"device": self.device.type, "precision": self.precision}
        if self.device.type == "cuda":
            identity |= {"deterministic": self.deterministic, "tf32": self.tf32}
        return identity

    def prediction_batch_size(self, image_shape: tuple[int, ...], widest_channels: int) -> int:
        """Images per prediction batch: as many as the memory budget holds, by image size and the
        network's widest convolution (see PREDICTION_LIVE_MAPS)."""
        *_, height, width = image_shape
        bytes_per_image = height * width * max(widest_channels, image_shape[0]) * 4 * PREDICTION_LIVE_MAPS
        budget = PREDICTION_CPU_BYTES
        if self.device.type == "cuda":
            budget = int(torch.cuda.mem_get_info(self.device)[1] * PREDICTION_GPU_SHARE)
        return max(1, min(MAX_PREDICTION_BATCH, budget // bytes_per_image))

    def training_memory_bytes(self) -> int | None:
        """What a training step's activations may take (memory.py); None sets no bound on the CPU.
        Like the prediction batch, it depends on the config and the card, never on what is free
        now, so the micro-batches, and with them the results, are the same run to run."""
        if self.device.type == "cuda":
            _, total = torch.cuda.mem_get_info(self.device)
            return int(total * TRAINING_GPU_SHARE)
        return None if self.memory_mb is None else int(self.memory_mb * 2**20 * TRAINING_CPU_SHARE)

    def synchronize(self) -> None:
        """Wait for the device's queued work (for timing only; never inside a training step)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def describe(self) -> str:
        described = f"device={self.device} precision={self.precision} threads={torch.get_num_threads()}"
        if self.device.type == "cuda":
            described += (f" gpu={torch.cuda.get_device_name(self.device)!r} deterministic={self.deterministic}"
                          f" tf32={self.tf32}")
        return described


def cpu_supports_bf16() -> bool:
    """bf16 pays off on CPUs with native bf16 dot products (AVX-512 BF16 or AMX)."""
    cpu = torch.backends.cpu
    capability = cpu.get_cpu_capability() if hasattr(cpu, "get_cpu_capability") else ""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return "AVX512" in capability and any(probe() for probe in probes if probe is not None)


def cuda_supports_bf16() -> bool:
    """Native bf16 only (compute capability 8.0 and later): without `including_emulation=False`
    PyTorch also counts cards that merely emulate it (V100, T4), where bf16 is slower than fp32."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # PyTorch before 2.4 counts native support only
        return torch.cuda.is_bf16_supported()


def resolve_device(choice: str = "auto") -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeConfigError(
            "runtime.device: 'cuda' was asked for but no CUDA device is visible "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')!r}); "
            "use runtime.device auto or cpu"
        )
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def resolve_precision(choice: str, device: torch.device) -> torch.dtype | None:
    if choice == "fp32":
        return None
    supported = cuda_supports_bf16() if device.type == "cuda" else cpu_supports_bf16()
    if choice == "bf16" and not supported:
        raise RuntimeConfigError(f"runtime.precision: 'bf16' was asked for but {device} has no native bf16 "
                                 "support (CUDA: compute capability 8.0 or later); use precision auto or fp32")
    return torch.bfloat16 if supported else None


def configure_cuda_numerics(deterministic: bool, tf32: bool) -> None:
    """Set PyTorch's process-wide CUDA numerics; call before the first CUDA kernel of the job.

    deterministic: every op takes a deterministic kernel or raises (none of this package's ops
    raises; README, GPU section), cuDNN autotuning is off, and cuBLAS gets a fixed workspace
    (CUBLAS_WORKSPACE_CONFIG, read when cuBLAS starts). Otherwise cuDNN autotunes its kernels,
    which is faster and not reproducible run to run. tf32: fp32 convolutions and matrix
    products on Ampere and later round their inputs to TF32 (10-bit mantissa).
    """
    if deterministic:
        workspace = os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_DETERMINISTIC_WORKSPACES[0])
        if workspace not in CUBLAS_DETERMINISTIC_WORKSPACES:
            raise RuntimeConfigError(
                f"runtime.deterministic: true needs CUBLAS_WORKSPACE_CONFIG unset or one of "
                f"{CUBLAS_DETERMINISTIC_WORKSPACES}, but the environment sets it to {workspace!r}")
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    # PyTorch 2.9+ has one switch per backend (and rejects reading the old flags once the new ones
    # are set); older versions have only the allow_tf32 flags.
    if hasattr(matmul, "fp32_precision") and hasattr(cudnn, "conv"):
        precision = "tf32" if tf32 else "ieee"
        matmul.fp32_precision = precision
        cudnn.conv.fp32_precision = precision
        cudnn.rnn.fp32_precision = precision
    else:
        matmul.allow_tf32 = tf32
        cudnn.allow_tf32 = tf32


def make_runtime(device: str = "auto", precision: str = "auto", threads: int | None = None,
                 deterministic: bool = True, tf32: bool = False, memory_mb: int | None = None) -> Runtime:
    if threads is not None:
        torch.set_num_threads(threads)
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        configure_cuda_numerics(deterministic, tf32)
    return Runtime(device=resolved, autocast_dtype=resolve_precision(precision, resolved),
                   deterministic=deterministic, tf32=tf32, memory_mb=memory_mb)


def seed_everything(seed: int) -> torch.Generator:
    """Seed every global RNG and return a dedicated generator for data order."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
