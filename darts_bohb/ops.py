"""The five candidate operations of a cell node (every convolution: conv -> batch norm -> ReLU).

`batch_norm=False` drops the norms (BOHB may switch them off per cell); `affine=False` is the
DARTS search setting, where learnable BN scales would blur the comparison of operations.
"""

from __future__ import annotations

from torch import nn

from darts_bohb.topology import OPERATIONS

BOTTLENECK_REDUCTION = 4


def conv_norm(c_in: int, c_out: int, kernel_size: int, batch_norm: bool, affine: bool,
              relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=not batch_norm)
    ]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out, affine=affine))
    if relu:
        layers.append(nn.ReLU(inplace=False))
    return nn.Sequential(*layers)


class Zero(nn.Module):
    """Cuts the edge. Mixed nodes skip it entirely: its output is zero and so is its gradient."""

    def __init__(self, c_out: int):
        super().__init__()
        self.c_out = c_out

    def forward(self, x):
        return x.new_zeros(x.shape[0], self.c_out, *x.shape[2:])


class ResidualBlock(nn.Module):
    """body(x) + shortcut(x), then ReLU: the shape shared by the basic and bottleneck blocks."""

    def __init__(self, body: nn.Module, c_in: int, c_out: int, batch_norm: bool, affine: bool):
        super().__init__()
        self.body = body
        self.shortcut = (nn.Identity() if c_in == c_out
                         else conv_norm(c_in, c_out, 1, batch_norm, affine, relu=False))
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))


def make_operation(name: str, c_in: int, c_out: int, kernel_size: int, batch_norm: bool = True,
                   affine: bool = True) -> nn.Module:
    if name == "identity":  # a skip connection; a 1x1 projection where the channel count changes
        return nn.Identity() if c_in == c_out else conv_norm(c_in, c_out, 1, batch_norm, affine)
    if name == "zero":
        return Zero(c_out)
    if name == "conv_block":
        return conv_norm(c_in, c_out, kernel_size, batch_norm, affine)
    if name == "resnet_block":
        body = nn.Sequential(
            conv_norm(c_in, c_out, kernel_size, batch_norm, affine),
            conv_norm(c_out, c_out, kernel_size, batch_norm, affine, relu=False),
        )
    elif name == "resnet_bottleneck":
        width = max(1, c_out // BOTTLENECK_REDUCTION)
        body = nn.Sequential(
            conv_norm(c_in, width, 1, batch_norm, affine),
            conv_norm(width, width, kernel_size, batch_norm, affine),
            conv_norm(width, c_out, 1, batch_norm, affine, relu=False),
        )
    else:
        raise ValueError(f"unknown operation {name!r}; expected one of {OPERATIONS}")
    return ResidualBlock(body, c_in, c_out, batch_norm, affine)
