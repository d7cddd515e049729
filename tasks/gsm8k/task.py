"""GSM8K, translated: grade-school maths word problems, 8-shot chain of thought, numeric exact match.

Schema (as in openai/gsm8k and its translations): `question`, `answer` = worked solution with calculator
annotations `<<a*b=c>>` and a final line `#### N`. MGSM-style rows (`answer_number`) are read too, so
`juletxara/mgsm` works as a local cross-check file.

Prompt: one user message with 8 solved examples ("Задача / Решение / Ответ") and the question. With
--data samples the examples are our own (`fewshot/<lang>.jsonl`); with --data full they are the first 8
items of the dataset's train split (annotations removed).

Metrics, as lm-evaluation-harness's gsm8k reports them but with locale-aware number reading
(evalkit.scoring.numbers): `exact_match_strict` — the number after the last answer anchor (####, Ответ:,
Odpowiedź:, Відповідь:, Odpověď:, Answer:); `exact_match_flexible` — the last number in the output.

Data (pinned; see README "Data sources"):
  ru  d0rj/gsm8k-ru, test 1,319 / train 7,473 (machine translation of openai/gsm8k `main`).
  pl, uk, cs: no public translation we could confirm; bundled samples, or a local file in this schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.scoring.numbers import canonical_target, extract_anchored, extract_last
from evalkit.task import DataSource, Task, TaskDataError, load_hf_rows, read_jsonl, require_fields
from evalkit.types import GenerationConfig, Message, Sample, Score

_CALCULATOR = re.compile(r"<<[^<>]*>>")
_FINAL = re.compile(r"\n?\s*####\s*(.+?)\s*$", re.DOTALL)
N_SHOTS = 8
# The label that opens a new problem in each prompt: generation stops there if the model runs on.
_NEXT_PROBLEM = {"ru": "Задача:", "pl": "Zadanie:", "uk": "Задача:", "cs": "Úloha:"}


class GSM8K(Task):
    name = "gsm8k"
    version = "1.0"
    languages = ("ru", "pl", "uk", "cs")
    sources = {
        "ru": DataSource(
            dataset_id="d0rj/gsm8k-ru",
            revision="main",
            split="test",
            fewshot_split="train",
            note="machine translation of openai/gsm8k main; pin a commit sha with --data-revision",
        ),
    }
    generation = GenerationConfig(temperature=0.0, max_tokens=512)
    metrics = ("exact_match_strict", "exact_match_flexible")

    def sample_from_row(self, row: Mapping[str, Any], index: int, where: str) -> Sample:
        require_fields(row, ["question"], where)
        if row.get("answer_number") is not None:  # MGSM schema
            target = canonical_target(str(row["answer_number"]))
            reasoning = str(row.get("answer") or "")
        else:
            require_fields(row, ["answer"], where)
            reasoning, target = split_solution(str(row["answer"]), where)
        if target is None:
            raise TaskDataError(f"{where}: the gold answer has no number")
        item_id = str(row.get("id", f"{index:05d}"))
        return Sample(id=item_id, fields={"question": row["question"], "reasoning": reasoning}, target=target)

    def fewshot(self, lang: str, data: str) -> list[Sample]:
        if data == "full" and self.sources.get(lang) and self.sources[lang].fewshot_split:
            source = self.sources[lang]
            rows = load_hf_rows(source, split=source.fewshot_split)[:N_SHOTS]
            where = f"{source.describe()} {source.fewshot_split}"
        else:
            path = self.folder / "fewshot" / f"{lang}.jsonl"
            rows, where = read_jsonl(path)[:N_SHOTS], str(path)
        return [self.sample_from_row(row, i, f"{where}:{i + 1}") for i, row in enumerate(rows)]

    def build_messages(self, sample: Sample, lang: str, fewshot: Sequence[Sample]) -> list[Message]:
        shots = [
            {"question": s.fields["question"], "reasoning": s.fields["reasoning"], "answer": s.target}
            for s in fewshot
        ]
        return [Message("user", self.render(lang, fewshot=shots, question=sample.fields["question"]))]

    def stop_sequences(self, lang: str) -> tuple[str, ...]:
        return (f"\n{_NEXT_PROBLEM[lang]}",)

    def score(self, sample: Sample, completion: str, lang: str) -> Score:
        strict = extract_anchored(completion, lang)
        flexible = extract_last(completion, lang)
        return Score(
            extracted={"strict": strict, "flexible": flexible},
            values={
                "exact_match_strict": float(strict == sample.target),
                "exact_match_flexible": float(flexible == sample.target),
            },
        )


def split_solution(answer: str, where: str | Path) -> tuple[str, str | None]:
    """'steps <<calc>> ...\\n#### 1,234' -> ('steps ...', '1234')."""
    match = _FINAL.search(answer)
    if match is None:
        raise TaskDataError(f"{where}: field 'answer' has no final '#### <number>' line")
    reasoning = _CALCULATOR.sub("", answer[: match.start()]).strip()
    return reasoning, canonical_target(match.group(1))


TASK = GSM8K
