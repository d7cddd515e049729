"""Statistics: mean and standard error, unbiased pass@k, and the arena scores (Bradley-Terry, bootstrap CIs)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


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


# -- Arena-Hard ---------------------------------------------------------------------------------------------
#: Verdict label -> (winner, weight) for a game whose A is `model_a`; ">>" counts `STRONG_WEIGHT` times.
STRONG_WEIGHT = 3
ARENA_SCALE, ARENA_BASE, ARENA_INIT = 400.0, 10.0, 1000.0


@dataclass(frozen=True)
class Battles:
    """Pairwise outcomes aggregated per ordered pair: what Bradley-Terry needs, and what a bootstrap resamples.

    Category k is (model_a[k], model_b[k], outcome[k]) with outcome 1 = A wins, 0 = B wins, 0.5 = tie;
    `counts[k]` is how many battle rows fall in it (a ">>" verdict is `STRONG_WEIGHT` rows).
    """

    models: tuple[str, ...]
    model_a: np.ndarray
    model_b: np.ndarray
    outcome: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, str, float, int]]) -> Battles:
        """From (model_a, model_b, outcome for A, weight) rows."""
        models = tuple(sorted({name for a, b, _, _ in rows for name in (a, b)}))
        index = {name: i for i, name in enumerate(models)}
        tally: dict[tuple[int, int, float], int] = {}
        for a, b, outcome, weight in rows:
            if outcome not in (0.0, 0.5, 1.0):
                raise ValueError(f"battle outcome must be 0, 0.5 or 1, got {outcome!r}")
            key = (index[a], index[b], float(outcome))
            tally[key] = tally.get(key, 0) + int(weight)
        keys = sorted(tally)
        return cls(
            models=models,
            model_a=np.array([k[0] for k in keys], dtype=np.int64),
            model_b=np.array([k[1] for k in keys], dtype=np.int64),
            outcome=np.array([k[2] for k in keys], dtype=np.float64),
            counts=np.array([tally[k] for k in keys], dtype=np.float64),
        )

    @property
    def size(self) -> int:
        return int(self.counts.sum())


def bradley_terry(battles: Battles, baseline: str, counts: np.ndarray | None = None,
                  max_iter: int = 100, tol: float = 1e-10) -> np.ndarray:  # fmt: skip
    """Arena ratings by maximum likelihood, anchored so `baseline` = 1000; one row per row of `counts`.

    The model of arena-hard-auto v0.1 (show_result.py -> utils_math.compute_mle_elo): logistic regression
    without intercept or penalty on rows x = +ln(10) at A, -ln(10) at B, the data duplicated with a tie
    counted once as an A win and once as a B win; ratings = 400 * coef + 1000, shifted so the baseline is
    1000. Its likelihood per ordered pair is W log σ(d) + (N - W) log σ(-d) with d = ln10 (β_a - β_b),
    W = 2·wins_A + ties and N = 2·rows, which is what this maximises — by Newton's method on the aggregated
    counts, for every bootstrap round at once (batched), instead of one sklearn fit per round.
    `counts` (rounds x categories) defaults to the observed counts. Models with no win (or no loss) have no
    finite MLE; the iteration then stops at a saturated rating, as an unpenalised fit does.
    """
    if baseline not in battles.models:
        raise ValueError(f"baseline {baseline!r} has no battles; models: {', '.join(battles.models)}")
    observed = battles.counts[None, :] if counts is None else np.atleast_2d(counts)
    rounds, p = observed.shape[0], len(battles.models)
    anchor = battles.models.index(baseline)
    free = np.array([i for i in range(p) if i != anchor], dtype=np.int64)
    ln10 = math.log(ARENA_BASE)
    incidence = np.zeros((len(battles.counts), p))
    incidence[np.arange(len(battles.counts)), battles.model_a] += ln10
    incidence[np.arange(len(battles.counts)), battles.model_b] -= ln10
    incidence = incidence[:, free]
    wins = 2.0 * observed * battles.outcome[None, :]  # W per category and round
    totals = 2.0 * observed
    beta = np.zeros((rounds, len(free)))
    for _ in range(max_iter):
        d = beta @ incidence.T  # (rounds, categories)
        prob = 1.0 / (1.0 + np.exp(-d))
        gradient = (wins - totals * prob) @ incidence
        weight = totals * prob * (1.0 - prob)
        hessian = np.einsum("rk,ki,kj->rij", weight, incidence, incidence, optimize=True)
        hessian += 1e-9 * np.eye(len(free))[None]
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        step = np.clip(step, -5.0, 5.0)  # saturating (separable) data: walk outwards, never jump to inf/NaN
        beta += step
        if np.max(np.abs(step)) < tol:
            break
    ratings = np.full((rounds, p), ARENA_INIT)
    ratings[:, free] += ARENA_SCALE * beta
    return ratings


def win_rate_vs(ratings: np.ndarray, baseline_rating: float = ARENA_INIT) -> np.ndarray:
    """Expected win-rate against the baseline, 1 / (1 + 10^((R_b - R_m) / 400)) (predict_win_rate there)."""
    return 1.0 / (1.0 + ARENA_BASE ** ((baseline_rating - ratings) / ARENA_SCALE))


@dataclass(frozen=True)
class ArenaScore:
    """One model's arena score in percent, with its confidence interval (absolute, in percent)."""

    model: str
    score: float
    lower: float
    upper: float
    rating: float


