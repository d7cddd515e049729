"""Bad input gets one clear line naming what is wrong (exit 2), never a bare traceback."""


import pytest

from evalkit.backends.openai_backend import OpenAIBackend
from evalkit.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--tasks", "gsm9k"], "unknown task 'gsm9k'; available: gsm8k, mmlu_pro, math, mbpp, humaneval"),
        (["--tasks", "gsm8k", "--langs", "ru,xx"], "no such task/language: gsm8k/xx (it has ru, pl, uk, cs)"),
        (["--langs", "ru,xx"], "--langs: no selected task has xx"),
        (["--model", "gpt-4o"], "bad model string 'gpt-4o'"),
        (["--data", "/nonexistent/file.jsonl", "--tasks", "gsm8k"], "or an existing file"),
        (["--chat-template", "nosuch"], "no such file"),
        (["--tasks", "gsm8k", "--langs", "uk", "--data", "full"], "no public dataset for 'uk'"),
        (["--tasks", "gsm8k", "--langs", "ru", "--data", "full:nope"], "it has: full:d0rj, full:mgsm"),
    ],
)
def test_usage_errors(capsys, tmp_path, argv, fragment):
    code, err = run_cli(capsys, "run", "--no-cache", "--output", str(tmp_path), *argv)
    assert code == 2
    assert err.startswith("evalkit: error: ") and fragment in err
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_unreachable_endpoint(capsys, tmp_path):
    port = closed_port()
    code, err = run_cli(capsys, "run", "--no-cache", "--output", str(tmp_path),
                        "--model", f"openai:m@http://127.0.0.1:{port}/v1")
    assert code == 2
    assert f"cannot reach http://127.0.0.1:{port}/v1" in err and "Refused" in err


def test_missing_api_key(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("EVALKIT_API_KEY", raising=False)
    code, err = run_cli(capsys, "run", "--no-cache", "--output", str(tmp_path), "--model", "openai:gpt-4o-mini")
    assert code == 2 and "OPENAI_API_KEY is not set" in err


def test_api_key_never_appears_in_identity(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    backend = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1")
    assert "sk-secret" not in backend.identity and "sk-secret" not in repr(vars(backend).get("identity"))


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"question": "Q", "answer": "1\\n#### 1"}\n{"question": "Q2"', ":2: invalid JSON"),
        (b'{"question": "Q", "answer": "no final line"}\n', "no final '#### <number>' line"),
        (b'{"answer": "x\\n#### 3"}\n', "field 'question' is missing"),
        (b'{"question": "\xff\xfe", "answer": "x\\n#### 3"}\n', ":1: not UTF-8"),
        (b'["a list"]\n', "expected a JSON object"),
        (b"\n\n", "no items"),
    ],
)
def test_malformed_data_file_names_file_and_line(capsys, tmp_path, content, fragment):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    # The endpoint is never contacted: data is read before any request is sent.
    code, err = run_cli(capsys, "run", "--no-cache", "--output", str(tmp_path / "out"), "--tasks", "gsm8k",
                        "--langs", "ru", "--data", str(path), "--model", "openai:m@http://127.0.0.1:9/v1")
    assert code == 2
    assert str(path) in err and fragment in err, err
    assert "Traceback" not in err
