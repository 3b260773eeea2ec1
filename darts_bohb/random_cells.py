"""The cell designs of the `random` method: the control for the search itself.

NAS best practice (Li & Talwalkar 2019; Yang et al. 2020) compares a searched architecture with
random ones from the same space under the same protocol. Here the random method gets K designs
drawn node by node uniformly from the operations that the NAS designs may use, instead of from
the searched α, and then runs exactly the NAS BOHB and final training on them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from darts_bohb.topology import OPERATIONS, CellTopology, carries_signal

LOG = logging.getLogger(__name__)
MAX_DRAWS_PER_DESIGN = 1000  # draws per wanted design before accepting fewer distinct ones


def design_operations(include_zero: bool) -> tuple[str, ...]:
    """The operations a NAS design may use, so a random design may use exactly these: NAS draws
    from the genotype's probabilities (hpo_space.sample_designs), and a search without Zero
    (search.include_zero: false) gives Zero probability 0."""
    return OPERATIONS if include_zero else tuple(op for op in OPERATIONS if op != "zero")


def sample_random_designs(topology: CellTopology, k: int, seed: int,
                          operations: Sequence[str] = OPERATIONS) -> list[dict[str, str]]:
    """K distinct designs, each node's operation uniform over `operations`, seeded by `seed`.

    As for the NAS designs, a draw whose Zero nodes cut every path from input to output is
    skipped (its cell would output a constant), so every design carries signal. No design is
    privileged: there is no derived design, design 0 is simply the first draw.
    """
    nodes = topology.node_names
    rng = np.random.default_rng(seed)
    designs: list[dict[str, str]] = []
    seen: set[tuple[str, ...]] = set()
    for _ in range(MAX_DRAWS_PER_DESIGN * k):
        if len(designs) >= k:
            break
        choice = tuple(operations[index] for index in rng.integers(len(operations), size=len(nodes)))
        if choice in seen:
            continue
        seen.add(choice)
        design = dict(zip(nodes, choice))
        if carries_signal(topology, design):
            designs.append(design)
    if len(designs) < k:
        LOG.warning("only %d distinct random cell designs of the %d asked for (hpo.designs_per_cell): "
                    "%d operations on %d nodes allow %d", len(designs), k, len(operations), len(nodes),
                    math.prod([len(operations)] * len(nodes)))
    return designs
