"""Locale-aware reading of numeric answers out of model replies (GSM8K-style scoring, shared by tasks).

lm-evaluation-harness's gsm8k filters (`#### (\\-?[0-9\\.\\,]+)` for strict-match and the last
`-?[$0-9.,]{2,}|-?[0-9]+` for flexible-extract, with "," removed before comparison) were written for
English. On Slavic output they go wrong: "1 234 руб." becomes 234, "3,5" becomes 35, "1\\u00a0234" becomes
234, and "−5" (U+2212) loses its sign. How numbers are written here:

* thousands may be grouped with a space, NBSP (U+00A0), narrow NBSP (U+202F) or thin space (U+2009),
  when every later group has exactly three digits: "1 234 567" -> 1234567; "3 12" stays two numbers;
* with both ',' and '.', the later one is the decimal mark ("1.234,5" and "1,234.5" -> 1234.5); several
  commas (or dots) before 3-digit groups are thousands separators ("1.234.567");
* one separator before exactly three digits is ambiguous ("1.234 zł", "3.500 Kč", "$1,200", "1,250 kg").
  Rule: next to money (a currency sign or word: "$", "zł", "Kč", "руб.", "грн"…) it separates thousands,
  since an amount of money never has three decimals; otherwise a comma is a decimal comma in ru / pl / uk /
  cs (and a thousands separator in English), and a dot is a decimal point. Each such decision is recorded
  in the reading's notes (`extracted.notes`);
* a single comma or dot followed by other digit counts is a decimal mark ("3,5" -> 3.5, "2.75" -> 2.75);
* '-' or U+2212 is a minus only when it does not follow a letter or digit ("10-3" is 10 and 3);
* currency signs and words around a number are ignored ("1 234 ₽", "$1,234", "12,50 zł").

Readings (each returns an `evalkit.scoring.replies.Reading` naming the rule that decided it):
* `read_last` — lm-eval's *flexible-extract*: the last number of the reply;
* `read_anchored` — the *strict* reading: the answer after the last answer phrase ("####", "Ответ:",
  "Ответ —", "Odpowiedź brzmi:", "Відповідь:", "Odpověď zní", "The answer is", `\\boxed{}`; phrases/*.json),
  or, with none, after a conclusion word in the reply's last sentence with numbers ("Итого: …",
  "Wynik: …", "Отже, …"); the anchored line is read to its conclusion: "15 + 27 = 42" is 42, "2 год 30 хв,
  тобто 150 хвилин" is 150, "3/4" is 0.75, and a check after the answer ("10. Проверка: 10 − 3 = 7") is
  not read; a correction after the answer ("Ой, я ошибся: правильно будет 48") replaces it;
* `read_final` — the headline reading a grader signs off: the anchored answer when the reply has an
  anchor, the last number otherwise.

A multiplier word is part of its number ("1,2 млн" is 1200000, "15 tys." 15000; phrases `thousand`, `million`,
`billion`). A reply that stops mid-way (`replies.stops_midway`) keeps only an anchored answer on a line before
its last; one that ends in a loop (`replies.degenerate`) or hedges its answer (`replies.hedged`) has none. An
anchored answer is `committed` (it survives a cut by the token limit, `replies.read_after_cut`) unless it is
followed by a question mark ("ответ: 42? Проверим…").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from evalkit.scoring import phrases
from evalkit.scoring.phrases import value_start
from evalkit.scoring.replies import (
    Reading,
    cut_line_start,
    degenerate,
    hedged,
    read_visible,
    stops_midway,
    visible_reply,
)

SLAVIC_DECIMAL_COMMA = {"ru", "pl", "uk", "cs", "sr", "bg", "be", "sk", "sl", "hr", "bs", "mk"}
_SPACES = " \u00a0\u202f\u2009"
_CURRENCY_SIGNS = "$€£₽₴"

_NUMBER = re.compile(
    rf"""
    (?P<sign>(?<![\w\-\u2212\u2013])[-\u2212\u2013])?  # a minus (or an en dash against the digits: "–150")
                                                  # that does not follow a word or digit
    (?P<currency>[{_CURRENCY_SIGNS}]\s?)?          # a currency sign before the digits
    (?<![\d.,])                                   # never start inside another number
    (?P<body>
        \d{{1,3}}(?:(?:[{_SPACES}]|\\,)\d{{3}}(?!\d))+(?:[.,]\d+)?   # space- (or LaTeX \,-) grouped thousands
      | \d{{1,3}}(?:['\u2019]\d{{3}}(?!\d))+(?:[.,]\d+)?          # apostrophe-grouped thousands ("1'250")
      | \d+(?:[.,]\d+)*                                       # digits with dots / commas
    )
    """,
    re.VERBOSE,
)
_OPERATOR = re.compile(r"\s*(?:[+\-−–×x·*/:÷]|\\cdot|\\times|\\div)\s*", re.IGNORECASE)
_EQUALS = re.compile(r"\s*(?:=|≈|\\approx)\s*")


@dataclass(frozen=True)
class Number:
    """One number found in a text: its canonical value, where it stands, and any ambiguity decided."""

    value: str
    start: int
    end: int
    note: str | None = None


def canonical(value: Decimal) -> str:
    """'1234', '3.5', '-5': no exponent, no trailing zeros, never '-0'."""
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _money_near(text: str, start: int, end: int, sign: bool) -> bool:
    if sign:
        return True
    after = text[end : end + 16]
    return bool(re.match(rf"\s?(?:{phrases.pattern('currency').pattern})", after, re.IGNORECASE))


def _body_values(body: str, lang: str, money: bool) -> tuple[list[Decimal], str | None]:
    """Interpret one matched digit run (a run that is not one number, a date like 12.05.2023, splits up)."""
    for space in (*_SPACES, "\\,", "'", "\u2019"):
        body = body.replace(space, "")
    marks = [c for c in body if c in ".,"]
    if not marks:
        return [Decimal(body)], None
    if "." in marks and "," in marks:
        decimal_mark = marks[-1]
        thousands = "," if decimal_mark == "." else "."
        whole, _, frac = body.rpartition(decimal_mark)
        if decimal_mark in whole:
            return [Decimal(part) for part in re.split(r"[.,]", body)], None
        return [Decimal(whole.replace(thousands, "") + "." + frac)], None
    mark = marks[0]
    groups = body.split(mark)
    if len(groups) > 2:
        if all(len(g) == 3 for g in groups[1:]) and 1 <= len(groups[0]) <= 3:
            return [Decimal("".join(groups))], None
        return [Decimal(g) for g in groups], None
    whole, frac = groups
    if len(frac) != 3 or whole.startswith("0"):
        return [Decimal(whole + "." + frac)], None
    if money:
        return [Decimal(whole + frac)], f"{body}: '{mark}' before three digits next to money read as thousands"
    if mark == "," and lang not in SLAVIC_DECIMAL_COMMA:
        return [Decimal(whole + frac)], f"{body}: ',' before three digits read as thousands ({lang})"
    kind = "decimal comma" if mark == "," else "decimal point"
    return [Decimal(whole + "." + frac)], f"{body}: '{mark}' before three digits read as a {kind} ({lang})"


_VULGAR = {"¼": "0.25", "½": "0.5", "¾": "0.75", "⅛": "0.125", "⅜": "0.375", "⅝": "0.625", "⅞": "0.875",
           "⅕": "0.2", "⅖": "0.4", "⅗": "0.6", "⅘": "0.8"}  # fmt: skip
_VULGAR_NUMBER = re.compile(rf"(?<![\d.,])(?:(\d+)\s?)?([{''.join(_VULGAR)}])")


def scan_numbers(text: str, lang: str = "ru") -> list[Number]:
    """All numbers in `text`, in order, with positions; compound ones read as one (`_compounds`)."""
    found: list[Number] = []
    for match in _NUMBER.finditer(text):
        negative = match.group("sign") is not None
        money = _money_near(text, match.start(), match.end(), match.group("currency") is not None)
        try:
            values, note = _body_values(match.group("body"), lang, money)
        except InvalidOperation:
            continue
        for position, value in enumerate(values):
            value = -value if negative and position == 0 else value
            found.append(Number(canonical(value), match.start(), match.end(), note))
    return _compounds(text, found)


def _compounds(text: str, numbers: list[Number]) -> list[Number]:
    """Numbers written in more than one piece, read as the one value a person reads:
    "1 200 руб. 50 коп." is 1200.5, "2 1/2" and "1 i 1/2" are 2.5 and 1.5, "2¾" is 2.75, "минус 5" is -5."""
    for match in _VULGAR_NUMBER.finditer(text):
        value = Decimal(match.group(1) or 0) + Decimal(_VULGAR[match.group(2)])
        numbers = [n for n in numbers if not match.start() <= n.start < match.end()]
        note = f"'{match.group()}' read as {canonical(value)}"
        numbers.append(Number(canonical(value), match.start(), match.end(), note))
    numbers.sort(key=lambda n: n.start)
    merged: list[Number] = []
    index = 0
    while index < len(numbers):
        number = numbers[index]
        joined = _joined(text, numbers[index:])
        if joined is not None:
            number, used = joined
            index += used
        else:
            index += 1
        number = _multiplied(text, number)
        before = text[max(0, number.start - 12) : number.start]
        if not number.value.startswith("-") and re.search(rf"(?:{phrases.pattern('minus').pattern})\s*$", before,
                                                           re.IGNORECASE):  # fmt: skip
            number = Number(canonical(-Decimal(number.value)), number.start, number.end, "a minus in words")
        merged.append(number)
    return merged


_MULTIPLIERS = (("billion", 10**9), ("million", 10**6), ("thousand", 1000))


def _multiplied(text: str, number: Number) -> Number:
    """A number with a multiplier word after it: "1,2 млн" is 1200000, "15 tys. zł" 15000, "3 тис." 3000, "15k"."""
    after = text[number.end : number.end + 20]
    if re.match(r"[kK](?!\w)", after):
        value, length = Decimal(number.value) * 1000, 1
    else:
        for name, factor in _MULTIPLIERS:
            match = re.match(rf"[ \u00a0\u202f]?(?:{phrases.pattern(name).pattern})", after, re.IGNORECASE)
            if match:
                value, length = Decimal(number.value) * factor, len(re.sub(r"\s+(?:Kč|korun)$", "", match.group()))
                break
        else:
            return number
    note = f"'{text[number.start : number.end + length].strip()}' read as {canonical(value)}"
    return Number(canonical(value), number.start, number.end + length, note)


def _joined(text: str, numbers: list[Number]) -> tuple[Number, int] | None:
    """A whole number with its fraction ("2 1/2") or with its currency's hundredths ("45 zł 60 gr")."""
    if len(numbers) >= 3 and "." not in numbers[0].value + numbers[1].value + numbers[2].value:
        whole, top, bottom = numbers[:3]
        link = text[whole.end : top.start]
        joined = re.fullmatch(rf"\s+(?:(?:{phrases.pattern('alternative').pattern})\s+)?", link, re.IGNORECASE)
        if joined and re.fullmatch(r"\s*/\s*", text[top.end : bottom.start]) and 0 < int(top.value) < int(bottom.value):
            value = Decimal(whole.value) + Decimal(top.value) / Decimal(bottom.value)
            if value == value.quantize(Decimal("0.000001")):
                note = f"'{text[whole.start : bottom.end]}' read as {canonical(value)}"
                return Number(canonical(value), whole.start, bottom.end, note), 3
    if len(numbers) >= 2:
        major, minor = numbers[:2]
        between = text[major.end : minor.start]
        after = text[minor.end : minor.end + 12]
        currency, alternative = phrases.pattern("currency").pattern, phrases.pattern("alternative").pattern
        if (len(minor.value) <= 2 and "." not in major.value + minor.value
                and re.fullmatch(rf"\s*(?:{currency})\.?\s*(?:(?:{alternative})\s+)?", between, re.IGNORECASE)
                and re.match(rf"\s*(?:{phrases.pattern('subunit').pattern})", after, re.IGNORECASE)):  # fmt: skip
            value = Decimal(major.value) + Decimal(minor.value) / 100
            note = f"'{text[major.start : minor.end]}' + hundredths read as {canonical(value)}"
            return Number(canonical(value), major.start, minor.end, note), 2
    return None


def find_numbers(text: str, lang: str = "ru") -> list[str]:
    """All numbers in `text`, in order, as canonical strings."""
    return [number.value for number in scan_numbers(text, lang)]


def _reading(number: Number | None, rule: str) -> Reading:
    if number is None:
        return Reading(None, rule)
    return Reading(number.value, rule, notes=(number.note,) if number.note else ())


# -- the last number (flexible) -----------------------------------------------------------------------


def _last_number(text: str, lang: str) -> Reading:
    numbers = scan_numbers(text, lang)
    return _reading(numbers[-1], "last_number") if numbers else Reading(None, "no_number")


def read_last(reply: str | None, lang: str = "ru") -> Reading:
    """lm-eval's flexible reading, locale-aware: the last number of the visible reply."""
    return read_visible(reply, lambda text: _last_number(text, lang))


def extract_last(text: str | None, lang: str = "ru") -> str | None:
    return read_last(text, lang).value


# -- anchors ------------------------------------------------------------------------------------------

_HASHES = re.compile(r"####\s*(?=[-\u2212$€£₽]?\s?\d)")
_BOXED = re.compile(r"\\boxed\s*\{")


def _segment(text: str, start: int) -> tuple[str, int]:
    """The answer's text: the rest of the line from `start` (or the next non-empty line when it is empty),
    cut where a check, a P.S. or a new paragraph begins."""
    rest = text[start:]
    head = rest.split("\n", 1)[0]
    offset = start
    if not head.strip(" \t*_:#|"):
        skipped = len(rest) - len(rest.lstrip(" \t*_:#|\r\n"))
        offset = start + skipped
        head = text[offset:].split("\n", 1)[0]
    check = phrases.pattern("check").search(head)
    if check:
        head = head[: check.start()]
    return head, offset


_ITEM = re.compile(r"(?:^|(?<=[;,\n]))\s*\(?\d{1,2}\)\s+")
_SENTENCE_START = re.compile(r"[.!?]\s+[A-ZА-ЯІЇЄҐŁŚŻŹĆŃÓĘĄČŘŠŽÝÁÍÉÚŮĎŤŇ]")
Found = tuple[Number, str]  # a number and how the segment was read to it


def _shifted(number: Number, shift: int) -> Number:
    return Number(number.value, number.start + shift, number.end + shift, number.note)


def _in_words(segment: str, numbers: list[Number]) -> Found | None:
    """A number in words that opens the answer ("czterdzieści dwa jabłka (6 skrzynek po 7)" is 42), or any
    when no digits follow; "за три місяці заощадив 1 200 грн" is 1200."""
    spelled = phrases.number_in_words(segment)
    if spelled is None:
        return None
    value, start, end = spelled
    if numbers and (re.search(r"[^\W\d_]", segment[:start]) or start > numbers[0].start):
        return None
    return Number(str(value), start, end, f"'{segment[start:end]}' read as {value}"), "number_words"


def _restated(segment: str, numbers: list[Number]) -> Found | None:
    """The last restatement of a compound or fractional answer as one value ("2 год 30 хв, тобто 150
    хвилин", "3/4 пиццы, то есть 0,75"); a restatement of a single number is an aside ("150 минут (то есть
    2,5 часа)", "−50 zł, czyli 50 zł debetu")."""
    first = numbers[0]
    conversions = [m for m in phrases.pattern("conversion").finditer(segment) if m.start() >= first.end]
    for conversion in reversed(conversions):
        if _SENTENCE_START.search(segment[first.end : conversion.start()]):
            continue  # a new sentence, not a restatement of this answer
        opening = segment.rfind("(", first.end, conversion.start())
        closing = segment.find(")", conversion.end()) if opening >= 0 else -1
        stop = closing if closing >= 0 else len(segment)
        after = [n for n in numbers if conversion.end() <= n.start < stop]
        # what is restated: the answer before the parenthesis the restatement stands in, if it stands in one
        before = [n for n in numbers if n.end <= (opening if opening >= 0 else conversion.start())]
        if len(after) == 1 and len(before) != 1:
            return after[0], "conversion"
    return None


# a unit or currency written after a number inside a calculation ("120 Kč = 360 Kč", "5 км + 3 км")
_UNIT_IN_GAP = re.compile(r"^\s*(?:[^\W\d_]{1,5}\.?|[$€£₽₴%])(?=\s*(?:[=+\-−×·*/:÷]|\\cdot|\\times))")


def _equation(segment: str, numbers: list[Number]) -> Found | None:
    """An answer written as a calculation: its result ("15 + 27 = 42"), or the value of a fraction ("3/4")."""
    chain_end, index = numbers[0].end, 0
    last_equals: Number | None = None
    while index + 1 < len(numbers):
        gap = segment[chain_end : numbers[index + 1].start]
        unit = _UNIT_IN_GAP.match(gap)
        if unit and segment[numbers[index + 1].end :].lstrip().startswith(unit.group().strip()):
            gap = gap[unit.end() :]  # "3 × 120 Kč = 360 Kč": the same unit on both sides (not "2,25 h ≈ 2 h 15 min")
        if _EQUALS.fullmatch(gap):
            last_equals = numbers[index + 1]
        elif not _OPERATOR.fullmatch(gap) and not re.fullmatch(r"\s*[()]\s*|\s*\)\s*[+\-−×x·*/:÷]\s*\(?\s*", gap):
            break
        index += 1
        chain_end = numbers[index].end
    if last_equals is not None:
        return last_equals, "equation"
    first = numbers[0]
    if index == 1 and segment[first.end : numbers[1].start].strip() == "/":
        try:
            value = Decimal(first.value) / Decimal(numbers[1].value)
        except (InvalidOperation, ZeroDivisionError):
            return None
        if value == value.quantize(Decimal("0.000001")):
            note = f"{first.value}/{numbers[1].value} read as {canonical(value)}"
            return Number(canonical(value), first.start, numbers[1].end, note), "fraction"
    return None


def _conclude(segment: str, lang: str, given: frozenset[str]) -> tuple[Number | None, str]:
    """Read an anchored segment to its conclusion: the last item of an enumerated answer ("1) 12 км; 2) 2
    год" answers the problem's questions in order; the item numbers are not read), a number in words, a
    restatement, a calculation's result, else the first number that is not one of the problem's own
    (`given`: "Ответ: за 2 часа он проедет 120 км" is 120)."""
    items = list(_ITEM.finditer(segment))
    if len(items) >= 2:
        number, how = _conclude(segment[items[-1].end() :], lang, given)
        if number is not None:
            return _shifted(number, items[-1].end()), f"last_item_{how}"
    numbers = scan_numbers(segment, lang)
    # a factor ("3 razy więcej, czyli 36", "в 2 раза больше: 24") is no answer when the segment has another number
    times = phrases.pattern("times").pattern.replace(r"(?<!\w)", "")
    numbers = [n for n in numbers if not re.match(rf"[ \u00a0]?(?:{times})", segment[n.end : n.end + 16],
                                                   re.IGNORECASE)] or numbers  # fmt: skip
    found = _in_words(segment, numbers)
    if found is None and numbers:
        found = _restated(segment, numbers) or _equation(segment, numbers)
    if found is not None:
        return found
    if not numbers:
        return None, "no_number"
    if numbers[0].value in given:
        fresh = next((n for n in numbers if n.value not in given), None)
        if fresh is not None:
            return fresh, "new_number"
    return numbers[0], "first_number"


def _anchors(text: str) -> list[tuple[int, int, str]]:
    """(phrase start, value start, kind) of every answer anchor, in order."""
    found: list[tuple[int, int, str]] = []
    for match in _HASHES.finditer(text):
        found.append((match.start(), match.end(), "####"))
    for match in _BOXED.finditer(text):
        found.append((match.start(), match.end(), "boxed"))
    for match in phrases.pattern("answer").finditer(text):
        start = value_start(text, match.end())
        if start is not None:
            found.append((match.start(), start, "answer_phrase"))
    return sorted(found)


def _after_anchor(text: str, lang: str, start: int, given: frozenset[str]) -> tuple[Number | None, str]:
    segment, offset = _segment(text, start)
    number, how = _conclude(segment, lang, given)
    if number is None:
        return None, how
    return _shifted(number, offset), how


def _correction_after(text: str, lang: str, position: int) -> Number | None:
    """A correction after the answer that brings a new number ("Ой, я ошибся: правильно будет 48")."""
    corrections = [m for m in phrases.pattern("correction").finditer(text) if m.start() > position]
    if not corrections:
        return None
    tail = text[corrections[-1].end() :]
    check = phrases.pattern("check").search(tail)
    numbers = scan_numbers(tail[: check.start()] if check else tail, lang)
    if not numbers:
        return None
    last = numbers[-1]
    offset = corrections[-1].end()
    return Number(last.value, last.start + offset, last.end + offset, last.note)


def _last_sentence_start(text: str, position: int) -> int:
    sentence_ends = [m.end() for m in re.finditer(r"[.!?]\s", text[:position])]
    return max(text.rfind("\n", 0, position), *sentence_ends, 0)


def _conclusion_reading(text: str, lang: str, given: frozenset[str]) -> tuple[Number | None, str]:
    """With no answer phrase: a conclusion word in the last sentence that holds numbers ("Итого: 1 500")."""
    numbers = scan_numbers(text, lang)
    if not numbers:
        return None, "no_number"
    checks = [m.start() for m in phrases.pattern("check").finditer(text)]
    body_end = len(text)
    for start in checks:
        if any(n.start < start for n in numbers) and start > numbers[0].start:
            body_end = start
            break
    last_number = max((n for n in numbers if n.start < body_end), key=lambda n: n.start, default=None)
    if last_number is None:
        return None, "no_number"
    sentence_start = _last_sentence_start(text, last_number.start)
    candidates = [m for m in phrases.pattern("conclusion").finditer(text, sentence_start, last_number.start)]
    if not candidates:
        return None, "no_anchor"
    segment_end = text.find("\n", candidates[-1].end())
    segment = text[candidates[-1].end() : segment_end if segment_end >= 0 else len(text)]
    number, how = _conclude(segment[: body_end - candidates[-1].end()], lang, given)
    if number is None:
        return None, "no_anchor"
    offset = candidates[-1].end()
    rule = "conclusion" if how == "first_number" else f"conclusion_{how}"
    return Number(number.value, number.start + offset, number.end + offset, number.note), rule


_COMMITTING = ("####", "boxed", "answer_phrase", "correction")


def committing(rule: str) -> bool:
    """Whether a rule reads a committed final answer (an anchor, not a conclusion or a last number)."""
    return rule.startswith(_COMMITTING)


def _anchored(text: str, lang: str, given: frozenset[str]) -> tuple[Number | None, str, bool]:
    """(number, rule, decided) of the strict reading of visible text; `decided` is False when nothing in the
    reply says where its answer is (no anchor, no refusal): the headline reading then takes the last number.
    A reply that stops mid-way (`stops_midway`) keeps only an answer committed on a line before the cut."""
    if degenerate(text):
        return None, "degenerate", True
    number, rule, decided = _anchored_reading(text, lang, given)
    if number is None and not decided:
        last = scan_numbers(text, lang)
        number_at = last[-1].start if last else None
    else:
        number_at = number.start if number is not None else None
    if number_at is not None and hedged(text, number_at):
        return None, "hedged", True  # "это либо 920, либо 800: не могу выбрать"
    if stops_midway(text) and not (number is not None and committing(rule) and number.end <= cut_line_start(text)):
        return None, rule if number is None and decided else "truncated", True
    return number, rule, decided


def _anchored_reading(text: str, lang: str, given: frozenset[str]) -> tuple[Number | None, str, bool]:
    anchors = _anchors(text)
    if anchors:
        phrase_start, value_start, kind = anchors[-1]
        number, how = _after_anchor(text, lang, value_start, given)
        correction = _correction_after(text, lang, value_start)
        if correction is not None and (number is None or correction.start > number.end):
            return correction, "correction", True
        if number is None:
            return None, f"{kind}_without_number", True
        return number, kind if how == "first_number" else f"{kind}_{how}", True
    if phrases.pattern("refusal").search(text):
        return None, "refusal", True  # "В условии не хватает данных…": numbers quoted from the problem are no answer
    if text.rstrip().endswith("?") and "=" not in text:
        return None, "question_only", True  # the reply restates the problem (or only asks back)
    if re.search(r"(?:[=+\-−×·/:÷]|(?<!\*)\*|\\cdot|\\times)\s*$", text):
        return None, "truncated", True  # the reply stops mid-computation ("50 zł − 19,10 zł =")
    unfinished = re.search(r"(?:^|[.!?:;\n])([^.!?:;\n]*[^\W\d_])\s*$", text)
    if unfinished and not re.search(r"\d", unfinished.group(1)):
        return None, "truncated", True  # stopped mid-sentence, before its number ("Неповреждённых банок")
    number, how = _conclusion_reading(text, lang, given)
    return number, how, number is not None


def given_numbers(problem: str, lang: str = "ru") -> frozenset[str]:
    """The numbers a problem states, which a reply repeats around its answer."""
    return frozenset(find_numbers(problem, lang))


def read_anchored(reply: str | None, lang: str = "ru", given: frozenset[str] = frozenset()) -> Reading:
    """The strict reading: the answer after the last anchor, read to its conclusion (None without one)."""
    return read_numbers(reply, lang, given).strict


def extract_anchored(text: str | None, lang: str = "ru") -> str | None:
    return read_anchored(text, lang).value


def _closing_number(text: str, lang: str, given: frozenset[str]) -> Reading:
    """The headline reading of a reply without an anchor: its last number (in the last sentence, the last that
    is not one of the problem's own: "осталось 14 марок из 20" is 14), a closing check left out."""
    check = [m.start() for m in phrases.pattern("check").finditer(text)]
    last_paragraph = text.rstrip().rfind("\n\n")
    if check and check[-1] > last_paragraph:  # a check that closes the reply ("5. Sprawdzenie: 65 + 7 = 72")
        before = text[: text.rfind("\n", 0, check[-1]) + 1]  # is no answer: read what comes before it
        if scan_numbers(before, lang):
            text = before
    numbers = scan_numbers(text, lang)
    if numbers and numbers[-1].value in given:
        start = _last_sentence_start(text, numbers[-1].start)
        fresh = [n for n in numbers if n.start >= start and n.value not in given]
        if fresh:
            return _reading(fresh[-1], "last_sentence_new_number")
    return _reading(numbers[-1], "last_number") if numbers else Reading(None, "no_number")


@dataclass(frozen=True)
class NumberReadings:
    """The three readings of one reply, from one pass over it (GSM8K reports all three)."""

    final: Reading  # the headline: anchored when the reply has an anchor, else its closing number
    strict: Reading  # lm-eval's strict-match, locale-aware: the anchored answer only
    flexible: Reading  # lm-eval's flexible-extract, locale-aware: the last number


def read_numbers(reply: str | None, lang: str = "ru", given: frozenset[str] = frozenset()) -> NumberReadings:
    """Every numeric reading of a reply; the visible text and its anchors are found once for all three."""
    visible = visible_reply(reply)
    if visible.unread is not None:
        nothing = Reading(None, visible.unread, visible.reasoning_chars)
        return NumberReadings(nothing, nothing, nothing)
    text = visible.text
    number, rule, decided = _anchored(text, lang, given)
    # "ответ: 42? Проверим…" is a guess in a transcript, not a commitment that survives a cut
    tentative = number is not None and re.match(r"[\s*_$]*\?", text[number.end : number.end + 6]) is not None
    strict = replace(_reading(number, rule), committed=number is not None and committing(rule) and not tentative)
    final = strict if decided else _closing_number(text, lang, given)
    return NumberReadings(*(replace(r, reasoning_chars=visible.reasoning_chars)
                            for r in (final, strict, _last_number(text, lang))))  # fmt: skip


def read_final(reply: str | None, lang: str = "ru", given: frozenset[str] = frozenset()) -> Reading:
    """The headline reading (see `read_numbers`)."""
    return read_numbers(reply, lang, given).final


def canonical_target(target: str, lang: str = "en") -> str | None:
    """Canonical form of a gold answer ("1,000" in an English-style gold line is a thousand)."""
    numbers = find_numbers(target.strip(), lang)
    return numbers[-1] if numbers else None
