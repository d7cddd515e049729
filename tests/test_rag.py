"""Grounded RAG: id parsing, ROUGE-L against rouge-score, the two-step flow with a judge, bad input."""

import json
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

from evalkit.cli import main
from evalkit.run.plugins import load_task
from evalkit.run.task import TaskDataError
from evalkit.scoring.doc_ids import index_difference, parse_doc_ids
from evalkit.scoring.rouge import UnicodeTokenizer, rouge_l
from evalkit.testing.openai_stub import OpenAIStub

CASES = json.loads((Path(__file__).parent / "scoring" / "cases" / "doc_ids.json").read_text(encoding="utf-8"))
SYSTEM = "Answer only from the documents."


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_doc_id_parsing(case):
    assert parse_doc_ids(case["output"], set(case["valid"])) == case["expected"], case["note"]


def test_index_difference_is_the_symmetric_difference():
    assert index_difference([0, 1], [0, 1]) == 0
    assert index_difference([0, 2], [0, 1]) == 2  # 2 named wrongly, 1 missed
    assert index_difference([], [3]) == 1
    assert index_difference([4, 5, 6], []) == 3


ENGLISH = [
    ("The cat sat on the mat.", "The cat is on the mat."),
    ("Paris is the capital of France, founded long ago.", "The capital of France is Paris."),
    ("In 2024 the plant produced 1,500 cars", "The plant produced 1500 cars in 2024."),
    ("snake_case words_split", "snake case words split"),
    ("", "nothing here"),
    ("Completely different", "no overlap at all"),
    ("a b c d e f g", "g f e d c b a"),
]
SLAVIC = [
    ("Кошка сидит на ковре.", "Кошка сидела на ковре у двери."),
    ("Музей открыт со вторника по воскресенье, с 10:00 до 18:00.",
     "Музей работает с 10 до 18 часов, кроме понедельника."),
    ("Ёжик в тумане — мультфильм Юрия Норштейна.", "Мультфильм «Ёжик в тумане» снял Юрий Норштейн."),
    ("Zamek w Malborku zbudowali Krzyżacy.", "Krzyżacy zbudowali zamek w Malborku w XIII wieku."),
    ("Źródło: żółta łódź płynie po Wiśle.", "Żółta łódź płynęła po Wiśle."),
    ("В документах нет ответа на этот вопрос.", "В предоставленных документах нет информации для ответа."),
]


@pytest.mark.parametrize(("candidate", "reference"), ENGLISH)
def test_rouge_l_equals_rouge_score_default_on_english(candidate, reference):
    expected = rouge_scorer.RougeScorer(["rougeL"]).score(reference, candidate)["rougeL"]
    ours = rouge_l(candidate, reference)
    assert (ours.precision, ours.recall, ours.fmeasure) == pytest.approx(tuple(expected), abs=1e-12)


@pytest.mark.parametrize(("candidate", "reference"), SLAVIC)
def test_rouge_l_equals_rouge_score_with_unicode_tokenizer(candidate, reference):
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=UnicodeTokenizer())
    expected = scorer.score(reference, candidate)["rougeL"]
    assert rouge_l(candidate, reference).fmeasure == pytest.approx(expected.fmeasure, abs=1e-12)
    assert expected.fmeasure > 0
    # ...while rouge-score's default tokenizer sees no Cyrillic word at all (only digits survive it).
    if any("а" <= ch <= "я" for ch in candidate.lower()) and not any(ch.isdigit() for ch in candidate):
        assert rouge_scorer.RougeScorer(["rougeL"]).score(reference, candidate)["rougeL"].fmeasure == 0


def row(item_id, question, docs, gold, answer, kind="good"):
    documents = [{"doc_id": i, "title": f"Документ {i}", "content": text} for i, text in enumerate(docs)]
    return {
        "id": item_id, "cluster": 0, "model": "test", "type": kind, "docs_count": len(docs),
        "conversation": [
            {"role": "system", "content": SYSTEM},
            {"role": "documents", "content": json.dumps(documents, ensure_ascii=False)},
            {"role": "user", "content": question},
            {"role": "assistant", "content": json.dumps({"relevant_doc_ids": gold})},
            {"role": "assistant", "content": answer},
        ],
    }  # fmt: skip


