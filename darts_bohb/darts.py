"""The DARTS search: alternating α and weight steps on two halves of the train split.

Per step (DARTS order) α takes an Adam step on a batch of the α half, then the weights take an
SGD step on a batch of the weights half. First order uses ∇_α L_α(w, α); second order the
unrolled gradient of Liu et al. (2019). A surrogate skip β·skip(x) decays over the planned
epochs (DARTS-), and the search stops early once too many nodes prefer identity.

After every finished epoch the whole state goes atomically to the state folder; a rerun with
the same fingerprint (settings, seed, data MD5, threads, precision, package source) resumes from
it and ends with exactly the α of an uninterrupted run. The folder is removed once the outputs
are written, so a job that completed and is run again (forced, or changed inputs) starts over.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch.func import functional_call

from darts_bohb import source_hash
from darts_bohb.data import Split, dataset_spec, iterate_batches, load_splits, md5sum
from darts_bohb.io import atomic_path, write_csv, write_json
from darts_bohb.losses import loss_for_split
from darts_bohb.memory import MemoryBudgetError, fitting_micro_batch, loss_shares
from darts_bohb.ops import OPERATIONS
from darts_bohb.runtime import Runtime, seed_everything
from darts_bohb.search_space import SuperNet
from darts_bohb.settings import EpochSize, SearchSettings
from darts_bohb.training import scaled

LOG = logging.getLogger(__name__)
STATE_FILE = "state.pt"
# Finite-difference step of the Hessian-vector product, relative to the vector's norm (DARTS).
HESSIAN_STEP = 0.01


def beta_at(epoch: int, epochs: int, beta0: float) -> float:
    """β of epoch e (0-based) of E planned: β_e = beta0 · (1 − e / max(E − 1, 1)).

    The first epoch uses beta0 and the last planned one 0, so the final α are learnt without
    the surrogate skip, as the networks built from them will be; a 1-epoch search uses beta0.
    """
    return beta0 * (1.0 - epoch / max(epochs - 1, 1))


def skip_threshold(settings: SearchSettings) -> float:
    """The probability above which identity makes a node a skip: early_stopping.skip_ratio times
    the uniform probability of the operations searched, so that it means as much with Zero in the
    softmax (five operations) as without (four)."""
    searched = len(OPERATIONS) - (0 if settings.include_zero else 1)
    return settings.early_stopping.skip_ratio / searched


def skip_nodes(probabilities: torch.Tensor, node_names: tuple[str, ...], threshold: float,
               counted: tuple[str, ...] | None = None) -> list[str]:
    """Nodes whose most probable operation is identity, with a probability above `threshold`;
    only those in `counted` where it is given."""
    identity = OPERATIONS.index("identity")
    return [name for name, row in zip(node_names, probabilities)
            if int(row.argmax()) == identity and float(row[identity]) > threshold
            and (counted is None or name in counted)]


def early_stop_reason(skip_counts: list[int], nodes: list[str], settings: SearchSettings) -> str | None:
    """Why the search stops after the epoch of `nodes`, or None: a stop needs max_skips skip nodes in
    each of the last `patience` epochs (`skip_counts`, one per epoch so far), so that one α epoch's
    noise cannot end a search."""
    rule = settings.early_stopping
    recent = skip_counts[-rule.patience:]
    if not rule.enabled or len(recent) < rule.patience or min(recent) < rule.max_skips:
        return None
    return (f"early stop after epoch {len(skip_counts)}: nodes {', '.join(nodes)} prefer identity "
            f"(p > {skip_threshold(settings):.3f}, {rule.skip_ratio} times uniform) for {rule.patience} epoch(s), "
            f"max_skips {rule.max_skips}")


def stratified_halves(labels: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Split indices into two halves with (almost) the class proportions of `labels`.

    Each class is shuffled, the classes are laid end to end and the positions alternate between
    the halves, so every class and the whole split differ by at most one between the halves.
    Multi-label labels (N, L) have no one class per image: their halves are a random split.
    """
    if labels.ndim == 2:
        order = torch.randperm(len(labels), generator=generator)
        return order[0::2].sort().values, order[1::2].sort().values
    order = torch.cat([
        members[torch.randperm(len(members), generator=generator)]
        for members in (torch.nonzero(labels == c).flatten() for c in torch.unique(labels))
    ])
    return order[0::2].sort().values, order[1::2].sort().values


