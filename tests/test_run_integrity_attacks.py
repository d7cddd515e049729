"""White-box attacks on issue 24's claims (a run never lies): each test asserts the CORRECT behaviour; those that
found a bug were fixed in evalkit; each test now holds the behaviour it demanded.

Everything runs end to end against a server on loopback: evalkit's fault stub, or `RawServer` below, which
answers whatever bytes a test wants (the threat model: the server may return anything)."""

import json
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import ROOT
from evalkit.backends.modelspec import parse_model_string
from evalkit.cli import main
from evalkit.testing.openai_stub import OpenAIStub

# -- helpers ----------------------------------------------------------------------------------------------------


def run(tmp_path, model, *extra, name="m"):
    return main(["run", "--model", model, "--output", str(tmp_path / "out"), "--name", name, "--no-progress",
                 "--cache-path", str(tmp_path / "cache.sqlite"), *extra])  # fmt: skip


def summary(tmp_path, task="gsm8k", lang="ru", name="m"):
    return json.loads((tmp_path / "out" / name / task / lang / "summary.json").read_text(encoding="utf-8"))


def rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def cache_entries(tmp_path):
    path = tmp_path / "cache.sqlite"
    if not path.exists():
        return []
    with sqlite3.connect(str(path)) as db:
        return [json.loads(blob) for (blob,) in db.execute("SELECT completion FROM completions")]


GSM = rows(ROOT / "tasks/gsm8k/samples/ru.jsonl")


def gold_reply(messages):
    for sample in GSM:
        if sample["question"] in messages[-1]["content"]:
            return f"Ответ: {sample['answer'].split('####')[-1].strip()}"
    return "Ответ: 0"


