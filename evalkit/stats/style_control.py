"""Style-controlled Arena-Hard: the win-rate against the baseline once length and markdown are accounted for.

The method of arena-hard-auto v2 (show_result.py `print_leaderboard_with_style_features`, features from
utils/add_markdown_info.py; after LMSYS, "Does style matter? Disentangling style and substance in Chatbot
Arena", 2024):

  battles    every judged game from the model's side, exploded as arena-hard-auto does: a win [1] (decisive
             [1, 1, 1]), a tie [0.5], a loss [0] ([0, 0, 0]); per question the second game's rows, then the
             first game's
  style      per answer: its length, and the counts of markdown headers (lines starting `#`…`######` and a
             space), list items (`1. ` or `- * +` at a line start) and bold spans (`**…**`, `__…__`), counted
             after the contents of ``` fences are removed
  features   length: (l_m − l_b) / (l_m + l_b); for headers, lists, bold the density d = count / (length + 1)
             and (d_m − d_b) / (d_m + d_b + 1); every feature column standardised over the battles (mean 0,
             sample standard deviation 1)
  model      logistic regression without intercept on the soft outcomes: logit = c_model − c_baseline +
             Σ β_k feature_k, fitted by Newton's method to the maximum of the likelihood (arena-hard-auto
             runs 50 L-BFGS iterations towards the same maximum)
  score      win-rate vs the baseline = σ(c_model − c_baseline), in percent; `bootstrap` rounds resample the
             battles (draws from numpy's legacy RandomState(seed).randint, the generator arena-hard-auto's
             np.random.randint uses) and the interval is their 5th / 95th percentile (a 90% interval);
             the point is the fit on all battles, `bootstrap_median` the median arena-hard-auto prints
  coefficients  the medians of β over the rounds: how much the judge rewards length / headers / lists / bold

Length unit: arena-hard-auto counts gpt-4o tokens (tiktoken o200k), which splits Cyrillic into many more
pieces than Latin text of the same content, so a Russian answer looks "longer" to the length feature than
an English one saying the same. `characters` (the default here) measures every language alike;
`tokens` takes the answers' recorded token counts (`token_len`), which is what reproduces arena-hard-auto.

Two fixes to the reference: a feature that is constant over the battles (no answer uses a header, say) has
standard deviation 0 and makes arena-hard-auto stop on a NaN assertion; here it is left out of the fit and
reported with coefficient 0. And its `length`-only / `markdown`-only options slice the feature matrix from
its first column, which is a model's one-hot column, not a style feature; here `features` selects by name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evalkit.records import TaskDataError, read_jsonl
from evalkit.stats.battles import VERDICT_OUTCOMES, answer_text, answer_tokens

STYLE_FEATURES = ("length", "headers", "lists", "bold")
LENGTH_UNITS = ("characters", "tokens")
_FENCE = re.compile(r"```([^`]*)```")
_HEADERS = [re.compile(rf"^#{{{level}}}\s", re.MULTILINE) for level in range(1, 7)]
_LISTS = (re.compile(r"^\s*\d+\.\s", re.MULTILINE), re.compile(r"^\s*[-*+]\s", re.MULTILINE))
_BOLD = (re.compile(r"\*\*[^*\n]+\*\*"), re.compile(r"__[^_\n]+__"))


@dataclass(frozen=True)
class Style:
    """One answer's style: its length (in the chosen unit) and its markdown element counts."""

    length: float
    headers: int
    lists: int
    bold: int


def markdown_counts(answer: str) -> tuple[int, int, int]:
    """(headers, list items, bold spans) of an answer, counted as arena-hard-auto does: the text between
    ``` fences is removed first (the fences themselves stay)."""
    for block in _FENCE.findall(answer):
        answer = answer.replace(block, "")
    headers = sum(len(p.findall(answer)) for p in _HEADERS)
    lists = sum(len(p.findall(answer)) for p in _LISTS)
    bold = sum(len(p.findall(answer)) for p in _BOLD)
    return headers, lists, bold


