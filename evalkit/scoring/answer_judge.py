"""A second, independent reader: a judge model asked for the final answer of a reply (`--answer-judge MODEL`).

The rules of numbers.py / choices.py / math_answers.py read the styles they were written for; a judge model reads
any style. Asking it for every item (or only for the items the rules mark `uncertain`) and recording both readings
and their agreement per task x language audits the rules on the user's own model's replies.

Two prompts, both strict about the reply format so that their parsers never guess:

* `extraction_messages(task, reply, lang, ...)` — "what is the final answer this reply commits to?" for gsm8k (a
  number), mmlu_pro (a letter) and math (a LaTeX expression). The judge answers on one line
  `FINAL ANSWER: <answer>` or `FINAL ANSWER: NONE` (no committed answer: the reply stops mid-way, refuses, or only
  analyses the options). `parse_extraction` reads it into a `Reading` (rules `judge`, `judge_none`,
  `judge_unparsed`), canonical the way the task compares: a locale-aware number, a Latin letter, an expression.
* `equality_messages(expression_1, expression_2)` — MATH's anchor, in the style of openai/simple-evals' equality
  checker (its prompt is not copied: the same idea, our wording and examples): are two answers to a maths problem
  the same after trivial simplification? The judge answers `Yes` or `No`; `parse_equality` reads it (None:
  unparsed, re-asked once by the judged engine and then counted).

`uncertain(extracted)` says which rule readings deserve a second reading; `readings_agree` compares the two.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.scoring.choices import COMMITTING as CHOICE_COMMITTING
from evalkit.scoring.choices import HOMOGLYPHS, LETTERS
from evalkit.scoring.math_answers import COMMITTING as MATH_COMMITTING
from evalkit.scoring.math_answers import is_equivalent, last_boxed
from evalkit.scoring.numbers import committing as number_committing
from evalkit.scoring.numbers import find_numbers
from evalkit.scoring.replies import Reading, visible_reply
from evalkit.types import Message

TASKS = ("gsm8k", "mmlu_pro", "math")
_WHAT = {
    "gsm8k": "a single number (digits only, a dot as the decimal mark, no units, no thousands separators)",
    "mmlu_pro": "a single option letter ({letters})",
    "math": "the final mathematical expression in LaTeX, without $ signs and without \\boxed",
}
_EXTRACTION = """You read the reply of a model to a {kind} problem and report the final answer it commits to.
The reply may be written in any language (Russian, Ukrainian, Polish, Czech, English or a mix) and in any style.

Rules:
- Report the answer the reply finally commits to, after any corrections; not a number or option it only
  mentions, evaluates, rules out or discusses.
- If the reply stops before it commits to an answer (it is cut off mid-sentence or mid-formula), refuses, asks
  for more data, or only analyses the options without choosing, the answer is NONE.
- Do not solve the problem yourself and do not judge whether the answer is right.
- The answer is {what}.

Finish with exactly one line:
FINAL ANSWER: <answer>
or
FINAL ANSWER: NONE
{question}
<reply>
{reply}
</reply>"""
_KIND = {"gsm8k": "grade-school maths word", "mmlu_pro": "multiple-choice", "math": "competition mathematics"}

_EQUALITY = """Look at two answers to the same mathematics problem and say whether they are equivalent.
Only do trivial simplifications: the same number written differently (a decimal comma or point, a fraction or
its decimal value, spaces between thousands), the same set or interval in another notation, the same list of
values in another order, a value with or without its unit or a leading "x =". Do not solve anything.

Examples:
    Expression 1: \\frac{{1}}{{2}}
    Expression 2: 0,5
Yes

    Expression 1: x \\in (2; +\\infty)
    Expression 2: (2, \\infty)
Yes

    Expression 1: 3, -1
    Expression 2: \\{{-1; 3\\}}
Yes

    Expression 1: 2\\sqrt{{3}}
    Expression 2: 3.46
No

    Expression 1: x^2 + 2x + 1
    Expression 2: (x + 1)^2
Yes

    Expression 1: 12 см
    Expression 2: 13
No

