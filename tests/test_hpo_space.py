"""The BOHB space: conditions, scales, sampling the K cell designs, and configs -> networks."""

from __future__ import annotations

import logging

from config_defaults import config_section
from darts_bohb.hpo_space import (
    architecture_from_config,
    build_space,
    plain_values,
    sample_designs,
    training_from_config,
)
from darts_bohb.network import PLAIN_CONV, build_network
from darts_bohb.ops import OPERATIONS
from darts_bohb.topology import carries_signal
from hpo_fixtures import make_genotype

SPACE = config_section("hpo")["space"] | dict(cells=[2, 5], head_layers=[1, 3])


def test_values_exist_exactly_when_they_matter():
    space = build_space(SPACE, n_designs=4, seed=0)
    seen_optimizers, seen_cells = set(), set()
    for config in space.sample_configuration(300):
        values = dict(config)
        seen_optimizers.add(values["optimizer"])
        seen_cells.add(values["n_cells"])
        for position in range(1, 6):
            active = position <= values["n_cells"]
            for name in ("channels", "batch_norm", "pool", "design"):
                assert (f"cell{position}_{name}" in values) == active, (position, name, values)
        for layer in range(1, 4):
            assert (f"head_width{layer}" in values) == (layer <= values["head_layers"])
        is_sgd = values["optimizer"] == "sgd"
        assert ("momentum" in values) == is_sgd and ("nesterov" in values) == is_sgd
    assert seen_optimizers == {"sgd", "adam", "adamw"} and seen_cells == {2, 3, 4, 5}


def test_scales_choices_and_ranges_follow_the_config():
    space = build_space(SPACE, n_designs=4, seed=0)
    for name in ("cell1_channels", "head_width1", "lr", "weight_decay"):
        assert space[name].log, name
    assert not space["dropout"].log
    assert (space["cell3_channels"].lower, space["cell3_channels"].upper) == tuple(SPACE["channels"])
    assert list(space["batch_size"].choices) == list(SPACE["batch_size"])
    assert list(space["cell1_design"].choices) == [0, 1, 2, 3]
    assert set(space["scheduler"].choices) == {"none", "cosine", "one_cycle"}
    assert set(space["augment"].choices) == {False, True}
    assert space["focal_gamma"].lower == 0.0  # 0 is plain (weighted) cross-entropy


def test_the_baseline_space_has_no_designs_and_a_fixed_range_is_a_constant():
    space = build_space(config_section("hpo")["space"] | dict(cells=[3, 3], optimizers=["adam"]),
                        n_designs=None, seed=0)
    assert not any(name.endswith("_design") for name in space)
    config = space.sample_configuration()
    assert config["n_cells"] == 3 and config["optimizer"] == "adam" and "momentum" not in config
    arch = architecture_from_config(config, None, None, in_channels=3, n_classes=5)
    assert [c["design"] for c in arch["cells"]] == [PLAIN_CONV] * 3 and "topology" not in arch


def test_designs_are_seeded_distinct_and_start_with_the_derived_design():
    genotype = make_genotype(seed=3)
    designs = sample_designs(genotype, 5, seed=11)
    assert designs == sample_designs(genotype, 5, seed=11)
    assert designs != sample_designs(genotype, 5, seed=12)
    assert designs[0] == genotype.derived_design()
    assert len(designs) == 5
    assert len({tuple(sorted(d.items())) for d in designs}) == 5
    assert all(set(d) == set(genotype.topology.node_names) and set(d.values()) <= set(OPERATIONS)
               for d in designs)


def test_designs_follow_the_probabilities():
    """Nodes certain of one operation keep it in every design; the others vary."""
    genotype = make_genotype(seed=0)
    certain = {op: float(op == "resnet_block") for op in OPERATIONS}
    probabilities = {node: (certain if node != "k5" else genotype.probabilities[node])
                     for node in genotype.topology.node_names}
    designs = sample_designs(make_genotype(probabilities), 4, seed=0)
    assert all(d[node] == "resnet_block" for d in designs for node in d if node != "k5")
    assert len({d["k5"] for d in designs}) == 4


def test_fewer_designs_when_the_genotype_allows_fewer(caplog):
    one_hot = {op: float(op == "conv_block") for op in OPERATIONS}
    two_way = {op: 0.5 if op in ("identity", "conv_block") else 0.0 for op in OPERATIONS}
    probabilities = {node: (two_way if node == "k3" else one_hot) for node in make_genotype().topology.node_names}
    with caplog.at_level(logging.WARNING):
        designs = sample_designs(make_genotype(probabilities), 5, seed=0)
    assert sorted(d["k3"] for d in designs) == ["conv_block", "identity"]
    assert "only 2 distinct cell designs" in caplog.text


def test_configs_become_buildable_networks_and_training_settings():
    genotype = make_genotype(seed=1)
    designs = sample_designs(genotype, 4, seed=0)
    space = build_space(SPACE, n_designs=len(designs), seed=1)
    for config in space.sample_configuration(5):
        values = plain_values(config)
        arch = architecture_from_config(config, designs, genotype.topology, in_channels=3, n_classes=5)
        assert len(arch["cells"]) == values["n_cells"]
        assert arch["cells"][0]["design"] == designs[values["cell1_design"]]
        assert arch["head"]["widths"] == [values[f"head_width{j}"] for j in range(1, values["head_layers"] + 1)]
        build_network(arch)
        training = training_from_config(config, epochs=7)
        assert training.epochs == 7 and training.batch_size == values["batch_size"]
        assert training.momentum == (values["momentum"] if values["optimizer"] == "sgd" else 0.0)
        assert all(type(v) in (int, float, str, bool) for v in values.values())


def test_zero_is_never_derived_and_no_design_cuts_every_path():
    """Zero leads every node (as in a short search), yet the derived cell and the draws carry signal."""
    zero_heavy = {"zero": 0.6, "identity": 0.1, "conv_block": 0.15, "resnet_block": 0.05, "resnet_bottleneck": 0.1}
    genotype = make_genotype({node: zero_heavy for node in make_genotype().topology.node_names})
    designs = sample_designs(genotype, 8, seed=0)
    assert designs[0] == {node: "conv_block" for node in genotype.topology.node_names}
    assert len(designs) == 8
    assert all(carries_signal(genotype.topology, design) for design in designs)
    assert any("zero" in design.values() for design in designs[1:])  # Zero may still drop single nodes
