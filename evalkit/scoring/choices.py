"""Reading a multiple-choice answer letter (A-J) out of a chain-of-thought reply, as a careful grader would.

MMLU-Pro's own evaluation (TIGER-AI-Lab/MMLU-Pro, evaluate_from_api.py) reads "answer is (X)", then
"Answer: X", then any capital letter. That last fallback is not used here: in Slavic text it picks up
prepositions and initials. Instead the reader collects every *commitment* to a letter and keeps the last:

1. an answer or choice phrase (phrases/*.json: `answer`, `choice`) followed, within a few words on its line,
   by a letter: "Odpověď je tedy D)", "**Odpowiedź końcowa:** (H)", "Обираю варіант (Н)", "Правильный
   ответ, таким образом, — E", "odpovídá možnosti (B)";
2. a correction ("Нет, стоп… Правильный вариант — G") or a conclusion word ("Следовательно, вариант C.")
   followed by a letter in the same way;
3. a boxed letter, `\\boxed{C}`;
4. a reply that ends on a marked letter ("… — **(H)**"), or whose last line is just a letter, maybe with its
   option text ("C", "(C)", "**C) 42 kg**"), or whose first line is one (the answer given first); a list of
   options copied from the question is none of these.

A letter that is being ruled out ("вариант A неверен", "A i B odpadají") is not a commitment. Letters are
read through a look-alike table (Cyrillic А В С Е Н К М О Р Т Х, Ukrainian І, Greek and fullwidth capitals
to Latin), but a Cyrillic look-alike followed by a lower-case word is the preposition it spells ("В этом
случае").
"""

from __future__ import annotations

import re
from functools import cache

from evalkit.scoring import phrases
from evalkit.scoring.replies import Reading, read_visible

LETTERS = "ABCDEFGHIJ"
# Look-alikes of the Latin option letters: Cyrillic (with Ukrainian І and the palochka Ӏ), Greek, fullwidth.
HOMOGLYPHS = str.maketrans("АВСЕНКМОРТХІӀавсенкмортхіΑΒΕΗΙΚΜΟΡΤΧＡＢＣＤＥＦＧＨＩＪ",
                           "ABCEHKMOPTXIIabcehkmoptxiABEHIKMOPTXABCDEFGHIJ")  # fmt: skip
# A capital that may be an option letter once mapped through HOMOGLYPHS (checked after capture).
_CAPITAL = "A-JА-ЯЁІӀΑ-ΩＡ-Ｊ"
# Single Cyrillic capitals that are also words (prepositions / conjunctions) in ru / uk.
_WORD_LETTERS = set("АВСКОІУЯ")
_WORDS_BEFORE_LETTER = 4
_TOKEN = re.compile(
    rf"""
      (?P<box>\\(?:boxed|text|textbf|mathbf|mathrm)\{{\s*\(?\s*(?P<inner>[A-Za-z{_CAPITAL}])\s*\)?\s*\}})
    | (?P<word>[^\W\d_]+(?:['’][^\W\d_]+)*)
    | (?P<digit>\d+)
    | (?P<newline>\n)
    | (?P<space>\s+)
    | (?P<punct>.)
    """,
    re.VERBOSE,
)
_FINAL_LINE = re.compile(
    rf"^[\s*_#>|]*(?:[(\[]\s*(?P<a>[{_CAPITAL}a-j])\s*[)\]]|(?P<b>[{_CAPITAL}])(?:[).:]|\*\*|$)|(?P<c>[a-j])\))"
    r"(?:[\s*_.:)|]*$|[\s*_]+\S.{0,80}$)"
)


@cache
def _marked() -> re.Pattern[str]:
    """A letter marked as an option: "(E)", "**E**", "вариант E" (option words from the phrase tables)."""
    letter = f"(?-i:[{_CAPITAL}])"
    return re.compile(
        rf"\((?P<p>{letter})\)|\*\*\(?(?P<b>{letter})\)?\*\*|(?:{phrases.pattern('option').pattern})\s+\(?(?P<o>{letter})(?!\w)",
        re.IGNORECASE,
    )


