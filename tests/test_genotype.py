import copy
import json
import re

import pytest

from darts_bohb.genotype import Genotype, GenotypeError, genotype_from_dict, load_genotype, save_genotype
from darts_bohb.ops import OPERATIONS
from darts_bohb.topology import cell_topology


def make_genotype() -> Genotype:
    topology = cell_topology()
    favourite = dict(zip(topology.node_names, ["conv_block", "resnet_block", "identity",
                                               "resnet_bottleneck", "zero", "conv_block"]))
    probabilities = {
        node: {op: (0.6 if op == favourite[node] else 0.1) for op in OPERATIONS}
        for node in topology.node_names
    }
    return Genotype(OPERATIONS, topology, probabilities, seed=3, dataset="retinamnist", size=28,
                    epochs_run=7, epochs_planned=30, stop_reason="early stop after epoch 7",
                    extra={"channels": [32, 64, 128]})


def test_round_trip_through_file_keeps_everything(tmp_path):
    genotype = make_genotype()
    path = tmp_path / "genotype.json"
    save_genotype(path, genotype)
    loaded = load_genotype(path)
    assert loaded == genotype
    assert loaded.derived_design()["k9"] == "resnet_bottleneck"
    data = json.loads(path.read_text())
    assert data["schema_version"] == 1 and data["cell"]["nodes"][0]["argmax"] == "conv_block"


def test_the_derived_operation_is_the_most_probable_other_than_zero():
    genotype = make_genotype()
    node = genotype.topology.node_names[0]
    genotype.probabilities[node].update(zero=0.5, identity=0.1, conv_block=0.1, resnet_block=0.2,
                                        resnet_bottleneck=0.1)
    assert genotype.argmax(node) == "zero"
    assert genotype.derived(node) == "resnet_block" == genotype.derived_design()[node]
    assert genotype.to_dict()["cell"]["nodes"][0]["derived"] == "resnet_block"


WIRING = "cell: not the fixed wiring of its kernel sizes, {'nodes': [{'name': 'k3'"


def broken(mutate):
    data = make_genotype().to_dict()
    mutate(data)
    return data


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("operations"), "key 'operations' is missing"),
    (lambda d: d["operations"].__setitem__(1, "sep_conv_3x3"), "['identity', 'sep_conv_3x3', 'conv_block', "),
    (lambda d: d["operations"].append("zero"), "'resnet_bottleneck', 'zero']: expected distinct ones of"),
    (lambda d: d["cell"]["nodes"][1].update(kernel_size=4), "kernel_sizes: expected four odd sizes, got [3, 4, 7, 9]"),
    (lambda d: d["cell"]["nodes"][4].update(input="k11"), WIRING),
    (lambda d: d["cell"].update(outputs=["k3", "k13"]), WIRING),
    (lambda d: d["cell"]["nodes"][2]["probabilities"].update(zero=0.5), "cell node 'k7': probabilities"),
    (lambda d: d["cell"]["nodes"][2]["probabilities"].update(zero=-0.1, identity=0.8), "cell node 'k7': probabilities"),
    (lambda d: d["cell"]["nodes"][2]["probabilities"].pop("zero"), "key 'zero' is missing"),
    (lambda d: d["cell"]["nodes"][0]["probabilities"].update(zero="high"), "'high'"),
    (lambda d: d.pop("seed"), "key 'seed' is missing"),
])
def test_a_malformed_genotype_file_names_itself_and_the_key_or_value(tmp_path, mutate, message):
    path = tmp_path / "genotype.json"
    path.write_text(json.dumps(broken(mutate)))
    with pytest.raises(GenotypeError, match=re.escape(f"{path}: ") + ".*" + re.escape(message)):
        load_genotype(path)


def test_unreadable_files_are_named(tmp_path):
    with pytest.raises(GenotypeError, match="no such genotype file"):
        load_genotype(tmp_path / "missing.json")
    truncated = tmp_path / "truncated.json"
    truncated.write_text(json.dumps(make_genotype().to_dict())[:200])
    with pytest.raises(GenotypeError, match="truncated.json: not valid JSON"):
        load_genotype(truncated)


def test_loader_does_not_mutate_its_input():
    data = make_genotype().to_dict()
    snapshot = copy.deepcopy(data)
    genotype_from_dict(data)
    assert data == snapshot
