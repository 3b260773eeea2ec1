"""The summary the checks print for paired differences: their mean and its 95% t-interval."""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats


def mean_with_t_interval(differences: pd.Series) -> tuple[float, float, float]:
    """(mean, lower, upper) of the 95% Student t-interval of the mean; the bounds are NaN for
    fewer than two differences, which have no spread to go by."""
    n, mean = len(differences), float(differences.mean())
    if n < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.975, n - 1) * differences.std(ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half