def ok_body(content, finish_reason="stop", **extra_choice):
    return {"id": "x", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": finish_reason, **extra_choice}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 3}}  # fmt: skip


class RawServer:
    """A minimal OpenAI-compatible server whose chat answer is whatever `handler(body, index)` returns:
    (status, bytes or JSON-able object). GET /v1/models answers 200."""

    def __init__(self, handler):
        self.handler = handler
        self.bodies = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, payload):
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(200, {"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "raw"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with outer._lock:
                    index = len(outer.bodies)
                    outer.bodies.append(body)
                status, payload = outer.handler(body, index)
                self._send(status, payload)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that hung up (evalkit stopping the run) is not the test's business

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def is_arena_judge(messages):
    text = " ".join(m["content"] if isinstance(m["content"], str) else "" for m in messages)
    return "[[A>B]]" in text or "A>>B" in text


def arena_reply(messages, answer="Ответ модели"):
    if is_arena_judge(messages):
        return "My final verdict is: [[A>B]]"
    return answer + " слово" * 10


GSM_ARGS = ("--tasks", "gsm8k", "--langs", "ru")


# -- 1. a 200 whose body is not an answer -----------------------------------------------------------------------


def test_01_message_that_is_a_string_is_a_failed_item_not_a_crash(tmp_path, capsys):
    """`choices[0].message` is a string: a bad reply (an item error), not an evalkit crash (exit 1)."""
    bad = {"choices": [{"index": 0, "message": "Ответ: 5", "finish_reason": "stop"}]}
    with RawServer(lambda body, i: (200, bad)) as server:
        code = run(tmp_path, f"openai:m@{server.base_url}", *GSM_ARGS, "--limit", "2", "--max-retries", "0")
    assert code == 3, capsys.readouterr().err[-2000:]
    assert summary(tmp_path)["n_errors"] == 2


def test_02_usage_of_the_wrong_type_is_a_failed_item_not_a_crash(tmp_path, capsys):
    """`usage.prompt_tokens` is an object: the server's nonsense must not end the run with a traceback."""
    bad = {**ok_body("Ответ: 5"), "usage": {"prompt_tokens": {"n": 3}, "completion_tokens": 1}}
    with RawServer(lambda body, i: (200, bad)) as server:
        code = run(tmp_path, f"openai:m@{server.base_url}", *GSM_ARGS, "--limit", "2", "--max-retries", "0")
    assert code in (0, 3), capsys.readouterr().err[-2000:]


def test_03_content_that_is_not_a_string_is_never_cached_or_scored(tmp_path, capsys):
    """`content: 42` (a number, not text) is not an answer: never stored in the cache, never scored."""
    with RawServer(lambda body, i: (200, ok_body(42))) as server:
        code = run(tmp_path, f"openai:m@{server.base_url}", *GSM_ARGS, "--limit", "2", "--max-retries", "0")
    assert code == 3, capsys.readouterr().err[-1500:]
    assert cache_entries(tmp_path) == []  # a non-answer must not be replayed from the cache on the next run
    assert all(r["scores"] == {} and r["error"] for r in rows(tmp_path / "out/m/gsm8k/ru/samples.jsonl"))
    with OpenAIStub(reply_fn=gold_reply) as stub:  # another, healthy server (so --overwrite): it is asked both
        assert run(tmp_path, f"openai:m@{stub.base_url}", *GSM_ARGS, "--limit", "2", "--overwrite") == 0
        assert stub.total_arrivals == 2


def test_04_null_content_with_tool_calls_is_not_an_empty_answer(tmp_path, capsys):
    """`content: null` (with tool_calls) carries no answer: it must not be cached and scored as an empty reply."""
    tool = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    body = ok_body(None, "tool_calls")
    body["choices"][0]["message"]["tool_calls"] = tool
    with RawServer(lambda b, i: (200, body)) as server:
        code = run(tmp_path, f"openai:m@{server.base_url}", *GSM_ARGS, "--limit", "2", "--max-retries", "0")
    capsys.readouterr()
    data = summary(tmp_path)
    assert code == 3 and data["n_errors"] == 2 and data["metrics"].get("exact_match") is None
    assert cache_entries(tmp_path) == []


def test_05_empty_reply_is_a_wrong_answer_and_a_failed_one_is_not(tmp_path, capsys):
    """An empty 200 is an answer (wrong, counted in n_empty); a failed request is an error: they never mix."""
    with OpenAIStub(reply_fn=gold_reply,
                    fault_fn=lambda k, i, a: "empty" if i == 0 else "503" if i == 1 else "ok") as stub:  # fmt: skip
        code = run(tmp_path, f"openai:m@{stub.base_url}", *GSM_ARGS, "--limit", "4", "--max-retries", "0")
    capsys.readouterr()
    data = summary(tmp_path)
    assert code == 3 and data["n"] == 4 and data["n_errors"] == 1 and data["extra"]["n_empty"] == 1
    assert data["metrics"]["exact_match"]["value"] == pytest.approx(2 / 3)
    assert len(cache_entries(tmp_path)) == 3


def test_06_length_cut_reply_is_recorded_and_counted(tmp_path, capsys):
    """A 200 with finish_reason "length" is an answer (not an error) and is counted in n_truncated."""
    with OpenAIStub(reply_fn=gold_reply, fault_fn=lambda k, i, a: "length") as stub:
        code = run(tmp_path, f"openai:m@{stub.base_url}", *GSM_ARGS, "--limit", "2")
    capsys.readouterr()
    data = summary(tmp_path)
    assert code == 0 and data["n_truncated"] == 2 and data["n_errors"] == 0 and data["status"] == "complete"


# -- 2. error messages -----------------------------------------------------------------------------------------


def test_07_huge_non_utf8_error_body_stays_one_short_line(tmp_path, capsys):
    """A 503 with a 2 MB non-UTF-8 body: the error is recorded, short, and summary.json stays valid JSON."""
    junk = b"\xff\xfe" + b"\x80garbage\n" * 200_000
    with RawServer(lambda b, i: (503, junk)) as server:
        code = run(tmp_path, f"openai:m@{server.base_url}", *GSM_ARGS, "--limit", "1", "--max-retries", "0")
    err = capsys.readouterr().err
    data = summary(tmp_path)
    assert code == 3 and data["n_errors"] == 1
    assert all(len(text) < 1000 for text in data["errors"])
    assert len(err) < 5000


def test_08_a_transient_503_that_mentions_exceeds_is_retried(tmp_path, capsys):
    """A 503 'queue size exceeds the limit' is overload, not a context-length error: it must be retried
    (the second attempt succeeds)."""

    def handler(body, index):
        if index == 0:
            return 503, {"error": {"message": "Server busy: queue size exceeds the limit, try again later"}}
        return 200, ok_body(gold_reply(body["messages"]))

    with RawServer(handler) as server:
        code = run(tmp_path, f"openai:m@{server.base_url}", *GSM_ARGS, "--limit", "1", "--max-retries", "2")
    capsys.readouterr()
    assert code == 0 and summary(tmp_path)["n_errors"] == 0


def test_09_a_400_is_not_retried_and_a_404_stops_with_its_cause(tmp_path, capsys):
    with OpenAIStub(fault_fn=lambda k, i, a: "400ctx") as stub:
        code = run(tmp_path, f"openai:m@{stub.base_url}", *GSM_ARGS, "--limit", "3", "--max-retries", "5")
        assert stub.total_arrivals == 3
    assert code == 3 and "--max-tokens" in capsys.readouterr().err
    with RawServer(lambda b, i: (404, {"error": {"message": "model 'm' not found"}})) as server:
        code = run(tmp_path, f"openai:m@{server.base_url}", *GSM_ARGS, "--limit", "3", "--max-retries", "5",
                   name="n")  # fmt: skip
        assert len(server.bodies) <= 3
    err = capsys.readouterr().err
    assert code == 2 and "not found" in err and "internal error" not in err


# -- 3. multi-step items and replicas -----------------------------------------------------------------------


def test_10_rag_step_two_failing_is_an_error_and_a_rerun_asks_only_step_two(tmp_path, capsys):
    port_holder = {}

    def fault(key, index, attempt):
        body = port_holder["stub"].bodies[key]
        return "503" if any(m["role"] == "assistant" for m in body["messages"]) else "ok"

    stub = OpenAIStub(fault_fn=fault)
    port_holder["stub"] = stub
    with stub:
        code = run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "rag", "--langs", "ru", "--limit", "2",
                   "--max-retries", "0")  # fmt: skip
        port = stub.port
    capsys.readouterr()
    data = summary(tmp_path, "rag")
    assert code == 3 and data["n_errors"] == 2 and data["metrics"] == {}
    with OpenAIStub(port=port) as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "rag", "--langs", "ru", "--limit", "2") == 0
        assert stub.total_arrivals == 2  # only the two step-2 requests
    assert summary(tmp_path, "rag")["status"] == "complete"


