"""A run that never lies, end to end against a real OpenAI-compatible server on loopback (evalkit's fault stub):
failed items are errors, never wrong answers; a request that cannot succeed is not retried and names its fix;
a stored verdict is reused only for the identical judge request; the whole plan is checked before the first
request; a finished run is never silently replaced; the summary records what actually ran."""

import json
import socket

import pytest

from conftest import ROOT
from evalkit.cli import main
from evalkit.testing.openai_stub import OpenAIStub


def run(tmp_path, model, *extra, name="m"):
    return main(["run", "--model", model, "--output", str(tmp_path / "out"), "--name", name, "--no-progress",
                 "--cache-path", str(tmp_path / "cache.sqlite"), *extra])  # fmt: skip


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def summary(tmp_path, task="gsm8k", lang="ru", name="m"):
    return json.loads((tmp_path / "out" / name / task / lang / "summary.json").read_text(encoding="utf-8"))


def rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def gold_reply(messages):
    """The right answer to every bundled ru GSM8K item (read from the samples by the question text)."""
    samples = rows(ROOT / "tasks/gsm8k/samples/ru.jsonl")
    for sample in samples:
        if sample["question"] in messages[-1]["content"]:
            return f"Ответ: {sample['answer'].split('####')[-1].strip()}"
    return "Ответ: 0"


def test_a_server_that_fails_everything_gives_no_score_and_exit_3(tmp_path, capsys):
    with OpenAIStub(fault_fn=lambda key, index, attempt: "503") as stub:
        code = run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru", "--limit", "3",
                   "--max-retries", "1")
    out = capsys.readouterr()
    data = summary(tmp_path)
    assert code == 3
    assert data["status"] == "incomplete" and data["n"] == 3 and data["n_errors"] == 3 and data["error_rate"] == 1.0
    assert data["metrics"] == {}  # nothing answered: no number at all, not exact_match 0
    assert "3 x failed after 2 attempts: HTTP 503" in out.err and "incomplete" in out.err
    records = rows(tmp_path / "out/m/gsm8k/ru/samples.jsonl")
    assert all(r["error"] and r["scores"] == {} for r in records)


def test_metrics_are_over_answered_items_and_a_rerun_asks_exactly_the_failed_ones(tmp_path, capsys):
    failing, port = {0, 3, 6, 9}, free_port()
    with OpenAIStub(reply_fn=gold_reply, fault_fn=lambda k, index, a: "503" if index in failing else "ok",
                    port=port) as stub:  # fmt: skip
        code = run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru", "--max-retries", "0")
    data = summary(tmp_path)
    assert code == 3 and data["n"] == 12 and data["n_errors"] == 4
    assert data["metrics"]["exact_match"]["value"] == 1.0  # 8 answered, all right; the 4 failures are not "wrong"
    assert list(data["errors"].values()) == [4]
    with OpenAIStub(reply_fn=gold_reply, port=port) as stub:  # the same server, now healthy
        assert run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru") == 0
        assert stub.total_arrivals == 4  # the 8 answered items come from the cache
    data = summary(tmp_path)
    assert data["status"] == "complete" and data["n_errors"] == 0 and data["metrics"]["exact_match"]["value"] == 1.0


def test_max_error_rate_allows_a_share_of_failures(tmp_path):
    with OpenAIStub(reply_fn=gold_reply, fault_fn=lambda k, index, a: "503" if index == 0 else "ok") as stub:
        model = f"openai:m@{stub.base_url}"
        assert run(tmp_path, model, "--tasks", "gsm8k", "--langs", "ru", "--limit", "4", "--max-retries", "0",
                   "--max-error-rate", "0.25") == 0  # fmt: skip
        assert run(tmp_path, model, "--tasks", "gsm8k", "--langs", "ru", "--limit", "4", "--max-retries", "0",
                   "--max-error-rate", "0.2", "--no-cache") == 3  # fmt: skip


@pytest.mark.parametrize(("action", "fix"), [
    ("400ctx", "--max-tokens"), ("422", "not retried"), ("500validation", "rag.documents=fold"),
])  # fmt: skip
def test_a_request_that_cannot_succeed_is_not_retried_and_names_the_fix(tmp_path, capsys, action, fix):
    with OpenAIStub(fault_fn=lambda key, index, attempt: action) as stub:
        code = run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru", "--limit", "2")
        assert stub.total_arrivals == 2  # one attempt each
    err = capsys.readouterr().err
    assert code == 3 and "not retried" in err and fix in err


def arena_reply(messages, answer="Ответ модели"):
    """The model's answer, or, to a judge prompt, a verdict."""
    text = " ".join(m["content"] for m in messages)
    if "[[A>B]]" in text or "A>>B" in text:
        return "My final verdict is: [[A>B]]"
    shorter = messages[0]["role"] == "system"  # follows a system prompt, so its answer changes with one
    return answer + " слово" * (5 if shorter else 30)


