"""The openai backend against a real OpenAI-compatible HTTP server on loopback that misbehaves on purpose."""

import json
import time

import pytest

from evalkit.cli import main
from evalkit.testing.openai_stub import OpenAIStub

LANGS = "ru,pl,uk,cs"
# Per-item scripts, chosen by the order in which items first arrive: every kind of fault appears.
SCRIPTS = [
    ("500", "503"),
    ("429",),
    ("slow",),
    ("drop",),
    ("502", "429", "drop", "slow"),
    ("429-noheader", "500"),
    ("truncated", "nochoices"),
    ("nullcontent",),
    (),
]


def scripted(key: str, first_index: int, attempt: int) -> str:
    script = SCRIPTS[first_index % len(SCRIPTS)]
    return script[attempt] if attempt < len(script) else "ok"


def read_run(root):
    out = {}
    for path in sorted(root.glob("*/gsm8k/*/samples.jsonl")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for row in rows:
            row.pop("latency_s")
            row.pop("cached")
        summary = json.loads((path.parent / "summary.json").read_text(encoding="utf-8"))
        out[path.parent.name] = (rows, summary["metrics"], summary["n"], summary["n_errors"])
    return out


def evalkit_run(stub, output, cache, *extra):
    return main(["run", "--model", f"openai:stub-model@{stub.base_url}", "--tasks", "gsm8k", "--langs", LANGS,
                 "--output", str(output), "--name", "stub", "--cache-path", str(cache), "--no-progress",
                 "--timeout", "1", *extra])  # fmt: skip


def test_faulty_server_gives_the_same_results_as_a_clean_one(tmp_path):
    with OpenAIStub() as clean:
        assert evalkit_run(clean, tmp_path / "clean", tmp_path / "clean.sqlite") == 0
    with OpenAIStub(fault_fn=scripted, retry_after_s="1", slow_s=3.0) as faulty:
        started = time.monotonic()
        assert evalkit_run(faulty, tmp_path / "faulty", tmp_path / "faulty.sqlite", "--concurrency", "16") == 0
        elapsed = time.monotonic() - started
        log = list(faulty.log)
    clean_run, faulty_run = read_run(tmp_path / "clean"), read_run(tmp_path / "faulty")
    assert set(clean_run) == set(LANGS.split(","))
    assert faulty_run == clean_run
    assert all(n_errors == 0 for _, _, _, n_errors in faulty_run.values())

    actions = {entry["action"] for entry in log}
    assert {"500", "502", "503", "429", "429-noheader", "slow", "drop", "truncated", "nochoices", "nullcontent",
            "ok"} <= actions
    summaries = [json.loads(p.read_text("utf-8")) for p in (tmp_path / "faulty").glob("*/gsm8k/*/summary.json")]
    assert sum(s["extra"]["retried"] for s in summaries) > 0 and all(s["extra"]["n_empty"] == 0 for s in summaries)
    # Retry-After: 1 was honoured: the next attempt of that item came at least ~1 s later.
    by_key: dict[str, list[dict]] = {}
    for entry in log:
        by_key.setdefault(entry["key"], []).append(entry)
    gaps = [
        later["t"] - entry["t"]
        for entries in by_key.values()
        for entry, later in zip(entries, entries[1:], strict=False)
        if entry["action"] == "429"
    ]
    assert gaps and min(gaps) >= 0.95
    assert elapsed < 60


def test_retries_give_up_into_a_recorded_item_error(tmp_path):
    always_500 = lambda key, index, attempt: "500" if index == 0 else "ok"  # noqa: E731
    with OpenAIStub(fault_fn=always_500) as stub:
        code = evalkit_run(stub, tmp_path / "out", tmp_path / "c.sqlite", "--max-retries", "2", "--limit", "2")
        assert code == 3  # the run says it is incomplete
        attempts = max(stub.arrivals.values())
    rows = read_run(tmp_path / "out")
    errors = [r["error"] for lang in rows.values() for r in lang[0] if r["error"]]
    assert len(errors) == 1 and "failed after 3 attempts: HTTP 500" in errors[0]
    assert attempts == 3
    failed_lang = next(lang for lang, (_, _, _, n_errors) in rows.items() if n_errors == 1)
    assert rows[failed_lang][3] == 1


BROKEN_200 = ("badutf8", "truncated", "nochoices", "nullcontent")


@pytest.mark.parametrize(
    ("action", "check"),
    [
        ("empty", lambda row: row["error"] is None and row["completion"] == "" and not row["extracted"]["flexible"]),
        ("huge", lambda row: row["error"] is None and len(row["completion"]) == 100_000),
        ("surrogate", lambda row: row["error"] is None and row["completion"] == "Ответ: 42 \ud800"),
        *[(action, lambda row: row["error"] is not None and "failed after 2 attempts: bad response" in row["error"])
          for action in BROKEN_200],
    ],
)
def test_odd_bodies_are_recorded_per_item(tmp_path, action, check):
    state = {"healthy": False}
    first_only = lambda key, index, attempt: action if index == 0 and not state["healthy"] else "ok"  # noqa: E731
    with OpenAIStub(fault_fn=first_only) as stub:
        code = evalkit_run(stub, tmp_path / "out", tmp_path / "c.sqlite", "--limit", "3", "--max-retries", "1")
        assert code == (3 if action in BROKEN_200 else 0)
        first_key = next(iter(stub.arrivals))
        first_messages = stub.bodies[first_key]["messages"]
        attempts = stub.arrivals[first_key]
        state["healthy"] = True
        before = stub.total_arrivals
        assert evalkit_run(stub, tmp_path / "again", tmp_path / "c.sqlite", "--limit", "3") == 0
        resent = stub.total_arrivals - before
    rows = [r for lang in read_run(tmp_path / "out").values() for r in lang[0]]
    assert len(rows) == 12
    odd = [r for r in rows if r["messages"] == first_messages]
    assert len(odd) == 1 and check(odd[0])
    assert sum(r["error"] is None for r in rows) == (11 if action in BROKEN_200 else 12)
    assert attempts == (2 if action in BROKEN_200 else 1)  # a 200 without an answer is retried like a 5xx
    summaries = [json.loads(p.read_text("utf-8")) for p in (tmp_path / "out").glob("*/gsm8k/*/summary.json")]
    assert sum(s["extra"]["n_empty"] for s in summaries) == (1 if action == "empty" else 0)
    # A broken answer was never cached: the next run asks for it again (only it), and the healthy server heals it.
    # Every other answer, the lone surrogate included, comes back from the cache losslessly.
    assert resent == (1 if action in BROKEN_200 else 0)
    again = [r for lang in read_run(tmp_path / "again").values() for r in lang[0]]
    assert all(r["error"] is None for r in again)
    if action == "surrogate":
        assert any(r["completion"] == "Ответ: 42 \ud800" for r in again)


def test_rejected_key_stops_the_run_with_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "wrong")
    with OpenAIStub(api_key="right") as stub:
        assert evalkit_run(stub, tmp_path / "out", tmp_path / "c.sqlite") == 2
    err = capsys.readouterr().err
    assert "API key rejected (HTTP 401)" in err and "wrong" not in err


