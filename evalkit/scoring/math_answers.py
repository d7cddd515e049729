"""Final answers of MATH-style solutions: extraction and equivalence.

Extraction: the last `\\boxed{...}` / `\\fbox{...}` (nested braces allowed); without one, the rest of the
line after the last answer anchor ("Ответ:", "Odpowiedź:", "Відповідь:", "Odpověď:", "Answer:",
"Final answer:", "The answer is"), with `$...$` and a trailing period removed.

Equivalence, in two steps:
1. fast path: both strings normalised as in Hendrycks et al.'s MATH evaluation (hendrycks/math,
   `is_equiv` / `strip_string`: drop spaces, `\\left`/`\\right`, `\\!`, `^\\circ`, `\\$`, `\\text{ units}`,
   `tfrac`/`dfrac` -> `frac`, `\\frac12` -> `\\frac{1}{2}`, `a/b` -> `\\frac{a}{b}`, `\\sqrt2` -> `\\sqrt{2}`,
   a leading "x =", a leading "0" before ".5"), plus Slavic number writing when the answer is a plain number
   (decimal comma "0,5", spaces between thousands "12 000");
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

from evalkit.scoring.numbers import SLAVIC_DECIMAL_COMMA

_ANCHOR = re.compile(
    r"(?<!\w)(?:final\s+answer\s*:|answer\s*:|the\s+answer\s+is|ответ\s*:|odpowied[źz]\s*:|відповідь\s*:|odpověď\s*:)",
    re.IGNORECASE,
)


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} or \\fbox{...}, braces balanced; None if there is none."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    brace = text.find("{", start)
    if brace < 0:
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


def extract_final_answer(text: str) -> str | None:
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed.strip()
    last = None
    for last in _ANCHOR.finditer(text):  # noqa: B007 - keep the last anchor
        pass
    if last is None:
        return None
    line = text[last.end() :].strip().split("\n", 1)[0].strip()
    line = line.strip("*_ ").strip()
    if line.startswith("$") and line.count("$") >= 2:
        line = line[1 : line.index("$", 1)]
    line = line.rstrip(". ").strip("$ ").strip()
    return line or None


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


def normalize(answer: str, lang: str = "en") -> str:
    text = answer.strip()
    text = re.sub(r"\\text\{\s*([^{}]*)\}", r"\1", text) if re.fullmatch(r"\\text\{[^{}]*\}", text) else text
    text = text.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    text = text.replace("tfrac", "frac").replace("dfrac", "frac")
    text = text.replace("\\left", "").replace("\\right", "")
    text = text.replace("^{\\circ}", "").replace("^\\circ", "").replace("°", "")
    text = text.replace("\\$", "").replace("$", "")
    text = re.sub(r"\\(?:text|mbox|mathrm)\{\s*[a-zA-Zа-яА-Я. ]*\}$", "", text).strip()  # trailing units
    text = text.replace("\\%", "").replace("%", "")
    if lang in SLAVIC_DECIMAL_COMMA and re.fullmatch(r"-?[\d \u00a0\u202f]+,\d+", text):
        text = text.replace(",", ".")
    if re.fullmatch(r"-?\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+(?:\.\d+)?", text):
        text = re.sub(r"[ \u00a0\u202f\u2009]", "", text)
    text = text.replace(" .", " 0.").replace("{.", "{0.")
    if text.startswith("."):
        text = "0" + text
    if re.fullmatch(r"[a-zA-Z]\s*=.*", text) and len(text.split("=")[0].strip()) <= 2:
        text = text.split("=", 1)[1]
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