def style_of(answer: str, length_unit: str = "characters", token_len: int | None = None) -> Style:
    """An answer's style; `tokens` needs the answer's recorded token count."""
    if length_unit not in LENGTH_UNITS:
        raise ValueError(f"length unit {length_unit!r}: choose one of {', '.join(LENGTH_UNITS)}")
    if length_unit == "tokens" and token_len is None:
        raise ValueError("the token length unit needs each answer's token count (token_len)")
    length = float(token_len) if length_unit == "tokens" else float(len(answer))
    return Style(length, *markdown_counts(answer))


@dataclass(frozen=True)
class StyleBattle:
    """One exploded battle row: the model, its outcome against the baseline, and both answers' styles."""

    model: str
    outcome: float  # 1 win, 0.5 tie, 0 loss, from the model's side
    model_style: Style
    baseline_style: Style


@dataclass(frozen=True)
class StyleScore:
    model: str
    score: float  # percent: the fit on all battles
    lower: float  # 5th percentile of the bootstrap rounds
    upper: float  # 95th percentile
    bootstrap_median: float  # what arena-hard-auto prints as the score


@dataclass(frozen=True)
class StyleControlled:
    scores: list[StyleScore]
    coefficients: dict[str, float]  # median over the rounds; 0 for a feature left out (constant)
    features: tuple[str, ...]
    dropped: tuple[str, ...] = field(default=())