def test_11_one_failed_replica_makes_the_item_an_error_and_a_rerun_asks_only_it(tmp_path, capsys):
    holder = {}

    def fault(key, index, attempt):
        return "503" if holder["stub"].bodies[key].get("seed") == 8 else "ok"

    stub = OpenAIStub(reply_fn=gold_reply, fault_fn=fault)
    holder["stub"] = stub
    common = (*GSM_ARGS, "--limit", "2", "--samples", "2", "--seed", "7", "--temperature", "0.5")
    with stub:
        code = run(tmp_path, f"openai:m@{stub.base_url}", *common, "--max-retries", "0")
        port = stub.port
    capsys.readouterr()
    data = summary(tmp_path)
    assert code == 3 and data["n"] == 2 and data["n_errors"] == 2 and data["metrics"] == {}
    with OpenAIStub(reply_fn=gold_reply, port=port) as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", *common) == 0
        assert stub.total_arrivals == 2
    data = summary(tmp_path)
    assert data["status"] == "complete" and data["metrics"]["exact_match"]["value"] == 1.0


# -- 4. judge failures -----------------------------------------------------------------------------------------


def test_12_a_failed_rag_judge_request_is_an_error_not_silence(tmp_path, capsys):
    """The rag judge answers 503 to everything: accuracy cannot be computed, so the run is incomplete (exit 3)."""
    holder = {}

    def fault(key, index, attempt):
        messages = holder["stub"].bodies[key]["messages"]
        return "503" if len(messages) == 1 else "ok"  # the judge's prompt is one user message

    stub = OpenAIStub(fault_fn=fault)
    holder["stub"] = stub
    with stub:
        model = f"openai:m@{stub.base_url}"
        code = run(tmp_path, model, "--tasks", "rag", "--langs", "ru", "--limit", "2", "--judge", model,
                   "--max-retries", "0")  # fmt: skip
    capsys.readouterr()
    data = summary(tmp_path, "rag")
    assert data["status"] == "incomplete" and data["n_errors"] == 2
    assert code == 3


def test_13_arena_judge_failures_are_counted_per_item(tmp_path, capsys):
    holder = {}

    def fault(key, index, attempt):
        return "503" if is_arena_judge(holder["stub"].bodies[key]["messages"]) else "ok"

    stub = OpenAIStub(reply_fn=arena_reply, fault_fn=fault)
    holder["stub"] = stub
    with stub:
        model = f"openai:m@{stub.base_url}"
        code = run(tmp_path, model, "--tasks", "arena_hard", "--langs", "ru", "--limit", "1", "--judge", model,
                   "--max-retries", "0")  # fmt: skip
    capsys.readouterr()
    data = summary(tmp_path, "arena_hard")
    assert code == 3 and data["status"] == "incomplete"
    assert data["n"] == 1 and data["n_errors"] <= data["n"] and 0 <= data["error_rate"] <= 1


def test_14_failed_answers_of_a_judged_benchmark_without_judge_exit_3(tmp_path, capsys):
    with OpenAIStub(fault_fn=lambda k, i, a: "503") as stub:
        code = run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "arena_hard", "--langs", "ru", "--limit", "2",
                   "--max-retries", "0")  # fmt: skip
    err = capsys.readouterr().err
    assert code == 3 and "failed" in err


def test_15_a_reference_whose_answers_failed_is_not_judged_as_empty(tmp_path, capsys):
    """Model X's run (no judge) failed on one question; X is then the reference of model Y. The failed answer is
    not an (empty) answer: Y must not be judged against it."""
    with OpenAIStub(reply_fn=arena_reply, fault_fn=lambda k, i, a: "503" if i == 0 else "ok") as stub:
        reference = f"openai:x@{stub.base_url}"
        slug = parse_model_string(reference).slug
        run(tmp_path, reference, "--tasks", "arena_hard", "--langs", "ru", "--limit", "2", "--max-retries", "0",
            name=slug)  # fmt: skip
        failed = [r for r in rows(tmp_path / "out" / slug / "arena_hard/ru/answers.jsonl") if r["error"]]
        assert len(failed) == 1
    with OpenAIStub(reply_fn=arena_reply) as stub:
        model = f"openai:y@{stub.base_url}"
        code = run(tmp_path, model, "--tasks", "arena_hard", "--langs", "ru", "--limit", "2", "--judge", model,
                   "--reference", reference)  # fmt: skip
        judged_empty = [b for b in stub.bodies.values() if is_arena_judge(b["messages"])
                        and "Answer|>\n\n<|The End of Assistant" in b["messages"][-1]["content"]]  # fmt: skip
    capsys.readouterr()
    assert not judged_empty  # the judge was never shown the failed reference answer as an empty one
    assert code == 2 or summary(tmp_path, "arena_hard")["status"] == "incomplete"


