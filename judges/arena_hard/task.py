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
Bundled samples: original questions; baseline answers under references/<lang>/: written by hand (`handwritten`, the
default baseline on the samples) and by the embedded model (`local__smollm2`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from evalkit.run.judged import Game, JudgedRun, JudgedTask, Outcome
from evalkit.run.judging import Choice
from evalkit.run.references import HANDWRITTEN
from evalkit.run.runner import PreparedRun
from evalkit.run.task import DataSource, TaskDataError, TaskOption
from evalkit.scoring.verdicts import PAIRWISE_LABELS, parse_pairwise_verdict
from evalkit.stats.arena import METHODS, answer_tokens_of, count_tokens, score_models, scores_by_category
from evalkit.stats.style_control import LENGTH_UNITS, Style, style_battles, style_controlled, style_of
from evalkit.types import Completion, GenerationConfig, Message, MetricValue, Sample


class ArenaHard(JudgedTask):
    name = "arena_hard"
    version = "1.0"
    languages = ("ru", "pl")
    sources = {
        "ru": (
            DataSource("ru-arena-general", "Vikhrmodels/ru-arena-general", revision="main", split="train",
                       note="500 Russian prompts; revision not pinned to a sha offline"),
        ),
    }  # fmt: skip
    generation = GenerationConfig(temperature=0.0, max_tokens=1024)
    metrics = ("score",)
    #: The baseline when none is named: on the bundled samples the hand-written answers that ship with them,
    #: on other data the embedded model (its answers generated once and stored).
    default_reference = "local:smollm2"
    options = {
        "judge_prompt": TaskOption("native", "judge instructions: 'native' (in the question's language, with the "
                                   "language check) or 'original' (arena-hard-auto's English ones)",
                                   choices=("native", "original")),
        "method": TaskOption("v0.1", "statistics: 'v0.1' (Bradley-Terry, 95% CI) or 'v2' (per-question pooled "
                             "scores, 90% CI)", choices=METHODS),
        "rounds": TaskOption("100", "bootstrap rounds"),
        "seed": TaskOption("0", "bootstrap seed"),
        "style_control": TaskOption("off", "style-controlled score next to the plain one (arena-hard-auto v2's "
                                    "length + markdown features): 'characters' (lengths in characters, the default of "
                                    "--style-control), 'tokens' (as arena-hard-auto) or 'off'",
                                    choices=("off", *LENGTH_UNITS)),
        "category_baselines": TaskOption("", "CATEGORY=MODEL,... : judge each question category against its own "
                                         "baseline, as arena-hard-auto v2 (hard_prompt=o3-mini-2025-01-31,"
                                         "creative_writing=gemini-2.0-flash-001); other categories use --baseline"),
    }  # fmt: skip

    def default_reference_of(self, prepared: PreparedRun) -> str:
        return HANDWRITTEN if prepared.data_info.get("source") == "samples" else self.default_reference

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

    # -- the judged flow ---------------------------------------------------------------------------------------
    def answer_record(self, sample: Sample, answers: Sequence[Completion], model: str) -> dict[str, Any]:
        answer = answers[-1]
        tokens, counter = answer_tokens_of(answer)
        return {"question_id": sample.id, "model": model, "answer": answer.text, "token_len": tokens,
                "token_counter": counter, "finish_reason": answer.finish_reason, "usage": answer.usage.to_dict(),
                "error": answer.error}  # fmt: skip

    def category_baselines(self) -> dict[str, str]:
        pairs = [p.strip() for p in self.option("category_baselines").split(",") if p.strip()]
        mapping = dict(p.partition("=")[::2] for p in pairs)
        if any(not k or not v for k, v in mapping.items()):
            raise TaskDataError(f"task option {self.name}.category_baselines: expected CATEGORY=MODEL pairs")
        return {k.strip(): v.strip() for k, v in mapping.items()}

    def extra_references(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.category_baselines().values()))

    def _baseline(self, run: JudgedRun, sample: Sample) -> str:
        return self.category_baselines().get(sample.metadata.get("category", ""), run.requested[0])

    def not_judged(self, run_model: str, references: Sequence[str]) -> str | None:
        return f"{run_model} is the baseline; answers written, nothing to judge" if run_model in references else None

    def judge_requests_per_question(self, sample: Sample, references: int) -> int:
        return 2 * references  # both game orders against each baseline

    def games(self, run: JudgedRun, sample: Sample, answers: Sequence[str]) -> Iterable[Game]:
        """Two games per question: A = baseline, B = model; then swapped."""
        baseline = run.references[self._baseline(run, sample)]
        base = baseline.answers.get(sample.id)
        if base is None:
            return
        model = run.model
        for game, (a, b, text_a, text_b) in enumerate(
            ((baseline.name, model, base[0], answers[0]), (model, baseline.name, answers[0], base[0])), start=1
        ):
            record = {"question_id": sample.id, "game": game, "model_a": a, "model_b": b, "model": model,
                      "baseline": baseline.name, "judge": run.judge.model,
                      "category": sample.metadata.get("category", "")}  # fmt: skip
            yield Game(record, self.judge_messages(sample, text_a, text_b, run.lang), self.reask(run.lang),
                       self.choice(run.lang))

    def read_verdict(self, completion: Completion) -> str | None:
        return parse_pairwise_verdict(completion.text)

    def belongs(self, run: JudgedRun, record: Mapping[str, Any]) -> bool:
        ids = {s.id for s in run.prepared.samples}
        return (record["judge"] == run.judge.model and record["baseline"] in run.references
                and record["model"] == run.model and str(record["question_id"]) in ids)  # fmt: skip

    def statistic(self, run: JudgedRun, records: Sequence[Mapping[str, Any]],
                  answers: Mapping[str, Sequence[Completion]]) -> Outcome:  # fmt: skip
        baseline = run.references[run.requested[0]]
        method, rounds, seed = self.option("method"), self._integer("rounds"), self._integer("seed")
        baselines = {r["baseline"] for r in records}
        # several baselines (one per category) pool as arena-hard-auto v2 does: per-question scores together
        pooled_method = method if len(baselines) <= 1 else "v2"
        # one baseline in the records (a category baseline that covers every question): the score is against it
        anchor = next(iter(baselines)) if len(baselines) == 1 else baseline.name
        baseline = run.references.get(anchor, baseline)
        scores = score_models(records, anchor, pooled_method, rounds, seed)
        result = scores[0] if scores else None
        ok = [a[-1] for a in answers.values() if a[-1].ok]
        answered, counter = count_tokens([c.text for c in ok], [c.usage.completion_tokens for c in ok])
        controlled = self._style_controlled(run, records, answers, rounds, seed)
        metrics = {"score": MetricValue(result.score, None)} if result else {}
        if controlled.get("score") is not None:
            metrics["score_style_controlled"] = MetricValue(controlled["score"], None)
        return Outcome(
            metrics=metrics,
            breakdown={"category": self._per_category(records, method, rounds, seed)} if method == "v2" or len(
                baselines) > 1 else {},
            extra={
                "method": method, "pooled_method": pooled_method,
                "category_baselines": self.category_baselines(), "ci": [result.lower, result.upper] if result else None,
                "ci_level": 0.95 if method == "v0.1" else 0.90,
                "avg_tokens": sum(answered) / len(answered) if answered else None, "token_counter": counter,
                "baseline": baseline.name, "baseline_answers": baseline.source, "rounds": rounds, "seed": seed,
                "games": len(records), "unparsed": sum(r["verdict"] is None for r in records),
                "reasked": sum(bool(r.get("reasked")) for r in records),
                "missing_baseline_answers": sum(1 for qid, a in answers.items()
                                                if a[-1].ok and qid not in baseline.answers),
                **({"style_control": controlled} if controlled else {}),
            },
        )  # fmt: skip

    def _style_controlled(self, run: JudgedRun, records: Sequence[Mapping[str, Any]],
                          answers: Mapping[str, Sequence[Completion]], rounds: int,
                          seed: int) -> dict[str, Any]:  # fmt: skip
        """`style_control` (characters | tokens): the style-controlled score, its 90% interval and the style
        coefficients (evalkit.stats.style_control); {} when off."""
        unit = self.option("style_control")
        if unit == "off":
            return {}
        styles: dict[tuple[str, str], Style] = {}
        for name, reference in run.references.items():
            texts = {qid: turns[0] for qid, turns in reference.answers.items() if turns}
            counts, counter = count_tokens(list(texts.values()), [0] * len(texts))
            if unit == "tokens" and counter == "backend":
                return {"length_unit": unit, "score": None, "note": "the baseline's answers have no token counts "
                        "here (tiktoken's cl100k file is not cached): use --style-control characters"}
            for (qid, text), tokens in zip(texts.items(), counts, strict=True):
                styles[(name, qid)] = style_of(text, unit, tokens)
        for qid, steps in answers.items():
            if steps[-1].ok:
                styles[(run.model, qid)] = style_of(steps[-1].text, unit, answer_tokens_of(steps[-1])[0])
        found = style_controlled(style_battles(records, styles), rounds=rounds, seed=seed)
        score = found.scores[0] if found.scores else None
        return {"length_unit": unit, "score": score.score if score else None,
                "ci": [score.lower, score.upper] if score else None, "ci_level": 0.90,
                "bootstrap_median": score.bootstrap_median if score else None,
                "coefficients": found.coefficients, "constant_features": list(found.dropped)}  # fmt: skip

    @staticmethod
    def _per_category(records: Sequence[Mapping[str, Any]], method: str, rounds: int,
                      seed: int) -> dict[str, dict[str, Any]]:  # fmt: skip
        """Each question category scored against its own baseline (arena-hard-auto v2), with its CI."""
        result: dict[str, dict[str, Any]] = {}
        for category, found in scores_by_category(records, method, rounds, seed).items():
            entry: dict[str, Any] = {"n": found.questions, "baseline": found.baseline}
            if found.scores:
                entry["score"] = MetricValue(found.scores[0].score, None).to_dict()
                entry["ci"] = [found.scores[0].lower, found.scores[0].upper]
            result[category] = entry
        return result

    def _integer(self, name: str) -> int:
        try:
            return int(self.option(name))
        except ValueError:
            raise TaskDataError(f"task option {self.name}.{name}={self.option(name)!r}: not an integer") from None

    def judge_messages(self, sample: Sample, answer_a: str, answer_b: str, lang: str) -> tuple[Message, ...]:
        judge_lang = lang if self.option("judge_prompt") == "native" else "en"
        system = self.render(f"judge_system_{judge_lang}")
        user = self.render("judge_user", question=sample.fields["prompt"], answer_a=answer_a, answer_b=answer_b)
        return (Message("system", system), Message("user", user))

    @staticmethod
    def choice(lang: str) -> Choice[str]:
        """Choice mode (`--judge-mode choice`): the five labels as the digits 1-5, A = the first answer."""
        instruction = {
            "ru": "Ответьте одной цифрой, без пояснений: 1 — ответ A намного лучше, 2 — A лучше, 3 — ответы "
                  "равноценны, 4 — B лучше, 5 — ответ B намного лучше.",
            "pl": "Odpowiedz jedną cyfrą, bez wyjaśnień: 1 — odpowiedź A jest znacznie lepsza, 2 — A jest lepsza, "
                  "3 — odpowiedzi są równorzędne, 4 — B jest lepsza, 5 — odpowiedź B jest znacznie lepsza.",
        }.get(lang, "Answer with one digit and nothing else: 1 = answer A is much better, 2 = A is better, "
                    "3 = a tie, 4 = B is better, 5 = answer B is much better.")  # fmt: skip
        return Choice(instruction, {str(i): label for i, label in enumerate(PAIRWISE_LABELS, start=1)})

    def reask(self, lang: str) -> str:
        return {
            "ru": "Завершите оценку и выведите итоговый вердикт одной меткой, например [[A=B]].",
            "pl": "Dokończ ocenę i podaj werdykt końcowy jedną etykietą, np. [[A=B]].",
        }.get(lang, "Finish your judgment and output the final verdict as one label, e.g. [[A=B]].")


TASK = ArenaHard