def feature_matrix(battles: Sequence[StyleBattle], features: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The standardised style features of every battle (columns in `features` order, constant ones left out)
    and which of `features` were kept."""
    model = np.array([[b.model_style.length, b.model_style.headers, b.model_style.lists, b.model_style.bold]
                      for b in battles], dtype=np.float64)  # fmt: skip
    base = np.array([[b.baseline_style.length, b.baseline_style.headers, b.baseline_style.lists,
                      b.baseline_style.bold] for b in battles], dtype=np.float64)  # fmt: skip
    raw = np.zeros_like(model)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw[:, 0] = (model[:, 0] - base[:, 0]) / (model[:, 0] + base[:, 0])
    raw[:, 0] = np.nan_to_num(raw[:, 0])  # two empty answers: no length difference
    model_density = model[:, 1:] / (model[:, :1] + 1)
    base_density = base[:, 1:] / (base[:, :1] + 1)
    raw[:, 1:] = (model_density - base_density) / (model_density + base_density + 1)
    chosen = raw[:, [STYLE_FEATURES.index(f) for f in features]]
    spread = chosen.std(axis=0, ddof=1) if len(battles) > 1 else np.zeros(chosen.shape[1])
    usable = spread > 0
    standardised = np.zeros_like(chosen)
    standardised[:, usable] = (chosen[:, usable] - chosen[:, usable].mean(axis=0)) / spread[usable]
    return standardised[:, usable], usable


def fit_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, iterations: int = 100) -> np.ndarray:
    """Maximum-likelihood logistic regression without intercept on soft labels (weighted rows), by Newton's
    method; a tiny ridge (1e-8) keeps the step defined when a column is empty in a bootstrap round."""
    coef = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ coef)))
        gradient = x.T @ (weight * (y - p))
        hessian = (x * (weight * p * (1 - p))[:, None]).T @ x + 1e-8 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        coef += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return coef


def style_controlled(battles: Sequence[StyleBattle], features: Sequence[str] = STYLE_FEATURES, rounds: int = 100,
                     seed: int = 0) -> StyleControlled:  # fmt: skip
    """Style-controlled win-rates vs the baseline of every model in `battles` (see the module docstring)."""
    unknown = [f for f in features if f not in STYLE_FEATURES]
    if unknown or not features:
        raise ValueError(f"style features {unknown or '(none)'}: choose among {', '.join(STYLE_FEATURES)}")
    if not battles:
        return StyleControlled([], {f: 0.0 for f in features}, tuple(features))
    models = sorted({b.model for b in battles})
    one_hot = np.zeros((len(battles), len(models)))
    one_hot[np.arange(len(battles)), [models.index(b.model) for b in battles]] = 1.0
    style, usable = feature_matrix(battles, features)
    x = np.hstack([one_hot, style])
    y = np.array([b.outcome for b in battles], dtype=np.float64)
    full = fit_logistic(x, y, np.ones(len(y)))
    draws = np.random.RandomState(seed).randint(0, len(battles), size=(rounds, len(battles)))
    coefs = np.array([fit_logistic(x, y, np.bincount(d, minlength=len(battles)).astype(np.float64)) for d in draws])
    win = 100 / (1 + np.exp(-coefs[:, : len(models)]))
    scores = [StyleScore(model, float(100 / (1 + np.exp(-full[i]))), float(np.quantile(win[:, i], 0.05)),
                         float(np.quantile(win[:, i], 0.95)), float(np.quantile(win[:, i], 0.5)))
              for i, model in enumerate(models)]  # fmt: skip
    kept = [f for f, ok in zip(features, usable, strict=True) if ok]
    medians = np.quantile(coefs[:, len(models) :], 0.5, axis=0) if kept else np.zeros(0)
    coefficients = {f: 0.0 for f in features} | {f: float(v) for f, v in zip(kept, medians, strict=True)}
    dropped = tuple(f for f, ok in zip(features, usable, strict=True) if not ok)
    return StyleControlled(sorted(scores, key=lambda s: (-s.score, s.model)), coefficients, tuple(features), dropped)


def style_battles(judgments: Sequence[Mapping[str, object]], styles: Mapping[tuple[str, str], Style],
                  baseline_of: Mapping[str, str] | None = None) -> list[StyleBattle]:  # fmt: skip
    """Exploded battles of the questions whose two games both have a verdict, in arena-hard-auto's order
    (per question, game 2's rows then game 1's); `styles` maps (model, question id) -> Style; the
    baseline of each judgment is its `baseline` field (or `baseline_of[model]`)."""

    games: dict[tuple[str, str], dict[int, Mapping[str, object]]] = {}
    for row in judgments:
        games.setdefault((str(row["model"]), str(row["question_id"])), {})[int(row["game"])] = row  # type: ignore[call-overload]
    battles = []
    for (model, question), pair in games.items():
        if set(pair) != {1, 2} or any(pair[g].get("verdict") not in VERDICT_OUTCOMES for g in (1, 2)):
            continue
        baseline = str(pair[1].get("baseline") or (baseline_of or {}).get(model))
        if (model, question) not in styles or (baseline, question) not in styles:
            continue
        for game in (2, 1):
            outcome, weight = VERDICT_OUTCOMES[str(pair[game]["verdict"])]
            mine = outcome if pair[game]["model_a"] == model else 1.0 - outcome
            battles += [StyleBattle(model, mine, styles[(model, question)], styles[(baseline, question)])] * weight
    return battles


def styles_from_answer_files(paths: Sequence[Path], length_unit: str) -> dict[tuple[str, str], Style]:
    """(model, question id) -> Style from answer files: arena-hard-auto's model_answer (v0.1 and v2 schemas;
    the model is the row's `model`, else the file name) or our answers.jsonl."""

    styles: dict[tuple[str, str], Style] = {}
    for path in paths:
        for row in read_jsonl(path):
            model = str(row.get("model") or row.get("model_id") or path.stem)
            question = str(row.get("question_id", row.get("uid")))
            text = answer_text(row)
            if text is None:
                raise TaskDataError(f"{path}:{row['_line']}: no answer text for style control")
            tokens = answer_tokens(row)
            if length_unit == "tokens" and tokens is None:
                raise TaskDataError(f"{path}:{row['_line']}: no token_len (needed by --style-control tokens)")
            styles.setdefault((model, question), style_of(text, length_unit, tokens))
    return styles
