"""What every arena statistic reads from arena files: a verdict's outcome and weight, and an answer's text and
token count in our answers.jsonl or arena-hard-auto's model_answer schema (v0.1 and v2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalkit.stats import STRONG_WEIGHT

#: Verdict (game's A vs B) -> (outcome for A, weight): A>>B counts STRONG_WEIGHT times, as arena-hard-auto.
VERDICT_OUTCOMES = {"A>>B": (1.0, STRONG_WEIGHT), "A>B": (1.0, 1), "A=B": (0.5, 1), "B>A": (0.0, 1),
                    "B>>A": (0.0, STRONG_WEIGHT)}  # fmt: skip


def answer_text(row: Mapping[str, Any]) -> str | None:
    """The first-turn answer of a row in our answers.jsonl or arena-hard-auto's model_answer schema."""
    if isinstance(row.get("answer"), str):
        return row["answer"]
    try:
        return str(row["choices"][0]["turns"][0]["content"])
    except (KeyError, IndexError, TypeError):
        pass
    try:  # arena-hard-auto v2: messages[-1].content.answer
        return str(row["messages"][-1]["content"]["answer"])
    except (KeyError, IndexError, TypeError):
        return None


def answer_tokens(row: Mapping[str, Any]) -> int | None:
    for path in (("token_len",), ("choices", 0, "turns", 0, "token_len"), ("conv_metadata", "token_len"),
                 ("metadata", "token_len")):
        value: Any = row
        try:
            for key in path:
                value = value[key]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(value, int):
            return value
    return None
