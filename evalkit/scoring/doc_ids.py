"""Reading the "relevant document ids" step of a grounded-RAG answer.

Accepted, in this order: a JSON object with `relevant_doc_ids` (the format Vikhr's grounded models are
trained to emit, e.g. `{"relevant_doc_ids": [0, 1]}`), a bare JSON list of ids, either one possibly inside
a ```json fence or surrounded by prose; else integers written in free text ("документы 0 и 2"), kept only
when they name documents of the item (so a year or a count in the prose is not taken for an id). Ids may be
written as strings ("1", "doc_1", "Doc 3", "документ 2"). Prose that names no document ("Ни один из
документов не относится к вопросу", "Żaden z dokumentów nie zawiera odpowiedzi"; phrases `no_documents`) is the
empty list — the right answer to an out-of-domain item. Anything else is unparseable: `None`, which callers
count — an id list is never guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from evalkit.scoring import phrases

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_INTEGER = re.compile(r"(?<![\w.,])\d+(?![\w]|[.,]\d)")
_KEY = "relevant_doc_ids"
# "doc_1", "Doc 3", "document #2", "документ 2", "dokument nr 1": an id with its label
_LABELLED = re.compile(
    r"(?<![^\W\d_])(?:doc(?:ument)?|id|док(?:умент)?|dokument)[\s_#№-]*(?:nr\.?\s*|n[o°]\.?\s*)?(\d+)(?!\w)",
    re.IGNORECASE,
)


def _as_ids(value: Any) -> list[int] | None:
    if isinstance(value, dict):
        value = next((v for k, v in value.items() if str(k).lower() in (_KEY, "doc_ids", "relevant_ids", "ids")), None)
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
        elif isinstance(item, str) and (labelled := _LABELLED.fullmatch(item.strip())):
            ids.append(int(labelled.group(1)))
        else:
            return None
    return list(dict.fromkeys(ids))


def _json_candidates(text: str) -> list[str]:
    """The text itself, fenced blocks, each balanced {...} span, then a [...] span — one only: several bracketed
    numbers in prose are citations ("… 1047 km [1][3]", "[2], [4]"), read with the prose."""
    candidates = [text.strip(), *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for opener, closer in (("{", "}"), ("[", "]")):
        spans: list[str] = []
        start = text.find(opener)
        while start != -1:
            depth = 0
            for end in range(start, len(text)):
                depth += {opener: 1, closer: -1}.get(text[end], 0)
                if depth == 0:
                    spans.append(text[start : end + 1])
                    break
            start = text.find(opener, start + 1)
        if opener == "[" and len({s for s in spans if not s.startswith("[[")}) > 1 and not any(
                c.startswith("{") for c in candidates[2:]):  # fmt: skip
            continue
        candidates += spans
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
    if phrases.pattern("no_documents").search(text):
        return []  # "Ни один из документов не относится к вопросу": none, said in words
    return _ids_in_prose(text, valid_ids) or None


_ENUMERATOR = re.compile(r"^[ \t]*(?:[-*•]|\d{1,2}[.)])[ \t]+", re.MULTILINE)
_RANGE = re.compile(
    r"(?:(?<![\w.,])(?:с|від|od|from)\s+)?(\d+)\s*(?:[–—-]|\s(?:по|до|do|až|to)\s)\s*(\d+)(?![\w]|[.,]\d)"
)


def _units(text: str) -> list[str]:
    """The prose as units that name ids together: a header line ("Релевантные документы:") with the list under it,
    else a sentence."""
    units: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        first = paragraph.strip().split("\n", 1)[0]
        if first.rstrip(" *_").endswith(":") and "\n" in paragraph.strip():
            units.append(paragraph)  # a header and its list
            continue
        units += re.split(r"(?<=[.!?])\s+(?=[^\W\d_])|\n", paragraph)
    return [u for u in units if u.strip()]


def _ids_of(unit: str, valid_ids: Collection[int] | None) -> list[int]:
    """The ids a unit names: labelled or bare integers, ranges ("с 1 по 3", "1–3") expanded, list numbers ("1.")
    and ids after "кроме" / "kromě" ("все, кроме документа 2") left out."""
    unit = _ENUMERATOR.sub(" ", _LABELLED.sub(r" \1", unit))
    unit = re.sub(rf"(?:{phrases.pattern('except').pattern})[^,.;:]*", " ", unit, flags=re.IGNORECASE)
    ids: list[int] = []
    covered: list[tuple[int, int]] = []
    for match in _RANGE.finditer(unit):
        low, high = int(match.group(1)), int(match.group(2))
        span = list(range(low, high + 1))
        if 0 < high - low <= 20 and (valid_ids is None or all(i in valid_ids for i in span)):
            ids += span
            covered.append(match.span())
    for match in _INTEGER.finditer(unit):
        if not any(start <= match.start() < end for start, end in covered):
            ids.append(int(match.group()))
    if valid_ids is not None:
        ids = [i for i in ids if i in valid_ids]
    return list(dict.fromkeys(ids))


def _ids_in_prose(text: str, valid_ids: Collection[int] | None) -> list[int]:
    """Ids named in free text. Where units say which documents are relevant ("релевантны документы 3 и 5",
    "Źródła: …", "pouze dokument 1"; phrases `relevant_docs`), only theirs; else every unit's but those that set
    documents aside with a negation ("Документ 2 … не отвечает на вопрос")."""
    units = _units(text)
    marked = [u for u in units if phrases.pattern("relevant_docs").search(u) and _ids_of(u, valid_ids)
              and not phrases.pattern("negation").search(u.split(":", 1)[0] if ":" in u else u)]
    if marked:
        return list(dict.fromkeys(i for u in marked for i in _ids_of(u, valid_ids)))
    named = [i for u in units if not phrases.pattern("negation").search(u) for i in _ids_of(u, valid_ids)]
    if not named:
        named = [i for u in units for i in _ids_of(u, valid_ids)]
    return list(dict.fromkeys(named))


def index_difference(predicted: Collection[int], gold: Collection[int]) -> int:
    """Size of the symmetric difference of the two id sets: ids named but not relevant + relevant but missed."""
    return len(set(predicted) ^ set(gold))
