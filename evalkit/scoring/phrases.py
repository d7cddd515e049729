"""The readers' phrase tables (evalkit/scoring/phrases/<lang>.json), compiled to regular expressions, and
where the value an answer phrase opens begins (`value_start`, shared by the number and MATH readers).

Each table lists, per class (`answer`, `choice`, `option`, `conclusion`, `correction`, `copula`, `check`,
`conversion`, `elimination`, `affirmation`, `negation`, `alternative`, `currency`, `subunit`, `minus`,
`refusal`, `next_item`, `dangling`, `partial`, `no_documents`, `no_solution`, `thousand`, `million`,
`billion`, `relevant_docs`, `except`, `hedge`, `times`), the words a model uses in
that language. The readers
match the phrases of every language at once: a model may reason in Polish and end with "The answer is (D)".
Syntax (phrases/README.md): case-insensitive whole words, a space matches any whitespace, a trailing `*`
lets the last word go on with any letters.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

from evalkit.errors import UserError

PHRASE_DIR = Path(__file__).parent / "phrases"
LANGUAGES = ("ru", "uk", "pl", "cs", "en")
CLASSES = ("answer", "choice", "option", "conclusion", "correction", "copula", "check", "conversion",
           "elimination", "affirmation", "negation", "alternative", "currency", "subunit", "minus", "refusal",
           "next_item", "dangling", "partial", "no_documents", "no_solution", "thousand", "million", "billion",
           "relevant_docs", "except", "hedge", "times")  # fmt: skip


@cache
def _load(lang: str) -> dict[str, Any]:
    path = PHRASE_DIR / f"{lang}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - set(CLASSES) - {"numerals"}
    if unknown:
        raise UserError(f"{path}: unknown phrase class(es) {sorted(unknown)}; known: {', '.join(CLASSES)}, numerals")
    return data


@cache
def table(lang: str) -> dict[str, list[str]]:
    """One language's phrase table as written (an unknown class is an error naming the file)."""
    data = _load(lang)
    return {name: [str(p) for p in data.get(name, [])] for name in CLASSES}


@cache
def numerals() -> dict[str, tuple[int, bool]]:
    """Number words of every language: word -> (value, multiplies what precedes: "тысяч", "set")."""
    words: dict[str, tuple[int, bool]] = {}
    for lang in LANGUAGES:
        for word, value in _load(lang).get("numerals", {}).items():
            text = str(value)
            words[word.replace("’", "'").lower()] = (int(text.lstrip("×")), text.startswith("×"))
    return words


def number_in_words(text: str) -> tuple[int, int, int] | None:
    """The first number written in words in `text` ("czterdzieści dwa", "п'ятнадцять", "dvě stě"):
    (value, start, end), or None."""
    words = numerals()
    run: list[re.Match[str]] = []
    for token in re.finditer(r"[^\W\d_]+(?:['’ʼ][^\W\d_]+)?", text):
        if token.group().replace("’", "'").replace("ʼ", "'").lower() in words:
            if run and text[run[-1].end() : token.start()].strip(" -") != "":
                break  # another word came between: the number has ended
            run.append(token)
        elif run:
            break
    if not run:
        return None
    total = current = 0
    for token in run:
        value, multiplies = words[token.group().replace("’", "'").replace("ʼ", "'").lower()]
        if multiplies:
            current = max(current, 1) * value
            if value >= 1000:
                total, current = total + current, 0
        else:
            current += value
    return total + current, run[0].start(), run[-1].end()


_FOLDED = {"ł": "l", "Ł": "L", "đ": "d"}


def _letter(char: str) -> str:
    """A letter that also matches its form without diacritics ("výsledek" is found in "Vysledek", "odpověď" in
    "odpoved", "ещё" in "еще"): a model may write without them, or transliterate."""
    base = _FOLDED.get(char) or unicodedata.normalize("NFD", char)[0]
    return f"[{char}{base}]" if base != char and base.isalpha() else re.escape(char)


def phrase_pattern(phrase: str) -> str:
    """A phrase as a regular expression: whole words, flexible whitespace, optional trailing wildcard; letters
    with diacritics match their bare forms too."""
    wildcard = phrase.endswith("*")
    text = phrase[:-1] if wildcard else phrase
    body = r"\s+".join("".join(_letter(char) for char in word) for word in text.split())
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


def _atoms(phrase: str) -> tuple[bool, list[str], str]:
    """(starts with a letter or digit, the phrase's regex pieces one per character, its end boundary)."""
    wildcard = phrase.endswith("*")
    text = (phrase[:-1] if wildcard else phrase).lower()
    atoms: list[str] = []
    for index, word in enumerate(text.split()):
        if index:
            atoms.append(r"\s+")
        atoms += [_letter(char) for char in word]
    if wildcard:
        atoms.append(r"\w*")
    return text[:1].isalnum(), atoms, r"(?!\w)" if (text[-1:].isalnum() or wildcard) else ""


_END = ""  # the trie key under which a phrase ends (no atom is empty)


def _trie_regex(node: dict[str, Any]) -> str:
    """A trie of regex pieces as one regex: shared prefixes are matched once (an alternation of a hundred phrases
    tried at every position is what made the readers slow); a longer phrase is tried before one it extends."""
    branches = [atom + _trie_regex(child) for atom, child in sorted(node.items()) if atom != _END]
    branches += sorted(node.get(_END, ()))
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


@cache
def pattern(name: str) -> re.Pattern[str]:
    """One compiled alternation of a class's phrases in every language (`phrase_pattern` of each), built as a
    trie so that matching costs about one phrase, not all of them."""
    tries: dict[bool, dict[str, Any]] = {True: {}, False: {}}
    for phrase in phrases(name):
        starts_with_word, atoms, end = _atoms(phrase)
        node = tries[starts_with_word]
        for atom in atoms:
            node = node.setdefault(atom, {})
        node.setdefault(_END, set()).add(end)
    parts = []
    if tries[True]:
        parts.append(r"(?<!\w)" + _trie_regex(tries[True]))
    if tries[False]:
        parts.append(_trie_regex(tries[False]))
    return re.compile("|".join(f"(?:{part})" for part in parts) or "(?!)", re.IGNORECASE)


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
