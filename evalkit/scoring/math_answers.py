"""Final answers of MATH-style solutions: extraction and equivalence.

Extraction (`read_math_answer`), on the visible reply (reasoning blocks cut off, evalkit.scoring.replies):
the last `\\boxed{...}` / `\\fbox{...}` (nested braces allowed); without one, the rest of the line after the
last answer phrase ("Ответ:", "Odpowiedź:", "Відповідь:", "Odpověď:", "Final answer:", "The answer is";
phrases/*.json), or after a conclusion word on the reply's last line with mathematics ("Отже, $x = 5$.").
From that line the mathematics is kept: its `$...$` / `\\(...\\)` pieces (several pieces, as in
"$x_1 = 2$, $x_2 = -3$", become a list), else the line without trailing words and a final period; a count
before named roots is passed over ("два корня: x₁ = 1 и x₂ = 3" is 1, 3), "no solution" in words is the empty
set, a JSON answer is decoded, and a reply that is only a formula is its answer. A reply that stops mid-way
keeps only a closed box or an answer line before its last line; a loop is no answer.

Equivalence, in two steps:
1. fast path: both strings normalised as in Hendrycks et al.'s MATH evaluation (hendrycks/math,
   `is_equiv` / `strip_string`: drop spaces, `\\left`/`\\right`, `\\!`, `^\\circ`, `\\$`, `\\text{ units}`,
   `tfrac`/`dfrac` -> `frac`, `\\frac12` -> `\\frac{1}{2}`, `a/b` -> `\\frac{a}{b}`, `\\sqrt2` -> `\\sqrt{2}`,
   a leading "x =", a leading "0" before ".5"), plus Slavic mathematical writing: the decimal comma ("0,5",
   LaTeX "3{,}5"), thin spaces between thousands ("12 000", "1\\,000"), ";" between the ends of an interval
   or the members of a set ("(-\\infty; 2]", "\\{1; 2\\}"), Czech interval brackets ⟨ ⟩ (`\\langle`,
   `\\rangle`) for closed ends, "x \\in", roots listed as "x_1 = 2,\\ x_2 = -3" or "x = 2 или x = -3";
   Then the notations a grader accepts as one (`_kinds`): an inequality and its interval, ℝ, sets and lists of
   values in any order, mixed numbers, periodic decimals, every spelling of the empty set;
2. symbolic: math-verify (PyPI `math-verify`, sympy underneath). math-verify enforces its own timeouts
   with signal.alarm, which only works in a process's main thread; evalkit therefore runs it in a
   separate worker process (its main thread) and also bounds each call from the caller's side, killing
   and replacing the worker when an expression hangs. So scoring works from any thread.
"""

from __future__ import annotations

import atexit
import multiprocessing
import re
import threading
from fractions import Fraction
from multiprocessing.connection import Connection

from evalkit.scoring import phrases
from evalkit.scoring.numbers import SLAVIC_DECIMAL_COMMA
from evalkit.scoring.replies import Reading, cut_line_start, degenerate, read_visible, stops_midway, structured_answer

