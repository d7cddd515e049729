"""The OpenAI-compatible stub server itself: reply shape, every fault action as a client sees it, accounting."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

from evalkit.testing.openai_stub import FaultPlan, OpenAIStub, default_reply, request_key

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = [{"role": "system", "content": "Решай задачи."}, {"role": "user", "content": "Сколько будет 2 + 2?"}]


def client(stub: OpenAIStub, timeout: float = 5.0, api_key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=stub.base_url, api_key=api_key, max_retries=0, timeout=timeout)


def ask(stub: OpenAIStub, messages: list[dict] = MESSAGES, timeout: float = 5.0, **extra):  # type: ignore[no-untyped-def]
    with client(stub, timeout) as c:
        return c.chat.completions.create(model="stub-model", messages=messages, **extra)


def post(stub: OpenAIStub, body: object, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(f"{stub.base_url}/chat/completions", json=body, timeout=5.0, **kwargs)


def at_first_attempt(action: str):  # type: ignore[no-untyped-def]
    return lambda key, index, attempt: action if attempt == 0 else "ok"


def test_ok_reply_shape_and_determinism():
    with OpenAIStub() as stub:
        first = ask(stub, temperature=0.0)
        again = ask(stub, temperature=0.0)
        other = post(stub, {"model": "echo-me", "messages": [{"role": "user", "content": "Другой вопрос"}]}).json()
        assert httpx.get(f"http://127.0.0.1:{stub.port}/health").text == "ok"
        models = httpx.get(f"{stub.base_url}/models").json()
    content = first.choices[0].message.content
    assert content == again.choices[0].message.content == default_reply(MESSAGES)
    assert content.startswith("Ответ: ") and 0 <= int(content.split()[-1]) < 1000
    assert first.object == "chat.completion" and first.model == "stub-model" and isinstance(first.created, int)
    choice = first.choices[0]
    assert (choice.index, choice.message.role, choice.finish_reason) == (0, "assistant", "stop")
    chars = sum(len(m["content"]) for m in MESSAGES)
    assert first.usage.prompt_tokens == chars // 4 + 1
    assert first.usage.completion_tokens == len(content) // 4 + 1
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    assert other["model"] == "echo-me"
    assert other["choices"][0]["message"]["content"] == default_reply([{"role": "user", "content": "Другой вопрос"}])
    assert [m["id"] for m in models["data"]] == ["stub-model"]


def test_custom_reply_and_model_name():
    with OpenAIStub(model="served", reply_fn=lambda messages: messages[-1]["content"].upper()) as stub:
        assert ask(stub).choices[0].message.content == "СКОЛЬКО БУДЕТ 2 + 2?"
        assert httpx.get(f"{stub.base_url}/models").json()["data"][0]["id"] == "served"


def test_bad_requests_get_openai_error_json():
    with OpenAIStub() as stub:
        streaming = post(stub, {"model": "m", "messages": MESSAGES, "stream": True})
        not_json = httpx.post(f"{stub.base_url}/chat/completions", content=b"{oops", timeout=5.0)
        no_messages = post(stub, {"model": "m"})
        counted = stub.total_arrivals
    assert streaming.status_code == 400 and "stream" in streaming.json()["error"]["message"]
    assert not_json.status_code == 400 and set(not_json.json()["error"]) == {"message", "type", "code"}
    assert no_messages.status_code == 400
    assert counted == 2  # unparseable JSON has no key and is not counted


@pytest.mark.parametrize(
    ("action", "error", "status"),
    [
        ("500", openai.InternalServerError, 500),
        ("502", openai.InternalServerError, 502),
        ("503", openai.InternalServerError, 503),
        ("429-noheader", openai.RateLimitError, 429),
    ],
)
def test_error_statuses(action, error, status):
    with OpenAIStub(fault_fn=at_first_attempt(action)) as stub:
        with pytest.raises(error) as caught:
            ask(stub)
        assert ask(stub).choices[0].message.content == default_reply(MESSAGES)  # next attempt is fine
    assert caught.value.status_code == status
    assert set(caught.value.body) >= {"message", "type", "code"}  # openai unwraps {"error": {...}}
    assert "retry-after" not in caught.value.response.headers


def test_429_carries_retry_after():
    with OpenAIStub(fault_fn=at_first_attempt("429"), retry_after_s="7") as stub:
        with pytest.raises(openai.RateLimitError) as caught:
            ask(stub)
    assert caught.value.response.headers["retry-after"] == "7"


def test_slow_times_the_client_out_and_stop_is_quick():
    with OpenAIStub(fault_fn=at_first_attempt("slow"), slow_s=30.0) as stub:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            ask(stub, timeout=0.5)
        assert time.monotonic() - started < 5
        # A second slow request is still in flight when the server stops.
        stub.fault_fn = lambda key, index, attempt: "slow"
        outcome: list[BaseException | None] = []

        def in_flight() -> None:
            try:
                ask(stub, timeout=60)
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - inspected below
                outcome.append(exc)

        thread = threading.Thread(target=in_flight)
        thread.start()
        while stub.total_arrivals < 2:
            time.sleep(0.01)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 2
    thread.join(10)
    assert isinstance(outcome[0], openai.APIConnectionError)
    assert [(e["action"], e["status"]) for e in stub.log] == [("slow", None), ("slow", None)]
    assert stub.completed == {}


def test_drop_resets_the_connection_without_a_response():
    with OpenAIStub(fault_fn=lambda key, index, attempt: "drop" if attempt < 2 else "ok") as stub:
        with pytest.raises(openai.APIConnectionError):
            ask(stub)
        body = json.dumps({"model": "stub-model", "messages": MESSAGES}).encode()
        with socket.create_connection(("127.0.0.1", stub.port), timeout=5) as raw:
            raw.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
            try:
                received = raw.recv(65536)
            except ConnectionResetError:
                received = b""
        assert received == b""  # not a byte of HTTP
        assert ask(stub).choices[0].message.content == default_reply(MESSAGES)
    # Entries are appended after each response is written, so read them once the server has stopped.
    assert [(e["attempt"], e["action"], e["status"]) for e in stub.log] == [(0, "drop", None), (1, "drop", None),
                                                                       (2, "ok", 200)]  # fmt: skip


def test_badutf8_body_cannot_be_decoded():
    with OpenAIStub(fault_fn=lambda key, index, attempt: "badutf8") as stub:
        raw = post(stub, {"model": "stub-model", "messages": MESSAGES})
        with pytest.raises((UnicodeDecodeError, openai.APIResponseValidationError)):
            ask(stub)
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("application/json")
    assert b"\xff\xfe" in raw.content
    with pytest.raises(UnicodeDecodeError):
        raw.content.decode("utf-8")


@pytest.mark.parametrize(("action", "length"), [("huge", 100_000), ("empty", 0)])
def test_huge_and_empty_contents(action, length):
    with OpenAIStub(fault_fn=at_first_attempt(action)) as stub:
        reply = ask(stub)
    content = reply.choices[0].message.content
    assert content is not None and len(content) == length and content == content.strip()
    assert reply.usage.completion_tokens == length // 4 + 1


def test_a_repeated_request_walks_through_the_sequence_then_succeeds():
    with OpenAIStub(fault_plan=FaultPlan(("500", "429", "503")), retry_after_s="0") as stub:
        outcomes = []
        for _ in range(5):
            response = post(stub, {"model": "stub-model", "messages": MESSAGES})
            outcomes.append(response.status_code)
    assert outcomes == [500, 429, 503, 200, 200]
    assert [(e["attempt"], e["action"]) for e in stub.log] == [(0, "500"), (1, "429"), (2, "503"), (3, "ok"), (4, "ok")]


def test_every_selects_keys_by_first_arrival_order():
    bodies = [{"model": "m", "messages": [{"role": "user", "content": f"вопрос {i}"}]} for i in range(7)]
    with OpenAIStub(fault_plan=FaultPlan(("500",), every=3)) as stub:
        first = [post(stub, body).status_code for body in bodies]
        second = [post(stub, body).status_code for body in bodies]
    assert first == [500, 200, 200, 500, 200, 200, 500]
    assert second == [200] * 7


def test_fault_fn_replaces_the_plan_and_sees_key_index_attempt():
    seen: list[tuple[str, int, int]] = []

    def hook(key: str, index: int, attempt: int) -> str:
        seen.append((key, index, attempt))
        return "503" if index == 1 else "ok"

    a = {"model": "m", "messages": [{"role": "user", "content": "a"}]}
    b = {"model": "m", "messages": [{"role": "user", "content": "b"}]}
    with OpenAIStub(fault_plan=FaultPlan(("500",)), fault_fn=hook) as stub:
        statuses = [post(stub, body).status_code for body in (a, b, a, b)]
    assert statuses == [200, 503, 200, 503]
    assert seen == [(request_key(a), 0, 0), (request_key(b), 1, 0), (request_key(a), 0, 1), (request_key(b), 1, 1)]


def test_fault_plan_rejects_unknown_actions():
    with pytest.raises(ValueError, match="teapot"):
        FaultPlan(("500", "teapot"))
    with pytest.raises(ValueError):
        FaultPlan(("500",), every=0)


def test_allowed_roles():
    tool = [{"role": "tool", "content": "42"}, {"role": "user", "content": "и?"}]
    with OpenAIStub() as lenient:
        assert ask(lenient, tool).choices[0].message.content
    with OpenAIStub(allowed_roles={"system", "user", "assistant"}) as strict:
        with pytest.raises(openai.BadRequestError) as caught:
            ask(strict, tool)
        assert ask(strict).choices[0].message.role == "assistant"
    assert caught.value.status_code == 400 and "'tool'" in caught.value.body["message"]


def test_api_key():
    with OpenAIStub(api_key="s3cret") as stub:
        with pytest.raises(openai.AuthenticationError) as caught, client(stub, api_key="wrong") as c:
            c.chat.completions.create(model="stub-model", messages=MESSAGES)
        missing = post(stub, {"model": "m", "messages": MESSAGES})
        models = httpx.get(f"{stub.base_url}/models")
        with client(stub, api_key="s3cret") as c:
            assert c.chat.completions.create(model="stub-model", messages=MESSAGES).choices[0].message.content
            assert [m.id for m in c.models.list()] == ["stub-model"]
    assert caught.value.status_code == 401 and caught.value.body["code"] == "invalid_api_key"
    assert missing.status_code == 401 and set(missing.json()["error"]) == {"message", "type", "code"}
    assert models.status_code == 401


def test_delay_applies_to_ok_answers():
    with OpenAIStub(delay_s=0.3) as stub:
        started = time.monotonic()
        ask(stub)
        assert time.monotonic() - started >= 0.3


def test_accounting_under_concurrency(tmp_path):
    log_path = tmp_path / "stub.jsonl"
    prompts = [[{"role": "user", "content": f"задача {i}"}] for i in range(40)]

    async def load(stub: OpenAIStub) -> list[str | BaseException]:
        semaphore = asyncio.Semaphore(16)
        async with openai.AsyncOpenAI(base_url=stub.base_url, api_key="x", max_retries=0, timeout=60) as c:

            async def one(messages: list[dict]) -> str:
                async with semaphore:
                    reply = await c.chat.completions.create(model="stub-model", messages=messages)
                    return reply.choices[0].message.content or ""

            return await asyncio.gather(*(one(m) for m in prompts * 3), return_exceptions=True)

    # Keys 0, 4, ..., 36 in first-arrival order fail once; which prompts those are depends on scheduling.
    with OpenAIStub(fault_plan=FaultPlan(("500",), every=4), log_path=log_path) as stub:
        with pytest.raises(openai.InternalServerError):  # prompt 0 arrives first, so it is faulty
            ask(stub, prompts[0])
        replies = asyncio.run(load(stub))
    arrivals, completed, bodies, log, total = stub.arrivals, stub.completed, stub.bodies, stub.log, stub.total_arrivals
    failed = [r for r in replies if isinstance(r, BaseException)]
    assert len(failed) == 9 and all(isinstance(r, openai.InternalServerError) for r in failed)
    assert all(r == default_reply(m) for r, m in zip(replies, prompts * 3, strict=True) if isinstance(r, str))
    keys = [request_key({"model": "stub-model", "messages": m}) for m in prompts]
    assert total == 121 == sum(arrivals.values()) and set(arrivals) == set(keys) == set(bodies)
    assert arrivals[keys[0]] == 4 and all(arrivals[k] == 3 for k in keys[1:])
    assert all(bodies[k]["messages"] == m for k, m in zip(keys, prompts, strict=True))
    faulty = {e["key"] for e in log if e["status"] == 500}
    assert len(faulty) == 10 and keys[0] in faulty
    assert completed == {k: arrivals[k] - (k in faulty) for k in keys}
    assert [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines()] == log
    assert len(log) == 121 and set(log[0]) == {"t", "key", "attempt", "action", "status"}


def test_runs_as_a_process_until_sigterm(tmp_path):
    ready, log_path = tmp_path / "port", tmp_path / "log.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(
        [sys.executable, "-m", "evalkit.testing.openai_stub", "--port", "0", "--ready-file", str(ready),
         "--log", str(log_path), "--fault-sequence", "500,429", "--fault-every", "2", "--retry-after", "3",
         "--model", "proc-model"],
        env=env, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert process.poll() is None and time.monotonic() < deadline, "the stub process did not start"
            time.sleep(0.02)
        base_url = f"http://127.0.0.1:{int(ready.read_text())}/v1"
        assert httpx.get(f"{base_url}/models").json()["data"][0]["id"] == "proc-model"
        body = {"model": "proc-model", "messages": MESSAGES}
        responses = [httpx.post(f"{base_url}/chat/completions", json=body) for _ in range(4)]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert [r.status_code for r in responses] == [500, 429, 200, 200]
    entries = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines()]
    assert responses[1].headers["retry-after"] == "3"
    assert [(e["attempt"], e["action"], e["status"]) for e in entries] == [(0, "500", 500), (1, "429", 429),
                                                                           (2, "ok", 200), (3, "ok", 200)]  # fmt: skip
    assert process.stderr is not None and process.stderr.read() == b""


def test_process_rejects_an_unknown_action(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-m", "evalkit.testing.openai_stub", "--ready-file", str(tmp_path / "p"),
         "--fault-sequence", "500,teapot"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2 and "teapot" in result.stderr and not (tmp_path / "p").exists()
