"""Markdown cells and tables of summary.md: numbers with a fixed number of digits, "—" for an
undefined one, and means that say how many values they leave out."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd


def table(header: list[str], rows: Iterable[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(row) for row in rows)])


def mean_std(values: pd.Series, signed: bool = False) -> str:
    """Mean ± std of the defined values (an undefined AUC is NaN), saying how many were left out."""
    undefined = int(values.isna().sum())
    values = values.dropna()
    if values.empty:
        return "—"
    sign = "+" if signed else ""
    left_out = f"; {undefined} undefined left out" if undefined else ""
    if len(values) == 1:
        return f"{values.iloc[0]:{sign}.4f} (one seed, no spread{left_out})"
    return f"{values.mean():{sign}.4f} ± {values.std(ddof=1):.4f}" + (f" ({left_out[2:]})" if undefined else "")


def number(value: float | None, digits: int = 4, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "—"
    return f"{value:{'+' if signed else ''}.{digits}f}"


def seed_list(seeds: Iterable[int]) -> str:
    return ", ".join(str(seed) for seed in seeds)
