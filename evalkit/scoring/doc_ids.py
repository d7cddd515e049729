"""Reading the "relevant document ids" step of a grounded-RAG answer.

Accepted, in this order: a JSON object with `relevant_doc_ids` (the format Vikhr's grounded models are
trained to emit, e.g. `{"relevant_doc_ids": [0, 1]}`), a bare JSON list of ids, either one possibly inside
a ```json fence or surrounded by prose; else integers written in free text ("документы 0 и 2"), kept only
when they name documents of the item (so a year or a count in the prose is not taken for an id). Anything
else is unparseable: `None`, which callers count — an id list is never guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_INTEGER = re.compile(r"(?<![\w.,])\d+(?![\w]|[.,]\d)")
_KEY = "relevant_doc_ids"


def _as_ids(value: Any) -> list[int] | None:
    if isinstance(value, dict):
        value = value.get(_KEY)
    if not isinstance(value, list):
        return None
    ids: list[int] = []
    for item in value:
        if isinstance(item, bool):
            return None
        if isinstance(item, int):
            ids.append(item)
        elif isinstance(item, str) and item.strip().isdigit():
            ids.append(int(item.strip()))
        else:
            return None
    return list(dict.fromkeys(ids))


def _json_candidates(text: str) -> list[str]:
    """The text itself, fenced blocks, then each balanced {...} / [...] span, in order of appearance."""
    candidates = [text.strip(), *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for opener, closer in (("{", "}"), ("[", "]")):
        start = text.find(opener)
        while start != -1:
            depth = 0
            for end in range(start, len(text)):
                depth += {opener: 1, closer: -1}.get(text[end], 0)
                if depth == 0:
                    candidates.append(text[start : end + 1])
                    break
            start = text.find(opener, start + 1)
    return candidates


def parse_doc_ids(text: str, valid_ids: Collection[int] | None = None) -> list[int] | None:
    """The ids a model named as relevant, or None when it named none in a readable way."""
    for candidate in _json_candidates(text):
        try:
            ids = _as_ids(json.loads(candidate))
        except (json.JSONDecodeError, ValueError):
            continue
        if ids is not None:
            return ids
    numbers = [int(m.group()) for m in _INTEGER.finditer(text)]
    if valid_ids is not None:
        numbers = [n for n in numbers if n in valid_ids]
    return list(dict.fromkeys(numbers)) or None


def index_difference(predicted: Collection[int], gold: Collection[int]) -> int:
    """Size of the symmetric difference of the two id sets: ids named but not relevant + relevant but missed."""
    return len(set(predicted) ^ set(gold))
