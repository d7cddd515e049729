"""The answer readers per reply, all readings together, as a run scores an item (`evalkit.scoring`).

Replies: every reply of our case tables (tests/scoring/cases/audit_replies*.jsonl, numbers.json, choices.json,
math_answers*.json, doc_ids*.json), each read by every reader a run applies to a reply of its kind — the three GSM8K
readings, the MMLU-Pro letter, the MATH answer (extraction only: the equivalence check runs in a worker process
and is measured by the MATH tests), the rag id list, plus the truncation check — and the same replies cut at
two thirds of their length (the stop-mid-way path). Target: ≤ 5 ms per reply on this machine.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from evalkit.scoring.choices import read_choice
from evalkit.scoring.doc_ids import parse_doc_ids
from evalkit.scoring.math_answers import read_math_answer
from evalkit.scoring.numbers import given_numbers, read_numbers

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "scoring" / "cases"
ROUNDS = 3
TARGET_MS = 5.0


def replies() -> list[tuple[str, str]]:
    """(lang, reply) of every case table."""
    found: list[tuple[str, str]] = []
    for path in sorted(CASES.glob("audit_replies*.jsonl")):
        found += [(r["lang"], r["output"]) for r in map(json.loads, path.read_text("utf-8").splitlines()) if r]
    for name in ("numbers.json", "choices.json", "math_answers.json", "math_answers_core.json", "doc_ids.json",
                 "doc_ids_heldout.json"):  # fmt: skip
        path = CASES / name
        if path.exists():
            found += [(str(r.get("lang", "ru")), str(r["output"])) for r in json.loads(path.read_text("utf-8"))]
    return found + [(lang, text[: len(text) * 2 // 3]) for lang, text in found]


def read_all(lang: str, reply: str, given: frozenset[str]) -> None:
    read_numbers(reply, lang, given)
    read_choice(reply, 10)
    read_math_answer(reply, given)
    parse_doc_ids(reply, {0, 1, 2, 3, 4})


def main() -> None:
    items = replies()
    given = given_numbers("Петя купил 3 тетради по 45 руб. и ручку за 28 руб., заплатив 200 руб.", "ru")
    read_all("ru", "warm-up: Ответ: 42", given)
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for lang, reply in items:
            read_all(lang, reply, given)
        times.append(time.perf_counter() - started)
    per_reply = 1000 * min(times) / len(items)
    slowest, length = max((_time_one(lang, reply, given), len(reply)) for lang, reply in items)
    print(f"readers: {len(items)} replies, {per_reply:.3f} ms/reply (all readings together; target ≤ {TARGET_MS} ms)")
    print(f"slowest reply: {slowest:.2f} ms ({length} chars)")


def _time_one(lang: str, reply: str, given: frozenset[str]) -> float:
    """Milliseconds for one reply, best of three (the machine is shared)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        read_all(lang, reply, given)
        best = min(best, 1000 * (time.perf_counter() - started))
    return best


if __name__ == "__main__":
    main()
