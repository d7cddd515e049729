"""Final answers of MATH-style solutions: extraction and equivalence.

Extraction (`read_math_answer`), on the visible reply (reasoning blocks cut off, evalkit.scoring.replies):
the last `\\boxed{...}` / `\\fbox{...}` (nested braces allowed); without one, the rest of the line after the
last answer phrase ("Ответ:", "Odpowiedź:", "Відповідь:", "Odpověď:", "Final answer:", "The answer is";
phrases/*.json), or after a conclusion word on the reply's last line with mathematics ("Отже, $x = 5$.").
From that line the mathematics is kept: its `$...$` / `\\(...\\)` pieces (several pieces, as in
"$x_1 = 2$, $x_2 = -3$", become a list), else the line without trailing words and a final period.

Equivalence, in two steps:
1. fast path: both strings normalised as in Hendrycks et al.'s MATH evaluation (hendrycks/math,
   `is_equiv` / `strip_string`: drop spaces, `\\left`/`\\right`, `\\!`, `^\\circ`, `\\$`, `\\text{ units}`,
   `tfrac`/`dfrac` -> `frac`, `\\frac12` -> `\\frac{1}{2}`, `a/b` -> `\\frac{a}{b}`, `\\sqrt2` -> `\\sqrt{2}`,
   a leading "x =", a leading "0" before ".5"), plus Slavic mathematical writing: the decimal comma ("0,5",
   LaTeX "3{,}5"), thin spaces between thousands ("12 000", "1\\,000"), ";" between the ends of an interval
   or the members of a set ("(-\\infty; 2]", "\\{1; 2\\}"), Czech interval brackets ⟨ ⟩ (`\\langle`,
   `\\rangle`) for closed ends, "x \\in", roots listed as "x_1 = 2,\\ x_2 = -3" or "x = 2 или x = -3";
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
from multiprocessing.connection import Connection

from evalkit.scoring import phrases
from evalkit.scoring.numbers import SLAVIC_DECIMAL_COMMA
from evalkit.scoring.replies import Reading, read_visible

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


_PROSE_NUMBER = re.compile(r"[-\u2212]?\d+(?:[.,]\d+)?(?:\s*/\s*\d+)?")


def _answer_of_line(line: str, given: frozenset[str] = frozenset()) -> str | None:
    """The mathematics of an answer line: its math pieces; else a bold number ("ровно **24** делителя"); else,
    in a sentence, its first number that is not one of the problem's own; else the line without words."""
    line = line.strip().strip("*_").strip()
    check = phrases.pattern("check").search(line)
    if check:
        line = line[: check.start()]
    pieces = [next(g for g in m.groups() if g is not None).strip() for m in _MATH_PIECE.finditer(line)]
    pieces = [p for p in pieces if p]
    if pieces:
        return ", ".join(pieces) if len(pieces) > 1 else pieces[0]
    bold = [b for b in re.findall(r"\*\*([^*]+)\*\*", line) if re.search(r"\d", b)]
    if bold:
        return bold[-1].strip()
    words_first = re.match(r"\s*[,;:—–-]?\s*[^\W\d_]{2,}", line)
    numbers = _PROSE_NUMBER.findall(line)
    if words_first and numbers:  # "у числа 360 ровно 24 делителя": a sentence, not a formula
        fresh = [n for n in numbers if n.replace(",", ".").replace("\u2212", "-") not in given]
        return (fresh or numbers)[0]
    line = re.sub(r"^(?:[:\s—–]|-(?=\s))+", "", line)  # a separator, never the minus of "-0.4"
    line = re.sub(r"(?:\s+[^\W\d_]{2,}\.?)+\s*[.!]?$", "", line)  # trailing words ("12 cm.", "5 книг")
    line = line.rstrip(". ").strip("$ ").strip()
    return line or None


def read_math_answer(reply: str | None, given: frozenset[str] = frozenset()) -> Reading:
    """The final answer of a solution with the rule that found it (boxed, answer_phrase, conclusion,
    final_assignment, final_statement); `given` are the problem's own numbers, passed over in prose."""
    return read_visible(reply, lambda text: _final_answer(text, given))


def _final_answer(text: str, given: frozenset[str]) -> Reading:
    boxed = last_boxed(text)
    if boxed is not None and boxed.strip():
        return Reading(boxed.strip(), "boxed")
    anchors = [m for m in phrases.pattern("answer").finditer(text) if phrases.value_start(text, m.end()) is not None]
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
    if assigned is not None:
        return Reading(assigned, "final_assignment")
    stated = _final_statement(text)
    if stated is not None:
        return Reading(stated, "final_statement")
    return Reading(None, "no_answer")


def _final_statement(text: str) -> str | None:
    """A reply that ends on a sentence stating a value: "Pravděpodobnost … je $\\frac{3}{8}$." — the last
    formula of the last line, when a copula or "=" leads to it."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    pieces = list(_MATH_PIECE.finditer(lines[-1]))
    if not pieces or not re.fullmatch(r"[\s.!*_]*", lines[-1][pieces[-1].end() :]):
        return None  # no formula, or the sentence goes on after it
    lead = lines[-1][: pieces[-1].start()].rstrip(" *_")
    words = re.findall(r"[^\W\d_]+|=", lead)
    if not words or not (words[-1] == "=" or phrases.pattern("copula").fullmatch(words[-1])):
        return None
    return next(g for g in pieces[-1].groups() if g is not None).strip() or None


def _final_assignment(text: str) -> str | None:
    """A reply that ends on a line of results, "$x_1 = -1,\\ x_2 = 4$." or "$K = \\{-2; 0; 2\\}$": the values."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
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


def _slavic_notation(text: str) -> str:
    """Slavic ways of writing an answer, rewritten the way MATH writes its gold answers."""
    for char, latex in _UNICODE_MATH.items():
        text = text.replace(char, latex)
    text = re.sub(r"(\d)\{,\}(\d)", r"\1.\2", text)  # 3{,}5: LaTeX's decimal comma
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
    joiner = rf"\s*(?:,|\\text\{{\s*(?:{alternatives})\s*\}}|\s(?:{alternatives})\s)\s*"
    parts = re.split(rf"{joiner}(?={_ROOT_NAME}\s*=)", text)
    if len(parts) > 1 and all(re.match(rf"\s*{_ROOT_NAME}\s*=", p) for p in parts):
        text = ", ".join(p.split("=", 1)[1].strip() for p in parts)  # x_1 = 2, x_2 = -3 -> 2, -3
    return text.strip()


def normalize(answer: str, lang: str = "en") -> str:
    text = _slavic_notation(answer.strip())
    text = re.sub(r"\\text\{\s*([^{}]*)\}", r"\1", text) if re.fullmatch(r"\\text\{[^{}]*\}", text) else text
    text = text.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    text = text.replace("tfrac", "frac").replace("dfrac", "frac")
    text = text.replace("\\left", "").replace("\\right", "")
    text = re.sub(r"\\(?:displaystyle|textstyle)\s*", "", text)
    text = text.replace("^{\\circ}", "").replace("^\\circ", "").replace("°", "")
    text = text.replace("\\$", "").replace("$", "")
    text = re.sub(r"\\(?:text|mbox|mathrm)\{\s*[^\W\d_. ][^\W\d_. ]*(?:[. ]+[^\W\d_]*)*\.?\s*\}$", "", text).strip()
    text = text.replace("\\%", "").replace("%", "")
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
    return text


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
