"""The three methods that share one BOHB protocol.

`nas` stacks cells sampled from the searched genotype, `random` cells drawn uniformly from the
same operations (the control for the search), `baseline` a plain CNN. Where each keeps its results
is the workflow's (workflow/rules/common.smk). Light on purpose: the scripts' parsers import it.
"""

from __future__ import annotations

METHODS = ("nas", "random", "baseline")
