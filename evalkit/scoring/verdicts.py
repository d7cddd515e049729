"""Every judge-reply parser: a strict, pure function from the judge's reply to a verdict, or None.

None means "no verdict": the judge engine re-asks once and then counts the item as unparsed; a parser never
guesses. Each parser has its table of (reply, verdict) cases under tests/scoring/cases/verdicts_*.json.

- Arena-Hard: one of [[A>>B]] [[A>B]] [[A=B]] [[B>A]] [[B>>A]] (arena-hard-auto's rule);
- MT-Bench: a grade 1-10 in [[x]] (FastChat's rule, with a range check);
- AlpacaEval: `m` / `M`, or the soft preference from the first token's top logprobs (alpaca_eval's);
- grounded RAG: [[CORRECT]] / [[INCORRECT]].
"""

from __future__ import annotations

import math
import re

from evalkit.types import Completion

# -- Arena-Hard: pairwise labels ---------------------------------------------------------------------------
PAIRWISE_LABELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
#: Mirror spellings some judges write, read as the canonical label they mean.
_MIRRORED = {"B<<A": "A>>B", "B<A": "A>B", "B=A": "A=B", "A<B": "B>A", "A<<B": "B>>A"}
_PAIRWISE = re.compile(r"\[\[([AB<>=]+)\]\]")


def parse_pairwise_verdict(text: str) -> str | None:
    """The one verdict label in a judge reply, or None.

    As arena-hard-auto's gen_judgment.get_score with its pattern `\\[\\[([AB<>=]+)\\]\\]`: every `[[...]]` made
    of A, B, <, >, = is collected (case-sensitive, no spaces); none -> None; several different ones -> None
    (the judge contradicted itself); the same label repeated -> that label. Mirror spellings (`[[A<B]]`,
    `[[B=A]]`, which its v2.0 score table also reads) map to the canonical five; anything else (`[[AB]]`,
    `[[A>>>B]]`) is no verdict.
    """
    found = {_MIRRORED.get(label, label) for label in _PAIRWISE.findall(text)}
    if len(found) != 1:
        return None
    label = found.pop()
    return label if label in PAIRWISE_LABELS else None


# -- MT-Bench: grades 1-10 ------------------------------------------------------------------------------------
_RATING = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_RATING_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")


def parse_rating(text: str) -> float | None:
    """The grade in a judge reply: the first `[[x]]`, else the first `[x]`; x a plain decimal number.

    As FastChat (llm_judge/common.py, one_score_pattern then one_score_pattern_backup, first match). One
    deliberate difference: a number outside 1..10 (a `[0]` or `[2024]` caught by the backup pattern, say)
    is no rating here, so the judge is re-asked instead of the stray number being averaged in.
    """
    match = _RATING.search(text) or _RATING_BACKUP.search(text)
    if match is None:
        return None
    value = float(match.group(1))
    return value if 1.0 <= value <= 10.0 else None


# -- AlpacaEval: m / M and the soft preference -------------------------------------------------------------------
LABELS = {"m": 1.0, "M": 2.0}


def parse_label(text: str) -> float | None:
    """1.0 for a reply that is exactly `m`, 2.0 for `M` (surrounding spaces, quotes or a period allowed)."""
    return LABELS.get(text.strip().strip("\"'`.").strip())


def soft_preference(completion: Completion) -> float | None:
    """2 - P(m) / (P(m) + P(M)) from the first token's top logprobs; None when neither label is among them."""
    if not completion.top_logprobs:
        return None
    first = completion.top_logprobs[0]
    found = {label: first[label] for label in LABELS if label in first}
    if not found:
        return None
    log_m, log_big_m = found.get("m", -math.inf), found.get("M", -math.inf)
    top = max(log_m, log_big_m)
    p_m = math.exp(log_m - top) / (math.exp(log_m - top) + math.exp(log_big_m - top))
    return 2.0 - p_m


def read_preference(completion: Completion) -> tuple[float, bool] | None:
    """(preference in the presented order, soft?) from a judge completion, or None."""
    soft = soft_preference(completion)
    if soft is not None:
        return soft, True
    hard = parse_label(completion.text)
    return (hard, False) if hard is not None else None


# -- grounded RAG: correct / incorrect --------------------------------------------------------------------------
_CORRECTNESS = re.compile(r"\[\[\s*(CORRECT|INCORRECT)\s*\]\]")


def parse_correctness(text: str) -> bool | None:
    """True for [[CORRECT]], False for [[INCORRECT]]; None when there is no label or the labels disagree."""
    labels = set(_CORRECTNESS.findall(text))
    return labels.pop() == "CORRECT" if len(labels) == 1 else None