_SEVERAL = re.compile(
    rf"^\s*[)\]*_]*\s*(?:,|/|&|\+|\b(?:и|і|та|й|i|a|oraz|and|or|или|або|lub|albo|nebo)\b)\s*[(\[*_]*\s*[{_CAPITAL}](?!\w)",
    re.IGNORECASE,
)


def _normalise(letter: str, n_options: int) -> str | None:
    latin = letter.translate(HOMOGLYPHS).upper()
    return latin if latin in LETTERS[:n_options] else None


def _is_word_use(text: str, end: int, letter: str) -> bool:
    """A Cyrillic capital look-alike that starts a phrase ("В этом случае", "А также") is a word."""
    return letter in _WORD_LETTERS and re.match(r"[ \t]+[а-яёіїєґ]", text[end : end + 3]) is not None


def _ruled_out(text: str, end: int) -> bool:
    """The letter is followed, in its clause, by words that rule it out, or by more letters (a list)."""
    clause = re.split(r"(?<=[.!?;])\s|\n", text[end : end + 80], maxsplit=1)[0]
    return bool(phrases.pattern("elimination").search(clause)) or bool(_SEVERAL.match(text[end : end + 12]))


def letter_after(
    text: str, start: int, n_options: int, max_words: int = _WORDS_BEFORE_LETTER
) -> tuple[str, int] | None:
    """The option letter that follows position `start` within a few words on its line (or alone on the next
    non-empty line when the phrase ends its line); returns (letter, position) or None."""
    words = 0
    seen_text = False
    newlines = 0
    for token in _TOKEN.finditer(text, start, min(len(text), start + 240)):
        kind = token.lastgroup
        if kind == "space":
            continue
        if kind == "newline":
            newlines += 1
            if seen_text or newlines > 2:
                return None
            continue
        if kind == "box":
            letter = _normalise(token.group("inner"), n_options)
            return (letter, token.start()) if letter else None
        if kind == "digit":
            return None
        if kind == "punct":
            char = token.group()
            if char in ".!?" and re.match(r"\s+\S", text[token.end() : token.end() + 2]):
                return None  # the sentence ended without a letter
            continue
        word = token.group()
        seen_text = True
        if len(word) == 1 and word.isupper() and not _is_word_use(text, token.end(), word):
            letter = _normalise(word, n_options)
            return (letter, token.start()) if letter else None
        if len(word) == 1 and word.islower() and word in "abcdefghij" and text[token.end() : token.end() + 1] == ")":
            letter = _normalise(word, n_options)
            return (letter, token.start()) if letter else None
        words += 1
        if words > max_words:
            return None
    return None


# When two rules read the same letter at the same place, the stronger names it.
_STRENGTH = {"first_line": 0, "final_line": 0, "affirmed": 1, "conclusion": 1, "correction": 2, "choice_phrase": 3,
             "answer_phrase": 4, "boxed": 5}  # fmt: skip
_NEGATION = re.compile(r"(?<!\w)(?:не|ні|nie|ne|není|not|isn't)(?!\w)", re.IGNORECASE)


@cache
def _affirmed() -> re.Pattern[str]:
    """A letter declared right: "G — верно", "(C) je správně", "F is correct"."""
    return re.compile(
        rf"(?<![\w(])\(?(?P<letter>(?-i:[{_CAPITAL}]))(?!\w)\)?(?P<gap>[^.;!?\n]{{0,40}}?)"
        rf"(?:{phrases.pattern('affirmation').pattern})",
        re.IGNORECASE,
    )


