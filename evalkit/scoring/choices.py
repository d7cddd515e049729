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

5. a table whose last column judges the options ("| I | … | ✅ |", "| D | … | так |") with exactly one marked right;
6. a restatement ("…, tj. možnost C");
7. a checklist of the options with exactly one ticked ("✅ A — Канберра", "… (варіант F) ✔️"; rule `checklist`);
8. a closing conclusion or answer sentence that names the letter after a dash ("Отже, фермент, що …, — F.";
   rule `closing_dash`);
9. with no letter committed at all, a closing answer sentence that ends on one option's whole text ("Odpověď:
   síla.", "Poprawna odpowiedź to „Monopol”."), matched against the item's option texts, or, when the reader
   is not given them (an audit row), the options the reply lists itself ("H) síla"; rule `option_text`).

A question that closes the reply after an answer ("Ответ: E. Нужно ли пояснить, почему не подходит вариант I?")
offers more to the user: its letters are no new answer.

A letter that is being ruled out ("вариант A неверен", "A i B odpadají") is not a commitment, nor is one being
evaluated ("C) Частично верно"; phrases `partial`), nor an option named in discussion after the answer ("Odpowiedź
B dotyczy…"). A reply that stops mid-way keeps only an answer or choice phrase, box or correction from a line
before its last; a loop or a hedge ("як відповідь B, так і відповідь I") is no answer. Letters are
read through a look-alike table (Cyrillic А В С Е Н К М О Р Т Х, Ukrainian І, Greek and fullwidth capitals
to Latin), but a Cyrillic look-alike followed by a lower-case word is the preposition it spells ("В этом
случае").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import cache

from evalkit.scoring import phrases
from evalkit.scoring.replies import Reading, cut_line_start, degenerate, hedged, read_visible, stops_midway

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


@cache
def _several() -> re.Pattern[str]:
    """More letters right after a letter ("A и B", "A, C"): a list, not a choice."""
    return re.compile(
        rf"^\s*[)\]*_]*\s*(?:[,/&+]|{phrases.pattern('alternative').pattern})\s*[(\[*_]*\s*(?-i:[{_CAPITAL}])(?!\w)",
        re.IGNORECASE,
    )


def _normalise(letter: str, n_options: int) -> str | None:
    latin = letter.translate(HOMOGLYPHS).upper()
    return latin if latin in LETTERS[:n_options] else None


def _is_word_use(text: str, end: int, letter: str) -> bool:
    """A Cyrillic capital look-alike that starts a phrase ("В этом случае", "А также") is a word."""
    return letter in _WORD_LETTERS and re.match(r"[ \t]+[а-яёіїєґ]", text[end : end + 3]) is not None


def _ruled_out(text: str, end: int) -> bool:
    """The letter is followed, in its clause and before the next letter, by words that rule it out ("A
    неверен"; in "(A), а не (B), как ошибочно считают" the error is B's), or by more letters (a list)."""
    clause = re.split(r"(?<=[.!?;])\s|\n", text[end : end + 80], maxsplit=1)[0]
    next_letter = re.search(rf"(?<!\w)\(?(?-i:[{_CAPITAL}])(?!\w)", clause)
    clause = clause[: next_letter.start()] if next_letter else clause
    return bool(phrases.pattern("elimination").search(clause)) or bool(_several().match(text[end : end + 12]))


def _in_list(text: str, start: int) -> bool:
    """The letter at `start` closes a list or range of letters: "(A)–(I)", "(B), (D) и (F)"."""
    before = text[max(0, start - 14) : start]
    return re.search(rf"[{_CAPITAL}][)\]*]*\s*(?:[,–—/&+-]|{phrases.pattern('alternative').pattern})\s*[(\[*]*$",
                     before) is not None  # fmt: skip


def _check_paragraphs(text: str) -> list[tuple[int, int]]:
    """Spans of the paragraphs that open with a check ("Проверка: …", "Sprawdzenie: …"): commentary on an
    answer already given, whose letters are no new answer (unless the paragraph takes the answer back)."""
    spans = []
    for paragraph in re.finditer(r"[^\n]+(?:\n(?!\s*\n)[^\n]*)*", text):
        head = paragraph.group().lstrip(" >*_#")
        opening = phrases.pattern("check").match(head)
        if opening and not phrases.pattern("correction").search(paragraph.group()):
            spans.append(paragraph.span())
    return spans


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
_STRENGTH = {"first_line": 0, "final_line": 0, "table": 1, "checklist": 1, "affirmed": 1, "conclusion": 1,
             "closing_dash": 1, "option_text": 0, "correction": 2,
             "choice_phrase": 3,
             "answer_phrase": 4, "boxed": 5}  # fmt: skip


@cache
def _affirmed() -> re.Pattern[str]:
    """A letter declared right: "G — верно", "(C) je správně", "F is correct"."""
    return re.compile(
        rf"(?<![\w(])\(?(?P<letter>(?-i:[{_CAPITAL}]))(?!\w)\)?(?P<gap>[^.;!?\n]{{0,40}}?)"
        rf"(?:{phrases.pattern('affirmation').pattern})",
        re.IGNORECASE,
    )


Commitment = tuple[int, str, str]  # (position of the letter, the letter, the rule that found it)


def _after_corrections(text: str, n_options: int) -> Iterator[Commitment]:
    """ "Хотя подожди, я не учёл трение. С его учётом получается (E)": a correction's paragraph's marked letters."""
    for correction in phrases.pattern("correction").finditer(text):
        paragraph_end = text.find("\n\n", correction.end())
        paragraph_end = len(text) if paragraph_end < 0 else paragraph_end
        for marked in _marked().finditer(text, correction.end(), paragraph_end):
            letter = _normalise(marked.group("p") or marked.group("b") or marked.group("o"), n_options)
            if letter and not _ruled_out(text, marked.end()):
                yield marked.start(), letter, "correction"


def _affirmations(text: str, n_options: int) -> Iterator[Commitment]:
    """ "G — верно", "Варіант E правильний": the affirmation must belong to the letter — no negation, no
    ruling out and no other letter between them."""
    for match in _affirmed().finditer(text):
        raw, gap = match.group("letter"), match.group("gap")
        letter = _normalise(raw, n_options)
        other = re.search(rf"(?<!\w)(?-i:[{_CAPITAL}])(?!\w)", gap)
        if letter and not (phrases.pattern("negation").search(gap) or phrases.pattern("elimination").search(gap)
                           or phrases.pattern("partial").search(gap)
                           or other or _is_word_use(text, match.end("letter"), raw)):  # fmt: skip
            yield match.start("letter"), letter, "affirmed"


def _after_phrases(text: str, n_options: int) -> Iterator[Commitment]:
    """An answer, choice, correction or conclusion phrase followed within a few words by a letter."""
    for rule, name, max_words in (
        ("answer_phrase", "answer", _WORDS_BEFORE_LETTER),
        ("choice_phrase", "choice", _WORDS_BEFORE_LETTER),
        ("correction", "correction", _WORDS_BEFORE_LETTER + 1),
        ("conclusion", "conclusion", 3),
        ("conclusion", "conversion", 3),  # "…, tj. možnost C", "то есть вариант B"
    ):
        for match in phrases.pattern(name).finditer(text):
            hit = letter_after(text, match.end(), n_options, max_words)
            if hit is None or _ruled_out(text, hit[1] + 1):
                continue
            if _names_option(text, match.group(), match.end(), hit[1], name):
                continue
            yield hit[1], hit[0], rule


def _names_option(text: str, phrase: str, phrase_end: int, position: int, name: str) -> bool:
    """ "Odpowiedź B dotyczy…", "вариант C описывает…": the phrase names an option that the sentence goes on to
    discuss — no separator or copula before the letter, a lower-case word right after it — not a commitment."""
    if name not in ("answer", "conclusion") or name == "answer" and len(phrase.split()) > 1:
        return False  # "Правильный ответ B, потому что…" commits; only the bare word names an option
    between = text[phrase_end:position]
    if re.search(r"[:=—–(\[*]", between) or phrases.pattern("copula").search(between):
        return False
    after = re.match(r"[)\]]?[ \t]+(?:[—–-][ \t]+)?([^\W\d_]+)", text[position + 1 : position + 40])
    if after is None or not after.group(1).islower():
        return False
    # "Odpowiedź C jest poprawna" still commits; "Odpowiedź C jest zbyt ogólna", "Odpowiedź B dotyczy…" discuss
    clause = re.split(r"[.,;!?\n]", text[position + 1 : position + 80], maxsplit=1)[0]
    verdict = any(phrases.pattern(name).search(clause) for name in ("negation", "partial", "elimination"))
    return verdict or not phrases.pattern("affirmation").search(clause)


def _evaluates(line: str) -> bool:
    """A line that judges an option ("C) Частично верно.", "B) nesprávně, protože…") evaluates it: no choice."""
    # (a negation alone is not: option texts hold them, "D) Ни одно из перечисленного")
    return any(phrases.pattern(name).search(line) for name in ("affirmation", "elimination", "partial"))


def _boxed(text: str, n_options: int) -> Iterator[Commitment]:
    for match in re.finditer(rf"\\boxed\{{\s*\(?\s*([A-Za-z{_CAPITAL}])\s*\)?\s*\}}", text):
        letter = _normalise(match.group(1), n_options)
        if letter:
            yield match.start(), letter, "boxed"


def _on_first_and_last_lines(text: str, n_options: int) -> Iterator[Commitment]:
    """A letter alone on the last line ("C", "(C)", "**C) 42 kg**") or on the first (the answer given first),
    a marked letter ending the reply, or an option word + letter ending it ("Вариант C.")."""
    lines = [(m.start(), m.group()) for m in re.finditer(r"[^\n]+", text) if m.group().strip()]
    if not lines:
        return
    last_offset, last_line = lines[-1]
    for offset, line in {lines[0], lines[-1]}:
        bare = _FINAL_LINE.match(line)
        # a line under another "X) …" line, or one holding several, lists options: it is no answer
        listed = (len(lines) > 1 and offset == last_offset and _FINAL_LINE.match(lines[-2][1]) is not None
                  or len(re.findall(rf"(?<!\w)[{_CAPITAL}]\)", line)) > 1)  # fmt: skip
        if bare and not listed and not _evaluates(line[bare.end("a") if bare.group("a") else bare.start() + 1 :]):
            raw = bare.group("a") or bare.group("b") or bare.group("c")
            letter = _normalise(raw, n_options)
            if letter and not _is_word_use(line, bare.end("b") if bare.group("b") else 0, raw):
                yield offset + bare.start(), letter, "final_line" if offset == last_offset else "first_line"
    # "…называется так: **закон убывающей полезности** — **(H)**"
    ending = re.search(rf"(?:\*\*\(?|\()(?-i:([{_CAPITAL}]))(?:\)\*\*|\*\*|\))[\s.!]*$", last_line)
    before = last_line[max(0, ending.start() - 8) : ending.start()] if ending else ""
    negated = phrases.pattern("negation").search(before) is not None  # "odpowiedź to (G), a nie (A)."
    if ending and (letter := _normalise(ending.group(1), n_options)) and not (_in_list(last_line, ending.start())
                                                                                  or negated):
        yield last_offset + ending.start(1), letter, "final_line"
    option = phrases.pattern("option").search(last_line)
    committed = any(letter_after(last_line, m.end(), n_options) for name in ("answer", "choice")
                    for m in phrases.pattern(name).finditer(last_line))  # fmt: skip
    if option and len(last_line) < 120 and not committed:  # "відповідь — (I), а варіант (A) — пастка": I
        hit = letter_after(last_line, option.end(), n_options, 1)
        rest = last_line[hit[1] + 1 :] if hit else ""
        bracketed = hit is not None and last_line[: hit[1]].rstrip().endswith("(")
        # "Вариант C." or "opcja H) 900 mld zł" ends the reply; "Вариант A кажется верным" is a thought
        ends = re.match(r"[\s)\]*_.!:»\"|]*$", rest) or (not bracketed and re.match(r"[\s*_»\"]*\)", rest))
        if hit and ends:
            yield last_offset + hit[1], hit[0], "final_line"


_TABLE_ROW = re.compile(rf"^[ \t]*\|[ \t*_]*\(?(?P<letter>[{_CAPITAL}])\)?[ \t*_.)]*\|(?P<rest>.*)\|[ \t]*$",
                        re.MULTILINE)
_YES_MARKS = "✅✓✔☑🟢"
_NO_MARKS = "❌✗✘✖⛔🔴"
_YES_WORDS = ("да", "так", "tak", "ano", "yes", "+")


def _table_verdicts(text: str, n_options: int) -> Iterator[Commitment]:
    """A table of the options whose last column judges each one ("| I | … | ✅ |", "| D | Канберра | так |"):
    exactly one option marked right is the answer; several, or none, are no commitment."""
    marked = []
    for row in _TABLE_ROW.finditer(text):
        verdict = row.group("rest").rsplit("|", 1)[-1].strip(" *_").lower()
        right = any(mark in verdict for mark in _YES_MARKS) or verdict in _YES_WORDS or (
            phrases.pattern("affirmation").fullmatch(verdict) is not None)  # fmt: skip
        wrong = any(mark in verdict for mark in _NO_MARKS) or _evaluates_wrong(verdict)
        letter = _normalise(row.group("letter"), n_options)
        if letter and right and not wrong:
            marked.append((row.start("letter"), letter))
    if len(marked) == 1:
        yield marked[0][0], marked[0][1], "table"


def _evaluates_wrong(verdict: str) -> bool:
    return any(phrases.pattern(name).search(verdict) for name in ("negation", "elimination", "partial"))


_CHECK_LINE = re.compile(rf"^[ \t>*_•-]*(?P<mark>[{_YES_MARKS}{_NO_MARKS}])\ufe0f?(?P<rest>[^\n]*)$|"
                         rf"^(?P<line>[^\n]*?)[ \t]*(?P<end>[{_YES_MARKS}{_NO_MARKS}])\ufe0f?[ \t*_]*$", re.MULTILINE)


def _checklist(text: str, n_options: int) -> Iterator[Commitment]:
    """A checklist of the options ("✅ A — Канберра…", "❌ B — Сидней…", or "… (варіант F) ✔️"): exactly one
    option line ticked right is the answer; several, or none, are no commitment."""
    ticked = []
    for line in _CHECK_LINE.finditer(text):
        mark = line.group("mark") or line.group("end")
        body = line.group("rest") if line.group("mark") else line.group("line")
        if mark not in _YES_MARKS or body is None:
            continue
        found = re.match(rf"[\s*_]*\(?(?-i:([{_CAPITAL}]))(?![\w])", body) or _marked().search(body)
        if found is None:
            continue
        raw = next(g for g in found.groups() if g is not None)
        letter = _normalise(raw, n_options)
        if letter and not _evaluates_wrong(body.lower()):
            ticked.append((line.start(), letter))
    if len({letter for _, letter in ticked}) == 1:
        yield ticked[-1][0], ticked[-1][1], "checklist"


def _closing_dash(text: str, n_options: int) -> Iterator[Commitment]:
    """A closing sentence that names its answer after a dash: "Отже, фермент, що … синтезує …, — F."."""
    lines = [(m.start(), m.group()) for m in re.finditer(r"[^\n]+", text) if m.group().strip()]
    if not lines:
        return
    offset, line = lines[-1]
    ending = re.search(rf"[—–-][ \t*_]*\(?(?-i:([{_CAPITAL}]))\)?[ \t*_]*[.!]?[ \t*_]*$", line)
    if ending is None or not any(phrases.pattern(name).search(line[: ending.start()])
                                 for name in ("conclusion", "answer", "choice")):  # fmt: skip
        return
    letter = _normalise(ending.group(1), n_options)
    if letter and not _in_list(line, ending.start(1)) and not _is_word_use(line, ending.end(1), ending.group(1)):
        yield offset + ending.start(1), letter, "closing_dash"


def _option_texts(text: str, n_options: int) -> dict[str, str]:
    """The options a reply lists itself, "D) митохондрия — …;", "E. Monopol — …", "B — Сатурн": letter -> text (up to
    a dash or a semicolon that starts its commentary)."""
    listed: dict[str, str] = {}
    option_line = rf"^[ \t*_•-]*\(?(?-i:([{_CAPITAL}]))(?:[).:]|[ \t]+[—–-])[ \t]*(\S[^\n]*)$"
    for line in re.finditer(option_line, text, re.MULTILINE):
        letter = _normalise(line.group(1), n_options)
        if letter and letter not in listed:
            listed[letter] = re.split(r"\s+[—–-]\s+|[;:(]", line.group(2), maxsplit=1)[0]
    return listed


def _plain(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", text.casefold()))


def _by_option_text(text: str, n_options: int, options: Sequence[str] | None) -> Commitment | None:
    """A closing answer given as an option's text only ("Итак, основное место синтеза АТФ — митохондрия.",
    "Poprawna odpowiedź to „Monopol”.", "Odpověď: síla."): the option whose whole text ends that sentence. The item's
    option texts are used when known, else the options the reply lists itself; the longest text that fits wins
    ("Monopol naturalny" over "Monopol"), and two options with that text are no answer."""
    lines = [(m.start(), m.group()) for m in re.finditer(r"[^\n]+", text) if m.group().strip()]
    if not lines:
        return None
    offset, line = lines[-1]
    if not any(phrases.pattern(name).search(line) for name in ("answer", "choice", "conclusion")):
        return None
    known = {LETTERS[i]: o for i, o in enumerate(options or ()) if i < n_options}
    texts = known or _option_texts(text[:offset], n_options)
    closing = _plain(line)
    fits = [(len(_plain(o)), letter) for letter, o in texts.items()
            if _plain(o) and re.search(rf"(?:^| ){re.escape(_plain(o))}$", closing)]  # fmt: skip
    if not fits:
        return None
    longest = max(size for size, _ in fits)
    best = [letter for size, letter in fits if size == longest]
    if len(best) != 1:
        return None
    return offset, best[0], "option_text"


_FINDERS = (_after_corrections, _affirmations, _after_phrases, _boxed, _on_first_and_last_lines, _table_verdicts,
            _checklist, _closing_dash)


def _commitments(text: str, n_options: int) -> list[Commitment]:
    """Every commitment to a letter, in reading order (at one place, the stronger rule last); none is taken
    from a check paragraph that follows an answer."""
    found = sorted((c for finder in _FINDERS for c in finder(text, n_options)),
                   key=lambda item: (item[0], _STRENGTH[item[2]]))  # fmt: skip
    for start, end in _check_paragraphs(text):
        if any(position < start for position, _, _ in found):
            found = [c for c in found if not start <= c[0] < end]
    for start, end in _closing_questions(text):
        if any(position < start for position, _, _ in found):
            found = [c for c in found if not start <= c[0] < end]
    return found


def _closing_questions(text: str) -> list[tuple[int, int]]:
    """Spans of the questions that close a reply ("Ответ: E. Нужно ли пояснить, почему не подходит вариант I?"):
    an offer to the user after the answer, whose letters are no new answer."""
    tail = re.search(r"(?:^|(?<=[.!?\n]))[^.!?\n]*\?[\s*_)]*$", text)
    return [tail.span()] if tail else []


# Rules that read a committed answer: it stands in a reply cut off after it (other rules read analysis).
COMMITTING = ("answer_phrase", "choice_phrase", "boxed", "correction")


def read_choice(reply: str | None, n_options: int = 10, options: Sequence[str] | None = None) -> Reading:
    """The option letter the reply finally commits to ("A".."J"), with the rule that decided it. A reply that
    stops mid-way (`stops_midway`: "C) Частково правильно, але") keeps only a committed answer from a line
    before the cut."""

    def last_commitment(text: str) -> Reading:
        if degenerate(text):
            return Reading(None, "degenerate")
        found = _commitments(text, n_options)
        if stops_midway(text):
            cut = cut_line_start(text)
            found = [c for c in found if c[2] in COMMITTING and c[0] < cut]
            if not found:
                return Reading(None, "truncated")
        if not found:
            by_text = _by_option_text(text, n_options, options)
            if by_text is None:
                return Reading(None, "no_answer")
            found = [by_text]
        position, letter, rule = found[-1]
        if hedged(text, position):
            return Reading(None, "hedged")  # "може бути як відповідь B, так і відповідь I"
        return Reading(letter, rule, committed=rule in COMMITTING)

    return read_visible(reply, last_commitment)


def extract_choice(text: str | None, n_options: int = 10) -> str | None:
    """The chosen option letter, or None when no answer can be read."""
    return read_choice(text, n_options).value
