"""GSM8K, translated: grade-school maths word problems, 8-shot chain of thought, numeric exact match.

Schema (as in openai/gsm8k and its translations): `question`, `answer` = worked solution with calculator
annotations `<<a*b=c>>` and a final line `#### N`. MGSM-style rows (`answer_number`) are read too, so
`juletxara/mgsm` works as a local cross-check file.

Prompt: one user message with 8 solved examples ("Задача / Решение / Ответ") and the question. With
--data samples the examples are our own (`fewshot/<lang>.jsonl`); with --data full they are the first 8
items of the dataset's train split (annotations removed).

Metrics (evalkit.scoring.numbers; replies read after any <think> block):
  `exact_match` (headline) — the reading a grader signs off: the anchored answer when the reply has an
      answer anchor (####, Ответ:, Ответ —, Odpowiedź:, Відповідь:, Odpověď:, The answer is, \\boxed{}, or a
      conclusion word such as Итого / Wynik / Отже / Celkem in the last sentence), read to its conclusion
      ("15 + 27 = 42" is 42); the last number of the reply otherwise;
  `exact_match_strict` — lm-eval's strict-match: the anchored answer only (0 without an anchor);
  `exact_match_flexible` — lm-eval's flexible-extract: the last number of the reply;
  `no_answer` — share of replies where the headline reading found no number.
Numbers are read locale-aware (decimal comma, space / NBSP thousands, U+2212 minus) in all three.

Data (pinned revisions; `evalkit list` shows them):
  ru  d0rj/gsm8k-ru (default config; test 1,319 / train 7,473; machine translation of openai/gsm8k `main`);
      `--data full:mgsm` = juletxara/mgsm `ru` (250 human-translated test items) as a cross-check.
  pl, cs  openGPT-X/gsm8kx (machine translations of GSM8K into EU languages, gsm8k_<LANG>_{test,train}.jsonl).
  uk  no public translation found; bundled samples, or a local file in this schema (--data PATH).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.run.task import DataSource, Task, TaskDataError, is_hub_data, load_hf_rows, read_jsonl, require_fields
from evalkit.scoring.numbers import canonical_target, given_numbers, read_numbers
from evalkit.scoring.replies import read_after_cut, reading_summary
from evalkit.types import GenerationConfig, Message, Sample, Score

_CALCULATOR = re.compile(r"<<[^<>]*>>")
_FINAL = re.compile(r"\n?\s*####\s*(.+?)\s*$", re.DOTALL)
N_SHOTS = 8
# The label that opens a new problem in each prompt: generation stops there if the model runs on.
_NEXT_PROBLEM = {"ru": "Задача:", "pl": "Zadanie:", "uk": "Задача:", "cs": "Úloha:"}


def _gsm8kx(code: str) -> DataSource:
    """openGPT-X/gsm8kx: machine translations of GSM8K into EU languages, one JSONL file per split."""
    return DataSource(
        "gsm8kx", "openGPT-X/gsm8kx", revision="eeb581db7ed36173ef2f67d0ae160ca10aaa5f14", split="test",
        fewshot_split="train",
        data_files={"test": f"gsm8k_{code}_test.jsonl", "train": f"gsm8k_{code}_train.jsonl"},
        note="schema assumed question/answer as openai/gsm8k; a mismatch is reported with the field name",
    )  # fmt: skip


class GSM8K(Task):
    name = "gsm8k"
    version = "1.1"
    languages = ("ru", "pl", "uk", "cs")
    sources = {
        "ru": (
            DataSource("d0rj", "d0rj/gsm8k-ru", revision="5b475005f3eb4efe9fbdf1881de2ff28ad14d63b", split="test",
                       fewshot_split="train", note="machine translation of openai/gsm8k main (1,319 test)"),
            DataSource("mgsm", "juletxara/mgsm", revision="refs/convert/parquet", config="ru", split="test",
                       fewshot_split="train",
                       note="MGSM human translation of 250 GSM8K test items, cross-check for d0rj; the repo uses a "
                       "loading script, so the hub's parquet branch is read (no commit sha confirmed offline)"),
        ),
        "pl": (_gsm8kx("PL"),),
        "cs": (
            _gsm8kx("CS"),
            DataSource("czech-bench", "CIIRC-NLP/gsm8k-cs", revision="1fb42746ae133b8f351faa95e6b9064f22cdb9a4",
                       split="test", fewshot_split="train",
                       note="Czech-Bench translation (train 7,473 / test 1,319); columns assumed question/answer"),
        ),
    }  # fmt: skip
    generation = GenerationConfig(temperature=0.0, max_tokens=512)
    metrics = ("exact_match", "exact_match_strict", "exact_match_flexible", "no_answer")
    primary_metric = "exact_match"
    chance_level = 0.0

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
        source = self.resolve_source(lang, data) if is_hub_data(data) else None
        if source is not None and source.fewshot_split:
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
        readings = read_numbers(completion, lang, given_numbers(str(sample.fields.get("question", "")), lang))
        final, strict, flexible = readings.final, readings.strict, readings.flexible
        extracted = {**final.fields("answer"), "strict": strict.value, "strict_rule": strict.rule,
                     "flexible": flexible.value}  # fmt: skip
        return Score(
            extracted=extracted,
            values={
                "exact_match": float(final.value == sample.target),
                "exact_match_strict": float(strict.value == sample.target),
                "exact_match_flexible": float(flexible.value == sample.target),
                "no_answer": float(final.value is None),
            },
        )

    def score_truncated(self, sample: Sample, score: Score, lang: str) -> Score:
        """Cut by the token limit: only an answer committed before the cut stands (the flexible reading stays
        lm-eval's, which reads the last number whatever the finish reason)."""
        extracted, stands = read_after_cut(score.extracted, "answer")
        if stands:
            return Score(extracted=extracted, values=dict(score.values))
        extracted["strict"], extracted["strict_rule"] = None, "truncated"
        values = {**score.values, "exact_match": 0.0, "exact_match_strict": 0.0, "no_answer": 1.0}
        return Score(extracted=extracted, values=values)

    def score_reading(self, sample: Sample, score: Score, value: str | None, rule: str, lang: str) -> Score:
        """The headline scored from another reader's answer (the answer judge's, `--answer-judge`): `value` a
        canonical number or None; the rules' reading is kept as `rules_answer` / `rules_rule`."""
        extracted = {**score.extracted, "answer": value, "rule": rule, "rules_answer": score.extracted.get("answer"),
                     "rules_rule": score.extracted.get("rule")}  # fmt: skip
        values = {**score.values, "exact_match": float(value == sample.target), "no_answer": float(value is None)}
        return Score(extracted=extracted, values=values)

    def audit_sample(self, expected: str | None, row: Mapping[str, Any]) -> Sample:
        return Sample(id="audit", fields={}, target=(canonical_target(expected) or expected) if expected else "")

    def summary_extra(self, extracted: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return reading_summary(extracted)


def split_solution(answer: str, where: str | Path) -> tuple[str, str | None]:
    """'steps <<calc>> ...\\n#### 1,234' -> ('steps ...', '1234')."""
    match = _FINAL.search(answer)
    if match is None:
        raise TaskDataError(f"{where}: field 'answer' has no final '#### <number>' line")
    reasoning = _CALCULATOR.sub("", answer[: match.start()]).strip()
    return reasoning, canonical_target(match.group(1))


TASK = GSM8K
