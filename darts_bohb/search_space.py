"""The differentiable search space: mixed nodes, search cells and the supernet that chains them.

Every node position of the cell has one row of architecture weights α, shared by all cells, so
α has shape [nodes, operations] = [6, 5] and describes one cell design. A mixed node returns
Σ_i softmax(α)_i · op_i(x) plus a surrogate skip β·skip(x) (DARTS-), where β is set by the
search loop.

The operations are the very modules of `ops.make_operation` (batch norm without affine
parameters, as in DARTS). By default a node does not call them one by one but reads their
weights into fewer, wider convolutions: the k×k convolutions of the conv block and of the
ResNet block's first layer read the same input, and so do all the 1×1 projections. Batch norm
works per channel, so normalising the concatenated channels is the same function, and each
operation's weight becomes the scale of its last batch norm instead of a separate product. The
Zero operation is not computed at all, since its term and its gradient are exactly zero (α_zero
still gets its gradient through the softmax). `fused=False` calls every module, Zero included:
the reference the fused path is tested against, and the plain baseline of the benchmark.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from darts_bohb.ops import OPERATIONS, conv_norm, make_operation
from darts_bohb.topology import CellTopology, cell_topology, run_cell

ALPHA_INIT_SCALE = 1e-3  # DARTS: small random α, so every operation starts almost equally likely


class MixedNode(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel_size: int, skip_mode: str, fused: bool = True):
        super().__init__()
        self.c_out = c_out
        self.kernel_size = kernel_size
        self.skip_mode = skip_mode
        self.fused = fused
        self.ops = nn.ModuleDict({
            name: make_operation(name, c_in, c_out, kernel_size, batch_norm=True, affine=False)
            for name in OPERATIONS
        })
        # The surrogate skip has a projection of its own rather than the identity candidate's:
        # shared, it would train that candidate with weight p_identity + β instead of
        # p_identity, the head start that DARTS- takes away from skip connections.
        self.skip: nn.Module | None = None
        if skip_mode != "none":
            self.skip = (nn.Identity() if c_in == c_out
                         else conv_norm(c_in, c_out, 1, batch_norm=True, affine=False, relu=False))
        _use_batch_statistics(self)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, beta: float) -> torch.Tensor:
        """weights: the softmax of this node's α row, in `OPERATIONS` order; beta: β >= 0."""
        use_skip = self.skip is not None and beta > 0
        if self.fused:
            return self._fused_forward(x, weights, beta if use_skip else 0.0)
        mixed = sum(w * op(x) for w, op in zip(weights, self.ops.values()))
        if not use_skip:
            return mixed
        if self.skip_mode == "blend":
            return (1.0 - beta) * mixed + beta * self.skip(x)
        return mixed + beta * self.skip(x)

    def _fused_forward(self, x: torch.Tensor, weights: torch.Tensor, beta: float) -> torch.Tensor:
        """The module path's function with fewer, wider convolutions and no Zero. Each
        operation's weight becomes the scale of its last batch norm, since w·relu(z) = relu(w·z)
        for w >= 0, and a residual block's w·relu(body + shortcut) = relu(w·body + w·shortcut)."""
        if self.skip_mode == "blend":
            weights = (1.0 - beta) * weights
        w_identity, _, w_conv, w_basic, w_bottleneck = weights.unbind(0)
        # Filled on the device: new_tensor(beta) would copy from the host and wait for the GPU.
        one, w_skip = weights.new_ones(()), weights.new_full((), beta)
        conv, basic, bottleneck = (self.ops[name] for name in OPERATIONS[2:])
        c, padding = self.c_out, self.kernel_size // 2

        # k×k on the node input: the conv block (scaled) and the basic block's first layer.
        kxk = _conv_bn(x, torch.cat([conv[0].weight, basic.body[0][0].weight]), padding,
                       scale=torch.cat([w_conv.expand(c), one.expand(c)])).relu_()
        conv_out, basic_hidden = _split_channels(kxk, [c, c])

        # 1×1 on the node input: every projection, scaled by the weight of the operation it feeds.
        projections = self._projections(beta > 0)
        feeds = {"identity": w_identity, "bottleneck_reduce": one, "basic_shortcut": w_basic,
                 "bottleneck_shortcut": w_bottleneck, "skip": w_skip}
        projected = _conv_bn(x, torch.cat([p.weight for p in projections.values()]), 0,
                             scale=torch.cat([feeds[name].expand(p.out_channels) for name, p in projections.items()]))
        parts = dict(zip(projections, _split_channels(projected, [p.out_channels for p in projections.values()])))

        hidden = _conv_bn(F.relu(parts["bottleneck_reduce"]), bottleneck.body[1][0].weight, padding).relu_()
        basic_body = _conv_bn(basic_hidden, basic.body[1][0].weight, padding, scale=w_basic.expand(c))
        bottleneck_body = _conv_bn(hidden, bottleneck.body[2][0].weight, 0, scale=w_bottleneck.expand(c))
        if "identity" not in parts:  # same channel count: identity, shortcuts and skip are x itself
            basic_out = torch.addcmul(basic_body, x, w_basic).relu_()
            bottleneck_out = torch.addcmul(bottleneck_body, x, w_bottleneck).relu_()
            return torch.addcmul(conv_out + basic_out + bottleneck_out, x, w_identity + w_skip)
        mixed = (F.relu(parts["identity"]) + conv_out + (basic_body + parts["basic_shortcut"]).relu_()
                 + (bottleneck_body + parts["bottleneck_shortcut"]).relu_())
        return mixed + parts["skip"] if "skip" in parts else mixed

    def _projections(self, use_skip: bool) -> dict[str, nn.Conv2d]:
        """The 1×1 convolutions that read the node input (shortcuts exist only when the
        channel count changes; otherwise they are the identity)."""
        basic, bottleneck = self.ops["resnet_block"], self.ops["resnet_bottleneck"]
        convs = {"bottleneck_reduce": bottleneck.body[0][0]}
        if not isinstance(self.ops["identity"], nn.Identity):
            convs |= {"identity": self.ops["identity"][0], "basic_shortcut": basic.shortcut[0],
                      "bottleneck_shortcut": bottleneck.shortcut[0]}
            if use_skip:
                convs["skip"] = self.skip[0]
        return convs


