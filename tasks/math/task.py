"""MATH (Hendrycks et al.), translated: competition problems, 4-shot, final answer in \\boxed{}.

Schema: Hendrycks MATH (`problem`, `level` "Level N", `type`, `solution` with \\boxed{answer}) or MATH-500
(`problem`, `solution`, `answer`, `subject`, `level` int). The gold answer is `answer` when present, else the
last \\boxed{} of `solution`.

Prompt: one user message with 4 solved examples (ours, `fewshot/<lang>.jsonl`, for every data source: the
MATH-500 sets have no train split) and the problem; the model is asked to put its final answer in \\boxed{}.

Scoring (evalkit.scoring.math_answers): after any <think> block, the last \\boxed{} of the reply (or the line
after "Ответ:" etc.), Slavic notation and Hendrycks string normalisation first, then math-verify in a worker
process with a time limit.
Metrics: `accuracy` overall, per subject and per level; `no_answer` (nothing could be extracted).

Data: en `HuggingFaceH4/MATH-500` (test, 500); ru `evilfreelancer/MATH-500-Russian` (test.jsonl, 500,
a translation of MATH-500); no public Polish, Ukrainian or Czech MATH translation found (bundled samples
and few-shot exemplars are ours; a local file in this schema runs with --data PATH).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.run.task import DataSource, Task, TaskDataError, read_jsonl, require_fields
from evalkit.scoring.math_answers import is_equivalent, last_boxed, read_math_answer
from evalkit.scoring.numbers import given_numbers
from evalkit.scoring.replies import read_after_cut, reading_summary
from evalkit.types import GenerationConfig, Message, Sample, Score

N_SHOTS = 4


class MATH(Task):
    name = "math"
    version = "1.1"
    languages = ("ru", "pl", "uk", "cs", "en")
    sources = {
        "en": (DataSource("math500", "HuggingFaceH4/MATH-500", revision="main", split="test",
                          note="no commit sha could be confirmed offline"),),
        "ru": (DataSource("math500-ru", "evilfreelancer/MATH-500-Russian", revision="main", split="test",
                          data_files={"test": "test.jsonl"},
                          note="seen at commit bf0c932 (short sha); schema as MATH-500"),),
    }  # fmt: skip
    generation = GenerationConfig(temperature=0.0, max_tokens=1024)
    metrics = ("accuracy", "no_answer")
    breakdowns = ("subject", "level")
    chance_level = 0.0

    def sample_from_row(self, row: Mapping[str, Any], index: int, where: str) -> Sample:
        item_id = str(row.get("unique_id") or row.get("id") or f"{index:05d}")
        where = f"{where} (item {item_id})"
        require_fields(row, ["problem"], where)
        gold = row.get("answer")
        if not (isinstance(gold, str) and gold.strip()):
            require_fields(row, ["solution"], where)
            gold = last_boxed(str(row["solution"]))
        if not gold:
            raise TaskDataError(f"{where}: no gold answer (no 'answer' field and no \\boxed{{}} in 'solution')")
        level = row.get("level", "?")
        level = f"Level {level}" if isinstance(level, int) or str(level).isdigit() else str(level)
        subject = str(row.get("type") or row.get("subject") or "unknown")
        return Sample(id=item_id, fields={"problem": row["problem"], "solution": str(row.get("solution", ""))},
                      target=str(gold).strip(), metadata={"subject": subject, "level": level})  # fmt: skip

    def fewshot(self, lang: str, data: str) -> list[Sample]:
        path = self.folder / "fewshot" / f"{lang}.jsonl"
        rows = read_jsonl(path)[:N_SHOTS]
        return [self.sample_from_row(row, i, f"{path}:{i + 1}") for i, row in enumerate(rows)]

    def build_messages(self, sample: Sample, lang: str, fewshot: Sequence[Sample]) -> list[Message]:
        shots = [{"problem": s.fields["problem"], "solution": s.fields["solution"]} for s in fewshot]
        return [Message("user", self.render(lang, shots=shots, problem=sample.fields["problem"]))]

    def score(self, sample: Sample, completion: str, lang: str) -> Score:
        reading = read_math_answer(completion, given_numbers(str(sample.fields.get("problem", "")), lang))
        correct, decided_by = is_equivalent(reading.value, sample.target, lang)
        return Score(
            extracted={**reading.fields("answer"), "decided_by": decided_by},
            values={"accuracy": float(correct), "no_answer": float(reading.value is None)},
        )

    def score_truncated(self, sample: Sample, score: Score, lang: str) -> Score:
        """Cut by the token limit: only a closed box or an answer line before the cut stands."""
        extracted, stands = read_after_cut(score.extracted, "answer")
        if stands:
            return Score(extracted=extracted, values=dict(score.values))
        extracted["decided_by"] = "no-answer"
        return Score(extracted=extracted, values={**score.values, "accuracy": 0.0, "no_answer": 1.0})

    def score_reading(self, sample: Sample, score: Score, value: str | None, rule: str, lang: str) -> Score:
        """The answer scored from another reader's (the answer judge's, `--answer-judge`), compared as the rules'
        reading is; the rules' reading is kept as `rules_answer` / `rules_rule`."""
        correct, decided_by = is_equivalent(value, sample.target, lang)
        extracted = {**score.extracted, "answer": value, "rule": rule, "decided_by": decided_by,
                     "rules_answer": score.extracted.get("answer"),
                     "rules_rule": score.extracted.get("rule")}  # fmt: skip
        return Score(extracted=extracted, values={**score.values, "accuracy": float(correct),
                                                  "no_answer": float(value is None)})  # fmt: skip

    def audit_sample(self, expected: str | None, row: Mapping[str, Any]) -> Sample:
        return Sample(id="audit", fields={}, target=expected or "")

    def summary_extra(self, extracted: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return reading_summary(extracted)


TASK = MATH
