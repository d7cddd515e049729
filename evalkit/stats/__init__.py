"""Statistics: mean and standard error, unbiased pass@k, arena scores (Bradley-Terry, bootstrap CIs), MT-Bench
aggregates and AlpacaEval win-rates (raw and length-controlled)."""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
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


def nan_as_lowest(value: float) -> float:
    """Sort key for scores: NaN (a score that could not be computed) ranks below every number."""
    return value if value == value else -math.inf


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


# -- paired comparisons (the regression gate) ------------------------------------------------------------
def paired_bootstrap(baseline: np.ndarray, candidate: np.ndarray, rounds: int, seed: int,
                     alpha: float) -> tuple[float, float, float]:  # fmt: skip
    """Paired bootstrap of a difference of means (Koehn 2004, "Statistical significance tests for machine
    translation evaluation"): d_i = candidate_i − baseline_i, Δ = mean(d); `rounds` resamples of the items with
    replacement give Δ*. Returns (Δ, the one-sided (1 − α) upper bound = the (1 − α) quantile of Δ*, and
    p = the share of Δ* ≥ 0, i.e. how often the candidate is not worse)."""
    d = np.asarray(candidate, dtype=float) - np.asarray(baseline, dtype=float)
    n = len(d)
    rng = np.random.default_rng(seed)
    means = np.empty(rounds)
    chunk = max(1, 2_000_000 // max(n, 1))  # bounded memory for large n
    for start in range(0, rounds, chunk):
        size = min(chunk, rounds - start)
        means[start : start + size] = d[rng.integers(0, n, size=(size, n))].mean(axis=1)
    return float(d.mean()), float(np.quantile(means, 1 - alpha)), float(np.mean(means >= 0))


def cluster_sums(d: np.ndarray, clusters: Sequence[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster: the sum of d and the number of items (each item its own cluster when `clusters` is None)."""
    if clusters is None:
        return np.asarray(d, dtype=float), np.ones(len(d))
    labels, index = np.unique(np.asarray(clusters, dtype=str), return_inverse=True)
    return np.bincount(index, weights=d, minlength=len(labels)), np.bincount(index, minlength=len(labels)).astype(float)


def clustered_standard_error(d: np.ndarray, clusters: Sequence[str] | None = None) -> float:
    """Standard error of mean(d) when items come in clusters (Miller 2024, "Adding Error Bars to Evals: A
    Statistical Approach to Language Model Evaluations", arXiv:2411.00640: clustered standard errors):

        SE_C = sqrt( Σ_c ( Σ_{i ∈ c} (d_i − d̄) )² ) / n

    With every item its own cluster this is the plain SE sqrt(Σ (d_i − d̄)²) / n (the population form Miller
    uses throughout). Items of one cluster (MT-Bench's turns of a question, Arena-Hard's two games, RAG's
    domain groups) move together, so SE_C is larger than the plain SE when they are positively correlated."""
    d = np.asarray(d, dtype=float)
    n = len(d)
    if n == 0:
        return math.nan
    sums, _ = cluster_sums(d - d.mean(), clusters)
    return float(math.sqrt(float(np.sum(sums**2))) / n)


def cluster_bootstrap(baseline: np.ndarray, candidate: np.ndarray, clusters: Sequence[str], rounds: int, seed: int,
                      alpha: float) -> tuple[float, float, float]:  # fmt: skip
    """`paired_bootstrap` resampling whole clusters (Δ* = Σ of the drawn clusters' d / their items), so that
    items that move together are drawn together."""
    d = np.asarray(candidate, dtype=float) - np.asarray(baseline, dtype=float)
    sums, sizes = cluster_sums(d, clusters)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(sums), size=(rounds, len(sums)))
    means = sums[draws].sum(axis=1) / sizes[draws].sum(axis=1)
    return float(d.mean()), float(np.quantile(means, 1 - alpha)), float(np.mean(means >= 0))


def mcnemar_exact(lost: int, gained: int) -> float:
    """One-sided exact McNemar test (McNemar 1947, in its exact binomial form) that the candidate is worse on a
    pass/fail metric: of the discordant items, `lost` passed only in the baseline and `gained` only in the
    candidate; under no difference each is a fair coin, so p = P(X ≥ lost), X ~ Binomial(lost + gained, 1/2).
    (statsmodels' mcnemar(exact=True) is the two-sided form of the same binomial test.)"""
    n = lost + gained
    if n == 0:
        return 1.0
    return float(sum(math.comb(n, k) for k in range(lost, n + 1)) / 2**n)


def minimum_detectable_drop(standard_error: float, alpha: float, power: float = 0.8) -> float:
    """The smallest true drop a one-sided test at level α detects with the given power, for a difference with
    this standard error: (z_(1−α) + z_power) · SE (Miller 2024, power analysis; power 0.8 by default)."""
    from statistics import NormalDist  # noqa: PLC0415 - only the gate needs it

    normal = NormalDist()
    return float((normal.inv_cdf(1 - alpha) + normal.inv_cdf(power)) * standard_error)


# -- MT-Bench ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rating:
    """One single-answer grade: which turn of which question (and its category); -1 = no rating."""

    question_id: str
    turn: int
    category: str
    rating: float


@dataclass(frozen=True)
class MTBenchScores:
    """Turn means, the pooled mean, per-category means (each (mean, stderr, n)) and how many were excluded."""

    score: tuple[float, float, int]
    turn1: tuple[float, float, int]
    turn2: tuple[float, float, int]
    categories: Mapping[str, tuple[float, float, int]]
    excluded: int


def mt_bench_scores(ratings: Sequence[Rating]) -> MTBenchScores:
    """MT-Bench aggregates as FastChat's show_result prints them (fastchat/llm_judge/show_result.py, single mode).

    Ratings of -1 (no rating could be read) are dropped first and counted. Then: turn 1 = mean of the turn-1
    ratings, turn 2 = mean of the turn-2 ratings, score = the mean of *all* remaining ratings pooled (not the
    mean of the two turn means: they differ when the turns kept different counts). Per-category means pool
    both turns the same way. Standard errors are `mean_stderr` (sample sd / sqrt(n)); FastChat prints none.
    """
    kept = [r for r in ratings if r.rating != -1]

    def summary(values: Sequence[float]) -> tuple[float, float, int]:
        mean, stderr = mean_stderr(values)
        return mean, stderr, len(values)

    categories: dict[str, list[float]] = {}
    for r in kept:
        categories.setdefault(r.category, []).append(r.rating)
    return MTBenchScores(
        score=summary([r.rating for r in kept]),
        turn1=summary([r.rating for r in kept if r.turn == 1]),
        turn2=summary([r.rating for r in kept if r.turn == 2]),
        categories={name: summary(values) for name, values in sorted(categories.items())},
        excluded=len(ratings) - len(kept),
    )


# -- AlpacaEval ----------------------------------------------------------------------------------------------
#: Candidate inverse regularisation strengths: sklearn LogisticRegressionCV's default grid (Cs=10).
LC_CS = tuple(float(c) for c in np.logspace(-4, 4, 10))
LC_FOLDS, LC_RANDOM_STATE, LC_FIXED_C = 5, 123, 100.0


@dataclass(frozen=True)
class WinRate:
    """Raw head-to-head numbers of preferences in [1, 2] (2 = the model wins), as alpaca_eval reports them."""

    win_rate: float
    standard_error: float
    discrete_win_rate: float
    n_wins: int
    n_wins_base: int
    n_draws: int
    n_total: int


def win_rate(preferences: Sequence[float]) -> WinRate:
    """alpaca_eval's `get_winrate` (metrics/winrate.py with metrics/helpers.py AbsoluteScoringRule).

    0 means a draw (old encoding) and is read as 1.5; values outside [1, 2] or NaN are dropped. With
    p = preference - 1: win_rate = 100 * mean(p), standard_error = 100 * sd(p, ddof=1) / sqrt(n);
    wins are p > 0.5, base wins p < 0.5, draws exactly 1.5. The discrete win-rate first rounds every
    preference to 1 or 2 (a draw stays 0.5).
    """
    values = np.asarray([1.5 if p == 0 else p for p in preferences], dtype=float)
    valid = values[(values >= 1) & (values <= 2)]  # NaN compares False
    p = valid - 1
    n = len(p)
    draws = int(np.sum(valid == 1.5))
    discrete = np.where(valid == 1.5, 0.5, np.round(valid) - 1)
    stderr = float(np.std(p, ddof=1) / math.sqrt(n)) * 100 if n > 1 else math.nan
    return WinRate(
        win_rate=float(np.mean(p)) * 100 if n else math.nan, standard_error=stderr,
        discrete_win_rate=float(np.mean(discrete)) * 100 if n else math.nan,
        n_wins=int(np.sum(p > 0.5)), n_wins_base=int(np.sum(p < 0.5)), n_draws=draws, n_total=n,
    )  # fmt: skip


@dataclass(frozen=True)
class LengthControlled:
    """The length-controlled win-rate of one model against one reference, with the fitted GLM weights."""

    lc_win_rate: float
    lc_standard_error: float
    weights: Mapping[str, float]
    c: float | None  # the cross-validated inverse regularisation strength (None: the model is the reference)


def soft_logistic_fit(x: np.ndarray, p: np.ndarray, weight: np.ndarray | None, c: float,
                      random_state: int | np.random.RandomState = LC_RANDOM_STATE) -> np.ndarray:  # fmt: skip
    """L1-regularised logistic regression without intercept on soft labels p in [0, 1] (liblinear).

    Each row enters twice, as label 1 with weight w * p and as label 0 with weight w * (1 - p), which is
    the cross-entropy against p — how alpaca_eval's fit_LogisticRegressionCV fits probabilities.
    `random_state` seeds liblinear's coordinate order (a shared RandomState gives successive fits
    successive seeds, as sklearn's regularisation path does).
    """
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - optional and slow to import

    w = np.ones(len(p)) if weight is None else weight
    model = LogisticRegression(C=c, l1_ratio=1.0, solver="liblinear", fit_intercept=False,
                               random_state=random_state)  # fmt: skip
    with _liblinear_quiet():
        model.fit(np.vstack([x, x]), np.r_[np.ones(len(p)), np.zeros(len(p))],
                  sample_weight=np.r_[w * p, w * (1 - p)])  # fmt: skip
    return model.coef_[0]


@contextlib.contextmanager
def _liblinear_quiet() -> Iterator[None]:
    """Hold back liblinear's C-level "class label N specified in weight is not found" lines (printed when every
    preference is one-sided, so one duplicated label has weight 0 everywhere: expected, and harmless);
    anything else it writes to stderr is passed on."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines():
                if "specified in weight is not found" not in line:
                    print(line, file=sys.stderr)


def soft_log_loss(x: np.ndarray, p: np.ndarray, weight: np.ndarray | None, coef: np.ndarray) -> float:
    """Mean over the duplicated rows of -w * (p log q + (1 - p) log(1 - q)), q clipped to [1e-15, 1 - 1e-15]."""
    q = np.clip(_sigmoid(x @ coef), 1e-15, 1 - 1e-15)
    loss = -(p * np.log(q) + (1 - p) * np.log(1 - q))
    if weight is not None:
        loss = loss * weight
    return float(np.mean(loss))  # each row appears twice with the same loss: the mean is unchanged


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0, -z))


def cross_validated_fit(x: np.ndarray, p: np.ndarray, weight: np.ndarray | None = None,
                        cs: Sequence[float] = LC_CS, folds: int = LC_FOLDS) -> tuple[np.ndarray, float]:  # fmt: skip
    """Choose C by 5-fold cross-validated soft log-loss, then refit on all rows (alpaca_eval's recipe).

    alpaca_eval (metrics/glm_winrate.py, fit_LogisticRegressionCV with is_ytrue_proba) runs sklearn's
    LogisticRegressionCV(penalty="l1", solver="liblinear", fit_intercept=False, random_state=123) over the
    default grid of ten Cs, GroupKFold(5) keeping both copies of a row in one fold, scored by the soft
    log-loss; the C with the best summed fold score (first on ties) is refitted on everything. This is the
    same procedure written out, so no global sklearn metadata-routing switch is needed. Within a fold the ten
    fits draw their liblinear seeds one after another from RandomState(123), and the refit starts afresh,
    exactly as sklearn's path does: near convergence limits the seed moves the fold scores in the sixth
    digit, enough to change the chosen C. With fewer rows than
    folds (where sklearn raises), there are as many folds as rows; a single row is fitted at alpaca_eval's
    fixed C = 100 (its fit without cross-validation).
    """
    from sklearn.model_selection import GroupKFold  # noqa: PLC0415

    n = len(p)
    if n < 2:
        return soft_logistic_fit(x, p, weight, LC_FIXED_C), LC_FIXED_C
    folds = min(folds, n)
    rows = np.arange(n)
    duplicated = np.r_[rows, rows]
    splits = []
    for train, test in GroupKFold(n_splits=folds).split(np.zeros(2 * n), groups=duplicated):
        splits.append((np.unique(duplicated[train]), np.unique(duplicated[test])))
    totals = np.zeros(len(cs))
    for train, test in splits:
        w_train = None if weight is None else weight[train]
        w_test = None if weight is None else weight[test]
        seeds = np.random.RandomState(LC_RANDOM_STATE)
        for index, c in enumerate(cs):
            coef = soft_logistic_fit(x[train], p[train], w_train, c, seeds)
            totals[index] -= soft_log_loss(x[test], p[test], w_test, coef)
    best = float(cs[int(np.argmax(totals))])
    return soft_logistic_fit(x, p, weight, best), best


def length_controlled_win_rate(preferences: Sequence[float], model_lengths: Sequence[int],
                               reference_lengths: Sequence[int], difficulty: Sequence[float] | None = None,
                               regularisation: tuple[np.ndarray, np.ndarray, float] | None = None
                               ) -> LengthControlled:  # fmt: skip
    """AlpacaEval's length-controlled win-rate (Dubois et al. 2024; alpaca_eval metrics/glm_winrate.py).

    Per instruction i with preference p_i in [1, 2] (2 = the model wins; 0 = draw, read as 1.5):
      Δ_i = len(reference_i) - len(model_i) in characters, s = sd(Δ, ddof=1) over all instructions,
      logit P(model wins) = φ·tanh(Δ_i / s) + ψ·γ_i + θ          (no intercept; θ is a column of ones)
    fitted by `cross_validated_fit` on the instructions with a preference (NaN rows are left out of the
    fit but kept for the prediction, as alpaca_eval does). γ_i is the instruction difficulty (omit it for
    alpaca_eval's "length_controlled_minimal" formula). LC = 100 · mean_i σ(ψ·γ_i + θ) — the length term
    set to 0 — and its standard error is 100 · sd(σ_i, ddof=1) / sqrt(n), as alpaca_eval reports it.

    `regularisation` = (x_extra, p_extra, λ) adds alpaca_eval's "gamed baseline" rows (length_controlled_v1)
    with sample weight λ / 2 against 1 for the model's own rows.
    """
    prefs = np.asarray([1.5 if v == 0 else v for v in preferences], dtype=float) - 1
    delta = np.asarray(reference_lengths, dtype=float) - np.asarray(model_lengths, dtype=float)
    scale = np.std(delta, ddof=1) if len(delta) > 1 else math.nan
    length = np.tanh(delta / scale) if scale > 0 else np.zeros(len(delta))
    names = ["length", *(["difficulty"] if difficulty is not None else []), "model"]
    columns = [length, *([np.asarray(difficulty, dtype=float)] if difficulty is not None else []),
               np.ones(len(delta))]  # fmt: skip
    x = np.column_stack(columns)
    known = ~np.isnan(prefs)
    x_fit, p_fit, weight = x[known], prefs[known], None
    if regularisation is not None:
        x_extra, p_extra, strength = regularisation
        x_fit, p_fit = np.vstack([x_extra, x_fit]), np.r_[p_extra, p_fit]
        weight = np.r_[np.full(len(p_extra), strength / 2), np.ones(int(known.sum()))]
    coef, best = cross_validated_fit(x_fit, p_fit, weight)
    x_test = x.copy()
    x_test[:, 0] = 0.0
    predicted = _sigmoid(x_test @ coef)
    stderr = float(np.std(predicted, ddof=1) / math.sqrt(len(predicted))) * 100 if len(predicted) > 1 else math.nan
    weights = dict(zip(names, map(float, coef), strict=True))
    return LengthControlled(float(np.mean(predicted)) * 100, stderr, weights, best)


def estimate_difficulty(model_index: np.ndarray, instruction_index: np.ndarray, length: np.ndarray,
                        preferences: np.ndarray, n_models: int, n_instructions: int) -> np.ndarray:  # fmt: skip
    """Instruction difficulty γ fitted jointly over several models (alpaca_eval notebooks/instruction_difficulty).

    One GLM over every (model, instruction) annotation: a length slope and a bias per model, one weight per
    instruction (treatment coding: instruction 0 is the reference level, γ_0 = 0) and a shared constant,
    fitted by `cross_validated_fit`; γ is the instruction weights. `length` is tanh(Δ / sd(Δ)) per row.
    """
    rows = len(preferences)
    x = np.zeros((rows, 2 * n_models + n_instructions))
    x[np.arange(rows), model_index] = length
    x[np.arange(rows), n_models + model_index] = 1.0
    dummy = instruction_index > 0
    x[np.arange(rows)[dummy], 2 * n_models + instruction_index[dummy] - 1] = 1.0
    x[:, -1] = 1.0
    known = ~np.isnan(preferences)
    coef, _ = cross_validated_fit(x[known], preferences[known])
    return np.r_[0.0, coef[2 * n_models : 2 * n_models + n_instructions - 1]]