def _commitments(text: str, n_options: int) -> list[tuple[int, str, str]]:
    """Every (position, letter, rule) where the reply commits to a letter, in reading order."""
    found: list[tuple[int, str, str]] = []
    for correction in phrases.pattern("correction").finditer(text):
        # "Хотя подожди, я не учёл трение. С его учётом получается (E)": the paragraph's last marked letter
        paragraph_end = text.find("\n\n", correction.end())
        paragraph_end = len(text) if paragraph_end < 0 else paragraph_end
        for marked in _marked().finditer(text, correction.end(), paragraph_end):
            raw = marked.group("p") or marked.group("b") or marked.group("o")
            letter = _normalise(raw, n_options)
            if letter and not _ruled_out(text, marked.end()):
                found.append((marked.start(), letter, "correction"))
    for match in _affirmed().finditer(text):
        raw = match.group("letter")
        letter = _normalise(raw, n_options)
        gap = match.group("gap")
        # the affirmation belongs to this letter: no negation, no ruling out, no other letter in between
        other = re.search(rf"(?<!\w)(?-i:[{_CAPITAL}])(?!\w)", gap)
        if letter and not (_NEGATION.search(gap) or phrases.pattern("elimination").search(gap) or other
                           or _is_word_use(text, match.end("letter"), raw)):  # fmt: skip
            found.append((match.start("letter"), letter, "affirmed"))
    for rule, name, max_words in (
        ("answer_phrase", "answer", _WORDS_BEFORE_LETTER),
        ("choice_phrase", "choice", _WORDS_BEFORE_LETTER),
        ("correction", "correction", _WORDS_BEFORE_LETTER + 1),
        ("conclusion", "conclusion", 3),
    ):
        for match in phrases.pattern(name).finditer(text):
            hit = letter_after(text, match.end(), n_options, max_words)
            if hit is None:
                continue
            letter, position = hit
            if not _ruled_out(text, position + 1):
                found.append((position, letter, rule))
    for match in re.finditer(rf"\\boxed\{{\s*\(?\s*([A-Za-z{_CAPITAL}])\s*\)?\s*\}}", text):
        letter = _normalise(match.group(1), n_options)
        if letter:
            found.append((match.start(), letter, "boxed"))
    lines = [(m.start(), m.group()) for m in re.finditer(r"[^\n]+", text) if m.group().strip()]
    for offset, line in {lines[0], lines[-1]} if lines else ():
        bare = _FINAL_LINE.match(line)
        listed = (len(lines) > 1 and offset == lines[-1][0] and _FINAL_LINE.match(lines[-2][1]) is not None
                  or len(re.findall(rf"(?<!\w)[{_CAPITAL}]\)", line)) > 1)  # fmt: skip
        # "C", "(C)", "**C) 42 kg**" alone on the last line, or on the first (answer first); a line under
        # another "X) …" line is the end of a list of options, not an answer
        if bare and not listed:
            raw = bare.group("a") or bare.group("b") or bare.group("c")
            letter = _normalise(raw, n_options)
            if letter and not _is_word_use(line, bare.end("b") if bare.group("b") else 0, raw or ""):
                found.append((offset + bare.start(), letter, "final_line" if offset == lines[-1][0] else "first_line"))
    if lines:
        offset, line = lines[-1]
        # "…называется так: **закон убывающей полезности** — **(H)**": a marked letter ends the reply
        ending = re.search(rf"(?:\*\*\(?|\()(?-i:([{_CAPITAL}]))(?:\)\*\*|\*\*|\))[\s.!]*$", line)
        if ending:
            letter = _normalise(ending.group(1), n_options)
            if letter:
                found.append((offset + ending.start(1), letter, "final_line"))
        option = phrases.pattern("option").search(line)
        if option and len(line) < 120:
            hit = letter_after(line, option.end(), n_options, 1)
            # "Вариант C." or "opcja H) 900 mld zł" ends the reply; "Вариант A кажется верным" is a thought
            if hit and re.match(r"[\s*_»\"]*(?:\)|[\s)\]*_.!:»\"]*$)", line[hit[1] + 1 :]):
                found.append((offset + hit[1], hit[0], "final_line"))
    return sorted(found, key=lambda item: (item[0], _STRENGTH[item[2]]))


def read_choice(reply: str | None, n_options: int = 10) -> Reading:
    """The option letter the reply finally commits to ("A".."J"), with the rule that decided it."""

    def last_commitment(text: str) -> Reading:
        found = _commitments(text, n_options)
        if not found:
            return Reading(None, "no_answer")
        _, letter, rule = found[-1]
        return Reading(letter, rule)

    return read_visible(reply, last_commitment)


def extract_choice(text: str | None, n_options: int = 10) -> str | None:
    """The chosen option letter, or None when no answer can be read."""
    return read_choice(text, n_options).value