def unrolled_alpha_gradient(model: SuperNet, loss_fn: torch.nn.Module, train_batch, arch_batch,
                            beta: float, xi: float, weight_optimizer: torch.optim.SGD,
                            runtime: Runtime, hessian_step: float = HESSIAN_STEP
                            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """∇_α L_α(w', α) − ξ·∇²_{α,w} L_w(w, α)·∇_{w'} L_α(w', α), with the virtual weights
    w' = w − ξ·(momentum·buffer + ∇_w L_w(w, α) + weight_decay·w), i.e. the SGD step the weights
    are about to take. The Hessian-vector product is a central difference of ∇_α L_w at
    w ± ε·v, ε = hessian_step/‖v‖ (DARTS: 0.01); those two gradients are taken in fp32, because
    their difference is far below bf16's resolution. Returns (gradient, α loss, α logits).

    Weights unused at this β (the skip projections once β = 0) get zero gradients."""
    names = [name for name, _ in model.named_parameters() if name != "alpha"]
    weights = [model.get_parameter(name) for name in names]
    group = weight_optimizer.param_groups[0]
    train_images, train_labels = train_batch
    arch_images, arch_labels = arch_batch

    with runtime.autocast():
        train_loss = loss_fn(model(train_images, beta), train_labels)
    train_grads = torch.autograd.grad(train_loss, weights, materialize_grads=True)
    virtual = {}
    for name, w, g in zip(names, weights, train_grads):
        buffer = weight_optimizer.state.get(w, {}).get("momentum_buffer")
        step = g + group["weight_decay"] * w.detach()
        if buffer is not None:
            step = step + group["momentum"] * buffer
        virtual[name] = (w.detach() - xi * step).requires_grad_(True)

    with runtime.autocast():
        arch_logits = functional_call(model, virtual, (arch_images, beta))
        arch_loss = loss_fn(arch_logits, arch_labels)
    alpha_grad, *vector = torch.autograd.grad(arch_loss, [model.alpha, *virtual.values()],
                                              materialize_grads=True)
    eps = hessian_step / torch.cat([v.flatten() for v in vector]).norm()

    def alpha_grad_at(sign: float) -> torch.Tensor:
        shifted = {name: w.detach() + sign * eps * v for name, w, v in zip(names, weights, vector)}
        loss = loss_fn(functional_call(model, shifted, (train_images, beta)), train_labels)
        return torch.autograd.grad(loss, [model.alpha])[0]

    hessian_vector = (alpha_grad_at(1.0) - alpha_grad_at(-1.0)) / (2 * eps)
    return alpha_grad - xi * hessian_vector, arch_loss.detach(), arch_logits.detach()


class DartsSearch:
    """The supernet, both optimizers, the weights' schedule and the two data halves."""

    def __init__(self, settings: SearchSettings, runtime: Runtime, train: Split, n_classes: int, seed: int,
                 epoch_scale: float = 1.0):
        self.settings = settings
        self.epoch_scale = epoch_scale  # each half draws this many times its images an epoch (EpochSize)
        self.runtime = runtime
        self.data_order = seed_everything(seed)
        weights_half, arch_half = stratified_halves(train.labels, self.data_order)
        self.weights_half, self.arch_half = train.subset(weights_half), train.subset(arch_half)
        model = SuperNet(train.images.shape[1], n_classes, settings.channels, settings.pool,
                         settings.kernel_sizes, settings.surrogate_skip.mode, include_zero=settings.include_zero)
        self.model = runtime.prepare_model(model)
        self.weights = self.model.weight_parameters()
        self.weight_optimizer = torch.optim.SGD(
            self.weights, lr=settings.weights.lr, momentum=settings.weights.momentum,
            weight_decay=settings.weights.weight_decay, nesterov=False)
        self.arch_optimizer = torch.optim.Adam(
            [self.model.alpha], lr=settings.arch.lr, betas=(settings.arch.beta1, settings.arch.beta2),
            weight_decay=settings.arch.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.weight_optimizer, T_max=settings.epochs, eta_min=settings.weights.lr_min)
        # Class weights from the whole train split: both halves are stratified, so they share
        # its class proportions, and one loss serves both steps (multi-label: positive weights
        # per label, over random halves).
        loss = settings.loss
        self.loss_fn = loss_for_split(loss.name, train, n_classes, loss.gamma,
                                      loss.class_weight_exponent).to(runtime.device)
        # β at its largest: the surrogate skip's projections add activations (memory.py).
        beta0 = settings.surrogate_skip.beta0 if settings.surrogate_skip.mode != "none" else 0.0
        self.micro_batch = fitting_micro_batch(
            self.model, lambda probe, inputs: probe(inputs, beta0), self.loss_fn, self.weights_half,
            settings.batch_size, runtime, "search: a supernet step")
        if settings.order == "second" and self.micro_batch < settings.batch_size:
            raise MemoryBudgetError(
                f"search.order: 'second' needs whole batches of search.batch_size {settings.batch_size} images, but "
                f"the job's memory holds {self.micro_batch} at a time; use order: first (micro-batches), a smaller "
                "batch_size, or raise resources.search.mem_mb")

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over both halves (0-based `epoch`); returns the row of epochs.csv."""
        started = time.perf_counter()
        skip = self.settings.surrogate_skip
        # Without a surrogate skip there is no β: the epochs.csv and the log say 0, not a decay.
        beta = 0.0 if skip.mode == "none" else beta_at(epoch, self.settings.epochs, skip.beta0)
        lr = self.weight_optimizer.param_groups[0]["lr"]
        self.model.train()
        # loss sums and correct counts, kept on the device: no host sync inside the loop
        totals = torch.zeros(4, device=self.runtime.device)
        batches = zip(*(iterate_batches(half, self.settings.batch_size, self.data_order,
                                        n_images=scaled(len(half), self.epoch_scale))
                        for half in (self.weights_half, self.arch_half)))
        n_train = n_arch = 0
        for (w_images, w_labels), (a_images, a_labels) in batches:
            train_batch = (self.runtime.images_to_device(w_images), self.runtime.to_device(w_labels))
            arch_batch = (self.runtime.images_to_device(a_images), self.runtime.to_device(a_labels))
            # Warm-up: α would follow gradients of untrained weights, so it only watches its half.
            if epoch < self.settings.arch.warmup_epochs:
                with torch.no_grad(), self.runtime.autocast():
                    logits = self.model(arch_batch[0], beta)
                    loss = self.loss_fn(logits, arch_batch[1])
                totals[2:] += _batch_totals(loss, logits, arch_batch[1], len(a_labels))
            else:
                totals[2:] += self._arch_step(arch_batch, train_batch, beta)
            totals[:2] += self._weight_step(train_batch, beta)
            n_train, n_arch = n_train + len(w_labels), n_arch + len(a_labels)
        self.scheduler.step()
        train_loss, train_correct, arch_loss, arch_correct = totals.tolist()
        return {
            "epoch": epoch + 1,
            "train_loss": train_loss / n_train, "train_acc": train_correct / n_train,
            "arch_loss": arch_loss / n_arch, "arch_acc": arch_correct / n_arch,
            "beta": beta, "lr": lr, "seconds": time.perf_counter() - started,
        }

    def _arch_step(self, arch_batch, train_batch, beta: float) -> torch.Tensor:
        images, labels = arch_batch
        if self.settings.order == "second":
            xi = self.weight_optimizer.param_groups[0]["lr"]
            grad, loss, logits = unrolled_alpha_gradient(
                self.model, self.loss_fn, train_batch, arch_batch, beta, xi, self.weight_optimizer, self.runtime)
            totals = _batch_totals(loss, logits, labels, len(labels))
        else:
            grad, totals = None, torch.zeros(2, device=self.runtime.device)
            for part, share in loss_shares(self.loss_fn.normaliser, labels, self.micro_batch):
                with self.runtime.autocast():
                    logits = self.model(images[part], beta)
                    loss = self.loss_fn(logits, labels[part]) * share
                # Only α's gradient: autograd then computes no weight gradient at all.
                (part_grad,) = torch.autograd.grad(loss, [self.model.alpha])
                grad = part_grad if grad is None else grad + part_grad
                totals += _batch_totals(loss, logits, labels[part], len(labels))
        self.model.alpha.grad = grad
        self.arch_optimizer.step()
        return totals

    def _weight_step(self, train_batch, beta: float) -> torch.Tensor:
        images, labels = train_batch
        self.weight_optimizer.zero_grad(set_to_none=True)
        totals = torch.zeros(2, device=self.runtime.device)
        for part, share in loss_shares(self.loss_fn.normaliser, labels, self.micro_batch):
            with self.runtime.autocast():
                logits = self.model(images[part], beta)
                loss = self.loss_fn(logits, labels[part]) * share
            loss.backward(inputs=self.weights)  # no gradient for α
            totals += _batch_totals(loss, logits, labels[part], len(labels))
        torch.nn.utils.clip_grad_norm_(self.weights, self.settings.weights.grad_clip)
        self.weight_optimizer.step()
        return totals

    def alpha_rows(self, epoch: int) -> list[dict[str, Any]]:
        """The long-form rows of alphas.csv for the current α."""
        alpha = self.model.alpha.detach().float().cpu()
        probabilities = self.model.probabilities().cpu()
        return [
            {"epoch": epoch, "node": node.name, "kernel_size": node.kernel_size, "operation": op,
             "alpha": float(alpha[i, j]), "probability": float(probabilities[i, j])}
            for i, node in enumerate(self.model.topology.nodes)
            for j, op in enumerate(OPERATIONS)
        ]

    def skip_nodes(self) -> list[str]:
        rule = self.settings.early_stopping
        counted = self.model.parameter_free_skip_nodes() if rule.parameter_free_only else None
        return skip_nodes(self.model.probabilities(), self.model.topology.node_names, skip_threshold(self.settings),
                          counted)

    def state_dict(self) -> dict[str, Any]:
        """What a resumed search needs; it draws from no RNG but torch's and the data order's."""
        return {
            "model": self.model.state_dict(),
            "weight_optimizer": self.weight_optimizer.state_dict(),
            "arch_optimizer": self.arch_optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "data_order": self.data_order.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.weight_optimizer.load_state_dict(state["weight_optimizer"])
        self.arch_optimizer.load_state_dict(state["arch_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        self.data_order.set_state(state["data_order"])


def _batch_totals(loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor,
                  batch_images: int) -> torch.Tensor:
    """The loss times the images of its batch, and the correct images of `labels`; for multi-label
    labels, the share of labels right per image (sigmoid > 0.5, medmnist's multi-label ACC),
    summed. For a micro-batch, `loss` is its share of the batch's loss, so the parts' totals add
    up to the batch's."""
    if labels.ndim == 2:
        correct = ((logits.detach() > 0) == labels.bool()).float().mean(dim=1).sum()
        return torch.stack([loss.detach().float() * batch_images, correct])
    correct = (logits.detach().argmax(dim=1) == labels).sum()
    return torch.stack([loss.detach().float() * batch_images, correct.float()])


@dataclass
class SearchResult:
    alphas: pd.DataFrame
    epochs: pd.DataFrame
    summary: dict[str, Any]


def fingerprint(settings: SearchSettings, seed: int, dataset: str, size: int, data_md5: str,
                runtime: Runtime, micro_batch: int, epoch_scale: float = 1.0) -> str:
    """What must match for a saved state to be resumed: anything that changes the α."""
    identity = {
        "settings": settings.to_dict(), "seed": seed, "epoch_scale": epoch_scale,
        "dataset": dataset, "size": size, "data_md5": data_md5, **runtime.numerics(),
        "threads": torch.get_num_threads(),
        "source_sha256": source_hash.package_source_sha256(),
        # Where batches are cut (memory.py), not the memory: more memory that cuts nothing resumes.
        "micro_batch": micro_batch,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def load_state(state_dir: Path, expected: str) -> dict[str, Any] | None:
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    try:
        state = torch.load(path, weights_only=True)
    except Exception as error:  # a state we cannot read is only a lost shortcut
        LOG.warning("ignoring unreadable state %s (%s); starting fresh", path, error)
        return None
    if state.get("fingerprint") != expected:
        LOG.warning("state in %s belongs to other settings, seed, data, threads, precision, micro-batches (the "
                    "job's memory) or other package source (darts_bohb/*.py changed); starting fresh", state_dir)
        return None
    return state


def run_search(data_path: str | Path, seed: int, dataset: str, size: int, settings: SearchSettings,
               runtime: Runtime, state_dir: str | Path, task: str | None = None,
               epoch: EpochSize | None = None) -> SearchResult:
    """Search (or resume), epoch by epoch, until the planned epochs or an early stop."""
    state_dir = Path(state_dir)
    spec = dataset_spec(dataset, size, task, data_path)
    data_md5 = md5sum(data_path)  # resumes only on the same data (the download checked the file)
    train = load_splits(data_path, ("train",))["train"]

    LOG.info("runtime: %s", runtime.describe())
    LOG.info("settings: %s", json.dumps(settings.to_dict(), sort_keys=True))
    search = DartsSearch(settings, runtime, train, spec.n_classes, seed,
                         1.0 if epoch is None else epoch.scale(len(train)))
    LOG.info("data: %s (MD5 %s): %d train images, %d for the weights and %d for α",
             data_path, data_md5, len(train), len(search.weights_half), len(search.arch_half))

    key = fingerprint(settings, seed, dataset, size, data_md5, runtime, search.micro_batch, search.epoch_scale)
    state = load_state(state_dir, key)
    if state is None:
        resumed_from, alpha_rows, epoch_rows, stop_reason = None, search.alpha_rows(0), [], None
    else:
        search.load_state_dict(state)
        resumed_from, alpha_rows, epoch_rows, stop_reason = (
            len(state["epoch_rows"]), state["alpha_rows"], state["epoch_rows"], state["stop_reason"])
        LOG.info("resuming from epoch %d (state in %s)", resumed_from, state_dir)

    started = time.perf_counter()
    epochs = settings.epochs
    while len(epoch_rows) < epochs and stop_reason is None:
        epoch = len(epoch_rows)
        row = search.train_epoch(epoch)
        nodes = search.skip_nodes()
        row["skip_count"] = len(nodes)
        epoch_rows.append(row)
        alpha_rows.extend(search.alpha_rows(epoch + 1))
        stop_reason = early_stop_reason([row["skip_count"] for row in epoch_rows], nodes, settings)
        with atomic_path(state_dir / STATE_FILE) as tmp:
            torch.save({"fingerprint": key, "alpha_rows": alpha_rows, "epoch_rows": epoch_rows,
                        "stop_reason": stop_reason, **search.state_dict()}, tmp)
        remaining = (epochs - row["epoch"]) * sum(r["seconds"] for r in epoch_rows) / len(epoch_rows)
        LOG.info("epoch %d/%d  train loss %.4f acc %.3f  arch loss %.4f acc %.3f  beta %.3f  skips %d  "
                 "lr %.5f  %.1f s  elapsed %.0f s  ETA %.0f s (if not stopped early)",
                 row["epoch"], epochs, row["train_loss"], row["train_acc"], row["arch_loss"], row["arch_acc"],
                 row["beta"], row["skip_count"], row["lr"], row["seconds"], time.perf_counter() - started, remaining)

    epochs_run = len(epoch_rows)
    stopped_early = stop_reason is not None
    stop_reason = stop_reason or f"completed {epochs_run} of {epochs} epochs"
    LOG.info("%s", stop_reason)
    summary = {
        "dataset": dataset, "size": size, "seed": seed, "epochs_planned": epochs, "epochs_run": epochs_run,
        "alpha_epochs_run": max(epochs_run - settings.arch.warmup_epochs, 0),
        "skip_threshold": skip_threshold(settings), "epoch_scale": search.epoch_scale,
        "stopped_early": stopped_early, "stop_reason": stop_reason, "resumed_from_epoch": resumed_from,
        "runtime": {**runtime.numerics(), "device": str(runtime.device), "threads": torch.get_num_threads()},
        "seconds": sum(row["seconds"] for row in epoch_rows),
        "settings": settings.to_dict(),
    }
    columns = ["epoch", "train_loss", "train_acc", "arch_loss", "arch_acc", "beta", "skip_count", "lr", "seconds"]
    return SearchResult(alphas=pd.DataFrame(alpha_rows), epochs=pd.DataFrame(epoch_rows, columns=columns),
                        summary=summary)


def search_to_files(data_path: str | Path, seed: int, dataset: str, size: int, settings: SearchSettings,
                    runtime: Runtime, state_dir: str | Path, alphas_path: str | Path, epochs_path: str | Path,
                    summary_path: str | Path, task: str | None = None,
                    epoch: EpochSize | None = None) -> SearchResult:
    """Run the search, write alphas.csv, epochs.csv and search.json, then drop the state."""
    result = run_search(data_path, seed, dataset, size, settings, runtime, state_dir, task, epoch)
    write_csv(alphas_path, result.alphas)
    write_csv(epochs_path, result.epochs)
    write_json(summary_path, result.summary)
    shutil.rmtree(state_dir, ignore_errors=True)
    return result
