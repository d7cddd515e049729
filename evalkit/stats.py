"""Statistics for summaries (mean and its standard error; arena statistics join later)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def mean_stderr(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean: sqrt(sum((x - mean)^2) / (n - 1)) / sqrt(n).

    The same estimator lm-evaluation-harness reports for mean metrics (lm_eval/api/metrics.py,
    `mean_stderr` = sample_stddev / sqrt(n)); stderr is NaN for n < 2.
    """
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = math.fsum(values) / n
    if n < 2:
        return mean, math.nan
    variance = math.fsum((x - mean) ** 2 for x in values) / (n - 1)
    return mean, math.sqrt(variance / n)
