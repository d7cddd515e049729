"""--answer-judge end to end against a real server on loopback: a second reader asked for every final answer,
both readings and their agreement recorded, and (with --answer-judge-scored) the judge's reading scored."""

import json

from evalkit.cli import main
from evalkit.testing.openai_stub import OpenAIStub


def replies(messages):
    text = messages[-1]["content"]
    if "FINAL ANSWER" in text:  # the answer judge: reads "seven" in words as 7, which the rules cannot
        return "The reply commits to seven.\nFINAL ANSWER: 7" if "семь" in text else "FINAL ANSWER: 12"
    return "Считаем по шагам: итого семь яблок." if "яблок" in text else "Ответ: 12"


def run(tmp_path, *extra):
    return main(["run", "--model", "openai:m@" + STUB.base_url, "--tasks", "gsm8k", "--langs", "ru", "--limit", "4",
                 "--no-progress", "--no-cache", "--output", str(tmp_path), "--name", "m", "--overwrite", *extra])


def summary(tmp_path):
    return json.loads((tmp_path / "m/gsm8k/ru/summary.json").read_text(encoding="utf-8"))


def records(tmp_path):
    return [json.loads(x) for x in (tmp_path / "m/gsm8k/ru/samples.jsonl").read_text(encoding="utf-8").splitlines()]


STUB = OpenAIStub(reply_fn=replies)


def test_a_second_reader_records_both_readings_and_their_agreement(tmp_path):
    with STUB:
        judge = "openai:j@" + STUB.base_url
        assert run(tmp_path, "--answer-judge", judge, "--answer-judge-scope", "all") == 0
        data = summary(tmp_path)
        reading = data["extra"]["answer_judge"]
        assert reading["asked"] == 4 and reading["scope"] == "all" and reading["failed"] == 0
        agreement = reading["agreement"]["gsm8k/ru"]
        assert agreement["n"] == 4 and 0 <= agreement["rate"] <= 1
        assert data["config"]["answer_judge"] == judge and data["config"]["answer_judge_scope"] == "all"
        rows = records(tmp_path)
        assert all("judge_answer" in r["extracted"] and "readers_agree" in r["extracted"] for r in rows)
        assert all(r["extracted"]["readers_agree"] == (r["extracted"]["judge_answer"] == r["extracted"]["answer"])
                   for r in rows)  # fmt: skip
        before = data["metrics"]["exact_match"]["value"]
        assert run(tmp_path, "--answer-judge", judge, "--answer-judge-scope", "all", "--answer-judge-scored") == 0
        scored = records(tmp_path)
        assert all(r["extracted"]["answer"] == r["extracted"]["judge_answer"] for r in scored)
        assert all("rules_answer" in r["extracted"] for r in scored)
        assert summary(tmp_path)["metrics"]["exact_match"]["value"] >= 0 and before >= 0


def test_the_uncertain_scope_asks_only_what_the_rules_read_without_a_commitment(tmp_path):
    with STUB:
        assert run(tmp_path, "--answer-judge", "openai:j@" + STUB.base_url) == 0
    reading = summary(tmp_path)["extra"]["answer_judge"]
    asked = [r for r in records(tmp_path) if "judge_answer" in r["extracted"]]
    assert reading["asked"] == len(asked) < 4  # "Ответ: 12" is committed: not asked again
