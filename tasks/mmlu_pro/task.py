"""MMLU-Pro, translated: 10-option multiple choice, 5-shot chain of thought, generation-based scoring.

Schema: MMLU-ProX (`question`, `option_0`..`option_9`, `answer` letter, `answer_index`, `cot_content`,
`category`, `question_id`); MMLU-Pro's own `options` list is read too. Options that are empty (items with
fewer than ten) are dropped, and the answer must name one of the remaining letters.

Prompt (as TIGER-AI-Lab/MMLU-Pro's evaluate_from_api.py, in the item's language): an instruction naming the
category, 5 solved examples of the same category from the validation split (topped up from other categories
when fewer exist), then the question, ending with the language's "Answer: Let's think step by step."

Metrics: `accuracy` (the letter read by evalkit.scoring.choices — the reply's last commitment to an option,
after any <think> block — equals the gold letter) and `no_answer` (share of replies where no letter could be
read); both broken down per category in summary.json, with the reading rules counted in `extra`.

Data: li-lab/MMLU-ProX configs ru / uk / cs (test 11,759, validation 70 each); no public Polish MMLU-Pro is
known: a team's own translation in this schema runs with --data PATH.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.run.task import DataSource, Task, TaskDataError, is_hub_data, load_hf_rows, read_jsonl, require_fields
from evalkit.scoring.choices import LETTERS, read_choice
from evalkit.scoring.replies import read_after_cut, reading_summary
from evalkit.types import GenerationConfig, Message, Sample, Score

N_SHOTS = 5
CATEGORIES = {
    "biology": {"ru": "биология", "pl": "biologia", "uk": "біологія", "cs": "biologie"},
    "business": {"ru": "бизнес", "pl": "biznes", "uk": "бізнес", "cs": "podnikání"},
    "chemistry": {"ru": "химия", "pl": "chemia", "uk": "хімія", "cs": "chemie"},
    "computer science": {"ru": "информатика", "pl": "informatyka", "uk": "інформатика", "cs": "informatika"},
    "economics": {"ru": "экономика", "pl": "ekonomia", "uk": "економіка", "cs": "ekonomie"},
    "engineering": {"ru": "инженерия", "pl": "inżynieria", "uk": "інженерія", "cs": "inženýrství"},
    "health": {"ru": "здоровье", "pl": "zdrowie", "uk": "здоров'я", "cs": "zdraví"},
    "history": {"ru": "история", "pl": "historia", "uk": "історія", "cs": "dějiny"},
    "law": {"ru": "право", "pl": "prawo", "uk": "право", "cs": "právo"},
    "math": {"ru": "математика", "pl": "matematyka", "uk": "математика", "cs": "matematika"},
    "other": {"ru": "разное", "pl": "inne", "uk": "різне", "cs": "ostatní"},
    "philosophy": {"ru": "философия", "pl": "filozofia", "uk": "філософія", "cs": "filozofie"},
    "physics": {"ru": "физика", "pl": "fizyka", "uk": "фізика", "cs": "fyzika"},
    "psychology": {"ru": "психология", "pl": "psychologia", "uk": "психологія", "cs": "psychologie"},
}
_COT_PREFIXES = ("A:", "Answer:", "Ответ:", "Odpowiedź:", "Відповідь:", "Odpověď:")


def _prox(config: str) -> DataSource:
    return DataSource("mmlu-prox", "li-lab/MMLU-ProX", revision="main", config=config, split="test",
                      fewshot_split="validation", note="no commit sha could be confirmed offline")  # fmt: skip


class MMLUPro(Task):
    name = "mmlu_pro"
    version = "1.1"
    languages = ("ru", "pl", "uk", "cs")
    sources = {"ru": (_prox("ru"),), "uk": (_prox("uk"),), "cs": (_prox("cs"),)}
    generation = GenerationConfig(temperature=0.0, max_tokens=1024)
    metrics = ("accuracy", "no_answer")
    breakdowns = ("category",)
    chance_level = 10.0  # ten options

    def sample_from_row(self, row: Mapping[str, Any], index: int, where: str) -> Sample:
        item_id = str(row.get("question_id", f"{index:05d}"))
        where = f"{where} (item {item_id})"
        require_fields(row, ["question"], where)
        if isinstance(row.get("options"), list):
            raw = row["options"]
        else:
            raw = [row.get(f"option_{i}") for i in range(10)]
        options = [str(o).strip() for o in raw if o is not None and str(o).strip() and str(o).strip() != "N/A"]
        if len(options) < 2:
            raise TaskDataError(f"{where}: options are missing (found {len(options)})")
        answer = str(row.get("answer") or "").strip().upper()
        if not answer and row.get("answer_index") is not None:
            answer = LETTERS[int(row["answer_index"])]
        if answer not in LETTERS[: len(options)]:
            raise TaskDataError(
                f"{where}: answer {answer!r} is not one of the options {LETTERS[0]}-{LETTERS[len(options) - 1]}"
            )
        cot = str(row.get("cot_content") or "").strip()
        for prefix in _COT_PREFIXES:
            if cot.startswith(prefix):
                cot = cot[len(prefix) :].strip()
        category = str(row.get("category") or "other")
        return Sample(id=item_id, fields={"question": row["question"], "options": options, "cot": cot},
                      target=answer, metadata={"category": category})  # fmt: skip

    def fewshot(self, lang: str, data: str) -> list[Sample]:
        if is_hub_data(data):
            source = self.resolve_source(lang, data)
            rows, where = load_hf_rows(source, split=source.fewshot_split), f"{source.describe()} validation"
        else:
            path = self.folder / "fewshot" / f"{lang}.jsonl"
            rows, where = read_jsonl(path), str(path)
        return [self.sample_from_row(row, i, f"{where}:{i + 1}") for i, row in enumerate(rows)]

    def build_messages(self, sample: Sample, lang: str, fewshot: Sequence[Sample]) -> list[Message]:
        category = sample.metadata["category"]
        same = [s for s in fewshot if s.metadata["category"] == category and s.id != sample.id]
        others = [s for s in fewshot if s.metadata["category"] != category and s.id != sample.id]
        shots = [
            {"question": s.fields["question"], "options": _lettered(s.fields["options"]), "cot": s.fields["cot"]}
            for s in (same + others)[:N_SHOTS]
        ]
        prompt = self.render(lang, category=CATEGORIES.get(category, {}).get(lang, category), shots=shots,
                             question=sample.fields["question"], options=_lettered(sample.fields["options"]))
        return [Message("user", prompt)]

    def score(self, sample: Sample, completion: str, lang: str) -> Score:
        # an answer given as an option's text is matched against the item's texts (an audit row has none)
        texts = None if sample.fields.get("options_unknown") else sample.fields["options"]
        reading = read_choice(completion, len(sample.fields["options"]), texts)
        return Score(
            extracted=reading.fields("choice"),
            values={"accuracy": float(reading.value == sample.target), "no_answer": float(reading.value is None)},
        )

    def score_truncated(self, sample: Sample, score: Score, lang: str) -> Score:
        """Cut by the token limit: only a letter committed before the cut stands (not one from an option analysis)."""
        extracted, stands = read_after_cut(score.extracted, "choice")
        if stands:
            return Score(extracted=extracted, values=dict(score.values))
        return Score(extracted=extracted, values={**score.values, "accuracy": 0.0, "no_answer": 1.0})

    def score_reading(self, sample: Sample, score: Score, value: str | None, rule: str, lang: str) -> Score:
        """The letter scored from another reader's answer (the answer judge's, `--answer-judge`); the rules'
        reading is kept as `rules_choice` / `rules_rule`."""
        extracted = {**score.extracted, "choice": value, "rule": rule, "rules_choice": score.extracted.get("choice"),
                     "rules_rule": score.extracted.get("rule")}  # fmt: skip
        values = {**score.values, "accuracy": float(value == sample.target), "no_answer": float(value is None)}
        return Score(extracted=extracted, values=values)

    def audit_sample(self, expected: str | None, row: Mapping[str, Any]) -> Sample:
        options = row.get("options")
        if isinstance(options, list) and options:
            return Sample(id="audit", fields={"options": [str(o) for o in options]}, target=expected or "")
        n_options = int(row.get("n_options") or 10)
        placeholders = [f"option {i}" for i in range(n_options)]
        return Sample(id="audit", fields={"options": placeholders, "options_unknown": True}, target=expected or "")

    def summary_extra(self, extracted: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return reading_summary(extracted)


def _lettered(options: Sequence[str]) -> list[tuple[str, str]]:
    return list(zip(LETTERS, options, strict=False))


TASK = MMLUPro
