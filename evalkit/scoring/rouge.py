"""ROUGE-L F1 with a Unicode word tokenizer.

rouge-score's default tokenizer (google-research/rouge-score, rouge_score/tokenize.py) lower-cases, then
replaces every character outside [a-z0-9] by a space, so Cyrillic text — and Polish / Czech letters with
diacritics — is erased or split into fragments and Russian answers score 0. `UnicodeTokenizer` keeps
letters and digits of any script: lower-cased runs of `[^\\W_]` (word characters without the underscore,
which rouge-score also treats as a separator). On ASCII text both tokenizers give the same tokens, so
English results equal rouge-score's default exactly (tests/scoring/test_rouge.py checks both claims).

ROUGE-L (Lin 2004) as rouge-score computes it without stemming: L = |LCS(candidate, reference)| over
tokens, precision P = L / |candidate|, recall R = L / |reference|, F1 = 2PR / (P + R); 0 when either side
has no tokens or nothing is shared.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

WORD = re.compile(r"[^\W_]+")


class UnicodeTokenizer:
    """Lower-cased letter/digit runs of any script; also usable as rouge-score's `tokenizer=` argument."""

    def tokenize(self, text: str) -> list[str]:
        return WORD.findall(text.lower())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (dynamic programming, one row of memory)."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class RougeL:
    precision: float
    recall: float
    fmeasure: float


def rouge_l(candidate: str, reference: str, tokenizer: UnicodeTokenizer | None = None) -> RougeL:
    """ROUGE-L of `candidate` against `reference` (see the module docstring for the formula)."""
    tokenize = (tokenizer or UnicodeTokenizer()).tokenize
    cand, ref = tokenize(candidate), tokenize(reference)
    if not cand or not ref:
        return RougeL(0.0, 0.0, 0.0)
    common = lcs_length(cand, ref)
    if common == 0:
        return RougeL(0.0, 0.0, 0.0)
    precision, recall = common / len(cand), common / len(ref)
    return RougeL(precision, recall, 2 * precision * recall / (precision + recall))
