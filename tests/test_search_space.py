"""The supernet: shapes, one α shared by all cells, the fused path against the plain sum over
all five operations, the surrogate skip, and batch norm with batch statistics."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from darts_bohb import ops
from darts_bohb.ops import OPERATIONS
from darts_bohb.search_space import MixedNode, SearchCell, SuperNet


def supernet(skip_mode: str = "add", fused: bool = True, channels=(4, 8), dtype=torch.float64) -> SuperNet:
    torch.manual_seed(0)
    model = SuperNet(3, 5, channels, (True,) * len(channels), (3, 5, 7, 9), skip_mode, fused=fused).to(dtype)
    with torch.no_grad():
        model.alpha.normal_()  # far from uniform, so a wrongly weighted operation shows
    return model


def unfused_copy(model: SuperNet) -> SuperNet:
    reference = copy.deepcopy(model)
    for module in reference.modules():
        if isinstance(module, MixedNode):
            module.fused = False
    return reference


def test_output_shape_and_a_single_alpha_of_nodes_by_operations():
    model = supernet(channels=(4, 8, 16))
    logits = model(torch.randn(2, 3, 28, 28, dtype=torch.float64), beta=0.5)
    assert logits.shape == (2, 5)
    assert model.alpha.shape == (6, len(OPERATIONS))
    assert [name for name, _ in model.named_parameters() if "alpha" in name] == ["alpha"]
    assert all(p is not model.alpha for p in model.weight_parameters())
    assert len(model.weight_parameters()) == len(list(model.parameters())) - 1


def test_every_cell_mixes_with_the_same_softmax_of_alpha():
    model = supernet(channels=(4, 8, 16))
    seen = []
    for cell in model.cells:
        cell.register_forward_pre_hook(lambda module, args: seen.append(args[1]))
    model(torch.randn(2, 3, 28, 28, dtype=torch.float64))
    assert len(seen) == 3
    for weights in seen:
        assert torch.equal(weights, F.softmax(model.alpha, dim=-1))


@pytest.mark.parametrize("skip_mode", ["add", "blend", "none"])
def test_fused_path_equals_the_weighted_sum_of_all_five_operation_modules(skip_mode):
    fused = supernet(skip_mode)
    reference = unfused_copy(fused)
    x = torch.randn(6, 3, 28, 28, dtype=torch.float64)
    out_fused, out_reference = fused(x, beta=0.7), reference(x, beta=0.7)
    torch.testing.assert_close(out_fused, out_reference, rtol=1e-10, atol=1e-10)

    out_fused.square().sum().backward()
    out_reference.square().sum().backward()
    for (name, p), q in zip(fused.named_parameters(), reference.parameters()):
        assert p.grad is not None, name
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-8, atol=1e-10, msg=name)
    assert fused.alpha.grad[:, OPERATIONS.index("zero")].abs().min() > 0  # through the softmax


def test_fused_path_gradients_hold_in_channels_last():
    """The layout the search runs in (fp32 here; the search adds bf16 autocast)."""
    reference = unfused_copy(supernet(dtype=torch.float32))
    fused = supernet(dtype=torch.float32).to(memory_format=torch.channels_last)
    x = torch.randn(8, 3, 16, 16)
    labels = torch.arange(8) % 5
    for model, data in ((reference, x), (fused, x.contiguous(memory_format=torch.channels_last))):
        F.cross_entropy(model(data, beta=0.5), labels).backward()
    for (name, p), q in zip(fused.named_parameters(), reference.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-3, atol=1e-5, msg=name)


def test_fused_path_never_runs_the_zero_operation(monkeypatch):
    model = supernet()

    def fail(self, x):
        raise AssertionError("Zero was computed")

    monkeypatch.setattr(ops.Zero, "forward", fail)
    model(torch.randn(2, 3, 28, 28, dtype=torch.float64))
    with pytest.raises(AssertionError, match="Zero was computed"):
        unfused_copy(model)(torch.randn(2, 3, 28, 28, dtype=torch.float64))


@pytest.mark.parametrize("c_in", [3, 8])  # with and without a change of channels
def test_surrogate_skip_add_and_blend(c_in):
    torch.manual_seed(1)
    x = torch.randn(4, c_in, 12, 12, dtype=torch.float64)
    weights = F.softmax(torch.randn(len(OPERATIONS), dtype=torch.float64), dim=0)
    beta = 0.3
    add = MixedNode(c_in, 8, 5, "add").double()
    blend = MixedNode(c_in, 8, 5, "blend").double()
    blend.load_state_dict(add.state_dict())
    skip = add.skip(x)
    mixed = add(x, weights, 0.0)  # β = 0: no skip at all
    torch.testing.assert_close(add(x, weights, beta), mixed + beta * skip)
    torch.testing.assert_close(blend(x, weights, beta), (1 - beta) * mixed + beta * skip)
    assert MixedNode(c_in, 8, 5, "none").skip is None


def test_skip_projection_is_separate_from_the_identity_candidate():
    node = MixedNode(4, 8, 3, "add")
    skip_weights = {id(p) for p in node.skip.parameters()}
    identity_weights = {id(p) for p in node.ops["identity"].parameters()}
    assert skip_weights and identity_weights and not skip_weights & identity_weights
    assert isinstance(MixedNode(8, 8, 3, "add").skip, torch.nn.Identity)


def test_batch_norm_uses_batch_statistics_in_train_and_eval_mode():
    model = supernet()
    x = torch.randn(4, 3, 28, 28, dtype=torch.float64)
    train_out = model.train()(x)
    assert torch.equal(model.eval()(x), train_out)
    assert not any(name.endswith(("running_mean", "running_var")) for name in model.state_dict())


def test_cell_feeds_second_stage_nodes_from_their_parent():
    torch.manual_seed(0)
    cell = SearchCell(3, 4, SuperNet(3, 2, (4,), (False,), (3, 5, 7, 9), "none").topology, "none").double()
    weights = torch.zeros(6, len(OPERATIONS), dtype=torch.float64)
    weights[:, OPERATIONS.index("zero")] = 1.0
    weights[cell.topology.node_names.index("k9"), :] = 0.0
    weights[cell.topology.node_names.index("k9"), OPERATIONS.index("conv_block")] = 1.0
    weights[cell.topology.node_names.index("k9_k3"), :] = 0.0
    weights[cell.topology.node_names.index("k9_k3"), OPERATIONS.index("identity")] = 1.0
    x = torch.randn(2, 3, 10, 10, dtype=torch.float64)
    # Everything but k9 -> identity(k9_k3) is cut: the cell output is the conv block of k9.
    expected = cell.nodes["k9"].ops["conv_block"](x)
    torch.testing.assert_close(cell(x, weights, 0.0), expected)
