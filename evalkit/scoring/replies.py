"""What of a model reply the answer readers look at: the visible answer, not the reasoning.

Reasoning models write `<think>…</think>` (or `<thinking>`, `<reasoning>`) before the answer; some chat
templates open the block in the prompt, so the reply holds only the closing tag. The reasoning is cut off
before reading (its letters and numbers are drafts, not answers) and its length is recorded. A block that
never closes means the model ran out of tokens while thinking: nothing is read (`no_answer`).

A model that runs on past its answer and invents the next item ("Задача: У Пети 5 яблок…", as few-shot
prompts invite) is read up to that label (phrases `next_item`) when an answer came before it; an echo of the
problem at the start, or "Вопрос: …" restated mid-reasoning, is read on. A reply that is empty, only
whitespace, or mostly control / replacement characters (a broken decode) is not read either; a very long
reply is read from its last `MAX_READ_CHARS` characters, where an answer ends.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from evalkit.scoring import phrases

MAX_READ_CHARS = 60_000
_OPEN = re.compile(r"<(think|thinking|reasoning)>", re.IGNORECASE)
_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.IGNORECASE)
_GARBAGE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd\ud800-\udfff]")


@dataclass(frozen=True)
class VisibleReply:
    """The part of a reply a grader reads, and why there may be nothing to read."""

    text: str
    reasoning_chars: int = 0
    #: None when there is text to read; else "empty", "unreadable" or "unterminated_reasoning".
    unread: str | None = None


def visible_reply(reply: str | None) -> VisibleReply:
    if reply is None or not reply.strip():
        return VisibleReply("", unread="empty")
    text = reply
    reasoning = 0
    closes = list(_CLOSE.finditer(text))
    if closes:
        last = closes[-1]
        reasoning = last.start()
        text = text[last.end() :]
    opened = _OPEN.search(text)
    if opened:  # a block opened after the last close (or with none): it never ended
        return VisibleReply("", reasoning_chars=reasoning + len(text) - opened.end(), unread="unterminated_reasoning")
    text = _before_next_item(text)
    if not text.strip():
        return VisibleReply("", reasoning_chars=reasoning, unread="empty")
    tail = text[-MAX_READ_CHARS:]
    if len(_GARBAGE.findall(tail)) > 0.1 * len(tail):
        return VisibleReply("", reasoning_chars=reasoning, unread="unreadable")
    return VisibleReply(_GARBAGE.sub("", tail), reasoning_chars=reasoning)


_RUN = 8  # the same word this many times in a row, or a count this long, is a loop, not an answer


def degenerate(text: str) -> bool:
    """A small model stuck in a loop: its reply ends in one word repeated ("je je je je 5 5 5 5 5 …") or in a
    count ("3 4 5 6 7 … 64"). What it repeats is no answer (lm-eval's flexible reading still takes its last
    number: that reading ignores what a reply says)."""
    words = re.findall(r"[^\s|*_#>]+", text[-3000:])
    if len(words) < 2 * _RUN:
        return False
    words.reverse()  # the loop must run to the end of the reply
    repeated = counted = 1
    for later, word in zip(words, words[1:], strict=False):
        if word.lower() == later.lower():
            repeated += 1
        elif word.isdigit() and later.isdigit() and int(word) + 1 == int(later):
            counted += 1
        else:
            break
        if repeated >= _RUN or counted >= 2 * _RUN:
            return True
    return False


def _before_next_item(text: str) -> str:
    """The reply up to an invented next item: a line opening with "Задача:", "Question:"… after an answer."""
    labels = phrases.pattern("next_item").pattern
    label_line = rf"^[ \t>*_#]*(?:{labels})[ \t]*\d*[ \t]*[*_]*[:.][ \t]*\S"
    for match in re.finditer(label_line, text, re.IGNORECASE | re.MULTILINE):
        before = text[: match.start()]
        if re.search(r"####|\\boxed", before) or phrases.pattern("answer").search(before) or _bare_answer(before):
            return before  # answered, then ran on into a new item ("Вопрос: на сколько…" mid-reasoning stays)
    return text


_BARE = re.compile(
    r"\s*(?:[(\[]?[A-JА-ЯІ][)\].]?|[-\u2212]?\d+(?:[.,]\d+)?(?:\s*\S{1,6})?|\$[^$\n]{1,80}\$|\\\([^\n]{1,80}\\\))[\s.]*"
)


def _bare_answer(before: str) -> bool:
    """A base model continuing a few-shot prompt answers first, on a line of its own ("C", "(F)", "84",
    "$\\frac{2}{3}$"), then writes the next item: what stands before the label is that answer."""
    return bool(before.strip()) and _BARE.fullmatch(before) is not None


@dataclass(frozen=True)
class Reading:
    """One answer read out of one reply: the value (None: no answer), the rule that decided it, and notes
    on any ambiguous choice made on the way (a separator read as thousands, say)."""

    value: str | None
    rule: str
    reasoning_chars: int = 0
    notes: tuple[str, ...] = ()
    #: the answer was committed (an answer phrase, `####`, a box, a choice verb, a correction; not on a last line
    #: that stops mid-way): it stands even when the reply was cut by the token limit (`committed_before_cut`)
    committed: bool = False

    def fields(self, key: str) -> dict[str, str | int | bool | None]:
        """The reading as `extracted` fields of a sample record: value under `key`, plus rule and notes."""
        out: dict[str, str | int | bool | None] = {key: self.value, "rule": self.rule}
        if self.reasoning_chars:
            out["reasoning_chars"] = self.reasoning_chars
        if self.notes:
            out["notes"] = "; ".join(self.notes)
        if self.committed:
            out["committed"] = True
        if self.rule == "truncated":
            out["truncated"] = True
        return out


_OPEN_END = re.compile(
    r"(?:[=+\-\u2212×·*/÷:,(\[{—–]|\\(?:times|cdot|div|frac|sqrt|left|quad|approx|le|ge|in)|\\frac\{[^{}]*\}|\^|_)$"
)


# one-letter unit symbols that are also prepositions ("12 с" is seconds, "5 s" too); a conjunction after a number
# ("Teraz dodajemy 27 i", "3 и") is no unit: the reply stopped mid-way
_UNIT_LETTERS = frozenset("smglhtсмглчт")


def stops_midway(text: str) -> bool:
    """Whether a reply stops before it ends (a stream cut off, a token limit the server did not report): it ends
    on an operator or an open formula ("$$15 \\times$$", "= "), a colon or comma, a dangling conjunction or
    preposition ("…, але", "…, więc", phrases `dangling`), a restatement or conclusion word with nothing after it
    ("…, czyli", "тобто", "Итого"), or an unclosed `$`, `\\(` or brace. Text ending on a word, a number, a letter
    or a closing mark is read as finished."""
    tail = text.rstrip().rstrip("*_ \t")
    tail = re.sub(r"\n[-=*_ \t]{3,}$", "", tail).rstrip().rstrip("*_ \t")  # a closing rule ("---") ends nothing
    if not tail:
        return False
    last_line = tail[tail.rfind("\n") + 1 :]
    dollars = last_line.replace("\\$", "").replace("$$", "$")  # a display "$$" opens or closes like one "$"
    braces = re.sub(r"\\[{}]", "", last_line)  # "\\left\\{ … \\right." is a closed formula
    if dollars.count("$") % 2 and "\\" in dollars[dollars.rfind("$") :] or \
            last_line.count("\\(") > last_line.count("\\)") or braces.count("{") > braces.count("}"):  # fmt: skip
        return True  # a formula opened and never closed ("$x = \\frac{3", "\\(15 \\cdot")
    core = re.sub(r"(?:\$\$|\$|\\\]|\\\))$", "", tail).rstrip()
    if _OPEN_END.search(core):
        return True
    if re.search(rf"(?:^|(?<=[\s,(]))(?:{phrases.pattern('conversion').pattern})$", tail, re.IGNORECASE) and \
            tail.endswith("."):  # fmt: skip
        return True  # "…, tj." / "т. е.": a restatement abbreviation with nothing after it
    if tail[-1] in ".!?)]}»\"'`|" or tail[-1].isdigit():
        return False
    words = re.search(r"(?<![\w.,/·*^])(?:[^\W\d_]+[.\s]*){1,3}$", tail)
    if words is None:
        return False
    ending = words.group().rstrip(". \t")
    opener = r"(?:^|(?<=[,;:.!?\n—–(]))\s*"  # a conclusion word stands alone: "…, итого" but not "84 Kč celkem"
    for name, lead, flags in (("dangling", "", 0), ("conversion", "", re.IGNORECASE), ("copula", "", re.IGNORECASE),
                              ("conclusion", opener, re.IGNORECASE)):  # fmt: skip
        scope = tail[: len(tail) - len(words.group()) + len(ending)] if lead else ending
        found = re.search(rf"{lead}(?:{phrases.pattern(name).pattern})$", scope, flags)
        if found is None:
            continue
        # the dangling words count in lower case only: "Odpověď: A" ends on a letter, not on the Czech "a"; a
        # one-letter word right after a number is its unit ("12 с", "5 s")
        after_number = re.search(r"\d\s*$", tail[: words.start() + found.start()]) is not None
        unit = found.group() in _UNIT_LETTERS and after_number
        if (found.group().islower() and not unit) if name == "dangling" else len(found.group().strip()) >= 2:
            return True
    return False


def hedged(text: str, position: int) -> bool:
    """Whether the reply hedges the answer read at `position`: from the start of its sentence to the end of its
    paragraph it says it cannot choose or is not sure ("это либо 920, либо 800 — не могу выбрать", "Trudno
    powiedzieć, prawdopodobnie 16 albo 17", "Nejsem si jistý"; phrases `hedge`). A hedge before that sentence
    (doubts, then a committed answer) does not count."""
    sentence = max(text.rfind("\n", 0, position), *(m.end() for m in re.finditer(r"[.!?]\s", text[:position])), 0)
    paragraph_end = text.find("\n\n", position)
    end = paragraph_end if paragraph_end >= 0 else len(text)
    return phrases.pattern("hedge").search(text, sentence, end) is not None


def structured_answer(text: str) -> str | None:
    """The answer of a reply given as a JSON object (`{"answer": "\\\\frac{\\\\pi}{4}"}`, `{"ответ": 42}`, maybe in a
    fence): the value of its last key that is an answer phrase ("answer", "final_answer", "ответ", "odpověď").
    JSON strings are decoded, so escaped backslashes of LaTeX come out as written."""
    if "{" not in text or '"' not in text:
        return None
    found = None
    for start in [m.start() for m in re.finditer(r"\{", text)][:20]:
        depth = 0
        for end in range(start, min(len(text), start + 5000)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                try:
                    value = json.loads(text[start : end + 1])
                except ValueError:
                    break
                if isinstance(value, dict):
                    for key, item in value.items():
                        name = str(key).replace("_", " ").strip()
                        if phrases.pattern("answer").fullmatch(name) and isinstance(item, (str, int, float)):
                            found = str(item)
                break
    return found


def cut_line_start(text: str) -> int:
    """Where the last non-empty line of a text begins: what stands on it may have been cut off."""
    return text.rstrip().rfind("\n") + 1


def read_visible(reply: str | None, read: Callable[[str], Reading]) -> Reading:
    """Run a reader on the visible part of a reply: a reply with nothing to read is no answer (its reason as
    the rule), and every reading carries the length of the reasoning cut off before it."""
    visible = visible_reply(reply)
    if visible.unread is not None:
        return Reading(None, visible.unread, visible.reasoning_chars)
    return replace(read(visible.text), reasoning_chars=visible.reasoning_chars)


def read_after_cut(extracted: Mapping[str, Any], key: str) -> tuple[dict[str, Any], bool]:
    """A reading of a reply that the token limit cut (finish_reason "length"): (its `extracted` fields, whether
    its answer stands). The answer stands only when it was committed before the cut (an answer phrase, `####`,
    a box, a choice verb or a correction, `Reading.committed`: rule `committed_before_cut`, the rule that read
    it kept as `rule_before_cut`); otherwise the reply is no answer (rule `truncated`, flag `truncated`),
    whatever a last number or an option analysis cut mid-way would suggest (the value read is kept as
    `read_before_cut`)."""
    out = dict(extracted)
    if extracted.get("committed") and extracted.get(key) is not None:
        out.update(rule="committed_before_cut", rule_before_cut=extracted.get("rule"))
        return out, True
    if extracted.get(key) is not None:
        out["read_before_cut"] = extracted[key]
    # a reply cut inside its reasoning keeps that more precise name
    rule = "unterminated_reasoning" if extracted.get("rule") == "unterminated_reasoning" else "truncated"
    out.update({key: None, "rule": rule, "truncated": True})
    out.pop("committed", None)
    return out, False


def reading_summary(extracted: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """summary.json["extra"] of a task that reads answers: which rule decided how many readings, how many
    replies had no answer, and how much reasoning was cut off before reading."""
    rules = Counter(str(e.get("rule")) for e in extracted if e.get("rule") is not None)
    reasoning = [int(e.get("reasoning_chars") or 0) for e in extracted]
    with_reasoning = [r for r in reasoning if r > 0]
    return {
        "reading_rules": dict(sorted(rules.items())),
        "n_unterminated_reasoning": rules.get("unterminated_reasoning", 0),
        "n_empty": rules.get("empty", 0),
        # replies read as no answer because they stop mid-way (cut by the token limit, or visibly unfinished)
        "truncated": sum(bool(e.get("truncated")) for e in extracted),
        "committed_before_cut": rules.get("committed_before_cut", 0),
        "n_with_reasoning": len(with_reasoning),
        "mean_reasoning_chars": round(sum(with_reasoning) / len(with_reasoning), 1) if with_reasoning else 0.0,
    }