def start_stub_process(workdir, *args):
    """The stub as a process of its own on loopback (as in production: another program's server)."""
    import subprocess
    import sys

    ready = workdir / "port"
    process = subprocess.Popen([sys.executable, "-m", "evalkit.testing.openai_stub", "--port", "0", "--ready-file",
                                str(ready), "--retry-after", "0", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 30
    while not (ready.exists() and ready.read_text().strip()):
        assert time.monotonic() < deadline and process.poll() is None, "the stub server did not start"
        time.sleep(0.05)
    return process, f"http://127.0.0.1:{int(ready.read_text().strip())}/v1"


def test_a_fault_server_of_its_own_gives_the_same_results_as_a_clean_one(tmp_path):
    faults = "truncated,nochoices,nullcontent,badutf8"  # every 200 that carries no answer, one after another
    runs = {}
    for name, args in (("clean", ()), ("faulty", ("--fault-sequence", faults, "--fault-every", "2"))):
        folder = tmp_path / name
        folder.mkdir()
        process, base_url = start_stub_process(folder, *args)
        try:
            code = main(["run", "--model", f"openai:stub-model@{base_url}", "--tasks", "gsm8k", "--langs", LANGS,
                         "--limit", "4", "--output", str(folder / "out"), "--name", "stub", "--no-cache",
                         "--no-progress", "--max-retries", "6"])  # fmt: skip
        finally:
            process.terminate()
            process.wait(timeout=10)
        assert code == 0
        runs[name] = read_run(folder / "out")
    assert runs["faulty"] == runs["clean"]  # the same completions, scores and summaries; no item error
    assert all(n_errors == 0 for _, _, _, n_errors in runs["faulty"].values())
