"""MT-Bench: two-turn questions in eight categories, each answer graded 1-10 by a judge.

Questions use FastChat's question.jsonl schema (`question_id`, `category`, `turns: [q1, q2]`, optional
`reference: [r1, r2]`). Turn 2 is asked with turn 1's question and answer in the history. Answers are
sampled at FastChat's per-category temperature (0.7 writing/roleplay; 0.0 extraction/math/coding/reasoning;
0.1 stem/humanities; `--temperature` overrides all), max tokens 1024 by default.

Judge prompts (prompts/judge_<lang>.jinja; system + user, in the question's language): the four FastChat
kinds — single answer, single answer with a reference (math/reasoning/coding), and the multi-turn forms
that show the whole dialogue and grade the second answer. The judge ends with `[[x]]`; see
evalkit.mt_bench for parsing, the reference model and the statistics.

Data (pinned; `--data full`):
  ru  NLPCoreTeam/ruMT-Bench question.jsonl (80 questions translated from MT-Bench); GPT-4 reference answers
      are in the same repo (reference_answer/gpt-4.jsonl): `--reference gpt-4 --reference-answers gpt-4=FILE`.
  pl  MT-Bench-PL, the question set of SpeakLeash's Polish MT-Bench leaderboard (Hugging Face Space
      speakleash/mt-bench-pl, data/mt_bench/question.jsonl).
Bundled samples: original two-turn questions, one or more per category, with hand-written reference
answers for the reference-graded categories (`--reference dataset`, the default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.mt_bench import CATEGORY_TEMPERATURE
from evalkit.task import DataSource, FollowUp, Task, TaskDataError
from evalkit.types import GenerationConfig, Message, Sample, Score

_REASK = {
    "ru": "Выведите только оценку в формате [[число]], например [[5]].",
    "pl": "Podaj tylko ocenę w formacie [[liczba]], np. [[5]].",
}


class MTBench(Task):
    name = "mt_bench"
    version = "1.0"
    kind = "mt_bench"
    languages = ("ru", "pl")
    sources = {
        "ru": (
            DataSource("rumtbench", "NLPCoreTeam/ruMT-Bench", revision="26c442226b86a7ad08b652ba231eabc3378c87f1",
                       split="train", data_files={"train": "question.jsonl"},
                       note="80 questions; GPT-4 reference answers in reference_answer/gpt-4.jsonl"),
        ),
        "pl": (
            DataSource("mt-bench-pl", "speakleash/mt-bench-pl", revision="35d544b95b9338efe4d4c259c3eb49a6812bb72c",
                       split="train", data_files={"train": "data/mt_bench/question.jsonl"}, repo_type="spaces",
                       note="question set of the Polish MT-Bench leaderboard (a Space, not a dataset repo)"),
        ),
    }  # fmt: skip
    generation = GenerationConfig(temperature=0.0, max_tokens=1024)
    metrics = ("score", "turn1", "turn2")
    breakdowns = ("category",)

    def sample_from_row(self, row: Mapping[str, Any], index: int, where: str) -> Sample:
        turns = row.get("turns")
        if not (isinstance(turns, list) and len(turns) == 2 and all(isinstance(t, str) and t.strip() for t in turns)):
            raise TaskDataError(f"{where}: field 'turns' must hold the two questions as strings")
        category = row.get("category")
        if category not in CATEGORY_TEMPERATURE:
            raise TaskDataError(f"{where}: field 'category' is {category!r}; expected one of "
                                f"{', '.join(CATEGORY_TEMPERATURE)}")  # fmt: skip
        if row.get("question_id") is None:
            raise TaskDataError(f"{where}: field 'question_id' is missing")
        reference = row.get("reference")
        if reference is not None and not (isinstance(reference, list) and all(isinstance(r, str) for r in reference)):
            raise TaskDataError(f"{where}: field 'reference' must be a list of strings (one per turn)")
        return Sample(id=str(row["question_id"]), fields={"turns": list(turns), "reference": reference}, target="",
                      metadata={"category": category})  # fmt: skip

    def build_messages(self, sample: Sample, lang: str, fewshot: Sequence[Sample]) -> list[Message]:
        return [Message("user", sample.fields["turns"][0])]

    def item_generation(self, sample: Sample) -> Mapping[str, Any]:
        return {"temperature": CATEGORY_TEMPERATURE[sample.metadata["category"]]}

    def follow_up(self, sample: Sample, lang: str, step: int) -> FollowUp | None:
        return FollowUp(messages=(Message("user", sample.fields["turns"][1]),)) if step == 1 else None

    def score(self, sample: Sample, completion: str, lang: str) -> Score:
        return Score(extracted={}, values={})

    def judge_messages(self, sample: Sample, answers: Sequence[str], reference: Sequence[str] | None, turn: int,
                       lang: str) -> tuple[Message, ...]:  # fmt: skip
        """The judge prompt for one turn: the first answer alone (turn 1) or the whole dialogue (turn 2)."""
        context = {"questions": sample.fields["turns"][:turn], "answers": list(answers[:turn]),
                   "references": list(reference[:turn]) if reference else None, "turn": turn}  # fmt: skip
        system = self.render(f"judge_system_{lang}", **context)
        user = self.render(f"judge_{lang}", **context)
        return (Message("system", system), Message("user", user))

    def reask(self, lang: str) -> str:
        return _REASK.get(lang, "Output only the rating as [[number]], e.g. [[5]].")


TASK = MTBench