def test_16_choice_judge_with_garbage_logprobs_is_a_judge_failure_not_a_crash(tmp_path, capsys):
    def handler(body, index):
        if body.get("logprobs"):  # the choice-mode judge request
            reply = ok_body(
                "A",
                logprobs={
                    "content": [{"token": "A", "logprob": -0.1, "top_logprobs": [{"token": "A", "logprob": [1]}]}]
                },
            )
            return 200, reply
        return 200, ok_body(arena_reply(body["messages"]))

    with RawServer(handler) as server:
        model = f"openai:m@{server.base_url}"
        code = run(tmp_path, model, "--tasks", "arena_hard", "--langs", "ru", "--limit", "1", "--judge", model,
                   "--judge-mode", "choice", "--max-retries", "0")  # fmt: skip
    err = capsys.readouterr().err
    assert code in (0, 3) and "internal error" not in err


# -- 5. verdict keys ------------------------------------------------------------------------------------------------


def test_17_two_questions_with_the_same_judge_request_both_count(tmp_path, capsys):
    data_file = tmp_path / "arena.jsonl"
    prompt = "Объясни, почему небо голубое."
    data_file.write_text("".join(json.dumps({"question_id": f"q{i}", "category": "arena-hard-v0.1",
                                             "turns": [{"content": prompt}]}, ensure_ascii=False) + "\n"
                                 for i in range(2)), encoding="utf-8")  # fmt: skip
    answers = tmp_path / "ref.jsonl"
    answers.write_text("".join(json.dumps({"question_id": f"q{i}", "choices": [{"index": 0, "turns": ["Рэлей."]}]},
                                          ensure_ascii=False) + "\n" for i in range(2)), encoding="utf-8")  # fmt: skip
    with OpenAIStub(reply_fn=arena_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        code = run(tmp_path, model, "--tasks", "arena_hard", "--langs", "ru", "--data", str(data_file), "--judge",
                   model, "--reference", "ref", "--reference-answers", f"ref={answers}")  # fmt: skip
    assert code == 0, capsys.readouterr().err[-3000:]
    data = summary(tmp_path, "arena_hard")
    assert data["n"] == 2 and data["extra"]["judged_games"] == 4


def test_18_hand_edited_judgment_lines_of_another_request_never_count(tmp_path, capsys):
    """judgments.jsonl gets lines of another configuration (other answers) and a line whose verdict was edited
    while keeping a key of no current game: none of them count, the current games are judged."""
    with OpenAIStub(reply_fn=arena_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        common = ("--tasks", "arena_hard", "--langs", "ru", "--limit", "1", "--judge", model)
        assert run(tmp_path, model, *common) == 0
        log = tmp_path / "out/m/arena_hard/ru/judgments.jsonl"
        first = rows(log)
        forged = [{**r, "request_key": "0" * 64, "verdict": "B>>A", "score": 0} for r in first]
        log.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in forged), encoding="utf-8")
        since = len(stub.log)
        assert run(tmp_path, model, *common) == 0
        judge_requests = sum(is_arena_judge(stub.bodies[e["key"]]["messages"]) for e in stub.log[since:])
    capsys.readouterr()
    assert judge_requests == 0 or judge_requests == 2  # from the cache or asked again, but judged
    data = summary(tmp_path, "arena_hard")
    assert data["extra"]["judged_games"] == 2
    assert all(r["request_key"] != "0" * 64 for r in rows(log)[-2:])


# -- 6. exit codes and --max-error-rate ------------------------------------------------------------------------


def test_19_max_error_rate_nan_is_refused(tmp_path, capsys):
    with OpenAIStub(fault_fn=lambda k, i, a: "503") as stub:
        code = run(tmp_path, f"openai:m@{stub.base_url}", *GSM_ARGS, "--limit", "2", "--max-retries", "0",
                   "--max-error-rate", "nan")  # fmt: skip
        arrivals = stub.total_arrivals
    assert code == 2 and arrivals == 0 and "--max-error-rate" in capsys.readouterr().err


