"""Arena-Hard: the model's answers judged pairwise against a baseline's, both orders, scored as a win-rate.

Questions use arena-hard-auto's question.jsonl schema (`question_id`, `category`, `cluster`,
`turns: [{content}]`); the first turn is the prompt. The model answers at temperature 0 (max tokens 1024 by
default, `--max-tokens` changes it). The judge sees the question and two answers (game 1: A = baseline,
B = model; game 2: swapped) and ends with one of [[A>>B]] [[A>B]] [[A=B]] [[B>A]] [[B>>A]].

Judge prompts (prompts/judge_system_<lang>.jinja + judge_user.jinja; `--task-option arena_hard.judge_prompt=original`
selects the English original for every language):
  en  arena-hard-auto v0.1's judge instructions (config/judge_config.yaml), kept word for word because the
      published numbers were produced with them.
  ru  a Russian-arena variant: the same procedure, plus whether each answer is fluent, correct Russian
      (a mixed-language or ungrammatical answer loses to an acceptable one).
  pl  the same instructions in Polish, with the Polish language check.

Data (pinned; `--data full` / `full:<name>`):
  ru  Vikhrmodels/ru-arena-general (500 prompts; baseline of its published table: gpt-3.5-turbo-0125);
      `full:arena-hard-ru` = a Russian translation of Arena-Hard v0.1 (baseline gpt-4-0613 in the cards).
  pl  no public Polish Arena-Hard with a pinned revision was confirmed; bundled samples or a local file.
Bundled samples: original questions; baseline answers from the embedded model under baselines/<lang>/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.task import DataSource, Task, TaskDataError, TaskOption
from evalkit.types import GenerationConfig, Message, Sample, Score


class ArenaHard(Task):
    name = "arena_hard"
    version = "1.0"
    kind = "arena"
    languages = ("ru", "pl")
    sources = {
        "ru": (
            DataSource("ru-arena-general", "Vikhrmodels/ru-arena-general", revision="main", split="train",
                       note="500 Russian prompts; revision not pinned to a sha offline"),
        ),
    }  # fmt: skip
    generation = GenerationConfig(temperature=0.0, max_tokens=1024)
    metrics = ("score",)
    options = {
        "judge_prompt": TaskOption("native", "judge instructions: 'native' (in the question's language, with the "
                                   "language check) or 'original' (arena-hard-auto's English ones)",
                                   choices=("native", "original")),
    }  # fmt: skip

    def sample_from_row(self, row: Mapping[str, Any], index: int, where: str) -> Sample:
        turns = row.get("turns")
        if isinstance(turns, list) and turns and isinstance(turns[0], dict):
            prompt = turns[0].get("content")
        elif isinstance(turns, list) and turns and isinstance(turns[0], str):
            prompt = turns[0]
        else:
            prompt = row.get("prompt") or row.get("question")
        if not isinstance(prompt, str) or not prompt.strip():
            raise TaskDataError(f"{where}: field 'turns' must hold the question ([{{'content': ...}}])")
        question_id = row.get("question_id", row.get("uid", row.get("id")))
        if question_id is None:
            raise TaskDataError(f"{where}: field 'question_id' is missing")
        category = str(row.get("category", ""))
        return Sample(id=str(question_id), fields={"prompt": prompt}, target="",
                      metadata={"category": category, "cluster": str(row.get("cluster", ""))})  # fmt: skip

    def build_messages(self, sample: Sample, lang: str, fewshot: Sequence[Sample]) -> list[Message]:
        return [Message("user", sample.fields["prompt"])]

    def score(self, sample: Sample, completion: str, lang: str) -> Score:
        return Score(extracted={}, values={})

    def judge_messages(self, sample: Sample, answer_a: str, answer_b: str, lang: str) -> tuple[Message, ...]:
        judge_lang = lang if self.option("judge_prompt") == "native" else "en"
        system = self.render(f"judge_system_{judge_lang}")
        user = self.render("judge_user", question=sample.fields["prompt"], answer_a=answer_a, answer_b=answer_b)
        return (Message("system", system), Message("user", user))

    def reask(self, lang: str) -> str:
        return {
            "ru": "Завершите оценку и выведите итоговый вердикт одной меткой, например [[A=B]].",
            "pl": "Dokończ ocenę i podaj werdykt końcowy jedną etykietą, np. [[A=B]].",
        }.get(lang, "Finish your judgment and output the final verdict as one label, e.g. [[A=B]].")


TASK = ArenaHard
