"""The grounded-RAG id reader (evalkit.scoring.doc_ids) on its tables: cases/doc_ids.json (ours) and
cases/doc_ids_heldout.json (40 replies in ru / pl / uk / cs written by someone who had not seen the reader)."""

import json
from pathlib import Path

import pytest

from evalkit.scoring.doc_ids import parse_doc_ids

CASES = Path(__file__).parent / "cases"
OURS = json.loads((CASES / "doc_ids.json").read_text(encoding="utf-8"))
HELDOUT = json.loads((CASES / "doc_ids_heldout.json").read_text(encoding="utf-8"))


def _same(read, expected):
    return read == expected if read is None or expected is None else sorted(read) == sorted(expected)


@pytest.mark.parametrize("case", OURS, ids=[str(i) for i in range(len(OURS))])
def test_our_cases(case):
    assert parse_doc_ids(case["output"], set(case["valid"])) == case["expected"], case["note"]


def test_heldout_set_reads_at_least_98_percent_in_every_language():
    assert {case["lang"] for case in HELDOUT} == {"ru", "pl", "uk", "cs"}
    misses = [c for c in HELDOUT if not _same(parse_doc_ids(c["output"], set(c["valid"])), c["expected"])]
    assert len(misses) <= 0.02 * len(HELDOUT), [m["note"] for m in misses]
    for lang in ("ru", "pl", "uk", "cs"):
        rows = [case for case in HELDOUT if case["lang"] == lang]
        assert sum(_same(parse_doc_ids(c["output"], set(c["valid"])), c["expected"]) for c in rows) >= 0.9 * len(rows)
