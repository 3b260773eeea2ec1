"""Did the DARTS search separate the operations (per node and seed: search.csv; per seed: the means),
and do seeds agree (per node: how many derived the same operation, next to what chance gives)?"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import multinomial

from darts_bohb.genotype import NOT_DERIVED, Genotype

SEARCH_COLUMNS = ["seed", "node", "derived", "p_derived", "p_zero", "entropy", "alpha_epochs_run"]


def alpha_epochs_run(genotype: Genotype) -> int:
    """The epochs that updated α: those run after the weight-only warm-up (genotype.json's `search`)."""
    return max(genotype.epochs_run - genotype.extra["settings"]["arch"]["warmup_epochs"], 0)


def search_rows(genotypes: Mapping[int, Genotype]) -> pd.DataFrame:
    rows = []
    for seed, genotype in genotypes.items():
        for node in genotype.topology.node_names:
            derived = genotype.derived(node)
            probabilities = genotype.probabilities[node]
            rows.append({"seed": seed, "node": node, "derived": derived, "p_derived": probabilities[derived],
                         "p_zero": probabilities.get("zero", 0.0), "entropy": genotype.entropy(node),
                         "alpha_epochs_run": alpha_epochs_run(genotype)})
    return pd.DataFrame(rows, columns=SEARCH_COLUMNS)


def seed_diagnostics(genotypes: Mapping[int, Genotype]) -> pd.DataFrame:
    """Per seed, the node means, with p_derived's share among the non-Zero operations and a uniform α's entropy."""
    nodes = search_rows(genotypes).assign(derived_share=lambda frame: frame["p_derived"] / (1.0 - frame["p_zero"]))
    means = nodes.groupby("seed", sort=False)[["p_derived", "derived_share", "p_zero", "entropy"]].mean()
    uniform = [math.log(len(genotype.searched_operations)) for genotype in genotypes.values()]
    return means.add_prefix("mean_").assign(uniform_entropy=uniform).reset_index()


def node_agreement(genotypes: Mapping[int, Genotype]) -> pd.DataFrame:
    nodes = search_rows(genotypes)
    first = next(iter(genotypes.values()))
    derivable = len([op for op in first.operations if op not in NOT_DERIVED]) or len(first.operations)
    n_seeds = len(genotypes)
    rows = []
    for node in first.topology.node_names:
        counts = nodes.loc[nodes["node"] == node, "derived"].value_counts()
        # On a tie the alphabetically first operation is named; the count is the same.
        most = sorted(counts[counts == counts.max()].index)[0]
        agreeing = int(counts.max())
        expected, p_at_least = chance_agreement(n_seeds, derivable, agreeing)
        rows.append({"node": node, "most_derived": most, "agreeing_seeds": agreeing, "n_seeds": n_seeds,
                     "n_derivable": derivable, "chance_expected": expected, "chance_p_at_least": p_at_least})
    return pd.DataFrame(rows)


def chance_agreement(n_seeds: int, n_operations: int, agreeing: int) -> tuple[float, float]:
    """If each seed picks one of n_operations uniformly: the expected size of the largest group that
    picks the same one, and P(it is >= agreeing), exact over every split of the seeds."""
    expected = at_least = 0.0
    for picks in itertools.combinations_with_replacement(range(n_operations), n_seeds):
        counts = np.bincount(picks, minlength=n_operations)
        probability = float(multinomial.pmf(counts, n_seeds, np.full(n_operations, 1.0 / n_operations)))
        expected += probability * max(counts)
        at_least += probability if max(counts) >= agreeing else 0.0
    return expected, min(at_least, 1.0)
