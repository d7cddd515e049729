"""Reading a multiple-choice answer letter (A-J) out of a chain-of-thought answer, in several languages.

The chain follows MMLU-Pro's own evaluation (TIGER-AI-Lab/MMLU-Pro, evaluate_from_api.py: "answer is
(X)", then "Answer: X", then a final bare letter) with the Slavic phrasings added and made safer:

1. an answer phrase followed by the letter: "answer is (C)", "Answer: C", "Ответ: (C)", "ответ — C",
   "правильный ответ C", "odpowiedź to C", "Odpowiedź: (C)", "Відповідь: C", "Odpověď: (C)", "\\boxed{C}";
   the last such phrase wins;
2. a final bare letter: the last non-empty line is just "C", "(C)", "C." or "**C**".

Cyrillic look-alikes (А В С Е Н К М О Р Т Х) are mapped to Latin only in the captured letter, never in
the running text (where "В" and "С" are ordinary Russian words). MMLU-Pro's last fallback (any standalone
capital letter anywhere) is not used: in Slavic text it picks up prepositions and initials.
"""

from __future__ import annotations

import re

LETTERS = "ABCDEFGHIJ"
HOMOGLYPHS = str.maketrans("АВСЕНКМОРТХавсенкмортх", "ABCEHKMOPTXabcehkmoptx")
_LETTER = r"(?-i:[A-JА-ЯЁ])"  # Latin A-J or a Cyrillic capital (checked against the look-alike table after capture)

_PHRASES = (
    r"answer\s+is",
    r"answer\s*:",
    r"(?:правильный\s+)?ответ(?:\s+(?:—|-|–|это))?\s*:?",
    r"(?:poprawna\s+)?odpowied[źz](?:\s+to|\s*:)?",
    r"(?:правильна\s+)?відповідь(?:\s+(?:—|-|–|це))?\s*:?",
    r"(?:správná\s+)?odpověď(?:\s+je|\s*:)?",
)
_ANSWER = re.compile(
    rf"(?:(?<!\w)(?:{'|'.join(_PHRASES)})\s*[*_]*\s*[(\[]?\s*({_LETTER})\s*[)\]]?(?![\w])|\\boxed\{{\s*({_LETTER})\s*\}})",
    re.IGNORECASE,
)
_BARE = re.compile(rf"^[*_(\[\s]*({_LETTER})[)\]]?[.)]?[*_\s]*$")


def _normalise(letter: str, n_options: int) -> str | None:
    latin = letter.translate(HOMOGLYPHS).upper()
    return latin if latin in LETTERS[:n_options] else None


def extract_choice(text: str, n_options: int = 10) -> str | None:
    """The chosen option letter ("A".."J"), or None when no answer can be read."""
    found = None
    for match in _ANSWER.finditer(text):
        letter = _normalise(match.group(1) or match.group(2), n_options)
        if letter is not None:
            found = letter
    if found is not None:
        return found
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if lines:
        bare = _BARE.match(lines[-1].strip())
        if bare:
            return _normalise(bare.group(1), n_options)
    return None
