"""The readers' phrase tables (evalkit/scoring/phrases/<lang>.json), compiled to regular expressions, and
where the value an answer phrase opens begins (`value_start`, shared by the number and MATH readers).

Each table lists, per class (`answer`, `choice`, `option`, `conclusion`, `correction`, `copula`, `check`,
`conversion`, `elimination`, `affirmation`, `negation`, `alternative`, `currency`, `refusal`), the words a model uses in
that language. The readers
match the phrases of every language at once: a model may reason in Polish and end with "The answer is (D)".
Syntax (phrases/README.md): case-insensitive whole words, a space matches any whitespace, a trailing `*`
lets the last word go on with any letters.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

PHRASE_DIR = Path(__file__).parent / "phrases"
LANGUAGES = ("ru", "uk", "pl", "cs", "en")
CLASSES = ("answer", "choice", "option", "conclusion", "correction", "copula", "check", "conversion",
           "elimination", "affirmation", "negation", "alternative", "currency", "refusal")  # fmt: skip


@cache
def table(lang: str) -> dict[str, list[str]]:
    """One language's phrase table as written (an unknown class is an error naming the file)."""
    path = PHRASE_DIR / f"{lang}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - set(CLASSES)
    if unknown:
        raise ValueError(f"{path}: unknown phrase class(es) {sorted(unknown)}; known: {', '.join(CLASSES)}")
    return {name: [str(p) for p in data.get(name, [])] for name in CLASSES}


def phrase_pattern(phrase: str) -> str:
    """A phrase as a regular expression: whole words, flexible whitespace, optional trailing wildcard."""
    wildcard = phrase.endswith("*")
    text = phrase[:-1] if wildcard else phrase
    body = r"\s+".join(re.escape(word) for word in text.split())
    if wildcard:
        body += r"\w*"
    start = r"(?<!\w)" if text[:1].isalnum() else ""
    end = r"(?!\w)" if (text[-1:].isalnum() or wildcard) else ""
    return f"{start}{body}{end}"


@cache
def phrases(name: str) -> tuple[str, ...]:
    """Every language's phrases of one class, longest first (so "правильный ответ" wins over "ответ")."""
    found = {phrase for lang in LANGUAGES for phrase in table(lang)[name]}
    return tuple(sorted(found, key=lambda p: (-len(p), p)))


@cache
def pattern(name: str) -> re.Pattern[str]:
    """One compiled alternation of a class's phrases in every language."""
    return re.compile("|".join(f"(?:{phrase_pattern(p)})" for p in phrases(name)), re.IGNORECASE)


_WORDS_TO_VALUE = 5


def value_start(text: str, start: int) -> int | None:
    """Where the value of an answer phrase ending at `start` begins, or None when the phrase opens no value.

    An answer phrase opens a value when a separator (":", "—", "=", a table cell) or a copula ("это",
    "wynosi", "zní", "is") follows within a few words, or a number or formula follows at once.
    """
    line_end = text.find("\n", start, start + 300)
    line = text[start : line_end if line_end >= 0 else start + 300]
    stripped = line.lstrip(" \t*_")
    if not stripped.strip():
        return start  # the phrase ends its line: the value is on the next non-empty line
    if re.match(r"[-\u2212]?[$€£₽]?\s?\d|\\boxed|\$|\\\(", stripped):
        return start
    words = 0
    for token in re.finditer(r"[^\W\d_]+|\d|[:：=|—–]|\s-\s|\S", line):
        piece = token.group()
        if piece in (":", "：", "=", "|", "—", "–") or piece == f"{piece[:1]}-{piece[2:]}" and len(piece) == 3:
            return start + token.end()
        if piece.isdigit():
            return None
        if pattern("copula").fullmatch(piece):
            return start + token.end()
        if piece[0].isalpha():
            words += 1
            if words > _WORDS_TO_VALUE:
                return None
    return None