def judge_calls(stub, since):
    bodies = stub.bodies
    return sum("[[A>B]]" in json.dumps(bodies[e["key"]], ensure_ascii=False) for e in stub.log[since:])


def test_a_stored_verdict_is_reused_only_for_the_identical_judge_request(tmp_path):
    port = free_port()
    common = ("--tasks", "arena_hard", "--langs", "ru", "--limit", "2", "--max-tokens-cap", "8")
    with OpenAIStub(reply_fn=arena_reply, port=port) as stub:
        model = f"openai:m@{stub.base_url}"
        assert run(tmp_path, model, "--judge", model, *common) == 0
        log = tmp_path / "out/m/arena_hard/ru/judgments.jsonl"
        first = rows(log)
        assert len(first) == 4 and judge_calls(stub, 0) == 4
        assert all(r["request_key"] and r["judge_messages"] and r["judge_config"] for r in first)
        since = len(stub.log)
        assert run(tmp_path, model, "--judge", model, *common, "--no-cache") == 0  # same answers: resumed
        assert judge_calls(stub, since) == 0
    # The same configuration, but the server now answers otherwise (new weights behind the same name):
    # every game is judged anew, and only the new verdicts count.
    with OpenAIStub(reply_fn=lambda m: arena_reply(m, "Другой ответ"), port=port) as stub:
        assert run(tmp_path, model, "--judge", model, *common, "--no-cache") == 0
        assert judge_calls(stub, 0) == 4
    assert len(rows(log)) == 8
    data = summary(tmp_path, "arena_hard")
    assert data["extra"]["judged_games"] == 4 and data["config"]["judge"] == model
    # Another configuration (make eval, then make eval-full): refused without --overwrite, judged anew with it.
    with OpenAIStub(reply_fn=arena_reply, port=port) as stub:
        assert run(tmp_path, model, "--judge", model, *common[:-1], "40", "--system-prompt", "Кратко.") == 2
        assert run(tmp_path, model, "--judge", model, *common[:-1], "40", "--system-prompt", "Кратко.",
                   "--overwrite") == 0  # fmt: skip
        assert judge_calls(stub, 0) == 4
    data = summary(tmp_path, "arena_hard")
    assert data["system_prompt"] == "Кратко." and data["config"]["generation_config"]["max_tokens"] == 40