def test_20_max_error_rate_edges(tmp_path, capsys):
    """1 of 2 failed: 0.5 allows it (the share does not exceed it), 0.49 does not; 1.0 allows everything."""
    with OpenAIStub(reply_fn=gold_reply, fault_fn=lambda k, i, a: "503" if i == 0 else "ok") as stub:
        model = f"openai:m@{stub.base_url}"
        base = (*GSM_ARGS, "--limit", "2", "--max-retries", "0", "--no-cache")
        assert run(tmp_path, model, *base, "--max-error-rate", "0.5") == 0
        assert run(tmp_path, model, *base, "--max-error-rate", "0.49") == 3
        assert run(tmp_path, model, *base, "--max-error-rate", "0") == 3
    with OpenAIStub(fault_fn=lambda k, i, a: "503") as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", *base, "--max-error-rate", "1", name="all") == 0
    capsys.readouterr()
    assert summary(tmp_path, name="all")["status"] == "incomplete"


def test_21_a_task_over_the_error_rate_is_not_hidden_by_another(tmp_path, capsys):
    """gsm8k/ru: 2 of 12 items failed (17%); mmlu_pro/ru: 12 of 12 answered. The run's pooled share is 2/24 < 0.1,
    but a published summary has error_rate 0.17 > --max-error-rate 0.1: the run must not exit 0."""
    questions = [sample["question"][:40] for sample in GSM[:2]]

    def fault(key, index, attempt):
        content = holder["stub"].bodies[key]["messages"][-1]["content"]
        return "503" if any(q in content for q in questions) else "ok"

    holder = {}
    stub = OpenAIStub(reply_fn=gold_reply, fault_fn=fault)
    holder["stub"] = stub
    with stub:
        code = run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "gsm8k,mmlu_pro", "--langs", "ru",
                   "--max-retries", "0", "--max-error-rate", "0.1", "--limit", "12")  # fmt: skip
    capsys.readouterr()
    assert summary(tmp_path)["n_errors"] == 2 and summary(tmp_path, "mmlu_pro")["n_errors"] == 0
    assert code == 3  # gsm8k/ru: 2 of 12 failed, above 0.1


# -- 7. resume / overwrite -------------------------------------------------------------------------------------


