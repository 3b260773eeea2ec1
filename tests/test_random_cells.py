"""The random method's cell designs: uniform over the operations NAS designs may use, distinct,
every one carrying signal, and the same for the same seed."""

import collections
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, snakemake
from darts_bohb.random_cells import design_operations, sample_random_designs
from darts_bohb.topology import OPERATIONS, carries_signal, cell_topology

TOPOLOGY = cell_topology()


def test_designs_are_distinct_carry_signal_and_repeat_for_a_seed():
    designs = sample_random_designs(TOPOLOGY, 50, seed=4)
    assert len(designs) == 50
    assert len({tuple(d.values()) for d in designs}) == 50
    assert all(carries_signal(TOPOLOGY, design) for design in designs)
    assert all(set(design) == set(TOPOLOGY.node_names) for design in designs)
    assert designs == sample_random_designs(TOPOLOGY, 50, seed=4)
    assert designs != sample_random_designs(TOPOLOGY, 50, seed=5)


def test_operations_are_drawn_uniformly_from_those_nas_designs_may_use():
    designs = sample_random_designs(TOPOLOGY, 2000, seed=0)
    counts = collections.Counter(op for design in designs for op in design.values())
    assert set(counts) == set(OPERATIONS)
    share = {op: count / sum(counts.values()) for op, count in counts.items()}
    # Uniform is 1/5; rejecting designs that cut every path takes a little from Zero.
    for op, value in share.items():
        assert value == pytest.approx(0.2, abs=0.03), (op, share)


def test_without_zero_in_the_search_no_random_design_uses_zero():
    """A search without Zero gives it probability 0, so no NAS design can use it: nor may random."""
    operations = design_operations(include_zero=False)
    assert set(operations) == set(OPERATIONS) - {"zero"}
    designs = sample_random_designs(TOPOLOGY, 500, seed=0, operations=operations)
    counts = collections.Counter(op for design in designs for op in design.values())
    assert set(counts) == set(operations)
    assert all(value / sum(counts.values()) == pytest.approx(0.25, abs=0.03) for value in counts.values())
    assert design_operations(include_zero=True) == OPERATIONS


def test_no_design_of_only_zero_nodes():
    designs = sample_random_designs(TOPOLOGY, 5, seed=1, operations=("zero", "identity"))
    assert all(carries_signal(TOPOLOGY, design) for design in designs)


@pytest.mark.slow
@pytest.mark.parametrize("arguments, message", [
    (["--method", "random"], "--kernel-sizes is required for --method random"),
    (["--method", "nas", "--genotype", "g.json", "--kernel-sizes", "3", "5", "7", "9"],
     "--kernel-sizes is required for --method random and accepted for no other method"),
    (["--method", "random", "--genotype", "g.json", "--kernel-sizes", "3", "5", "7", "9"],
     "--genotype is required for --method nas and accepted for no other method"),
])
@pytest.mark.slow
def test_the_bohb_script_takes_the_cell_wiring_for_random_and_only_there(tmp_path, arguments, message):
    script = Path(__file__).resolve().parents[1] / "scripts" / "bohb.py"
    job = ["--data", "d.npz", "--dataset", "retinamnist", "--size", "28", "--seed", "1", "--settings", "{}",
           "--runtime", "{}", "--epoch-size", "{}",
           "--incumbent", str(tmp_path / "i.json"), "--trajectory", "t.csv", "--runhistory", "r.csv",
           "--ensemble", "e.pt"]
    result = subprocess.run([sys.executable, str(script), *arguments, *job], capture_output=True, text=True,
                            timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and message in result.stderr, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("random_section, expected_seeds", [
    (None, ["2", "3"]),  # no random key: the baseline's seeds
    ({"seeds": [5]}, ["5"]),
])
def test_the_random_rules_run_on_random_seeds_or_else_the_baselines(tmp_path, random_section, expected_seeds):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["baseline"]["seeds"] = [2, 3]
    config.pop("random", None)
    if random_section is not None:
        config["random"] = random_section
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "--snakefile", str(REPO / "Snakefile"), "-n", "--configfile", "config.yaml",
                       timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout + result.stderr
    for rule in ("random_bohb", "random_final"):
        jobs = re.findall(rf"rule {rule}:\n(?:    .*\n)*?    wildcards: flag=\w+, size=\d+, seed=(\d+)", output)
        assert sorted(jobs) == expected_seeds, (rule, jobs)
