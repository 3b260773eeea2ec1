"""Search diagnostics as data: the entropy recorded per node in genotype.json (recomputed when
read), reports/search.csv with the epochs that updated α, and the per-seed and per-node summaries
with their chance figures."""

import copy
import math

import pytest

from darts_bohb.genotype import Genotype, genotype_from_dict, load_genotype, save_genotype
from darts_bohb.report.search import alpha_epochs_run, chance_agreement, node_agreement, search_rows, seed_diagnostics
from darts_bohb.topology import OPERATIONS, cell_topology


def genotype_with(favourites, seed=1, peak=0.6, operations=OPERATIONS, stop_reason="reached the planned 4 epochs",
                  epochs_run=4, warmup_epochs=1):
    """Each node puts `peak` on its favourite operation and spreads the rest evenly."""
    topology = cell_topology()
    rest = (1 - peak) / (len(operations) - 1)
    probabilities = {node: {op: (peak if op == favourite else rest) for op in operations}
                     for node, favourite in zip(topology.node_names, favourites)}
    return Genotype(tuple(operations), topology, probabilities, seed=seed, dataset="retinamnist", size=28,
                    epochs_run=epochs_run, epochs_planned=4, stop_reason=stop_reason,
                    extra={"settings": {"arch": {"warmup_epochs": warmup_epochs}}})


ALL_CONV = ["conv_block"] * 6


def test_genotype_json_records_each_nodes_entropy_in_nats(tmp_path):
    genotype = genotype_with(ALL_CONV)
    path = tmp_path / "genotype.json"
    save_genotype(path, genotype)
    node = load_genotype(path).to_dict()["cell"]["nodes"][0]
    # 0.6 and four times 0.1: -(0.6 ln 0.6 + 4 * 0.1 ln 0.1)
    assert node["entropy"] == pytest.approx(-(0.6 * math.log(0.6) + 0.4 * math.log(0.1)), abs=1e-12)
    uniform = genotype_with(ALL_CONV, peak=0.2)
    assert uniform.entropy("k3") == pytest.approx(math.log(5), abs=1e-12)


def test_a_genotype_without_entropy_is_still_read():
    data = genotype_with(ALL_CONV).to_dict()
    older = copy.deepcopy(data)
    for node in older["cell"]["nodes"]:
        del node["entropy"]
    assert genotype_from_dict(older) == genotype_from_dict(data)


def test_search_rows_hold_derived_probability_zero_and_entropy_per_node():
    favourites = ["zero", "identity", "conv_block", "resnet_block", "resnet_bottleneck", "conv_block"]
    rows = search_rows({3: genotype_with(favourites, seed=3)})
    assert list(rows.columns) == ["seed", "node", "derived", "p_derived", "p_zero", "entropy", "alpha_epochs_run"]
    first = rows.iloc[0]
    # Zero leads k3, but DARTS derives the most probable other operation (ties: the first listed).
    assert (first["seed"], first["node"], first["derived"]) == (3, "k3", "identity")
    assert first["p_derived"] == pytest.approx(0.1) and first["p_zero"] == pytest.approx(0.6)
    assert rows["p_zero"].iloc[1:].tolist() == pytest.approx([0.1] * 5)
    assert rows["derived"].tolist()[1:] == favourites[1:]


def test_p_zero_is_zero_where_zero_is_not_searched():
    operations = tuple(op for op in OPERATIONS if op != "zero")
    rows = search_rows({1: genotype_with(ALL_CONV, operations=operations)})
    assert (rows["p_zero"] == 0.0).all() and (rows["p_derived"] == 0.6).all()


def test_a_search_without_zero_is_measured_against_a_uniform_alpha_over_four_operations():
    """As the search writes it: all five operations listed, Zero at probability exactly 0."""
    genotype = genotype_with(ALL_CONV, peak=0.25)
    for node in genotype.topology.node_names:
        genotype.probabilities[node] = {op: (0.0 if op == "zero" else 0.25) for op in OPERATIONS}
    assert genotype.searched_operations == tuple(op for op in OPERATIONS if op != "zero")
    per_seed = seed_diagnostics({1: genotype}).iloc[0]
    assert per_seed["uniform_entropy"] == pytest.approx(math.log(4))
    assert per_seed["mean_entropy"] == pytest.approx(math.log(4))  # uniform over the four: nothing learnt
    assert per_seed["mean_derived_share"] == pytest.approx(0.25)


def test_seed_diagnostics_average_over_the_nodes():
    favourites = ["zero"] + ["conv_block"] * 5
    per_seed = seed_diagnostics({1: genotype_with(favourites)}).iloc[0]
    # k3: derived identity 0.1 of a non-Zero 0.4; the others: 0.6 of 0.9.
    assert per_seed["mean_p_derived"] == pytest.approx((0.1 + 5 * 0.6) / 6)
    assert per_seed["mean_derived_share"] == pytest.approx((0.1 / 0.4 + 5 * 0.6 / 0.9) / 6)
    assert per_seed["seed"] == 1 and per_seed["uniform_entropy"] == pytest.approx(math.log(5))


def test_chance_agreement_by_hand():
    # Three seeds, four operations: all agree with probability 4 / 4^3; all differ 4*3*2 / 64.
    expected, p_all = chance_agreement(3, 4, 3)
    assert p_all == pytest.approx(1 / 16)
    assert expected == pytest.approx(3 / 16 + 2 * (1 - 1 / 16 - 24 / 64) + 1 * 24 / 64)
    assert chance_agreement(3, 4, 1)[1] == pytest.approx(1.0)
    assert chance_agreement(1, 4, 1) == pytest.approx((1.0, 1.0))


def test_node_agreement_counts_seeds_deriving_the_same_operation():
    genotypes = {1: genotype_with(ALL_CONV, seed=1), 2: genotype_with(ALL_CONV, seed=2),
                 3: genotype_with(["identity"] + ["conv_block"] * 5, seed=3)}
    agreement = node_agreement(genotypes).set_index("node")
    assert agreement.loc["k3", "most_derived"] == "conv_block" and agreement.loc["k3", "agreeing_seeds"] == 2
    assert agreement.loc["k5", "agreeing_seeds"] == 3 and agreement.loc["k5", "n_derivable"] == 4
    assert agreement.loc["k5", "chance_p_at_least"] == pytest.approx(1 / 16)


@pytest.mark.parametrize("epochs_run, warmup_epochs, expected", [(4, 1, 3), (4, 0, 4), (2, 2, 0), (1, 3, 0)])
def test_alpha_epochs_are_those_run_after_the_warm_up_and_never_below_zero(tmp_path, epochs_run, warmup_epochs,
                                                                           expected):
    # As the report reads it: from genotype.json, where the search's settings stand under `search`.
    path = tmp_path / "genotype.json"
    save_genotype(path, genotype_with(ALL_CONV, epochs_run=epochs_run, warmup_epochs=warmup_epochs))
    genotype = load_genotype(path)
    assert alpha_epochs_run(genotype) == expected
    assert search_rows({1: genotype})["alpha_epochs_run"].tolist() == [expected] * 6