Answer with only "Yes" or "No".

    Expression 1: {first}
    Expression 2: {second}"""


def extraction_messages(task: str, reply: str, lang: str, question: str | None = None,
                        n_options: int = 10) -> list[Message]:  # fmt: skip
    """The judge's messages asking for the final answer of `reply` (its visible part: reasoning blocks cut off)
    to an item of `task` in `lang`; `question` (optional) is shown for context only."""
    if task not in TASKS:
        raise ValueError(f"no answer judge for task {task!r}; known: {', '.join(TASKS)}")
    letters = ", ".join(LETTERS[:n_options])
    visible = visible_reply(reply)
    shown = visible.text if visible.unread is None else f"[{visible.unread}]"
    context = f"\n<problem language=\"{lang}\">\n{question}\n</problem>\n" if question else ""
    prompt = _EXTRACTION.format(kind=_KIND[task], what=_WHAT[task].format(letters=letters), question=context,
                                reply=shown)  # fmt: skip
    return [Message("user", prompt)]


_FINAL = re.compile(r"^\W*final\s+answer\W*:\s*(.*?)\s*$", re.IGNORECASE | re.MULTILINE)
_NONE = re.compile(r"^[\s*_`\"'(\[]*(?:none|no answer|n/?a|null|нет|brak|žádná|немає)[\s*_`\"'.)\]]*$", re.IGNORECASE)


def parse_extraction(task: str, text: str | None, lang: str = "ru", n_options: int = 10) -> Reading:
    """The judge's reading: its last `FINAL ANSWER:` line, canonical for `task` (rule `judge`), no answer (rule
    `judge_none`), or None with rule `judge_unparsed` (no such line, or a value of the wrong kind)."""
    lines = _FINAL.findall(text or "")
    if not lines:
        return Reading(None, "judge_unparsed")
    raw = lines[-1].strip()
    if _NONE.match(raw):
        return Reading(None, "judge_none")
    raw = raw.strip("*_` ").rstrip(".")
    if task == "gsm8k":
        numbers = find_numbers(raw, lang)
        return Reading(numbers[-1], "judge") if len(numbers) == 1 else Reading(None, "judge_unparsed")
    if task == "mmlu_pro":
        match = re.fullmatch(r"[(\[]?\s*([^\W\d_])\s*[)\].]?(?:\s.*)?", raw)
        letter = match.group(1).translate(HOMOGLYPHS).upper() if match else ""
        return Reading(letter, "judge") if letter in LETTERS[:n_options] else Reading(None, "judge_unparsed")
    value = last_boxed(raw) or raw.strip("$ ").removeprefix("\\(").removesuffix("\\)").strip()
    return Reading(value, "judge") if value else Reading(None, "judge_unparsed")


def equality_messages(first: str, second: str) -> list[Message]:
    """The judge's messages asking whether two answers to a maths problem are the same (simple-evals' idea)."""
    return [Message("user", _EQUALITY.format(first=first, second=second))]


def parse_equality(text: str | None) -> bool | None:
    """ "Yes" -> True, "No" -> False (the first word, any case and punctuation); anything else -> None."""
    match = re.match(r"[\s*_`\"'(\[]*([^\W\d_]+)", text or "")
    word = match.group(1).lower() if match else ""
    if word in ("yes", "да", "tak", "так", "ano"):
        return True
    if word in ("no", "нет", "nie", "ні", "ne"):
        return False
    return None


def uncertain(task: str, extracted: Mapping[str, Any]) -> bool:
    """Whether the rules' reading of an item deserves a second reader (`--answer-judge-scope uncertain`): no
    answer, or an answer that no commitment anchors (a last number, a conclusion, an option analysis)."""
    key = "choice" if task == "mmlu_pro" else "answer"
    rule = str(extracted.get("rule") or "")
    if extracted.get(key) is None:
        return rule not in ("empty", "unreadable", "unterminated_reasoning")
    if rule == "committed_before_cut":
        return False
    if task == "gsm8k":
        return not number_committing(rule)
    if task == "mmlu_pro":
        return rule not in CHOICE_COMMITTING
    return rule not in MATH_COMMITTING


def readings_agree(task: str, rules_value: str | None, judge_value: str | None, lang: str = "ru") -> bool:
    """Whether the two readings are the same answer: both none, the same number or letter, or (MATH) equivalent
    expressions (string normalisation, then math-verify; the equality judge is the runner's alternative)."""
    if rules_value is None or judge_value is None:
        return rules_value is None and judge_value is None
    if task == "math":
        return is_equivalent(judge_value, rules_value, lang)[0]
    return rules_value == judge_value


def agreement_summary(rows: Sequence[tuple[str, str, bool]]) -> dict[str, dict[str, float | int]]:
    """(task, lang, agreed) rows -> {"task/lang": {"n", "agree", "rate"}}: the summary's agreement table."""
    cells: dict[str, list[int]] = {}
    for task, lang, agreed in rows:
        cell = cells.setdefault(f"{task}/{lang}", [0, 0])
        cell[0] += 1
        cell[1] += bool(agreed)
    return {key: {"n": n, "agree": a, "rate": round(a / n, 4)} for key, (n, a) in sorted(cells.items())}
