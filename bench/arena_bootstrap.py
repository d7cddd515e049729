"""Arena-Hard v0.1 bootstrap: 1,000 rounds for 50 models x 500 questions x 2 games (target <= 2 s).

Side by side in one run: evalkit's batched Newton fit on aggregated counts vs one fit of the reference's
estimator (unpenalised sklearn logistic regression on the expanded battle rows), extrapolated to 1,000 rounds.
"""

from __future__ import annotations

import math
import time

import numpy as np

from evalkit.stats import Battles, arena_v01, bradley_terry

MODELS, QUESTIONS, ROUNDS = 50, 500, 1000
LABELS = [(1.0, 3), (1.0, 1), (0.5, 1), (0.0, 1), (0.0, 3)]


def synthetic_battles(seed: int = 0) -> tuple[Battles, list[tuple[str, str, float, int]]]:
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(1, MODELS):
        strength = rng.normal(0, 0.6)
        p_win = 1 / (1 + math.exp(-strength))
        for _ in range(QUESTIONS):
            for game in (1, 2):
                # strong win, win, tie, loss, strong loss: cumulative thresholds
                u = rng.random()
                cuts = (p_win * 0.3, p_win, p_win + 0.1, 0.95)
                outcome, weight = LABELS[sum(u >= c for c in cuts)]
                a, b = ("base", f"m{m:02d}") if game == 1 else (f"m{m:02d}", "base")
                rows.append((a, b, outcome if game == 2 else 1 - outcome, weight))
    return Battles.from_rows(rows), rows


def sklearn_one_fit_seconds(battles: Battles) -> float | None:
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return None
    index = np.repeat(np.arange(len(battles.counts)), battles.counts.astype(int))
    n, p = len(index), len(battles.models)
    x = np.zeros((2 * n, p))
    x[np.arange(2 * n), np.tile(battles.model_a[index], 2)] = math.log(10)
    x[np.arange(2 * n), np.tile(battles.model_b[index], 2)] = -math.log(10)
    outcome = battles.outcome[index]
    y = np.concatenate([(outcome >= 0.5), (outcome == 1.0)]).astype(float)
    start = time.perf_counter()
    LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-8).fit(x, y)
    return time.perf_counter() - start


if __name__ == "__main__":
    battles, rows = synthetic_battles()
    print(f"{MODELS} models x {QUESTIONS} questions x 2 games = {len(rows)} games, {battles.size} battle rows")
    bradley_terry(battles, "base")  # warm-up
    start = time.perf_counter()
    arena_v01(battles, "base", rounds=ROUNDS, seed=0)
    ours = time.perf_counter() - start
    print(f"evalkit v0.1 bootstrap, {ROUNDS} rounds: {ours:.2f} s (target <= 2 s)")
    one = sklearn_one_fit_seconds(battles)
    if one is not None:
        print(f"reference estimator (sklearn, one fit): {one:.2f} s -> {ROUNDS} rounds ~ {one * ROUNDS:.0f} s; "
              f"ratio evalkit / reference = {ours / (one * ROUNDS):.4f}")