def test_the_judge_mode_is_part_of_a_verdicts_key(tmp_path):
    with OpenAIStub(reply_fn=arena_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        common = ("--judge", model, "--tasks", "arena_hard", "--langs", "ru", "--limit", "1", "--overwrite")
        assert run(tmp_path, model, *common, "--judge-mode", "choice") == 0
        keys = {r["request_key"] for r in rows(tmp_path / "out/m/arena_hard/ru/judgments.jsonl")}
        since = len(stub.log)
        assert run(tmp_path, model, *common, "--judge-mode", "text") == 0
        assert judge_calls(stub, since) == 2
    data = summary(tmp_path, "arena_hard")
    assert data["config"]["judge_mode"] == "text" and data["extra"]["judge_mode"] == "text"
    new = {r["request_key"] for r in rows(tmp_path / "out/m/arena_hard/ru/judgments.jsonl")}
    assert keys.isdisjoint(new)  # --overwrite cleared the old run; nothing of it was reused


def test_a_finished_run_is_not_silently_replaced(tmp_path, capsys):
    with OpenAIStub(reply_fn=gold_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        assert run(tmp_path, model, "--tasks", "gsm8k", "--langs", "ru") == 0
        assert run(tmp_path, model, "--tasks", "gsm8k", "--langs", "ru", "--limit", "1") == 2
        assert "another configuration (data.limit: None -> 1)" in capsys.readouterr().err
        assert summary(tmp_path)["n"] == 12
        arrivals = stub.total_arrivals
        assert run(tmp_path, model, "--tasks", "gsm8k", "--langs", "ru", "--no-cache") == 0  # same config: resumes
        assert stub.total_arrivals == arrivals + 12
        assert run(tmp_path, model, "--tasks", "gsm8k", "--langs", "ru", "--limit", "1", "--overwrite") == 0
    assert summary(tmp_path)["n"] == 1


BAD_FLAGS = [
    (["--limit", "0"], "--limit 0"), (["--limit", "-1"], "--limit -1"), (["--samples", "0"], "--samples 0"),
    (["--concurrency", "0"], "--concurrency 0"), (["--timeout", "-1"], "--timeout -1.0"),
    (["--temperature", "-1"], "--temperature -1.0"), (["--top-p", "2"], "--top-p 2.0"),
    (["--tasks", ""], "--tasks: tasks must be a non-empty list"),
    (["--tasks", ","], "--tasks: tasks must be a non-empty list"), (["--tasks", "gsm8k,gsm8k"], "more than once"),
    (["--langs", "ru,ru"], "more than once"), (["--model", "local:smollm2"], "--model given 2 times"),
    (["--arena-method", "v2", "--task-option", "arena_hard.method=v0.1"], "given twice"),
    (["--plugins", "/nonexistent"], "no such folder"), (["--samples", "3", "--temperature", "0"], "identical"),
    (["--tasks", "gsm8k,rag", "--langs", "uk"], "rag/uk"), (["--tasks", "mbpp,rag", "--langs", "uk"], "mbpp/uk"),
    (["--max-error-rate", "2"], "--max-error-rate"),
]  # fmt: skip


@pytest.mark.parametrize(("flags", "named"), BAD_FLAGS)
def test_bad_flags_are_one_line_and_exit_2_before_any_request(tmp_path, capsys, flags, named):
    with OpenAIStub() as stub:
        base = ["--tasks", "gsm8k", "--langs", "ru"] if "--tasks" not in flags and "--langs" not in flags else []
        code = run(tmp_path, f"openai:m@{stub.base_url}", *base, *flags)
        assert stub.total_arrivals == 0
    err = capsys.readouterr().err
    assert code == 2 and named in err and len(err.strip().splitlines()) == 1, err


def test_a_data_file_takes_exactly_one_language(tmp_path, capsys):
    data = tmp_path / "mine.jsonl"
    data.write_bytes(b"\xef\xbb\xbf" + (ROOT / "tasks/gsm8k/samples/ru.jsonl").read_bytes())  # with a BOM
    with OpenAIStub(reply_fn=gold_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        assert run(tmp_path, model, "--tasks", "gsm8k", "--data", str(data)) == 2
        assert "--langs" in capsys.readouterr().err
        assert run(tmp_path, model, "--tasks", "gsm8k", "--data", str(data), "--langs", "ru") == 0
    assert [p.name for p in (tmp_path / "out/m/gsm8k").iterdir()] == ["ru"]


def test_unwritable_output_and_cache_are_refused_before_any_request(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with OpenAIStub() as stub:
        model = f"openai:m@{stub.base_url}"
        code = main(["run", "--model", model, "--tasks", "gsm8k", "--langs", "ru", "--output", str(blocker / "out")])
        assert code == 2 and "--output" in capsys.readouterr().err
        code = main(["run", "--model", model, "--tasks", "gsm8k", "--langs", "ru", "--output", str(tmp_path / "o"),
                     "--cache-path", str(blocker / "c.sqlite")])  # fmt: skip
        assert code == 2 and "--cache-path" in capsys.readouterr().err
        assert stub.total_arrivals == 0


def test_dry_run_prints_the_plan_and_folds_roles_the_backend_cannot_carry(tmp_path, capsys):
    assert main(["run", "--dry-run", "--tasks", "gsm8k,rag", "--langs", "ru", "--limit", "2", "--judge",
                 "local:smollm2", "--output", str(tmp_path)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "gsm8k/ru: 2 items, 2 model requests" in out
    assert "rag/ru: 2 items, 4 model requests, 2 judge requests" in out
    assert "rag.documents=fold" in out and "total: 2 runs" in out
    assert not any(tmp_path.iterdir())  # nothing started, nothing written
    code = main(["run", "--dry-run", "--tasks", "rag", "--langs", "ru", "--task-option", "rag.documents=role",
                 "--output", str(tmp_path)])  # fmt: skip
    assert code == 2 and "--task-option rag.documents=fold" in capsys.readouterr().err


def test_what_ran_is_recorded(tmp_path):
    def cut(key, index, attempt):
        return "length" if index == 0 else "ok"

    with OpenAIStub(reply_fn=gold_reply, fault_fn=cut) as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru", "--limit", "3",
                   "--system-prompt", "Думай по шагам.") == 0  # fmt: skip
    data = summary(tmp_path)
    assert data["n_truncated"] == 1 and data["system_prompt"] == "Думай по шагам."
    assert data["command"][:2] == ["evalkit", "run"] and "--system-prompt" in data["command"]
    assert data["versions"]["evalkit"] and data["versions"]["aiohttp"]
    records = rows(tmp_path / "out/m/gsm8k/ru/samples.jsonl")
    assert sorted(r["finish_reason"] for r in records) == ["length", "stop", "stop"]


def test_a_chat_template_the_server_ignores_is_refused(tmp_path, capsys):
    with OpenAIStub() as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru",
                   "--chat-template", "chatml") == 2  # fmt: skip
        assert stub.total_arrivals == 0
    assert "does not apply a chat template" in capsys.readouterr().err


def test_a_base_url_without_v1_and_an_unreachable_judge_are_named(tmp_path, capsys):
    with OpenAIStub() as stub:
        base = stub.base_url.removesuffix("/v1")
        assert run(tmp_path, f"openai:m@{base}", "--tasks", "gsm8k", "--langs", "ru") == 2
        assert "did you mean" in capsys.readouterr().err
        code = run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "arena_hard", "--langs", "ru",
                   "--judge", "openai:j@http://127.0.0.1:9/v1")  # fmt: skip
        assert stub.total_arrivals == 0
    assert code == 2 and "judge openai:j@http://127.0.0.1:9/v1: cannot reach" in capsys.readouterr().err
