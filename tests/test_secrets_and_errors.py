"""No API key in any record, cache, summary or message, on every error path; user errors are one line, bugs are
tracebacks."""

import json
import secrets
import socket

import pytest

from evalkit.cli import main
from evalkit.testing.openai_stub import OpenAIStub


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def files_under(root):
    return [p for p in root.rglob("*") if p.is_file()]


def test_canary_keys_never_leave_the_process(tmp_path, capsys, monkeypatch):
    canary = f"sk-canary-{secrets.token_hex(12)}"
    other = f"tok-canary-{secrets.token_hex(12)}"
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    monkeypatch.setenv("HF_TOKEN", other)
    out, cache = tmp_path / "out", tmp_path / "cache.sqlite"

    def echo_auth_on_some(key, index, attempt):
        return "echoauth" if index % 2 == 0 else "ok"

    codes = []
    with OpenAIStub(fault_fn=echo_auth_on_some) as stub:  # 500 whose text repeats the Authorization header
        model = f"openai:m@{stub.base_url}"
        codes.append(main(["run", "--model", model, "--tasks", "gsm8k", "--langs", "ru", "--limit", "4", "--output",
                           str(out), "--cache-path", str(cache), "--no-progress", "--max-retries", "1"]))
        # the judge fails the same way on its games
        codes.append(main(["run", "--model", model, "--judge", model, "--tasks", "arena_hard", "--langs", "ru",
                           "--limit", "2", "--output", str(out), "--cache-path", str(cache), "--no-progress",
                           "--max-retries", "1", "--bootstrap-rounds", "10"]))
    with OpenAIStub(api_key="right") as stub:  # 401
        codes.append(main(["run", "--model", f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru",
                           "--output", str(out), "--cache-path", str(cache), "--no-progress"]))
    closed = f"openai:m@http://127.0.0.1:{free_port()}/v1"  # refused connection
    codes.append(main(["run", "--model", closed, "--tasks", "gsm8k", "--langs", "ru", "--output", str(out),
                       "--no-progress"]))
    plugins = tmp_path / "plugins" / "broken"
    plugins.mkdir(parents=True)
    (plugins / "task.py").write_text(f"KEY = '{canary}'\ndef oops(:\n")
    codes.append(main(["run", "--plugins", str(tmp_path / "plugins"), "--tasks", "broken", "--output", str(out)]))
    printed = capsys.readouterr()
    assert codes[:2] == [3, 3] and codes[2:] == [2, 2, 2]  # 3: items failed (not scored), 2: the run could not start
    errors = [json.loads(line)["error"] for p in out.rglob("samples.jsonl") for line in p.read_text().splitlines()]
    assert any(e and "***" in e for e in errors)  # the echoed header is there, its key replaced
    for path in [*files_under(out), cache]:
        data = path.read_bytes()
        assert canary.encode() not in data and other.encode() not in data, path
    assert canary not in printed.out + printed.err and other not in printed.out + printed.err


def test_a_plugin_with_a_syntax_error_is_one_line_naming_file_and_line(tmp_path, capsys):
    folder = tmp_path / "plugins" / "broken"
    folder.mkdir(parents=True)
    (folder / "task.py").write_text("x = 1\ndef oops(:\n    pass\n")
    assert main(["run", "--plugins", str(tmp_path / "plugins"), "--tasks", "broken", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{folder / 'task.py'}:2: syntax error" in err[0]


def test_a_server_address_without_a_scheme_is_named(tmp_path, capsys):
    assert main(["run", "--model", "openai:m@127.0.0.1:8000/v1", "--tasks", "gsm8k", "--output", str(tmp_path)]) == 2
    assert "has no scheme; write openai:m@http://127.0.0.1:8000/v1" in capsys.readouterr().err


def test_a_bug_inside_evalkit_shows_its_traceback_not_a_user_error(tmp_path, capsys, monkeypatch):
    import evalkit.run.launch

    def broken(*args, **kwargs):
        raise ValueError("an internal inconsistency")

    monkeypatch.setattr(evalkit.run.launch, "prepare_run", broken)
    assert main(["run", "--tasks", "gsm8k", "--langs", "ru", "--output", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ValueError: an internal inconsistency" in err and "internal error" in err


def test_a_summary_with_a_non_number_is_named_and_skipped(tmp_path, capsys):
    for model, value in (("good", 0.5), ("bad", "abc")):
        folder = tmp_path / model / "gsm8k" / "ru"
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps({"task": "gsm8k", "lang": "ru", "model": model, "n": 2,
                                                         "metrics": {"exact_match": {"value": value}}}))
    assert main(["leaderboard", "--results", str(tmp_path), "--output", str(tmp_path / "board")]) == 0
    printed = capsys.readouterr()
    assert "bad/gsm8k/ru/summary.json: skipped" in printed.out + printed.err and "'abc', not a number" in (
        printed.out + printed.err)


@pytest.mark.parametrize("reply", ["", "   "])
def test_empty_replies_are_counted_and_noted_on_the_leaderboard(tmp_path, reply):
    with OpenAIStub(reply_fn=lambda messages: reply) as stub:
        assert main(["run", "--model", f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru", "--limit",
                     "3", "--output", str(tmp_path), "--name", "silent", "--no-cache", "--no-progress"]) == 0
    summary = json.loads((tmp_path / "silent/gsm8k/ru/summary.json").read_text())
    assert summary["extra"]["n_empty"] == 3 and summary["metrics"]["no_answer"]["value"] == 1.0
    assert main(["leaderboard", "--results", str(tmp_path), "--output", str(tmp_path / "board")]) == 0
    assert "Empty replies" in (tmp_path / "board" / "leaderboard.md").read_text()
