"""The search loop's parts: β schedule, skip counting and early stopping, the data halves, the
separation of α and weight steps, and the second-order (unrolled) α gradient."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from config_defaults import config_section
from darts_bohb.darts import (
    DartsSearch,
    beta_at,
    early_stop_reason,
    run_search,
    skip_nodes,
    skip_threshold,
    stratified_halves,
    unrolled_alpha_gradient,
)
from darts_bohb.data import Split
from darts_bohb.ops import OPERATIONS
from darts_bohb.runtime import Runtime, make_runtime
from darts_bohb.search_space import SuperNet
from darts_bohb.settings import ConfigError, SearchSettings, from_dict

NODES = ("k3", "k5", "k7", "k9", "k7_k3", "k9_k3")
FP64_RUNTIME = Runtime(device=torch.device("cpu"), autocast_dtype=None, channels_last=False)


@pytest.fixture(autouse=True)
def keep_thread_count():
    threads = torch.get_num_threads()  # make_runtime(threads=...) sets the process-wide count
    yield
    torch.set_num_threads(threads)


def settings(**overrides) -> SearchSettings:
    base = {"epochs": 3, "batch_size": 8, "channels": [4, 8], "pool": [True, True], "kernel_sizes": [1, 3, 5, 7],
            "arch": {"warmup_epochs": 0, **overrides.pop("arch", {})}}
    return from_dict(SearchSettings, config_section("search", **{**base, **overrides}), "search")


def test_beta_decays_linearly_from_beta0_to_zero_over_the_planned_epochs():
    assert [beta_at(e, 5, 1.0) for e in range(5)] == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert [beta_at(e, 3, 0.6) for e in range(3)] == [0.6, 0.3, 0.0]
    assert beta_at(0, 1, 0.8) == 0.8


def probabilities_with(skip_rows: dict[int, float]) -> torch.Tensor:
    """Rows prefer conv_block, except the given rows, which put p on identity."""
    probs = torch.full((6, 5), 0.1, dtype=torch.float64)
    probs[:, OPERATIONS.index("conv_block")] = 0.6
    for row, p in skip_rows.items():
        probs[row] = (1 - p) / 4
        probs[row, OPERATIONS.index("identity")] = p
    return probs


def test_skip_nodes_need_identity_as_argmax_and_above_the_threshold():
    probs = probabilities_with({0: 0.5, 5: 0.31, 2: 0.3})
    assert skip_nodes(probs, NODES, 0.3) == ["k3", "k9_k3"]  # k7 at exactly 0.3 does not count
    # identity above the threshold but not the argmax: no skip
    probs = probabilities_with({})
    probs[1, OPERATIONS.index("identity")] = 0.35
    probs[1, OPERATIONS.index("conv_block")] = 0.45
    assert skip_nodes(probs, NODES, 0.3) == []


def test_skip_nodes_can_count_only_parameter_free_skips():
    """DARTS+: only a true skip makes a network shallower; a first-stage node's identity changes the
    channel count in every cell of the default supernet, so it is a 1x1 projection there."""
    probs = probabilities_with({0: 0.5, 4: 0.6, 5: 0.4})
    net = SuperNet(3, 5, (8, 16), (True, True), (3, 5, 7, 9), "add", include_zero=False)
    counted = net.parameter_free_skip_nodes()
    assert counted == ("k7_k3", "k9_k3")
    assert skip_nodes(probs, NODES, 0.3, counted) == ["k7_k3", "k9_k3"]
    assert skip_nodes(probs, NODES, 0.3) == ["k3", "k7_k3", "k9_k3"]
    # a cell that keeps its width has a true skip on every node
    assert SuperNet(3, 5, (8, 8), (True, True), (3, 5, 7, 9), "add").parameter_free_skip_nodes() == NODES


def test_parameter_free_counting_bounds_max_skips():
    section = config_section("search", early_stopping={"parameter_free_only": True, "max_skips": 3})
    with pytest.raises(ConfigError, match="a cell has 2 nodes with a parameter-free identity, so 3 skips"):
        from_dict(SearchSettings, section, "search")
    assert from_dict(SearchSettings, config_section("search", channels=[16, 16, 32], early_stopping={
        "parameter_free_only": True, "max_skips": 3}), "search")


def test_the_skip_threshold_is_a_multiple_of_uniform_over_the_operations_searched():
    rule = {"skip_ratio": 1.5}
    assert skip_threshold(settings(include_zero=False, early_stopping=rule)) == pytest.approx(1.5 / 4)
    assert skip_threshold(settings(include_zero=True, early_stopping=rule)) == pytest.approx(1.5 / 5)


def test_early_stop_needs_max_skips_in_patience_epochs_in_a_row():
    nodes = skip_nodes(probabilities_with({0: 0.5, 5: 0.4}), NODES, 0.3)
    once = settings(epochs=8, early_stopping={"skip_ratio": 1.2, "patience": 1})
    assert early_stop_reason([0, 2], nodes, once) == (
        "early stop after epoch 2: nodes k3, k9_k3 prefer identity (p > 0.300, 1.2 times uniform) for 1 epoch(s), "
        "max_skips 2")
    assert early_stop_reason([2, 1], nodes[:1], once) is None
    twice = settings(epochs=8, early_stopping={"skip_ratio": 1.2, "patience": 2})
    assert early_stop_reason([0, 2], nodes, twice) is None  # one epoch's noise does not end a search
    assert early_stop_reason([2, 1, 2], nodes, twice) is None
    assert early_stop_reason([1, 2, 3], nodes, twice).startswith("early stop after epoch 3")
    assert early_stop_reason([2, 2], nodes, settings(early_stopping={"enabled": False})) is None


def test_a_patience_longer_than_the_alpha_epochs_is_a_config_error():
    with pytest.raises(ConfigError, match="patience: 3 epochs in a row cannot happen in the 2 epochs that move alpha"):
        settings(epochs=4, arch={"warmup_epochs": 2}, early_stopping={"patience": 3})


def test_stratified_halves_partition_the_split_and_keep_class_proportions():
    labels = torch.tensor([0] * 51 + [1] * 20 + [2] * 7 + [3] * 2)
    first, second = stratified_halves(labels, torch.Generator().manual_seed(3))
    assert sorted(torch.cat([first, second]).tolist()) == list(range(len(labels)))
    assert abs(len(first) - len(second)) <= 1
    counts = torch.bincount(labels[first], minlength=4) - torch.bincount(labels[second], minlength=4)
    assert counts.abs().max() <= 1
    again = stratified_halves(labels, torch.Generator().manual_seed(3))
    other = stratified_halves(labels, torch.Generator().manual_seed(4))
    assert torch.equal(first, again[0]) and not torch.equal(first, other[0])


def random_split(n: int = 48, size: int = 8) -> Split:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator)
    return Split(images=images, labels=torch.arange(n) % 5)


def batch(split: Split, start: int, runtime: Runtime, n: int = 8):
    return runtime.images_to_device(split.images[start:start + n]), split.labels[start:start + n]


def test_alpha_step_leaves_the_weights_alone_and_weight_step_leaves_alpha_alone():
    runtime = make_runtime("cpu", "fp32", None)
    train = random_split()
    search = DartsSearch(settings(), runtime, train, 5, seed=1)
    weights_before = [w.detach().clone() for w in search.weights]
    alpha_before = search.model.alpha.detach().clone()

    search._arch_step(batch(train, 0, runtime), batch(train, 8, runtime), beta=0.5)
    assert all(w.grad is None for w in search.weights)  # no weight gradient was even computed
    assert all(torch.equal(w, before) for w, before in zip(search.weights, weights_before))
    assert not torch.equal(search.model.alpha, alpha_before)

    alpha_after, alpha_grad = search.model.alpha.detach().clone(), search.model.alpha.grad.clone()
    search._weight_step(batch(train, 16, runtime), beta=0.5)
    assert torch.equal(search.model.alpha, alpha_after) and torch.equal(search.model.alpha.grad, alpha_grad)
    assert sum(not torch.equal(w, before) for w, before in zip(search.weights, weights_before)) > 0


def tiny_problem():
    torch.manual_seed(0)
    model = SuperNet(3, 5, (2, 4), (True, True), (1, 3, 5, 7), "add").double()
    with torch.no_grad():
        model.alpha.normal_()
    x = torch.randn(16, 3, 8, 8, dtype=torch.float64)
    y = torch.arange(16) % 5
    optimizer = torch.optim.SGD(model.weight_parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    # one real step first, so the virtual step has a momentum buffer to use
    F.cross_entropy(model(x[8:], 0.5), y[8:]).backward()
    optimizer.step()
    return model, optimizer, (x[:8], y[:8]), (x[8:], y[8:])


def exact_unrolled_gradient(model, optimizer, train_batch, arch_batch, beta, xi):
    """d/dα L_α(w − ξ·(momentum·buffer + ∇_w L_w(w, α) + wd·w), α) by double backpropagation."""
    names = [name for name, _ in model.named_parameters() if name != "alpha"]
    weights = [model.get_parameter(name) for name in names]
    group = optimizer.param_groups[0]
    grads = torch.autograd.grad(F.cross_entropy(model(train_batch[0], beta), train_batch[1]), weights,
                                create_graph=True)
    virtual = {name: w - xi * (g + group["weight_decay"] * w
                               + group["momentum"] * optimizer.state[w]["momentum_buffer"])
               for name, w, g in zip(names, weights, grads)}
    loss = F.cross_entropy(functional_call(model, virtual, (arch_batch[0], beta)), arch_batch[1])
    return torch.autograd.grad(loss, [model.alpha])[0]


def test_second_order_gradient_matches_the_exact_unrolled_gradient():
    model, optimizer, train_batch, arch_batch = tiny_problem()
    xi = 0.1
    # A small difference step: this 2-4 channel net is far more curved than a real supernet.
    approx, _, _ = unrolled_alpha_gradient(model, F.cross_entropy, train_batch, arch_batch, 0.5, xi,
                                           optimizer, FP64_RUNTIME, hessian_step=1e-5)
    exact = exact_unrolled_gradient(model, optimizer, train_batch, arch_batch, 0.5, xi)
    first_order = torch.autograd.grad(F.cross_entropy(model(arch_batch[0], 0.5), arch_batch[1]), [model.alpha])[0]
    torch.testing.assert_close(approx, exact, rtol=1e-4, atol=1e-7)
    # ... and the unrolling matters here, so the check above could tell the two apart
    assert (exact - first_order).abs().max() > 100 * (approx - exact).abs().max()


def test_second_order_with_zero_virtual_lr_is_first_order():
    model, optimizer, train_batch, arch_batch = tiny_problem()
    approx, loss, _ = unrolled_alpha_gradient(model, F.cross_entropy, train_batch, arch_batch, 0.5, 0.0,
                                              optimizer, FP64_RUNTIME)
    arch_loss = F.cross_entropy(model(arch_batch[0], 0.5), arch_batch[1])
    assert torch.equal(approx, torch.autograd.grad(arch_loss, [model.alpha])[0])
    assert torch.equal(loss, arch_loss.detach())


def test_search_stops_early_and_records_why(real_data, tmp_path, monkeypatch):
    monkeypatch.setattr(DartsSearch, "skip_nodes", lambda self: ["k3", "k9_k3"])
    result = run_search(real_data, 1, "retinamnist", 28, settings(epochs=5, batch_size=64),
                        make_runtime("cpu", "fp32", 1), tmp_path / "state")
    assert result.summary["stopped_early"] is True
    assert result.summary["epochs_run"] == 1
    assert result.summary["stop_reason"].startswith("early stop after epoch 1: nodes k3, k9_k3 prefer identity")
    assert (result.summary["alpha_epochs_run"], result.summary["skip_threshold"]) == (1, 0.5)  # 2.0 / 4
    assert result.epochs["skip_count"].tolist() == [2]
    assert sorted(result.alphas["epoch"].unique()) == [0, 1]


def test_search_without_early_stopping_runs_every_planned_epoch(real_data, tmp_path, monkeypatch):
    monkeypatch.setattr(DartsSearch, "skip_nodes", lambda self: ["k3", "k9_k3"])
    no_stop = settings(epochs=2, batch_size=64,
                       early_stopping={"enabled": False})
    result = run_search(real_data, 1, "retinamnist", 28, no_stop, make_runtime("cpu", "fp32", 1),
                        tmp_path / "state")
    assert (result.summary["stopped_early"], result.summary["epochs_run"]) == (False, 2)
    assert result.summary["stop_reason"] == "completed 2 of 2 epochs"
    assert result.epochs["beta"].tolist() == [1.0, 0.0]
    assert result.epochs["lr"].iloc[0] == 0.025 and result.epochs["lr"].iloc[1] < 0.025


def test_second_order_step_runs_when_beta_leaves_the_skip_projections_unused():
    runtime = make_runtime("cpu", "fp32", None)
    train = random_split()
    search = DartsSearch(settings(order="second"), runtime, train, 5, seed=1)
    alpha_before = search.model.alpha.detach().clone()
    search._arch_step(batch(train, 0, runtime), batch(train, 8, runtime), beta=0.0)
    assert torch.isfinite(search.model.alpha).all() and not torch.equal(search.model.alpha, alpha_before)


def test_a_zeroless_search_keeps_zero_at_probability_zero_and_out_of_every_design():
    runtime = make_runtime("cpu", "fp32", None)
    train = random_split()
    search = DartsSearch(settings(include_zero=False), runtime, train, 5, seed=1)
    zero = OPERATIONS.index("zero")
    for start in (0, 16):
        search._arch_step(batch(train, start, runtime), batch(train, start + 8, runtime), beta=0.5)
        assert torch.count_nonzero(search.model.alpha.grad[:, zero]) == 0
    probabilities = search.model.probabilities()
    assert torch.all(probabilities[:, zero] == 0)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(len(probabilities)))
    assert all(row["probability"] == 0 for row in search.alpha_rows(1) if row["operation"] == "zero")


def test_the_zero_mask_is_the_same_function_on_the_fused_and_the_module_path():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    outputs = []
    for fused in (True, False):
        torch.manual_seed(1)
        model = SuperNet(3, 5, (4, 8), (True, True), (1, 3, 5, 7), "add", fused=fused, include_zero=False).double()
        with torch.no_grad():
            model.alpha.normal_()
        outputs.append(model(x, 0.5))
    assert torch.allclose(outputs[0], outputs[1], atol=1e-10)


def test_alpha_stays_fixed_through_the_warmup_epochs_and_moves_after(real_data, tmp_path):
    warm = settings(epochs=3, batch_size=64, arch={"warmup_epochs": 2})
    result = run_search(real_data, 1, "retinamnist", 28, warm, make_runtime("cpu", "fp32", 1), tmp_path / "state")
    alpha = result.alphas.pivot_table(index=["node", "operation"], columns="epoch", values="alpha")
    assert alpha[0].equals(alpha[1]) and alpha[1].equals(alpha[2])  # two warm-up epochs: α untouched
    assert not alpha[2].equals(alpha[3])
    assert result.epochs["arch_loss"].notna().all()  # the α half is still watched during warm-up
    with pytest.raises(ConfigError, match="search.arch.warmup_epochs: 3 leaves no epoch of the 3"):
        settings(epochs=3, arch={"warmup_epochs": 3})


@pytest.mark.parametrize("mode, betas", [("none", [0.0, 0.0, 0.0]), ("add", [0.6, 0.3, 0.0])])
def test_epochs_record_the_beta_the_mode_uses(mode, betas):
    search = DartsSearch(settings(surrogate_skip={"mode": mode, "beta0": 0.6}), make_runtime("cpu", "fp32", 1),
                         random_split(), 5, seed=1)
    assert [search.train_epoch(epoch)["beta"] for epoch in range(3)] == pytest.approx(betas)