ROWS = [
    row("a", "Когда открыт музей?", ["Музей открыт с 10 до 18.", "Кафе закрыто."], [0], "Музей открыт с 10 до 18."),
    row("b", "Сколько стоит билет?", ["Билет стоит 300 рублей.", "Парковка бесплатна."], [0],
        "Билет стоит 300 рублей."),
    row("c", "Кто основал город?", ["Музей открыт с 10 до 18.", "Парковка бесплатна."], [], "В документах нет ответа.",
        kind="ood"),
    row("d", "Где парковка?", ["Парковка у входа.", "Кафе на втором этаже."], [0], "Парковка находится у входа."),
]


def write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def scripted_reply(messages):
    """Step 1 names ids, step 2 answers, the judge grades; item d's judge never gives a label."""
    last = messages[-1]
    if last["role"] == "user" and "[[CORRECT]]" in last["content"] and "Ответьте только" not in last["content"]:
        prompt = last["content"]
        if "Когда открыт музей?" in prompt:
            return "Ответ совпадает с эталоном, но я подумаю."  # no label: re-asked
        if "Сколько стоит билет?" in prompt:
            return "Цена неверна.\n[[INCORRECT]]"
        if "Кто основал город?" in prompt:
            return "Ассистент честно отказался.\n[[CORRECT]]"
        return "Не могу решить."
    if last["role"] == "user" and last["content"].startswith("Ответьте только"):
        question = messages[0]["content"]
        return "[[CORRECT]]" if "Когда открыт музей?" in question else "Всё ещё не знаю."
    if last["role"] == "assistant":  # step 2: the ids reply is in the history
        question = messages[-2]["content"]
        return {"Когда открыт музей?": "Музей открыт с 10 до 18.", "Сколько стоит билет?": "Билет стоит 500 рублей.",
                "Кто основал город?": "В документах нет ответа.", "Где парковка?": "Парковка у входа."}[question]
    return {"Когда открыт музей?": '{"relevant_doc_ids": [0]}', "Сколько стоит билет?": "[0, 1]",
            "Кто основал город?": '{"relevant_doc_ids": []}', "Где парковка?": "не знаю"}[last["content"]]


def run_rag(tmp_path, stub, *extra):
    data = write(tmp_path / "rag.jsonl", ROWS)
    model = f"openai:m@{stub.base_url}"
    code = main(["run", "--model", model, "--tasks", "rag", "--langs", "ru", "--data", str(data), "--output",
                 str(tmp_path / "out"), "--name", "m", "--no-cache", "--no-progress", *extra])  # fmt: skip
    folder = tmp_path / "out/m/rag/ru"
    return code, folder


