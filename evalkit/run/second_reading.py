"""`--answer-judge MODEL`: a second, independent reader of every answer (evalkit.scoring.answer_judge).

A judge model is asked for the final answer of every item of gsm8k, mmlu_pro and math (`scope` "all") or only of
those the rules read with an uncertain rule (`scope` "uncertain"). Both readings and whether they agree are
recorded per item (`judge_answer`, `judge_rule`, `readers_agree`) and per task x language in the summary
(`extra.answer_judge.agreement`); with `scored` the judge's reading becomes the scored one (the rules' is kept as
`rules_answer` / `rules_choice`). With a strong judge the agreement rate is the audit of the rules on the user's
own model's style. The anchor for MATH is openai/simple-evals' equality checker (same idea, our wording).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.run.judging import Judge, JudgeQuery
from evalkit.run.task import Task
from evalkit.scoring.answer_judge import (
    TASKS,
    agreement_summary,
    extraction_messages,
    parse_extraction,
    readings_agree,
    uncertain,
)
from evalkit.scoring.replies import Reading
from evalkit.types import Completion, GenerationConfig, Sample, Score

SCOPES = ("uncertain", "all")
REASK = "Finish with exactly one line: FINAL ANSWER: <answer>, or FINAL ANSWER: NONE."
#: The reader's budget: it may think a little before its FINAL ANSWER line.
READER_CONFIG = GenerationConfig(temperature=0.0, max_tokens=256)


@dataclass(frozen=True)
class AnswerReader:
    judge: Judge
    scope: str = "uncertain"
    scored: bool = False


def applies(task: Task) -> bool:
    return task.name in TASKS and hasattr(task, "score_reading")


def read_by_judge(task: Task, lang: str, samples: Sequence[Sample], steps: Sequence[Sequence[Completion]],
                  scored: list[tuple[Score, str | None]], reader: AnswerReader) -> dict[str, Any]:  # fmt: skip
    """Ask the judge for the final answer of the chosen items; fold both readings into their scores (in place)
    and return what summary.json's extra.answer_judge records."""
    key = "choice" if task.name == "mmlu_pro" else "answer"
    chosen = [i for i, (score, error) in enumerate(scored)
              if error is None and (reader.scope == "all" or uncertain(task.name, score.extracted))]  # fmt: skip

    def options(sample: Sample) -> int:
        return len(sample.fields.get("options") or ()) or 10

    queries = []
    for i in chosen:
        question = samples[i].fields.get("question") or samples[i].fields.get("problem")
        messages = extraction_messages(task.name, steps[i][-1].text, lang, question=question,
                                       n_options=options(samples[i]))  # fmt: skip
        queries.append(JudgeQuery(tuple(messages), REASK))

    def parse(text: str) -> Reading | None:  # letters are checked against each item's options below
        reading = parse_extraction(task.name, text, lang)
        return None if reading.rule == "judge_unparsed" else reading

    judgments = reader.judge.run(queries, parse, description=f"{task.name}/{lang} answer judge", config=READER_CONFIG)
    rows, failed, unparsed = [], 0, 0
    for index, judgment in zip(chosen, judgments, strict=True):
        score, _ = scored[index]
        if judgment.error is not None:
            failed += 1
            scored[index] = (Score({**score.extracted, "judge_error": judgment.error}, score.values), None)
            continue
        reading = judgment.verdict if isinstance(judgment.verdict, Reading) else Reading(None, "judge_unparsed")
        if key == "choice" and reading.value is not None and ord(reading.value) - ord("A") >= options(samples[index]):
            reading = Reading(None, "judge_unparsed")  # a letter this item has no option for
        unparsed += reading.rule == "judge_unparsed"
        agree = readings_agree(task.name, score.extracted.get(key), reading.value, lang)
        rows.append((task.name, lang, agree))
        extracted = {**score.extracted, "judge_answer": reading.value, "judge_rule": reading.rule,
                     "readers_agree": agree, "judge_raw": (judgment.raw_reask or judgment.raw)[-2000:]}  # fmt: skip
        updated = Score(extracted, score.values)
        if reader.scored and reading.rule != "judge_unparsed":
            updated = task.score_reading(samples[index], updated, reading.value, reading.rule, lang)  # type: ignore[attr-defined]
        scored[index] = (updated, None)
    return {"model": reader.judge.model, "scope": reader.scope, "scored": reader.scored, "asked": len(chosen),
            "failed": failed, "unparsed": unparsed, "agreement": agreement_summary(rows)}  # fmt: skip