def _conv_bn(x: torch.Tensor, weight: torch.Tensor, padding: int, scale: torch.Tensor | None = None) -> torch.Tensor:
    """Bias-free convolution, then batch norm with the batch's statistics, times `scale`."""
    if scale is not None:
        # Dense, never an expanded view: torch 2.13's CPU batch-norm backward returns garbage
        # for a stride-0 weight when input and gradient are channels_last.
        scale = scale.contiguous()
    return F.batch_norm(F.conv2d(x, weight, padding=padding), None, None, weight=scale, training=True)


def _split_channels(y: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    """Channel groups of `y`, each copied into a dense tensor of `y`'s layout: the convolutions
    and element-wise kernels that read them are faster on dense tensors than on strided views,
    by more than the copies cost (about 4% of a search step, measured)."""
    layout = torch.channels_last if y.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    return [part.contiguous(memory_format=layout) for part in y.split(sizes, dim=1)]


class SearchCell(nn.Module):
    def __init__(self, c_in: int, c_out: int, topology: CellTopology, skip_mode: str, fused: bool = True):
        super().__init__()
        self.topology = topology
        self.nodes = nn.ModuleDict({
            node.name: MixedNode(c_in if node.first_stage else c_out, c_out, node.kernel_size, skip_mode, fused)
            for node in topology.nodes
        })

    def forward(self, x: torch.Tensor, weights: torch.Tensor, beta: float) -> torch.Tensor:
        """weights: [nodes, operations], one softmax row per node in topology order."""
        rows = dict(zip(self.topology.node_names, weights.unbind(0)))
        modules: dict[str, Callable] = {
            name: (lambda value, name=name: self.nodes[name](value, rows[name], beta))
            for name in self.topology.node_names
        }
        return run_cell(self.topology, modules, x)


class SuperNet(nn.Module):
    """Cells (each optionally followed by a 2×2 max-pool), global average pooling, a linear head.

    The first cell reads the image channels directly: a stem would run every first-stage
    convolution of that cell at full resolution on 32 channels instead of 3, for no gain the
    search needs.
    """

    def __init__(self, in_channels: int, n_classes: int, channels: tuple[int, ...],
                 pool: tuple[bool, ...], kernel_sizes: tuple[int, ...], skip_mode: str,
                 fused: bool = True, include_zero: bool = True):
        super().__init__()
        self.topology = cell_topology(tuple(kernel_sizes))
        self.pool = tuple(pool)
        widths = (in_channels, *channels)
        self.cells = nn.ModuleList(
            SearchCell(c_in, c_out, self.topology, skip_mode, fused) for c_in, c_out in zip(widths, widths[1:])
        )
        self.classifier = nn.Linear(channels[-1], n_classes)
        self.alpha = nn.Parameter(ALPHA_INIT_SCALE * torch.randn(len(self.topology.nodes), len(OPERATIONS)))
        # ZeroLess search: Zero's weight is underdetermined (behind batch norm it only rescales a
        # node), so it can soak up α's movement; -inf keeps it out of the softmax, probability 0.
        excluded = None
        if not include_zero:
            excluded = torch.zeros(len(OPERATIONS))
            excluded[OPERATIONS.index("zero")] = float("-inf")
        self.register_buffer("excluded", excluded, persistent=False)

    def operation_weights(self, alpha: torch.Tensor) -> torch.Tensor:
        """softmax(α) per node, over the operations in the search."""
        return F.softmax(alpha if self.excluded is None else alpha + self.excluded, dim=-1)

    def forward(self, x: torch.Tensor, beta: float = 0.0) -> torch.Tensor:
        weights = self.operation_weights(self.alpha)
        for cell, pool in zip(self.cells, self.pool):
            x = cell(x, weights, beta)
            if pool:
                x = F.max_pool2d(x, 2)
        return self.classifier(x.mean(dim=(2, 3)))

    def probabilities(self) -> torch.Tensor:
        return self.operation_weights(self.alpha.detach().float())

    def weight_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if name != "alpha"]

    def parameter_free_skip_nodes(self) -> tuple[str, ...]:
        """Nodes whose identity candidate is a true skip (no 1×1 projection) in some cell: the
        skip connections whose takeover makes a network shallow (DARTS+)."""
        return tuple(name for name in self.topology.node_names
                     if any(isinstance(cell.nodes[name].ops["identity"], nn.Identity) for cell in self.cells))


def _use_batch_statistics(model: nn.Module) -> None:
    """Search-time batch norm always normalises with the batch's statistics, as DARTS does in
    training; no running averages are kept, so the fused and the module path are one function."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.track_running_stats = False
            module.running_mean = module.running_var = module.num_batches_tracked = None