def test_two_step_flow_with_judge_and_reask(tmp_path):
    with OpenAIStub(reply_fn=scripted_reply) as stub:
        code, folder = run_rag(tmp_path, stub, "--judge", f"openai:m@{stub.base_url}")
        bodies = list(stub.bodies.values())
    assert code == 0
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    records = {r["id"]: r for r in map(json.loads, (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines())}

    # Step 1 at temperature 0 with the documents role; step 2 has the ids reply as an assistant turn, at 0.3.
    grounded = load_task("rag").option("system_prompt")
    step1 = [b for b in bodies if b["messages"][-1]["role"] == "user" and b["messages"][0]["content"] == grounded
             and len(b["messages"]) == 3]  # fmt: skip
    step2 = [b for b in bodies if b["messages"][-1]["role"] == "assistant"]
    assert len(step1) == 4 and len(step2) == 4  # unreadable ids do not stop the answer step
    assert all(b["temperature"] == 0.0 and b["messages"][1]["role"] == "documents" for b in step1)
    assert all(b["temperature"] == 0.3 for b in step2)
    assert json.loads(step1[0]["messages"][1]["content"])[0]["title"].startswith("Документ")

    a, b, c, d = (records[k] for k in "abcd")
    assert a["scores"]["accuracy"] == 1.0 and a["extracted"]["judge"]["reasked"] is True
    assert b["scores"]["accuracy"] == 0.0 and b["scores"]["index_diff"] == 1.0
    assert c["scores"]["accuracy"] == 1.0 and c["scores"]["index_diff"] == 0.0
    assert c["metadata"]["domain"] == "out_of_domain"
    assert "accuracy" not in d["scores"] and "index_diff" not in d["scores"] and d["scores"]["ids_unparsed"] == 1.0
    assert d["extracted"]["judge"]["verdict"] is None and d["extracted"]["judge"]["raw_reask"] == "Всё ещё не знаю."

    metrics = summary["metrics"]
    assert metrics["accuracy"]["value"] == pytest.approx(2 / 3)  # a, b, c judged; d unparsed and left out
    assert metrics["index_diff"]["value"] == pytest.approx((0 + 1 + 0) / 3)
    assert metrics["ids_unparsed"]["value"] == 0.25
    assert metrics["rouge_l"]["value"] == pytest.approx(
        sum(rouge_l(r["completion"], r["target"]).fmeasure for r in records.values()) / 4)
    domains = summary["breakdown"]["domain"]
    assert domains["in_domain"]["n"] == 3 and domains["out_of_domain"]["n"] == 1
    assert domains["out_of_domain"]["accuracy"]["value"] == 1.0
    assert domains["in_domain"]["accuracy"]["value"] == 0.5
    extra = summary["extra"]
    assert extra["judge"] == f"openai:m@{stub.base_url}" and extra["documents_mode"] == "role"
    assert (extra["judged"], extra["judge_unparsed"], extra["judge_reasked"]) == (4, 1, 2)
    assert (extra["ids_unparsed"], extra["index_diff_n"]) == (1, 3)


def test_without_a_judge_accuracy_is_absent_not_zero(tmp_path):
    with OpenAIStub(reply_fn=scripted_reply) as stub:
        code, folder = run_rag(tmp_path, stub)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert code == 0 and "accuracy" not in summary["metrics"] and summary["extra"]["judge"] is None
    assert "accuracy" not in summary["breakdown"]["domain"]["in_domain"]
    assert summary["metrics"]["rouge_l"]["value"] > 0


def test_fold_mode_puts_documents_into_the_system_message_and_is_recorded(tmp_path):
    with OpenAIStub(reply_fn=scripted_reply, allowed_roles={"system", "user", "assistant"}) as stub:
        code, folder = run_rag(tmp_path, stub, "--task-option", "rag.documents=fold")
        bodies = list(stub.bodies.values())
    assert code == 0
    first = next(b for b in bodies if len(b["messages"]) == 2)
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    system = first["messages"][0]["content"]
    assert system.startswith(load_task("rag").option("system_prompt")) and "\n\nDocuments:\n[" in system
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["extra"]["task_options"]["documents"] == "fold"


def test_documents_role_on_a_server_that_refuses_it_fails_loudly(tmp_path, capsys):
    with OpenAIStub(reply_fn=scripted_reply, allowed_roles={"system", "user", "assistant"}) as stub:
        code, _ = run_rag(tmp_path, stub)
    assert code == 3  # every request failed with the server's 400 naming the role; items carry the error
    records = [json.loads(x) for x in (tmp_path / "out/m/rag/ru/samples.jsonl").read_text().splitlines()]
    assert all("documents" in r["error"] and "rag.documents=fold" in r["error"] for r in records)
    assert stub.total_arrivals == len(records)  # a request that cannot succeed is not retried


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda r: r["conversation"][1].update(content="[{\"doc_id\": 0, "), "field 'documents' is not valid JSON"),
        (lambda r: r["conversation"][1].update(content="{}"), "field 'documents' must be a non-empty JSON list"),
        (lambda r: r["conversation"][1].update(content='[{"doc_id": "x", "content": "t"}]'),
         r"documents\[0\] needs an integer 'doc_id'"),
        (lambda r: r["conversation"].pop(1), "needs 1 'documents' message"),
        (lambda r: r["conversation"][3].update(content="no ids"), "names no relevant_doc_ids"),
        (lambda r: r.update(type="weird"), "field 'type' is 'weird'"),
        (lambda r: r.update(conversation="text"), "field 'conversation' must be a list"),
    ],
)
def test_malformed_rows_name_file_line_and_field(tmp_path, mutate, fragment):
    bad = json.loads(json.dumps(ROWS[1]))
    mutate(bad)
    path = write(tmp_path / "bad.jsonl", [ROWS[0], bad])
    with pytest.raises(TaskDataError, match=rf"bad.jsonl:2: .*{fragment}"):
        load_task("rag").load("ru", str(path))


def test_unknown_task_option_is_a_usage_error(tmp_path, capsys):
    code = main(["run", "--tasks", "rag", "--task-option", "rag.colour=blue", "--output", str(tmp_path)])
    assert code == 2 and "has no option 'colour'" in capsys.readouterr().err
    code = main(["run", "--tasks", "rag", "--task-option", "rag.documents=inline", "--output", str(tmp_path)])
    assert code == 2 and "choose one of role, fold" in capsys.readouterr().err
