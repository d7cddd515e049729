"""Locale-aware extraction of numeric answers from model output (GSM8K-style scoring, shared by tasks).

lm-evaluation-harness's gsm8k filters (`#### (\\-?[0-9\\.\\,]+)` for strict-match and the last
`-?[$0-9.,]{2,}|-?[0-9]+` for flexible-extract, with "," removed before comparison) were written for
English. On Slavic output they go wrong: "1 234 руб." becomes 234, "3,5" becomes 35, "1\\u00a0234" becomes
234, and "−5" (U+2212) loses its sign. The rules here:

* thousands may be grouped with a space, NBSP (U+00A0), narrow NBSP (U+202F) or thin space (U+2009),
  when every later group has exactly three digits: "1 234 567" -> 1234567; "3 12" stays two numbers;
* with both ',' and '.', the later one is the decimal mark ("1.234,5" and "1,234.5" -> 1234.5); several
  commas (or dots) before 3-digit groups are thousands separators; a single comma is a decimal comma in
  ru/pl/uk/cs ("3,5" -> 3.5) and, in English only, a thousands separator before exactly 3 digits;
  a single dot followed by digits is a decimal point, a dot followed by no digit ends the sentence;
* '-' or U+2212 is a minus only when it does not follow a letter or digit ("10-3" is 10 and 3);
* currency signs and words around a number are ignored ("1 234 ₽", "$1,234", "12,50 zł").

`extract_anchored` is the *strict* reading (the first number on the line after the last answer anchor: ####,
Ответ:, Odpowiedź:, Відповідь:, Odpověď:, Answer:, "The answer is", \\boxed{); `extract_last` is the
*flexible* one (the last number anywhere). Both return a canonical string ("1234", "3.5", "-5") or None.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

SLAVIC_DECIMAL_COMMA = {"ru", "pl", "uk", "cs", "sr", "bg", "be", "sk", "sl", "hr", "bs", "mk"}
_SPACES = " \u00a0\u202f\u2009"

_NUMBER = re.compile(
    rf"""
    (?P<sign>(?<![\w\-\u2212])[-\u2212])?        # a minus that does not follow a word or digit
    (?:[$€£₽]\s?)?                                # a currency sign before the digits
    (?<![\d.,])                                   # never start inside another number
    (?P<body>
        \d{{1,3}}(?:[{_SPACES}]\d{{3}}(?!\d))+(?:[.,]\d+)?   # space-grouped thousands
      | \d+(?:[.,]\d+)*                                       # digits with dots / commas
    )
    """,
    re.VERBOSE,
)

_ANCHOR = re.compile(
    r"""
      \#\#\#\#
    | (?<!\w)(?:ответ|odpowied[źz]|відповідь|odpověď|answer)(?:\*\*|__)?\s*:
    | (?<!\w)the\s+answer\s+is
    | \\boxed\{
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _body_to_decimal(body: str, lang: str) -> list[Decimal]:
    """Interpret one matched digit run; a run that is not one number (a date like 12.05.2023) splits up."""
    for space in _SPACES:
        body = body.replace(space, "")
    marks = [c for c in body if c in ".,"]
    if not marks:
        return [Decimal(body)]
    if "." in marks and "," in marks:
        decimal_mark = marks[-1]
        thousands = "," if decimal_mark == "." else "."
        whole, _, frac = body.rpartition(decimal_mark)
        if decimal_mark in whole:
            return [Decimal(part) for part in re.split(r"[.,]", body)]
        return [Decimal(whole.replace(thousands, "") + "." + frac)]
    mark = marks[0]
    groups = body.split(mark)
    if len(groups) > 2:
        if all(len(g) == 3 for g in groups[1:]) and 1 <= len(groups[0]) <= 3:
            return [Decimal("".join(groups))]
        return [Decimal(g) for g in groups]
    whole, frac = groups
    if mark == "," and lang not in SLAVIC_DECIMAL_COMMA and len(frac) == 3:
        return [Decimal(whole + frac)]
    return [Decimal(whole + "." + frac)]


def canonical(value: Decimal) -> str:
    """'1234', '3.5', '-5': no exponent, no trailing zeros, never '-0'."""
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def find_numbers(text: str, lang: str = "ru") -> list[str]:
    """All numbers in `text`, in order, as canonical strings."""
    found: list[str] = []
    for match in _NUMBER.finditer(text):
        negative = match.group("sign") is not None
        try:
            values = _body_to_decimal(match.group("body"), lang)
        except InvalidOperation:
            continue
        for position, value in enumerate(values):
            found.append(canonical(-value if negative and position == 0 else value))
    return found


def extract_last(text: str, lang: str = "ru") -> str | None:
    """Flexible reading: the last number anywhere in the text."""
    numbers = find_numbers(text, lang)
    return numbers[-1] if numbers else None


def extract_anchored(text: str, lang: str = "ru") -> str | None:
    """Strict reading: the first number after the last answer anchor, on its line (or the next non-empty line
    when the anchor ends its line); None without an anchor or such a number."""
    last = None
    for last in _ANCHOR.finditer(text):  # noqa: B007 - keep the last anchor
        pass
    if last is None:
        return None
    # The answer is on the anchor's line, or on the next non-empty line when the anchor stands alone.
    rest = text[last.end() :].lstrip(" \t\r\n*_:")
    numbers = find_numbers(rest.split("\n", 1)[0], lang)
    return numbers[0] if numbers else None


def canonical_target(target: str, lang: str = "en") -> str | None:
    """Canonical form of a gold answer ("1,000" in an English-style gold line is a thousand)."""
    numbers = find_numbers(target.strip(), lang)
    return numbers[-1] if numbers else None
