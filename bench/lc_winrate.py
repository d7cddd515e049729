"""AlpacaEval length-controlled win-rate: one model's GLM fit on 805 instructions (target <= 1 s per model).

Side by side in one run: evalkit's `length_controlled_win_rate` (5-fold CV over ten Cs, then the refit) with
the minimal formula, with instruction difficulty, and with difficulty plus alpaca_eval's gamed-baseline rows
(length_controlled_v1, 3 x 805 rows), against sklearn's LogisticRegressionCV configured as alpaca_eval's
fit_LogisticRegressionCV on the same data.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from evalkit.stats import LC_CS, length_controlled_win_rate

INSTRUCTIONS, REPEATS = 805, 3


def synthetic(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    reference = rng.integers(200, 3000, INSTRUCTIONS)
    model = (reference * rng.lognormal(0.2, 0.5, INSTRUCTIONS)).astype(int)
    difficulty = rng.normal(0, 1, INSTRUCTIONS)
    delta = reference - model
    logit = 0.3 - 1.2 * np.tanh(delta / delta.std(ddof=1)) + 0.8 * difficulty + rng.normal(0, 0.5, INSTRUCTIONS)
    return 1 + 1 / (1 + np.exp(-logit)), model, reference, difficulty


def best_of(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def sklearn_reference_seconds(x: np.ndarray, p: np.ndarray) -> float | None:
    try:
        import sklearn
        from sklearn.linear_model import LogisticRegressionCV
        from sklearn.metrics import make_scorer
        from sklearn.model_selection import GroupKFold
    except ImportError:
        return None

    def loss(y_true, y_pred, true_prob):
        target = np.where(y_true == 1, true_prob, 1 - true_prob)
        y_pred = np.clip(y_pred, 1e-15, 1 - 1e-15)
        return -np.mean(target * np.log(y_pred) + (1 - target) * np.log(1 - y_pred))

    n = len(p)
    dup, prob, groups = np.vstack([x, x]), np.r_[p, 1 - p], np.r_[np.arange(n), np.arange(n)]

    def fit() -> None:
        with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scorer = make_scorer(loss, response_method="predict_proba", greater_is_better=False)
            model = LogisticRegressionCV(cv=GroupKFold(5), scoring=scorer.set_score_request(true_prob=True),
                                         l1_ratios=(1.0,), solver="liblinear", fit_intercept=False,
                                         random_state=123, Cs=list(LC_CS))  # fmt: skip
            model.set_fit_request(sample_weight=True)
            model.fit(dup, np.r_[np.ones(n), np.zeros(n)], sample_weight=prob, groups=groups, true_prob=prob)

    return best_of(fit)


if __name__ == "__main__":
    preferences, model, reference, difficulty = synthetic()
    delta = reference - model
    gamed_x = np.column_stack([np.tanh(np.r_[delta, -delta] / delta.std(ddof=1)), np.r_[difficulty, difficulty],
                               np.zeros(2 * INSTRUCTIONS)])  # fmt: skip
    gamed_p = np.r_[np.full(INSTRUCTIONS, 0.3), np.full(INSTRUCTIONS, 0.7)]
    minimal = best_of(lambda: length_controlled_win_rate(preferences, model, reference))
    with_gamma = best_of(lambda: length_controlled_win_rate(preferences, model, reference, difficulty))
    v1 = best_of(lambda: length_controlled_win_rate(preferences, model, reference, difficulty,
                                                    regularisation=(gamed_x, gamed_p, 0.2)))  # fmt: skip
    x = np.column_stack([np.tanh(delta / delta.std(ddof=1)), difficulty, np.ones(INSTRUCTIONS)])
    reference_seconds = sklearn_reference_seconds(x, preferences - 1)
    result = length_controlled_win_rate(preferences, model, reference, difficulty)
    print(f"{INSTRUCTIONS} instructions, one model; LC win-rate {result.lc_win_rate:.2f} (C = {result.c:g})")
    print(f"evalkit LC fit, minimal formula:             {minimal:6.3f} s  (target <= 1 s)")
    print(f"evalkit LC fit, with instruction difficulty: {with_gamma:6.3f} s  (target <= 1 s)")
    print(f"evalkit LC fit, length_controlled_v1 rows:   {v1:6.3f} s  (target <= 1 s)")
    if reference_seconds is not None:
        print(f"sklearn LogisticRegressionCV (alpaca_eval's setup), same data: {reference_seconds:6.3f} s  "
              f"-> evalkit / reference = {with_gamma / reference_seconds:.2f}x")
