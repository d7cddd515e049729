"""MT-Bench: two-turn questions in eight categories, each answer graded 1-10 by a judge.

Questions use FastChat's question.jsonl schema (`question_id`, `category`, `turns: [q1, q2]`, optional
`reference: [r1, r2]`). Turn 2 is asked with turn 1's question and answer in the history. Answers are
sampled at FastChat's per-category temperature (0.7 writing/roleplay; 0.0 extraction/math/coding/reasoning;
0.1 stem/humanities; `--temperature` overrides all), max tokens 1024 by default.

Judge prompts (prompts/judge_<lang>.jinja; system + user, in the question's language): the four FastChat
kinds — single answer, single answer with a reference (math/reasoning/coding), and the multi-turn forms
that show the whole dialogue and grade the second answer. The judge ends with `[[x]]` (evalkit.scoring.verdicts);
the statistics are evalkit.stats.mt_bench_scores; the reference model is looked up as every judged
benchmark's (evalkit.run.references; `--reference MODEL`, by default the questions' own `reference` field).

Data (pinned; `--data full`):
  ru  NLPCoreTeam/ruMT-Bench question.jsonl (80 questions translated from MT-Bench); GPT-4 reference answers
      are in the same repo (reference_answer/gpt-4.jsonl): `--reference gpt-4 --reference-answers gpt-4=FILE`.
  pl  MT-Bench-PL, the question set of SpeakLeash's Polish MT-Bench leaderboard (Hugging Face Space
      speakleash/mt-bench-pl, data/mt_bench/question.jsonl).
Bundled samples: original two-turn questions, one or more per category, with hand-written reference
answers for the reference-graded categories (`--reference dataset`, the default).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from evalkit.run.judged import Game, JudgedRun, JudgedTask, Outcome
from evalkit.run.judging import Choice, Judgment
from evalkit.run.task import DataSource, FollowUp, TaskDataError
from evalkit.scoring.verdicts import parse_rating
from evalkit.stats import Rating, mt_bench_scores
from evalkit.stats.mt_bench import CATEGORY_TEMPERATURE, NEEDS_REFERENCE, prompt_name, scores_to_metrics
from evalkit.types import Completion, GenerationConfig, Message, Sample

_REASK = {
    "ru": "Выведите только оценку в формате [[число]], например [[5]].",
    "pl": "Podaj tylko ocenę w formacie [[liczba]], np. [[5]].",
}


class MTBench(JudgedTask):
    name = "mt_bench"
    version = "1.0"
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

    def steps_per_item(self, sample: Sample) -> int:
        return len(sample.fields["turns"])

    def judge_requests_per_question(self, sample: Sample, references: int) -> int:
        return len(sample.fields["turns"])  # each turn graded once (against the reference where one is needed)

    def follow_up(self, sample: Sample, lang: str, step: int) -> FollowUp | None:
        return FollowUp(messages=(Message("user", sample.fields["turns"][1]),)) if step == 1 else None

    # -- the judged flow: each turn graded 1-10, math / reasoning / coding against a reference answer -------------
    def dataset_answer(self, sample: Sample) -> list[str] | None:
        return sample.fields.get("reference")

    def needs_reference(self, sample: Sample) -> bool:
        return sample.metadata["category"] in NEEDS_REFERENCE

    def games(self, run: JudgedRun, sample: Sample, answers: Sequence[str]) -> Iterable[Game]:
        """One game per turn: turn 1 on the first answer alone, turn 2 with the whole dialogue shown."""
        with_reference = self.needs_reference(sample)
        reference = next(iter(run.references.values()), None)
        turns = reference.answers.get(sample.id) if reference is not None and with_reference else None
        if with_reference and (turns is None or len(turns) < len(answers)):
            return  # counted as missing_reference by the statistic
        for turn in range(1, len(answers) + 1):
            messages = self.judge_messages(sample, answers, turns, turn, run.lang)
            record = {"question_id": sample.id, "model": run.model,
                      "judge": [run.judge.model, prompt_name(turn, with_reference, run.lang)], "turn": turn,
                      "category": sample.metadata["category"], "lang": run.lang,
                      "reference_model": run.requested[0] if with_reference else None,
                      "user_prompt": messages[-1].content}  # fmt: skip
            yield Game(record, messages, self.reask(run.lang), self.choice(run.lang))

    def read_verdict(self, completion: Completion) -> float | None:
        return parse_rating(completion.text)

    def verdict_record(self, game: Game, judgment: Judgment[float]) -> dict[str, Any]:
        """FastChat's single-judgment fields: the raw judgment and the score (-1: no rating could be read)."""
        score = judgment.verdict if judgment.verdict is not None else -1
        return {"judgment": judgment.raw, "score": score, "reasked": judgment.reasked, "raw_reask": judgment.raw_reask,
                **judgment.mode_fields()}

    def belongs(self, run: JudgedRun, record: Mapping[str, Any]) -> bool:
        ids = {s.id for s in run.prepared.samples}
        return (record["model"] == run.model and record["judge"][0] == run.judge.model
                and str(record["question_id"]) in ids
                and record.get("reference_model") in (None, run.requested[0]))  # fmt: skip

    def statistic(self, run: JudgedRun, records: Sequence[Mapping[str, Any]],
                  answers: Mapping[str, Sequence[Completion]]) -> Outcome:  # fmt: skip
        scores = mt_bench_scores([Rating(str(r["question_id"]), int(r["turn"]), r["category"], float(r["score"]))
                                  for r in records])  # fmt: skip
        metrics, breakdown = scores_to_metrics(scores)
        reference = next(iter(run.references.values()), None)
        missing = [s.id for s in run.prepared.samples if self.needs_reference(s) and all(c.ok for c in answers[s.id])
                   and (reference is None or s.id not in reference.answers)]  # fmt: skip
        return Outcome(metrics, {
            "reference_model": run.requested[0], "reference_answers": reference.source if reference else None,
            "graded": len(records), "unrated": scores.excluded, "reasked": sum(bool(r.get("reasked")) for r in records),
            "missing_reference": len(missing), "category_temperatures": dict(CATEGORY_TEMPERATURE),
        }, breakdown)  # fmt: skip

    def judge_messages(self, sample: Sample, answers: Sequence[str], reference: Sequence[str] | None, turn: int,
                       lang: str) -> tuple[Message, ...]:  # fmt: skip
        """The judge prompt for one turn: the first answer alone (turn 1) or the whole dialogue (turn 2)."""
        context = {"questions": sample.fields["turns"][:turn], "answers": list(answers[:turn]),
                   "references": list(reference[:turn]) if reference else None, "turn": turn}  # fmt: skip
        system = self.render(f"judge_system_{lang}", **context)
        user = self.render(f"judge_{lang}", **context)
        return (Message("system", system), Message("user", user))

    @staticmethod
    def choice(lang: str) -> Choice[float]:
        """Choice mode (`--judge-mode choice`): the grade alone, 1-10."""
        instruction = {
            "ru": "Ответьте только оценкой — целым числом от 1 до 10, без пояснений.",
            "pl": "Odpowiedz tylko oceną — liczbą całkowitą od 1 do 10, bez wyjaśnień.",
        }.get(lang, "Answer with the rating alone, a whole number from 1 to 10, and nothing else.")
        return Choice(instruction, {str(grade): float(grade) for grade in range(1, 11)})

    def reask(self, lang: str) -> str:
        return _REASK.get(lang, "Output only the rating as [[number]], e.g. [[5]].")


TASK = MTBench