_MATH_PIECE = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} or \\fbox{...}, braces balanced; None if there is none."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    brace = text.find("{", start)
    if brace < 0 or text[start:brace].strip() not in ("\\boxed", "\\fbox"):
        # "\boxed 5" (no braces) is legal LaTeX for a single token
        match = re.match(r"\\(?:boxed|fbox)\s+(\S+)", text[start:])
        return match.group(1).rstrip("$.") if match else None
    depth = 0
    for index in range(brace, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[brace + 1 : index]
    return None


# a number in prose, with a unicode root or π it carries ("2√3", "9π", "√13")
_PROSE_NUMBER = re.compile(r"[-\u2212\u2013]?(?:\d+(?:[.,]\d+)?(?:\s*/\s*\d+)?(?:√\d+|π)?|√\d+|π)")
_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
# "x₁ = 1", "x_2 = -3", "x = 2,25": a named value in prose (a root, an unknown)
_ASSIGNED = re.compile(
    r"(?<![\w\\])[a-zA-Z](?:_\{?\d+\}?|[₀-₉]+)?\s*=\s*"
    r"([-\u2212]?(?:\\frac\{[^{}]+\}\{[^{}]+\}|\\sqrt\{?\w+\}?|\d*√\d+|\d+(?:[.,]\d+)?(?:\s*/\s*\d+)?π?))"
)


def _assigned_values(line: str) -> str | None:
    """The values of "x₁ = 1 и x₂ = 3" ("два корня: …" counts the roots; the count is not the answer)."""
    values = [m.group(1) for m in _ASSIGNED.finditer(line)]
    return ", ".join(values) if values else None


def _answer_of_line(line: str, given: frozenset[str] = frozenset()) -> str | None:
    """The mathematics of an answer line: its math pieces; else a bold number ("ровно **24** делителя"); else,
    in a sentence, its first number that is not one of the problem's own; else the line without words."""
    # the anchor inside display LaTeX ("$$\\text{Відповідь: } \\mathbf{9}$$"): its closing brace is no answer
    line = re.sub(r"^\s*\}", "", line).strip().strip("*_").strip()
    # an approximation after the exact value ("sqrt(13) ≈ 3.606") restates it: the exact value is the answer
    approx = re.search(r"\s*(?:≈|\\approx)[^$\n]*?(?=\$|$)", line)
    if approx and re.search(r"\d|√|π|sqrt|\\pi", line[: approx.start()].split("=")[-1]):
        line = line[: approx.start()] + line[approx.end() :]
    check = phrases.pattern("check").search(line)
    if check:
        line = line[: check.start()]
    if phrases.pattern("no_solution").search(line) and not re.search(r"\d", line):
        return "\\varnothing"  # "нет решений", "brak rozwiązań", "nemá řešení": the empty set
    pieces = [next(g for g in m.groups() if g is not None).strip() for m in _MATH_PIECE.finditer(line)]
    pieces = [p for p in pieces if p]
    if pieces:
        return ", ".join(pieces) if len(pieces) > 1 else pieces[0]
    bold = [b for b in re.findall(r"\*\*([^*]+)\*\*", line) if re.search(r"\d", b)]
    if bold:
        return bold[-1].strip()
    words_first = re.match(r"\s*[,;:—–-]?\s*(?!(?:sqrt|pi)\b)[^\W\d_]{2,}", line)
    numbers = _PROSE_NUMBER.findall(line)
    if words_first and numbers and (assigned := _assigned_values(line)) is not None:
        return assigned  # "уравнение имеет два корня: x₁ = 1 и x₂ = 3" is 1, 3
    listed = re.search(r"[^\W\d_]{2,}[^:\n]*:\s*(.+)$", line) if words_first else None
    alternative = phrases.pattern("alternative").pattern
    if listed and re.fullmatch(rf"[-\u2212\d.,;\s]+(?:(?:{alternative})[-\u2212\d.,\s]+)*\.?", listed.group(1),
                               re.IGNORECASE):  # fmt: skip
        # "dwa pierwiastki: 1 i 3" — the count before the colon is no answer
        return ", ".join(re.findall(r"[-\u2212]?\d+(?:[.,]\d+)?(?!\d)", listed.group(1).replace(", ", " ; ")))
    if words_first and numbers:  # "у числа 360 ровно 24 делителя": a sentence, not a formula
        fresh = [n for n in numbers if n.replace(",", ".").replace("\u2212", "-") not in given]
        return (fresh or numbers)[0]
    line = re.sub(r"^(?:[:\s—–]|-(?=\s))+", "", line)  # a separator, never the minus of "-0.4"
    line = re.sub(r"(?:\s+[^\W\d_]{2,}\.?)+\s*[.!]?$", "", line)  # trailing words ("12 cm.", "5 книг")
    line = line.rstrip(". ").strip("$ ").strip()
    return line or None


COMMITTING = ("boxed", "answer_phrase")


def read_math_answer(reply: str | None, given: frozenset[str] = frozenset()) -> Reading:
    """The final answer of a solution with the rule that found it (boxed, answer_phrase, conclusion,
    final_assignment, final_statement); `given` are the problem's own numbers, passed over in prose. A reply that
    stops mid-way ("$$15 \\times$$") keeps only a closed box or an answer line before the cut."""
    return read_visible(reply, lambda text: _read(text, given))


def _read(text: str, given: frozenset[str]) -> Reading:
    if degenerate(text):
        return Reading(None, "degenerate")
    if stops_midway(text):
        cut = cut_line_start(text)
        boxed = last_boxed(text)
        if boxed is not None and boxed.strip() and text.rfind("\\boxed") < cut:
            return Reading(boxed.strip(), "boxed", committed=True)
        reading = _final_answer(text[:cut], given, anchors_only=True) if cut else Reading(None, "truncated")
        return reading if reading.value is not None else Reading(None, "truncated")
    reading = _final_answer(text, given)
    return Reading(reading.value, reading.rule, committed=reading.value is not None and reading.rule in COMMITTING)


def _final_answer(text: str, given: frozenset[str], anchors_only: bool = False) -> Reading:
    boxed = last_boxed(text)
    if boxed is not None and boxed.strip():
        return Reading(boxed.strip(), "boxed", committed=anchors_only)
    structured = structured_answer(text)
    if structured is not None and structured.strip():
        return Reading(structured.strip().strip("$").strip(), "answer_phrase", committed=anchors_only)
    anchors = [m for m in phrases.pattern("answer").finditer(text) if phrases.value_start(text, m.end()) is not None]
    # an answer word inside a line of working that derives on from it ("Левая часть: …, корни $x = 2$ и $x = 3$,
    # значит $x < 2$ …") names an intermediate result, not the answer
    anchors = [m for m in anchors if not _intermediate(text, m)]
    if anchors_only:
        if not anchors:
            return Reading(None, "truncated")
        start = phrases.value_start(text, anchors[-1].end()) or anchors[-1].end()
        line = text[start:].lstrip(" \t*_:—–\r\n").split("\n", 1)[0]
        answer = _answer_of_line(line, given)
        return Reading(answer, "answer_phrase", committed=True) if answer else Reading(None, "truncated")
    for rule, found in (("answer_phrase", anchors), ("conclusion", _final_conclusions(text))):
        if not found:
            continue
        start = phrases.value_start(text, found[-1].end()) if rule == "answer_phrase" else found[-1].end()
        rest = text[start if start is not None else found[-1].end() :]
        line = rest.split("\n", 1)[0]
        if not line.strip(" \t*_:—–-"):
            line = rest.lstrip(" \t*_:—–\r\n").split("\n", 1)[0]
        answer = _answer_of_line(re.sub(r"^\s*(?:\*\*|__)?\s*(?:[:—–]|-(?=\s))?", "", line), given)
        if answer:
            return Reading(answer, rule)
        if rule == "answer_phrase":
            return Reading(None, "answer_phrase_without_answer")
    assigned = _final_assignment(text)
    if assigned is None:  # a last line naming its roots in prose: "Уравнение имеет два корня: x₁ = 1 и x₂ = 3."
        lines = [line for line in text.strip().splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        assigned = _assigned_values(last) if not _MATH_PIECE.search(last) else None
    if assigned is not None:
        return Reading(assigned, "final_assignment")
    stated = _final_statement(text)
    if stated is not None:
        return Reading(stated, "final_statement")
    for rule, closing in (("final_membership", _final_membership), ("closing_sentence", _closing_sentence)):
        value = closing(text)
        if value is not None:
            return Reading(value, rule)
    bare = text.strip().rstrip(".").strip()
    piece = _MATH_PIECE.fullmatch(bare)
    if piece or (bare and len(bare) <= 40 and not re.search(r"[^\W\d_]{2,}", re.sub(r"\\[a-zA-Z]+", "", bare))):
        value = next(g for g in piece.groups() if g is not None).strip() if piece else bare
        if value:
            return Reading(value, "bare_answer")  # the whole reply is the answer ("$\\frac{2}{3}$", "-4")
    return Reading(None, "no_answer")


def _closing_lines(text: str) -> list[str]:
    """The reply's non-empty lines without a check that follows its last statement ("**Přepona má délku 2√5.**
    Kontrola: …"): a check's numbers are not the answer."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    check = phrases.pattern("check")
    end = len(lines)
    while end > 1 and check.match(lines[end - 1].strip(" \t*_#>-")):
        end -= 1
    return lines[:end]


def _intermediate(text: str, anchor: re.Match[str]) -> bool:
    """An answer word in mid-line ("…, корни $x = 2$ и $x = 3$, значит …") whose line goes on to a conclusion
    drawn from it ("…, значит", "…, więc"): a step of the working."""
    line_start = text.rfind("\n", 0, anchor.start()) + 1
    line_end = text.find("\n", anchor.end())
    rest = text[anchor.end() : len(text) if line_end < 0 else line_end]
    if not re.search(r"[^\W\d_]{2,}[^\n]*[,:]\s*$", text[line_start : anchor.start()]):
        return False  # the answer word opens its line (or follows only markup): "Ответ: …"
    return re.search(rf"[,;]\s*(?:{phrases.pattern('conclusion').pattern})", rest, re.IGNORECASE) is not None


def _final_statement(text: str) -> str | None:
    """A reply that ends on a sentence stating a value: "Pravděpodobnost … je $\\frac{3}{8}$." — the last
    formula of the last line, when a copula or "=" leads to it (a gloss in brackets may follow: "это
    $2\\frac{1}{3}$ (две целых одна треть).")."""
    lines = _closing_lines(text)
    if not lines:
        return None
    pieces = list(_MATH_PIECE.finditer(lines[-1]))
    if not pieces or not re.fullmatch(r"\s*(?:\([^()$]*\))?[\s.!*_]*", lines[-1][pieces[-1].end() :]):
        return None  # no formula, or the sentence goes on after it
    lead = lines[-1][: pieces[-1].start()].rstrip(" *_")
    words = re.findall(r"[^\W\d_]+|[=:]", lead)
    # "… je $\\frac{3}{8}$.", "… = $5$", "Řešení nerovnice: $x \\geq 3$." (a label, then the value)
    if not words or not (words[-1] in ("=", ":") or phrases.pattern("copula").fullmatch(words[-1])):
        return None
    return next(g for g in pieces[-1].groups() if g is not None).strip() or None


def _closing_sentence(text: str) -> str | None:
    """A reply that ends on a sentence in prose stating a value: "Внешний угол равен 72°.", "Okres podstawowy
    wynosi 2π.", "**Přepona má délku 2√5.**" (a check after it is passed over): the value after its copula."""
    lines = _closing_lines(text)
    if not lines or _MATH_PIECE.search(lines[-1]):
        return None
    line = lines[-1].strip().strip("*_ ").strip()
    copula = phrases.pattern("copula").pattern
    # a word copula ("равен", "wynosi", "má délku"): "… = 0." closes an equation, maybe a restated problem
    found = re.search(rf"(?:^|\s)(?=[^\W\d_])(?:{copula})\s+({_PROSE_NUMBER.pattern})\s*(?:°|\^\\circ)?"
                      rf"(?:\s*[^\W\d_]{{1,6}}\.?)?\s*[.!]?$", line, re.IGNORECASE)  # fmt: skip
    return found.group(1) if found else None


def _final_membership(text: str) -> str | None:
    """A reply that ends on "$x \\in (-3;\\ 3)$": the set the unknown belongs to."""
    lines = _closing_lines(text)
    pieces = [next(g for g in m.groups() if g is not None) for m in _MATH_PIECE.finditer(lines[-1])] if lines else []
    if len(pieces) != 1:
        return None
    found = re.fullmatch(rf"\s*{_ROOT_NAME}\s*(?:\\in|∈)\s*(.+?)\s*[.,]?\s*", pieces[0])
    return found.group(1) if found else None


def _final_assignment(text: str) -> str | None:
    """A reply that ends on a line of results, "$x_1 = -1,\\ x_2 = 4$." or "$K = \\{-2; 0; 2\\}$": the values."""
    lines = _closing_lines(text)
    if not lines:
        return None
    pieces = [next(g for g in m.groups() if g is not None) for m in _MATH_PIECE.finditer(lines[-1])]
    if not pieces:
        return None
    values = []
    for piece in pieces:
        for part in re.split(r",\s*(?:\\[ ,;]|~)?\s*(?=[A-Za-z](?:_\{?[\w,]+\}?)?\s*=)", piece):
            match = re.fullmatch(r"\s*[A-Za-z](?:_\{?[\w,]+\}?)?(?:\([A-Za-z]\))?\s*=\s*([^=]+?)\s*[.,]?\s*", part)
            if match is None or re.search(r"(?<!\\)\b[a-zA-Z]\b", re.sub(r"\\[a-zA-Z]+", " ", match.group(1))):
                return None  # not "name = value", or the value still holds a variable
            values.append(match.group(1))
    return ", ".join(values) if values else None


def _final_conclusions(text: str) -> list[re.Match[str]]:
    """Conclusion words on the last line that holds mathematics."""
    lines = [m for m in re.finditer(r"[^\n]+", text) if _MATH_PIECE.search(m.group()) or re.search(r"\d", m.group())]
    if not lines:
        return []
    last = lines[-1]
    return list(phrases.pattern("conclusion").finditer(text, last.start(), last.end()))


def extract_final_answer(text: str | None) -> str | None:
    return read_math_answer(text).value


# -- normalisation (fast path) ---------------------------------------------------------------------


def _fix_fracs(text: str) -> str:
    r"""\frac12 -> \frac{1}{2}; \frac1{72} -> \frac{1}{72}."""
    parts = text.split("\\frac")
    out = parts[0]
    for part in parts[1:]:
        out += "\\frac"
        if part.startswith("{") or len(part) < 2:
            out += part
        elif part[1] == "{":
            out += "{" + part[0] + "}" + part[1:]
        else:
            out += "{" + part[0] + "}{" + part[1] + "}" + part[2:]
    return out


def _fix_slash(text: str) -> str:
    match = re.fullmatch(r"(-?\d+)/(\d+)", text)
    return f"\\frac{{{match.group(1)}}}{{{match.group(2)}}}" if match else text


_UNICODE_MATH = {"\u2212": "-", "–": "-", "·": "\\cdot ", "×": "\\times ", "π": "\\pi ", "∞": "\\infty ",
                 "√": "\\sqrt", "∪": "\\cup ", "≤": "\\le ", "≥": "\\ge ", "⟨": "\\langle ", "⟩": "\\rangle ",
                 "〈": "\\langle ", "〉": "\\rangle ", "∈": "\\in "}
_ROOT_NAME = r"(?:[a-zA-Z](?:_\{?\d+\}?)?|[a-zA-Z]_\{[^{}]*\})"


def _ascii_math(text: str) -> str:
    """Plain-text mathematics as LaTeX: "9pi" is 9\\pi, "sqrt(2)" \\sqrt{2}, "3*sqrt3" 3\\sqrt{3}."""
    text = re.sub(r"(?<![\\a-zA-Z])pi(?![a-zA-Z])", r"\\pi ", text)
    text = re.sub(r"(?<![\\a-zA-Z])sqrt\s*\(([^()]+)\)", r"\\sqrt{\1}", text)
    text = re.sub(r"(?<![\\a-zA-Z])sqrt\s*(\d+)", r"\\sqrt{\1}", text)
    return text


def _slavic_notation(text: str) -> str:
    """Slavic ways of writing an answer, rewritten the way MATH writes its gold answers."""
    text = _ascii_math(text)
    text = re.sub(r"([a-zA-Z])([₀-₉]+)", lambda m: f"{m.group(1)}_{m.group(2).translate(_SUBSCRIPTS)}", text)
    for char, latex in _UNICODE_MATH.items():
        text = text.replace(char, latex)
    text = re.sub(r"(\d)\{,\}(?=[\d(\\])", r"\1.", text)  # 3{,}5, 0{,}(6): LaTeX's decimal comma
    text = re.sub(r"^\s*(-?\d+)\s+(\d+)\s*/\s*(\d+)\s*$", r"\1\\frac{\2}{\3}", text)  # "2 1/3": a mixed number
    text = re.sub(r"(\d)(?:\\[,;: ]|~|\\thinspace\s?)(\d{3})(?!\d)", r"\1\2", text)  # 1\,000
    text = re.sub(r"(\d)(?:\\[,;: ]|~|\\thinspace\s?)(\d{3})(?!\d)", r"\1\2", text)
    text = text.replace("\\ ", " ").replace("\\,", " ").replace("\\;", " ").replace("\\quad", " ")
    text = re.sub(r"\\langle\s*", "[", text)
    text = re.sub(r"\s*\\rangle", "]", text)
    text = text.replace("+\\infty", "\\infty").replace("+ \\infty", "\\infty")
    text = re.sub(rf"^\s*{_ROOT_NAME}\s*\\in\s*", "", text)  # x \in (1; 4)
    if ";" in text:
        # with ";" between members, a comma inside a number is a decimal comma: (2,5; 3] -> (2.5, 3]
        text = re.sub(r"(\d),(\d)", r"\1.\2", text)
        text = text.replace(";", ",")
    alternatives = "|".join(re.escape(w) for w in phrases.phrases("alternative"))
    # "1 или 3", "1 i 3": a list of values joined by words
    word = rf"\\text\{{\s*(?:{alternatives})\s*\}}|\s(?:{alternatives})\s"
    text = re.sub(rf"(?<=[\d}}])\s*(?:{word})\s*(?=[-\d\\])", ", ", text)
    joiner = rf"\s*(?:,|\\text\{{\s*(?:{alternatives})\s*\}}|\s(?:{alternatives})\s)\s*"
    parts = re.split(rf"{joiner}(?={_ROOT_NAME}\s*=)", text)
    if len(parts) > 1 and all(re.match(rf"\s*{_ROOT_NAME}\s*=", p) for p in parts):
        text = ", ".join(p.split("=", 1)[1].strip() for p in parts)  # x_1 = 2, x_2 = -3 -> 2, -3
    return text.strip()


_EMPHASIS = re.compile(r"\\(?:mathbf|textbf|boldsymbol|bm|mathbold)\s*\{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*)\}")


def _unemphasised(text: str) -> str:
    """"\\mathbf{-\\frac{5}{2}}" is "-\\frac{5}{2}": bold type (\\mathbf, \\textbf, \\boldsymbol) only shows
    the answer."""
    for _ in range(3):
        text, count = _EMPHASIS.subn(r"\1", text)
        if not count:
            break
    return text


def normalize(answer: str, lang: str = "en") -> str:
    text = _slavic_notation(_unemphasised(answer.strip()))
    text = re.sub(r"\\text\{\s*([^{}]*)\}", r"\1", text) if re.fullmatch(r"\\text\{[^{}]*\}", text) else text
    text = text.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    text = text.replace("tfrac", "frac").replace("dfrac", "frac")
    text = text.replace("\\left", "").replace("\\right", "")
    text = re.sub(r"\\(?:displaystyle|textstyle)\s*", "", text)
    text = text.replace("^{\\circ}", "").replace("^\\circ", "").replace("°", "")
    text = text.replace("\\$", "").replace("$", "")
    text = re.sub(r"\\(?:text|mbox|mathrm)\{\s*[^\W\d_. ][^\W\d_. ]*(?:[. ]+[^\W\d_]*)*\.?\s*\}$", "", text).strip()
    text = text.replace("\\%", "").replace("%", "")
    if re.fullmatch(r"[a-zA-Z](?:_\{?[\w,]+\}?)?(?:\([a-zA-Z]\))?\s*=\s*-?[\d \u00a0\u202f]+,\d+", text):
        text = text.split("=", 1)[1].strip()  # "x = 2,25": the decimal comma after an assignment
    if lang in SLAVIC_DECIMAL_COMMA and re.fullmatch(r"-?[\d \u00a0\u202f]+,\d+", text):
        text = text.replace(",", ".")
    if re.fullmatch(r"-?\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+(?:\.\d+)?", text):
        text = re.sub(r"[ \u00a0\u202f\u2009]", "", text)
    text = text.replace(" .", " 0.").replace("{.", "{0.")
    if text.startswith("."):
        text = "0" + text
    if re.fullmatch(r"[a-zA-Z](?:_\{?[\w,]+\}?)?(?:\([a-zA-Z]\))?\s*=[^=]*", text):
        text = text.split("=", 1)[1]  # "x = 5", "D(f) = [-1, 3)", "x_{1,2} = ..."
    text = re.sub(r"\\sqrt(\w)", r"\\sqrt{\1}", text)
    text = text.replace(" ", "")
    text = _fix_fracs(text)
    if text == "0.5":
        text = "\\frac{1}{2}"
    text = _fix_slash(text)
    text = text.rstrip(".")
    return _kinds(text)


# -- notations a grader accepts as the same answer ------------------------------------------------------------
_EMPTY = re.compile(r"\\(?:varnothing|emptyset)|∅|\\\{\\\}|\{\}")
_OP = r"(<=|>=|\\leq?|\\geq?|\\lt|\\gt|<|>)"
_VALUE = r"([^<>=,;\\]*(?:\\(?:infty|frac\{[^{}]*\}\{[^{}]*\}|sqrt\{[^{}]*\}|pi)[^<>=,;\\]*)*)"


def _bound(op: str) -> tuple[bool, bool]:
    """(is it a lower bound of x when x stands on its left, is it closed)."""
    return op in (">", ">=", "\\ge", "\\geq", "\\gt"), op in ("<=", ">=", "\\le", "\\leq", "\\ge", "\\geq")


def _inequality(text: str) -> str | None:
    """ "x>2" -> (2,\\infty), "-1\\lex<3" -> [-1,3); None when `text` is no inequality in one variable."""
    double = re.fullmatch(rf"{_VALUE}{_OP}[a-zA-Z]{_OP}{_VALUE}", text)
    if double and double.group(1) and double.group(4):
        low, op1, op2, high = double.groups()
        if _bound(op1)[0] or _bound(op2)[0]:
            return None  # "5 > x > 1": rare; left to math-verify
        return f"{'[' if _bound(op1)[1] else '('}{low},{high}{']' if _bound(op2)[1] else ')'}"
    single = re.fullmatch(rf"[a-zA-Z]{_OP}{_VALUE}", text) or re.fullmatch(rf"{_VALUE}{_OP}[a-zA-Z]", text)
    if not single:
        return None
    if text[0].isalpha() and text[1:2] in "<>\\":
        op, value = single.groups()
        lower, closed = _bound(op)
    else:
        value, op = single.groups()
        lower, closed = not _bound(op)[0], _bound(op)[1]
    if not value:
        return None
    if lower:
        return f"{'[' if closed else '('}{value},\\infty)"
    return f"(-\\infty,{value}{']' if closed else ')'}"


def _periodic(text: str) -> str | None:
    """ "0,(3)", "0.(3)", "0.\\overline{3}", "1.2(7)": a periodic decimal as its fraction."""
    match = re.fullmatch(r"(-?)(\d+)[.,](\d*)(?:\((\d+)\)|\\overline\{(\d+)\}|\\dot\{(\d)\})", text)
    if not match:
        return None
    sign, whole, fixed, *period = match.groups()
    repeat = next(p for p in period if p)
    numerator = int(whole + fixed + repeat) - int(whole + fixed)
    value = Fraction(numerator, (10 ** len(repeat) - 1) * 10 ** len(fixed))
    return _fraction_text(-value if sign else value)


def _fraction_text(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


def _kinds(text: str) -> str:
    """The notations a careful grader accepts as the same answer, brought to one: the empty set in any
    spelling, an inequality in one variable as its interval (or a union of them), ℝ as (-∞,∞), a mixed number
    (2\\frac{1}{2}) and a periodic decimal (0,(3)) as their fraction, a set or list of plain values in
    increasing order without its braces."""
    if _EMPTY.fullmatch(text) or text.lower() in ("\\text{nosolution}", "nosolution", "\\text{nosolutions}"):
        return "\\varnothing"
    text = re.sub(r"\\mathbb\{?R\}?|ℝ", lambda _: "(-\\infty,\\infty)", text)
    parts = re.split(r"\\cup|\\vee|\\text\{[^{}]*\}|или|або|lub|albo|nebo|anebo|or", text)
    if len(parts) == 1 and "," in text:
        parts = text.split(",")  # "x \\le -1, x \\ge 2": two inequalities listed
    intervals = [_inequality(p) for p in parts] if re.search(_OP, text) else []
    if intervals and all(intervals):
        return "\\cup".join(i for i in intervals if i)
    mixed = re.fullmatch(r"(-?)(\d+)\\frac\{(\d+)\}\{(\d+)\}", text)
    if mixed and int(mixed.group(4)) != 0 and int(mixed.group(3)) < int(mixed.group(4)):
        value = int(mixed.group(2)) + Fraction(int(mixed.group(3)), int(mixed.group(4)))
        return _fraction_text(-value if mixed.group(1) else value)
    periodic = _periodic(text)
    if periodic is not None:
        return periodic
    braced = re.fullmatch(r"\\\{(.*)\\\}|\{(.*)\}", text)
    inner = next((g for g in braced.groups() if g is not None), None) if braced else None
    members = (inner if inner is not None else text).split(",")
    if len(members) > 1 and all(re.fullmatch(r"-?\d+(?:\.\d+)?|-?\\frac\{\d+\}\{\d+\}", m) for m in members):
        return ",".join(sorted(members, key=_member_value))
    return inner if inner is not None and "," not in inner else text


def _member_value(member: str) -> Fraction:
    frac = re.fullmatch(r"(-?)\\frac\{(\d+)\}\{(\d+)\}", member)
    if frac:
        value = Fraction(int(frac.group(2)), int(frac.group(3)))
        return -value if frac.group(1) else value
    return Fraction(member)


# -- symbolic check in a worker process ---------------------------------------------------------------


def _worker(connection: Connection) -> None:
    from math_verify import parse, verify  # noqa: PLC0415 - imported in the worker only

    while True:
        try:
            gold, prediction = connection.recv()
        except EOFError:
            return
        try:
            gold_parsed = parse(f"${gold}$")
            prediction_parsed = parse(f"${prediction}$")
            result = bool(gold_parsed and prediction_parsed and verify(gold_parsed, prediction_parsed))
        except Exception:  # noqa: BLE001 - an unparseable answer is simply not equivalent
            result = False
        connection.send(result)


class _Verifier:
    """One long-lived worker process; replaced when a call exceeds its time limit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None
        atexit.register(self.close)

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(target=_worker, args=(child,), daemon=True)
        self._process.start()
        self._connection = parent

    def check(self, gold: str, prediction: str, timeout_s: float) -> bool | None:
        """True / False, or None when the check timed out (the worker is then replaced)."""
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._start()
            assert self._connection is not None
            self._connection.send((gold, prediction))
            # The first call also pays the worker's start-up (importing sympy): allow for it.
            if self._connection.poll(timeout_s):
                return bool(self._connection.recv())
            self.close()
            return None

    def close(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        self._process = None
        self._connection = None


_VERIFIER = _Verifier()


def is_equivalent(prediction: str | None, gold: str, lang: str = "en", timeout_s: float = 10.0) -> tuple[bool, str]:
    """(equivalent?, how decided: "string" | "symbolic" | "timeout" | "no-answer")."""
    if prediction is None or not prediction.strip():
        return False, "no-answer"
    a, b = normalize(prediction, lang), normalize(gold, "en")
    if a == b:
        return True, "string"
    result = _VERIFIER.check(b, a, timeout_s)
    if result is None:
        return False, "timeout"
    return result, "symbolic"