def test_22_a_changed_data_file_is_another_configuration(tmp_path, capsys):
    data = tmp_path / "mine.jsonl"
    source = (ROOT / "tasks/gsm8k/samples/ru.jsonl").read_text(encoding="utf-8").splitlines()
    data.write_text("\n".join(source[:3]) + "\n", encoding="utf-8")
    with OpenAIStub(reply_fn=gold_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        assert run(tmp_path, model, "--tasks", "gsm8k", "--langs", "ru", "--data", str(data)) == 0
        data.write_text(source[5] + "\n", encoding="utf-8")  # another file under the same path
        code = run(tmp_path, model, "--tasks", "gsm8k", "--langs", "ru", "--data", str(data))
    capsys.readouterr()
    assert code == 2 and summary(tmp_path)["n"] == 3


def test_23_interrupted_judged_run_with_other_config_resumes_cleanly(tmp_path, capsys):
    """A judged run killed after its judgments but before summary.json (no summary: no config to compare),
    then run with another configuration: the old verdicts must not count."""
    with OpenAIStub(reply_fn=arena_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        common = ("--tasks", "arena_hard", "--langs", "ru", "--limit", "2", "--judge", model)
        assert run(tmp_path, model, *common, "--max-tokens-cap", "8") == 0
        (tmp_path / "out/m/arena_hard/ru/summary.json").unlink()  # the kill
        since = len(stub.log)
        assert run(tmp_path, model, *common, "--system-prompt", "Кратко.") == 0
        judged = sum(is_arena_judge(stub.bodies[e["key"]]["messages"]) for e in stub.log[since:])
    capsys.readouterr()
    data = summary(tmp_path, "arena_hard")
    assert data["system_prompt"] == "Кратко." and data["extra"]["judged_games"] == 4
    # The answers changed (a system prompt is sent) so every game is judged again (or found in the cache).
    assert judged in (0, 4)


def test_24_lm_eval_rerun_with_another_config_is_refused(tmp_path, capsys, monkeypatch):
    """A finished lm_eval: run (here without a recorded config, as the bridge writes it) under the name: a rerun
    with --limit 2 must be refused like a native one (exit 2, nothing sent), not silently replace it."""
    pytest.importorskip("lm_eval")
    monkeypatch.chdir(ROOT)
    include = str(ROOT / "tests" / "lm_eval_tasks")
    folder = tmp_path / "s" / "lm_eval__evalkit_tiny_gen_ru" / "ru"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(
        json.dumps(
            {
                "task": "lm_eval:evalkit_tiny_gen_ru",
                "n": 6,
                "n_errors": 0,
                "metrics": {"exact_match/last-number": {"value": 1.0}},
            }
        )
    )
    with OpenAIStub(reply_fn=lambda m: "5") as stub:
        code = main(["run", "--model", f"openai:m@{stub.base_url}", "--tasks", "lm_eval:evalkit_tiny_gen_ru",
                     "--lm-eval-include", include, "--no-cache", "--output", str(tmp_path), "--name", "s",
                     "--no-progress", "--limit", "2"])  # fmt: skip
        arrivals = stub.total_arrivals
    capsys.readouterr()
    assert code == 2 and arrivals == 0
    assert json.loads((folder / "summary.json").read_text(encoding="utf-8"))["n"] == 6


def test_25_lm_eval_failed_requests_are_named_errors_not_a_crash(tmp_path, capsys, monkeypatch):
    """lm-eval's requests get a 400 context-length error: one named error (exit 2 or 3), not a traceback
    calling itself a bug in evalkit (exit 1), and never a score."""
    pytest.importorskip("lm_eval")
    monkeypatch.chdir(ROOT)
    include = str(ROOT / "tests" / "lm_eval_tasks")
    with OpenAIStub(fault_fn=lambda k, i, a: "400ctx") as stub:  # in a subprocess: lm-eval's failure leaves this
        done = subprocess.run([sys.executable, "-m", "evalkit", "run", "--model", f"openai:m@{stub.base_url}",
                               "--tasks", "lm_eval:evalkit_tiny_gen_ru", "--lm-eval-include", include, "--no-cache",
                               "--output", str(tmp_path), "--name", "s", "--no-progress", "--limit", "2",
                               "--max-retries", "0"],
                              capture_output=True, text=True, timeout=120, cwd=ROOT)  # fmt: skip
    code, err = done.returncode, done.stderr  # interpreter unable to parse source (CPython 3.11 AST SystemError)
    assert code in (2, 3) and "internal error" not in err, err[-1500:]
    path = tmp_path / "s" / "lm_eval__evalkit_tiny_gen_ru" / "ru" / "summary.json"
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["status"] == "incomplete" and data["metrics"].get("exact_match/last-number") is None


# -- 8. the plan check --------------------------------------------------------------------------------------------


def test_26_a_cache_path_that_is_not_a_database_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "cache.sqlite").write_bytes(b"this is not a database" * 100)
    with OpenAIStub() as stub:
        code = run(tmp_path, f"openai:m@{stub.base_url}", *GSM_ARGS, "--limit", "1")
        arrivals = stub.total_arrivals
    err = capsys.readouterr().err
    assert code == 2 and arrivals == 0 and len(err.strip().splitlines()) == 1, err


def test_27_plan_refusals_send_nothing(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = [
        ("--tasks", "gsm8k", "--langs", "xx"),
        ("--tasks", "gsm8k", "--langs", "ru", "--plugins", str(blocker)),
        ("--tasks", "gsm8k", "--langs", "ru", "--cache-path", str(tmp_path)),
        ("--tasks", "gsm8k", "--langs", "ru", "--max-error-rate", "-0.1"),
        ("--tasks", "gsm8k", "--langs", "ru", "--max-tokens", "0"),
        ("--tasks", "nope", "--langs", "ru"),
        ("--tasks", "gsm8k", "--langs", "ru", "--max-tokens-cap", "0"),
    ]
    with OpenAIStub() as stub:
        for extra in cases:
            code = main(["run", "--model", f"openai:m@{stub.base_url}", "--output", str(tmp_path / "o"),
                         "--no-progress", *extra])  # fmt: skip
            err = capsys.readouterr().err
            assert code == 2 and len(err.strip().splitlines()) == 1, (extra, err)
        assert stub.total_arrivals == 0


def test_28_nan_flags_are_refused_before_any_request(tmp_path, capsys):
    with OpenAIStub() as stub:
        for flag in ("--temperature", "--top-p", "--timeout"):
            code = run(tmp_path, f"openai:m@{stub.base_url}", *GSM_ARGS, "--limit", "1", flag, "nan", "--no-cache")
            assert code == 2, flag
        assert stub.total_arrivals == 0


# -- 9. gate / trend / leaderboard read what the runner wrote ------------------------------------------------


def test_29_gate_and_trend_refuse_a_judged_run_with_judge_failures(tmp_path, capsys):
    holder = {}

    def fault(key, index, attempt):
        return "503" if is_arena_judge(holder["stub"].bodies[key]["messages"]) and index % 2 else "ok"

    stub = OpenAIStub(reply_fn=arena_reply, fault_fn=fault)
    holder["stub"] = stub
    with stub:
        model = f"openai:m@{stub.base_url}"
        run(tmp_path, model, "--tasks", "arena_hard", "--langs", "ru", "--limit", "2", "--judge", model,
            "--max-retries", "0", name="b")  # fmt: skip
        run(tmp_path, model, "--tasks", "arena_hard", "--langs", "ru", "--limit", "2", "--judge", model,
            "--max-retries", "0", "--no-cache", name="c")  # fmt: skip
    capsys.readouterr()
    assert summary(tmp_path, "arena_hard", name="c")["status"] == "incomplete"
    out = tmp_path / "out"
    assert main(["gate", "--baseline", str(out / "b"), "--candidate", str(out / "c")]) == 2
    assert main(["trend", str(out / "b"), str(out / "c")]) == 2


def test_30_leaderboard_marks_a_run_whose_every_item_failed(tmp_path, capsys):
    with OpenAIStub(reply_fn=gold_reply) as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", *GSM_ARGS, "--limit", "2", name="good") == 0
    with OpenAIStub(fault_fn=lambda k, i, a: "503") as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", *GSM_ARGS, "--limit", "2", "--max-retries", "0",
                   name="dead") == 3  # fmt: skip
    capsys.readouterr()
    assert main(["leaderboard", "--results", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "leaderboard.md").read_text(encoding="utf-8")
    dead = [line for line in text.splitlines() if line.startswith("| dead ")]
    assert dead, text  # the failed model is listed, not dropped
    assert "⚠" in dead[0] and "2 of 2 items failed" in text, text


# -- 10. more judged-flow attacks ------------------------------------------------------------------------------


def test_31_a_question_whose_answers_are_equal_keeps_both_games(tmp_path, capsys):
    answer = arena_reply([{"role": "user", "content": "?"}])
    ref = tmp_path / "ref.jsonl"
    samples = rows(ROOT / "judges/arena_hard/samples/ru.jsonl")[:2]
    ref.write_text("".join(json.dumps({"question_id": s["question_id"], "choices": [{"index": 0, "turns": [answer]}]},
                                      ensure_ascii=False) + "\n" for s in samples), encoding="utf-8")  # fmt: skip
    with OpenAIStub(reply_fn=arena_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        code = run(tmp_path, model, "--tasks", "arena_hard", "--langs", "ru", "--limit", "2", "--judge", model,
                   "--reference", "ref", "--reference-answers", f"ref={ref}")  # fmt: skip
    assert code == 0, capsys.readouterr().err[-2000:]
    assert len(rows(tmp_path / "out/m/arena_hard/ru/judgments.jsonl")) == 4  # 4 verdicts were written ...
    assert summary(tmp_path, "arena_hard")["extra"]["judged_games"] == 4  # ... and all 4 must count


def is_mt_judge(messages):
    return any("[[" in m["content"] for m in messages if m["role"] == "system")


def mt_reply(messages):
    return "Оценка: [[8]]" if is_mt_judge(messages) else "Ответ на вопрос."


def test_32_mt_bench_turn_two_failing_is_an_error_and_a_rerun_asks_only_it(tmp_path, capsys):
    holder = {}

    def fault(key, index, attempt):
        messages = holder["stub"].bodies[key]["messages"]
        return "503" if not is_mt_judge(messages) and any(m["role"] == "assistant" for m in messages) else "ok"

    stub = OpenAIStub(reply_fn=mt_reply, fault_fn=fault)
    holder["stub"] = stub
    with stub:
        model = f"openai:m@{stub.base_url}"
        common = ("--tasks", "mt_bench", "--langs", "ru", "--limit", "1", "--judge", model)
        code = run(tmp_path, model, *common, "--max-retries", "0")
        port = stub.port
    capsys.readouterr()
    data = summary(tmp_path, "mt_bench")
    assert code == 3 and data["status"] == "incomplete" and data["n_errors"] == 1
    assert not any(k in data["metrics"] for k in ("score", "turn1", "turn2"))
    with OpenAIStub(reply_fn=mt_reply, port=port) as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", *common) == 0
        model_requests = [b for b in stub.bodies.values() if not is_mt_judge(b["messages"])]
        assert len(model_requests) == 1  # only turn 2; turn 1 comes from the cache
    assert summary(tmp_path, "mt_bench")["status"] == "complete"


def test_33_the_same_item_id_twice_is_refused_before_any_request(tmp_path, capsys):
    data_file = tmp_path / "arena.jsonl"
    data_file.write_text("".join(json.dumps({"question_id": "q", "category": "arena-hard-v0.1",
                                             "turns": [{"content": f"Вопрос {i}"}]}, ensure_ascii=False) + "\n"
                                 for i in range(2)), encoding="utf-8")  # fmt: skip
    with OpenAIStub(reply_fn=arena_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        code = run(tmp_path, model, "--tasks", "arena_hard", "--langs", "ru", "--data", str(data_file))
        assert stub.total_arrivals == 0
    err = capsys.readouterr().err
    assert code == 2 and "duplicate" in err and len(err.strip().splitlines()) == 1


def test_34_failed_judge_games_are_asked_again_and_only_they(tmp_path, capsys):
    holder, port = {}, None

    def fault(key, index, attempt):
        return "503" if is_arena_judge(holder["stub"].bodies[key]["messages"]) else "ok"

    stub = OpenAIStub(reply_fn=arena_reply, fault_fn=fault)
    holder["stub"] = stub
    with stub:
        model = f"openai:m@{stub.base_url}"
        common = ("--tasks", "arena_hard", "--langs", "ru", "--limit", "2", "--judge", model)
        assert run(tmp_path, model, *common, "--max-retries", "0") == 3
        port = stub.port
    data = summary(tmp_path, "arena_hard")
    assert data["status"] == "incomplete" and data["metrics"] == {}
    with OpenAIStub(reply_fn=arena_reply, port=port) as stub:
        assert run(tmp_path, model, *common) == 0
        assert stub.total_arrivals == 4  # the 4 games; the 2 answers come from the cache
    capsys.readouterr()
    data = summary(tmp_path, "arena_hard")
    assert data["status"] == "complete" and data["extra"]["judged_games"] == 4


def test_35_a_summary_written_with_errors_is_refused_by_gate_and_trend_and_allowed_with_the_flag(tmp_path, capsys):
    with OpenAIStub(reply_fn=gold_reply) as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", *GSM_ARGS, name="base") == 0
    with OpenAIStub(reply_fn=gold_reply, fault_fn=lambda k, i, a: "503" if i < 3 else "ok") as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", *GSM_ARGS, "--max-retries", "0", "--no-cache",
                   name="cand") == 3  # fmt: skip
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["gate", "--baseline", str(out / "base"), "--candidate", str(out / "cand")]) == 2
    assert "incomplete" in capsys.readouterr().err
    assert main(["gate", "--baseline", str(out / "base"), "--candidate", str(out / "cand"), "--allow-errors",
                 "--rounds", "200"]) in (0, 1)  # fmt: skip
    assert main(["trend", str(out / "base"), str(out / "cand"), "--output", str(tmp_path / "t")]) == 2


# -- 11. late additions -------------------------------------------------------------------------------------------


def test_36_an_unwritable_results_folder_is_refused_before_any_request(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "m").write_text("a file where the run's folder must go")
    with OpenAIStub(reply_fn=gold_reply) as stub:
        code = run(tmp_path, f"openai:m@{stub.base_url}", *GSM_ARGS, "--limit", "2")
        arrivals = stub.total_arrivals
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert arrivals == 0


def is_alpaca_judge(messages):
    return any("Модель M:" in m["content"] for m in messages)


def test_37_alpaca_eval_failed_answer_is_an_error_not_a_loss(tmp_path, capsys):
    holder = {}

    def fault(key, index, attempt):
        messages = holder["stub"].bodies[key]["messages"]
        return "503" if not is_alpaca_judge(messages) and index == 0 else "ok"

    stub = OpenAIStub(reply_fn=lambda m: "m" if is_alpaca_judge(m) else "Ответ " * 20, fault_fn=fault)
    holder["stub"] = stub
    with stub:
        model = f"openai:m@{stub.base_url}"
        code = run(tmp_path, model, "--tasks", "alpaca_eval", "--langs", "ru", "--limit", "3", "--judge", model,
                   "--max-retries", "0")  # fmt: skip
        judged = [b for b in stub.bodies.values() if is_alpaca_judge(b["messages"])]
    capsys.readouterr()
    data = summary(tmp_path, "alpaca_eval")
    assert code == 3 and data["status"] == "incomplete" and data["n"] == 3 and data["n_errors"] == 1
    assert len(judged) == 2  # the failed answer was never shown to the judge


def test_38_leaderboard_marks_an_incomplete_judged_cell(tmp_path, capsys):
    holder = {}

    def fault(key, index, attempt):
        return "503" if is_arena_judge(holder["stub"].bodies[key]["messages"]) and index % 3 == 1 else "ok"

    stub = OpenAIStub(reply_fn=arena_reply, fault_fn=fault)
    holder["stub"] = stub
    with stub:
        model = f"openai:m@{stub.base_url}"
        code = run(tmp_path, model, "--tasks", "arena_hard", "--langs", "ru", "--limit", "3", "--judge", model,
                   "--max-retries", "0")  # fmt: skip
    capsys.readouterr()
    data = summary(tmp_path, "arena_hard")
    assert code == 3 and data["status"] == "incomplete" and data["metrics"]
    assert main(["leaderboard", "--results", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "leaderboard.md").read_text(encoding="utf-8")
    assert "⚠" in text and "failed" in text, text


def test_39_judged_replicas_that_fail_are_one_failed_item(tmp_path, capsys):
    with OpenAIStub(reply_fn=arena_reply, fault_fn=lambda k, i, a: "503") as stub:
        model = f"openai:m@{stub.base_url}"
        code = run(tmp_path, model, "--tasks", "arena_hard", "--langs", "ru", "--limit", "1", "--samples", "2",
                   "--judge", model, "--max-retries", "0")  # fmt: skip
    err = capsys.readouterr().err
    data = summary(tmp_path, "arena_hard")
    assert code == 3 and data["n"] == 1
    assert data["n_errors"] == 1 and data["error_rate"] == 1.0 and "2/1" not in err