def bootstrap_counts(battles: Battles, rounds: int, seed: int) -> np.ndarray:
    """Resampled category counts: rows drawn uniformly with replacement, `battles.size` per round.

    Drawing each round's counts from Multinomial(n, counts / n) is the same distribution as resampling the
    n battle rows (what arena-hard-auto does with DataFrame.sample(frac=1, replace=True)): Bradley-Terry
    depends on the rows only through these counts. It costs O(categories) per round instead of O(rows).
    """
    rng = np.random.default_rng(seed)
    n = battles.size
    return rng.multinomial(n, battles.counts / n, size=rounds).astype(np.float64)


def arena_v01(battles: Battles, baseline: str, rounds: int = 100, seed: int = 0) -> list[ArenaScore]:
    """Arena-Hard v0.1 scores: BT win-rate vs the baseline, 95% CI from the 2.5/97.5 bootstrap percentiles.

    As arena-hard-auto v0.1 show_result.py: point score from the fit on all battles; the CI bounds are the
    percentiles (numpy's linear interpolation) of the bootstrap ratings, then turned into win-rates.
    Fixed here: arena-hard-auto's get_bootstrap_result passes the baseline under a wrong keyword, so every
    bootstrap round is anchored to its default gpt-4-0314 and, for any other baseline, not anchored at all —
    the baseline's own rating then wanders between rounds and the CIs come out wrong. Every round here is
    anchored to the baseline actually named.
    """
    point = bradley_terry(battles, baseline)[0]
    boot = bradley_terry(battles, baseline, bootstrap_counts(battles, rounds, seed))
    lower, upper = np.percentile(boot, 2.5, axis=0), np.percentile(boot, 97.5, axis=0)
    return sorted(
        (ArenaScore(m, 100 * float(win_rate_vs(point[i])), 100 * float(win_rate_vs(lower[i])),
                    100 * float(win_rate_vs(upper[i])), float(point[i]))
         for i, m in enumerate(battles.models)),
        key=lambda s: (-s.score, s.model),
    )  # fmt: skip


def arena_v2(scores_by_model: Mapping[str, Sequence[float]], rounds: int = 100, seed: int = 0) -> list[ArenaScore]:
    """Arena-Hard v2.0 scores: mean per-battle score vs the baseline, 90% interval from 5/95 percentiles.

    As arena-hard-auto v2.0 show_result.py (print_leaderboard): every judged question gives the model the
    scores of both games pooled ([1] A>B, [1, 1, 1] A>>B, [0.5] tie, [0] / [0, 0, 0] losses, from the
    model's side), each model's rows are resampled with replacement per round and averaged, and the
    interval is the 5th / 95th percentile of those means — a 90% interval, labelled so. The point score
    here is the plain mean of the rows (the estimand); arena-hard-auto prints the mean of its bootstrap
    means, which differs from it only by Monte-Carlo noise.
    """
    rng = np.random.default_rng(seed)
    result = []
    for model in sorted(scores_by_model):
        values = np.asarray(scores_by_model[model], dtype=np.float64)
        if values.size == 0:
            continue
        draws = rng.integers(0, values.size, size=(rounds, values.size))
        means = values[draws].mean(axis=1)
        result.append(ArenaScore(model, 100 * float(values.mean()), 100 * float(np.quantile(means, 0.05)),
                                 100 * float(np.quantile(means, 0.95)), math.nan))  # fmt: skip
    return sorted(result, key=lambda s: (-s.score, s.model))
