"""The cell's wiring follows the kernel sizes, not their order in search.kernel_sizes: the two
largest kernels feed the second-stage nodes (DESIGN.md, "the k=7 and k=9 nodes")."""

from itertools import permutations

from darts_bohb.topology import cell_topology

DEFAULT_WIRING = {
    "nodes": [{"name": "k3", "kernel_size": 3, "input": "input"},
              {"name": "k5", "kernel_size": 5, "input": "input"},
              {"name": "k7", "kernel_size": 7, "input": "input"},
              {"name": "k9", "kernel_size": 9, "input": "input"},
              {"name": "k7_k3", "kernel_size": 3, "input": "k7"},
              {"name": "k9_k3", "kernel_size": 3, "input": "k9"}],
    "outputs": ["k3", "k5", "k7_k3", "k9_k3"],
}


def test_the_default_cell_is_wired_as_designed():
    assert cell_topology((3, 5, 7, 9)).to_dict() == DEFAULT_WIRING


def test_any_order_of_the_kernel_sizes_gives_the_same_cell():
    for order in permutations((3, 5, 7, 9)):
        assert cell_topology(order).to_dict() == DEFAULT_WIRING, order


def test_the_two_largest_kernels_feed_the_second_stage():
    topology = cell_topology((11, 1, 5, 3))
    fed = {node.input for node in topology.nodes if not node.first_stage}
    assert fed == {"k5", "k11"}
    assert set(topology.outputs) == {"k1", "k3", "k5_k3", "k11_k3"}
