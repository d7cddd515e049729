"""Grounded RAG: answer only from the given documents, naming the relevant ones first.

Protocol (the usage section of Vikhr's grounded models, e.g. Vikhrmodels/Vikhr-Nemo-12B-Instruct-R-21-09-24):
messages = system (the grounded prompt), `documents` (the JSON list of {doc_id, title, content},
ensure_ascii=False), user (the question). Step 1 is generated at temperature 0 and should name the relevant
ids (`{"relevant_doc_ids": [0, 1]}`); step 2 appends that reply as an assistant turn and generates the
answer (temperature 0.3 by default). Both steps go through the normal backend layer and cache.

Options (`--task-option rag.<name>=<value>`, recorded in summary.json):
  documents=role    send documents as a message with role `documents` (the default; needs a chat template
                    that knows the role — the embedded llama.cpp server and api.openai.com refuse it loudly)
  documents=fold    fallback for other templates: the JSON list is appended to the system message after a
                    blank line and the line `Documents:` (so the model still sees exactly the same list)
  answer_temperature=0.3, system_prompt=<text>

Metrics (overall, and per domain in summary.json["breakdown"]["domain"]):
  accuracy      judged (`--judge MODEL`): in-domain, the judge says whether the answer is correct given the
                question, documents and reference answer; out-of-domain (the documents do not hold the
                answer), correct = the answer declines, as the judge decides. Verdicts `[[CORRECT]]` /
                `[[INCORRECT]]`, parsed strictly, re-asked once, then counted in extra.judge_unparsed and
                left out. Without a judge accuracy is absent — not computed, never 0.
  rouge_l       ROUGE-L F1 of the answer against the reference (evalkit.scoring.rouge, Unicode tokens).
  index_diff    |predicted ids Δ gold ids| (symmetric difference: ids named but not relevant plus relevant
                ids missed), averaged over items whose ids could be read; 0 is perfect.
  ids_unparsed  share of items whose step-1 reply named no ids in a readable way (evalkit.scoring.doc_ids);
                they have no index_diff (extra.index_diff_n says over how many items it was averaged).

Data: Vikhrmodels/Grounded-RAG-RU-v2, test split (conversations with system, documents, user, the id turn
and the answer; `type` tells in-domain from out-of-domain). Polish: bundled samples or a local file in the
same schema (no public Polish set found).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.run.judging import Choice, JudgeQuery, Judgment
from evalkit.run.task import DataSource, FollowUp, Task, TaskDataError, TaskOption
from evalkit.scoring.doc_ids import index_difference, parse_doc_ids
from evalkit.scoring.rouge import rouge_l
from evalkit.scoring.verdicts import parse_correctness
from evalkit.types import GenerationConfig, Message, Sample, Score

#: The grounded system prompt of Vikhr's model cards (their usage section), used verbatim as the default.
GROUNDED_SYSTEM_PROMPT = (
    "Your task is to answer the user's questions using only the information from the provided documents. "
    "Give two answers to each question: one with a list of relevant document identifiers and the second "
    "with the answer to the question itself, using documents with these identifiers."
)
IN_DOMAIN, OUT_OF_DOMAIN = "in_domain", "out_of_domain"
#: The dataset's `type` labels, mapped to our two domain splits.
DOMAIN_LABELS = {"good": IN_DOMAIN, "in_domain": IN_DOMAIN, "ood": OUT_OF_DOMAIN, "out_of_domain": OUT_OF_DOMAIN}
_REASK = {
    "ru": "Ответьте только вердиктом: [[CORRECT]] или [[INCORRECT]].",
    "pl": "Odpowiedz tylko werdyktem: [[CORRECT]] albo [[INCORRECT]].",
}
#: Choice mode (`--judge-mode choice`): the verdict as one digit.
_CHOICE = {
    "ru": Choice("Ответьте одной цифрой, без пояснений: 1 — ответ верный, 0 — неверный.", {"1": True, "0": False}),
    "pl": Choice("Odpowiedz jedną cyfrą, bez wyjaśnień: 1 — odpowiedź poprawna, 0 — niepoprawna.",
                 {"1": True, "0": False}),
}


def _documents(content: Any, where: str) -> list[dict[str, Any]]:
    """The documents list of a row: a JSON string (as in the dataset) or an already decoded list."""
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except json.JSONDecodeError as exc:
            problem = f"{exc.msg}, column {exc.colno}"
            raise TaskDataError(f"{where}: field 'documents' is not valid JSON ({problem})") from None
    if not isinstance(content, list) or not content:
        raise TaskDataError(f"{where}: field 'documents' must be a non-empty JSON list of documents")
    for number, doc in enumerate(content):
        if not (isinstance(doc, dict) and isinstance(doc.get("doc_id"), int) and isinstance(doc.get("content"), str)):
            raise TaskDataError(f"{where}: documents[{number}] needs an integer 'doc_id' and a string 'content'")
    return content


class GroundedRAG(Task):
    name = "rag"
    version = "1.0"
    languages = ("ru", "pl")
    sources = {
        "ru": (
            DataSource("vikhr", "Vikhrmodels/Grounded-RAG-RU-v2", revision="91fc52408e80bea2fe42543a980edabfe92821e3",
                       split="test", note="200 test conversations, in-domain and out-of-domain"),
        ),
    }  # fmt: skip
    generation = GenerationConfig(temperature=0.0, max_tokens=512)
    metrics = ("accuracy", "rouge_l", "index_diff", "ids_unparsed")
    judged_metrics = ("accuracy",)
    breakdowns = ("domain",)
    role_fallbacks = {"documents": ("documents", "fold")}
    options = {
        "documents": TaskOption("role", "how documents reach the model: a `documents` message, or folded into "
                                "the system message", choices=("role", "fold")),
        "answer_temperature": TaskOption("0.3", "temperature of step 2 (the answer)"),
        "system_prompt": TaskOption(GROUNDED_SYSTEM_PROMPT, "the grounded system prompt"),
    }  # fmt: skip

    def sample_from_row(self, row: Mapping[str, Any], index: int, where: str) -> Sample:
        conversation = row.get("conversation")
        if not isinstance(conversation, list) or not all(isinstance(m, dict) for m in conversation):
            raise TaskDataError(f"{where}: field 'conversation' must be a list of {{role, content}} messages")
        by_role: dict[str, list[str]] = {}
        for message in conversation:
            by_role.setdefault(str(message.get("role")), []).append(message.get("content"))
        for role, count in (("documents", 1), ("user", 1), ("assistant", 2)):
            if len(by_role.get(role, [])) < count:
                raise TaskDataError(f"{where}: 'conversation' needs {count} {role!r} message(s)")
        documents = _documents(by_role["documents"][0], where)
        valid = {doc["doc_id"] for doc in documents}
        gold = parse_doc_ids(str(by_role["assistant"][0]), valid)
        if gold is None:
            raise TaskDataError(f"{where}: the first assistant message names no relevant_doc_ids")
        label = str(row.get("type", ""))
        if label not in DOMAIN_LABELS:
            raise TaskDataError(f"{where}: field 'type' is {label!r}; expected one of {', '.join(DOMAIN_LABELS)}")
        return Sample(
            id=str(row.get("id", index)),
            fields={"question": str(by_role["user"][0]), "documents": documents, "gold_ids": gold},
            target=str(by_role["assistant"][1]),
            metadata={"domain": DOMAIN_LABELS[label]},
        )

    def build_messages(self, sample: Sample, lang: str, fewshot: Sequence[Sample]) -> list[Message]:
        documents = json.dumps(sample.fields["documents"], ensure_ascii=False)
        system, question = self.option("system_prompt"), Message("user", sample.fields["question"])
        if self.option("documents") == "fold":
            return [Message("system", f"{system}\n\nDocuments:\n{documents}"), question]
        return [Message("system", system), Message("documents", documents), question]

    def steps_per_item(self, sample: Sample) -> int:
        return 2  # the relevant ids, then the answer

    def follow_up(self, sample: Sample, lang: str, step: int) -> FollowUp | None:
        if step > 1:
            return None
        try:
            temperature = float(self.option("answer_temperature"))
        except ValueError:
            raise TaskDataError(f"task option rag.answer_temperature={self.option('answer_temperature')!r}: "
                                "not a number") from None  # fmt: skip
        return FollowUp(overrides={"temperature": temperature})

    def score(self, sample: Sample, completion: str, lang: str) -> Score:
        raise TaskDataError("rag items have two steps; they are scored by score_steps")

    def score_steps(self, sample: Sample, answers: Sequence[str], lang: str) -> Score:
        ids_reply, answer = answers[0], answers[-1]
        valid = {doc["doc_id"] for doc in sample.fields["documents"]}
        predicted = parse_doc_ids(ids_reply, valid) if len(answers) > 1 else None
        values = {"rouge_l": rouge_l(answer, sample.target).fmeasure, "ids_unparsed": float(predicted is None)}
        if predicted is not None:
            values["index_diff"] = float(index_difference(predicted, sample.fields["gold_ids"]))
        return Score(extracted={"relevant_doc_ids": predicted, "ids_reply": ids_reply}, values=values)

    def failed_values(self) -> dict[str, float]:
        return {"rouge_l": 0.0, "ids_unparsed": 1.0}

    def judge_query(self, sample: Sample, answers: Sequence[str], lang: str) -> JudgeQuery:
        prompt = self.render(
            f"judge_{lang}", question=sample.fields["question"], documents=sample.fields["documents"],
            reference=sample.target, answer=answers[-1], out_of_domain=sample.metadata["domain"] == OUT_OF_DOMAIN,
        )  # fmt: skip
        return JudgeQuery(messages=(Message("user", prompt),), reask=_REASK[lang], choice=_CHOICE[lang])

    def parse_verdict(self, text: str) -> bool | None:
        return parse_correctness(text)

    def apply_judgment(self, sample: Sample, score: Score, judgment: Judgment[Any]) -> Score:
        values = dict(score.values)
        if judgment.verdict is not None:
            values["accuracy"] = float(judgment.verdict)
        return Score(extracted={**score.extracted, "judge": judgment.to_dict()}, values=values)

    def summary_extra(self, extracted: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        judged = [e["judge"] for e in extracted if "judge" in e]
        return {
            "documents_mode": self.option("documents"),
            "ids_unparsed": sum(e.get("relevant_doc_ids") is None for e in extracted),
            "index_diff_n": sum(e.get("relevant_doc_ids") is not None for e in extracted),
            "judged": len(judged),
            "judge_unparsed": sum(j["verdict"] is None for j in judged),
            "judge_reasked": sum(j["reasked"] for j in judged),
        }


TASK = GroundedRAG
