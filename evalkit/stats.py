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


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with n samples of which c pass: 1 - C(n-c, k) / C(n, k).

    Chen et al. 2021, "Evaluating Large Language Models Trained on Code", eq. 1; computed as in
    openai/human-eval (human_eval/evaluation.py, estimate_pass_at_k) by the product
    1 - prod_{i=n-c+1..n} (1 - k / i), which avoids huge binomials. Requires n >= k.
    """
    if not 0 <= c <= n or k < 1 or n < k:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product
