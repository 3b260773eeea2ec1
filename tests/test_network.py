"""The network builder: rebuilding from a saved dict, cut designs, pooling, the baseline cell."""

from __future__ import annotations

import json

import torch
from torch import nn

from darts_bohb.network import PLAIN_CONV, SearchedCell, build_network, count_parameters
from darts_bohb.topology import carries_signal, cell_topology, live_nodes

TOPOLOGY = cell_topology()
MIXED_DESIGN = {"k3": "conv_block", "k5": "resnet_block", "k7": "identity", "k9": "resnet_bottleneck",
                "k7_k3": "conv_block", "k9_k3": "zero"}


def architecture(cells, widths=(16,), dropout=0.1):
    return {"in_channels": 3, "n_classes": 5, "cells": cells,
            "head": {"widths": list(widths), "dropout": dropout}, "topology": TOPOLOGY.to_dict()}


def cell(design=MIXED_DESIGN, channels=8, batch_norm=True, pool=True):
    return {"design": design, "channels": channels, "batch_norm": batch_norm, "pool": pool}


def test_saved_architecture_json_rebuilds_the_same_model(tmp_path):
    arch = architecture([cell(), cell(design=PLAIN_CONV, channels=12, batch_norm=False, pool=False),
                         cell(channels=16)], widths=(32, 16))
    torch.manual_seed(0)
    original = build_network(arch)
    original(torch.randn(4, 3, 28, 28))  # update batch-norm statistics, so buffers differ from init
    original.eval()
    path = tmp_path / "architecture.json"
    path.write_text(json.dumps(arch))
    torch.save(original.state_dict(), tmp_path / "model.pt")

    torch.manual_seed(1)
    rebuilt = build_network(json.loads(path.read_text()))
    rebuilt.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True), strict=True)
    rebuilt.eval()
    x = torch.randn(2, 3, 28, 28)
    assert torch.equal(original(x), rebuilt(x))


def test_zero_nodes_cut_their_paths_and_hold_no_weights():
    design = dict(MIXED_DESIGN, k7="zero", k9="conv_block", k9_k3="conv_block")
    assert live_nodes(TOPOLOGY, design) == {"k3", "k5", "k9", "k9_k3"}  # k7_k3 is fed by a cut node
    searched = SearchedCell(TOPOLOGY, design, 3, 8, batch_norm=True)
    assert count_parameters(searched.nodes["k7"]) == 0
    assert count_parameters(searched.nodes["k7_k3"]) == 0
    assert count_parameters(searched.nodes["k9_k3"]) > 0


def test_a_fully_cut_cell_outputs_zeros_of_its_width():
    cut = {node: "zero" for node in TOPOLOGY.node_names}
    cut["k7"] = "conv_block"  # feeds only k7_k3, which is zero: still no path to the output
    assert not carries_signal(TOPOLOGY, cut)
    assert carries_signal(TOPOLOGY, dict(cut, k7_k3="identity"))
    searched = SearchedCell(TOPOLOGY, cut, 3, 8, batch_norm=True)
    out = searched(torch.randn(2, 3, 10, 10))
    assert out.shape == (2, 8, 10, 10)
    assert torch.count_nonzero(out) == 0
    model = build_network(architecture([cell(design=cut), cell()]))
    logits = model(torch.randn(2, 3, 28, 28))
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()


def test_pooling_stops_once_the_map_is_below_two_pixels():
    model = build_network(architecture([cell(channels=8)] * 6, widths=()))
    sizes = []
    for block in model.cells:
        block.register_forward_hook(lambda module, inputs, output: sizes.append(output.shape[-1]))
    model(torch.randn(2, 3, 28, 28))
    assert sizes == [14, 7, 3, 1, 1, 1]


def test_baseline_cells_are_single_3x3_conv_blocks():
    model = build_network({"in_channels": 3, "n_classes": 5, "head": {"widths": [], "dropout": 0.0},
                           "cells": [cell(design=PLAIN_CONV, channels=8, pool=False),
                                     cell(design=PLAIN_CONV, channels=16, batch_norm=False)]})
    first, second = model.cells[0], model.cells[1][0]
    assert [type(m) for m in first] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert first[0].kernel_size == (3, 3) and first[0].out_channels == 8
    assert [type(m) for m in second] == [nn.Conv2d, nn.ReLU] and second[0].bias is not None
    assert model(torch.randn(2, 3, 28, 28)).shape == (2, 5)


def test_head_has_one_hidden_layer_per_width_and_dropout():
    model = build_network(architecture([cell(channels=8)], widths=(32, 16), dropout=0.3))
    linears = [m for m in model.head if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(8, 32), (32, 16), (16, 5)]
    assert all(m.p == 0.3 for m in model.head if isinstance(m, nn.Dropout))
