"""A small OpenAI-compatible chat server on 127.0.0.1 that can misbehave on purpose.

Used by the fault-injection and resume tests and by the throughput benchmark. Answers are a deterministic
function of the messages. Faults are scripted per request key (sha256 of the canonical request JSON) and
attempt number, so a retried request walks through its script and then succeeds. Actions:

    ok | 500 | 502 | 503 | 429 (with Retry-After) | 429-noheader | slow (sleep slow_s, then answer)
    drop (reset the TCP connection, no HTTP response) | badutf8 (200 with invalid UTF-8) | huge | empty
    truncated (200, the JSON body cut in half) | nochoices (200, "choices": []) | nullcontent (200,
    "content": null) | surrogate (200, the answer holds a lone surrogate "\ud800") | echoauth (500 whose
    error text repeats the request's Authorization header) | 400ctx (400: the context length is exceeded, as
    llama.cpp's server says it) | 422 (a validation error) | 500validation (llama.cpp's 500 for a message it
    cannot validate) | length (200 whose reply is cut: finish_reason "length")

In-process:  `with OpenAIStub(fault_plan=FaultPlan(("500", "429"), every=3)) as stub: stub.base_url`
As a process: `python -m evalkit.testing.openai_stub --port 0 --ready-file F [--log F] [--delay S]
[--fault-sequence 500,429,slow,drop --fault-every 3] [--slow S] [--retry-after S] [--model NAME]`
(writes the port to F once listening; serves until SIGTERM / SIGINT).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from aiohttp import web

Messages = list[dict[str, Any]]
ReplyFn = Callable[[Messages], str]
FaultFn = Callable[[str, int, int], str]  # (key, first-arrival index, attempt) -> action

ACTIONS = frozenset({"ok", "500", "502", "503", "429", "429-noheader", "slow", "drop", "badutf8", "huge", "empty",
                     "truncated", "nochoices", "nullcontent", "surrogate", "echoauth", "400ctx", "422", "500validation",
                     "length"})
HUGE_CHARS = 100_000
# Ends in a non-space so that clients which strip whitespace still see exactly HUGE_CHARS characters.
_HUGE_CONTENT = ("x" * 99 + "\n") * (HUGE_CHARS // 100 - 1) + "x" * 100
_BAD_SENTINEL = "@@stub-badutf8@@"


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8")


def request_key(body: dict[str, Any]) -> str:
    """The stub's identity of a request: sha256 hex of the whole body as canonical JSON."""
    return hashlib.sha256(_canonical(body)).hexdigest()


def default_reply(messages: Messages) -> str:
    return f"Ответ: {int(hashlib.sha256(_canonical(messages)).hexdigest()[:8], 16) % 1000}"


def stub_logprobs(content: str, top: int) -> dict[str, Any]:
    """OpenAI's `logprobs.content` for a reply: each word a token at logprob -0.1, its alternatives the digits
    1, 2, ... at -1.1, -1.2, ... (deterministic, so a reader of top logprobs can be checked against them)."""
    entries = []
    for word in content.split()[:8]:
        alternatives = [{"token": word, "logprob": -0.1}]
        alternatives += [{"token": str(d), "logprob": -1.0 - d / 10} for d in range(1, 10) if str(d) != word]
        entries.append({"token": word, "logprob": -0.1, "top_logprobs": alternatives[:top]})
    return {"content": entries}


@dataclass(frozen=True)
class FaultPlan:
    """Keys whose first-arrival index i has i % every == 0 get sequence[attempt], then "ok" forever."""

    sequence: tuple[str, ...] = ()
    every: int = 1

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"FaultPlan.every must be >= 1, got {self.every}")
        unknown = sorted(set(self.sequence) - ACTIONS)
        if unknown:
            raise ValueError(f"unknown fault action(s): {', '.join(unknown)}; known: {', '.join(sorted(ACTIONS))}")

    def action(self, key: str, first_index: int, attempt: int) -> str:
        if first_index % self.every == 0 and attempt < len(self.sequence):
            return self.sequence[attempt]
        return "ok"


def _error(
    status: int, message: str, kind: str, code: str | None, headers: dict[str, str] | None = None
) -> web.Response:
    body = json.dumps({"error": {"message": message, "type": kind, "code": code}})
    return web.Response(text=body, status=status, content_type="application/json", headers=headers)


def _content_chars(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):  # content parts: count the text ones
        return sum(len(p.get("text") or "") for p in content if isinstance(p, dict))
    return 0


class OpenAIStub:
    """The server. Accounting attributes return snapshots taken under a lock, so any thread may read them.

    A request is counted in `arrivals` before it is answered; its `log` entry (and `completed`, for a 200) is
    added once the response has been written, so a client can see a reply a moment before its entry exists.
    """

    def __init__(
        self,
        *,
        model: str = "stub-model",
        reply_fn: ReplyFn = default_reply,
        fault_plan: FaultPlan | None = None,
        fault_fn: FaultFn | None = None,
        delay_s: float = 0.0,
        slow_s: float = 3.0,
        retry_after_s: str = "1",
        allowed_roles: set[str] | frozenset[str] | None = None,
        api_key: str | None = None,
        log_path: str | os.PathLike[str] | None = None,
        port: int = 0,
        shutdown_timeout_s: float = 0.25,
    ) -> None:
        self.model = model
        self.reply_fn = reply_fn
        self.fault_fn: FaultFn = fault_fn or (fault_plan or FaultPlan()).action
        self.delay_s = delay_s
        self.slow_s = slow_s
        self.retry_after_s = str(retry_after_s)
        self.allowed_roles = frozenset(allowed_roles) if allowed_roles is not None else None
        self.api_key = api_key
        self.log_path = Path(log_path) if log_path is not None else None
        self.shutdown_timeout_s = shutdown_timeout_s
        self._port = port
        self._lock = threading.Lock()
        self._arrivals: dict[str, int] = {}
        self._completed: dict[str, int] = {}
        self._bodies: dict[str, dict[str, Any]] = {}
        self._first_index: dict[str, int] = {}
        self._log: list[dict[str, Any]] = []
        self._total_arrivals = 0
        self._log_file: IO[str] | None = None
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- accounting (snapshots) -----------------------------------------------------------------------
    @property
    def arrivals(self) -> dict[str, int]:
        with self._lock:
            return dict(self._arrivals)

    @property
    def completed(self) -> dict[str, int]:
        with self._lock:
            return dict(self._completed)

    @property
    def bodies(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self._bodies)

    @property
    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._log)

    @property
    def total_arrivals(self) -> int:
        with self._lock:
            return self._total_arrivals

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the stub is not listening yet (port 0 is chosen at start())")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- HTTP -----------------------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        return app

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        data = {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "stub"}]}
        return web.json_response(data)

    def _authorized(self, request: web.Request) -> bool:
        return self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            raw = await request.read()
        except ConnectionError:  # the client went away mid-body; aiohttp drops this reply quietly
            return web.Response(status=400)
        try:
            body = json.loads(raw)
        except ValueError:  # also covers UnicodeDecodeError; such a request has no key, so it is not counted
            return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error", None)
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.", "invalid_request_error", None)
        key, arrived = request_key(body), time.time()
        with self._lock:
            attempt = self._arrivals.get(key, 0)
            self._arrivals[key] = attempt + 1
            self._total_arrivals += 1
            first_index = self._first_index.setdefault(key, len(self._first_index))
            self._bodies.setdefault(key, body)
        action, status = "rejected", None
        try:  # every counted arrival gets exactly one log entry, even if cancelled or dropped
            rejection = self._validate(request, body)
            if rejection is not None:
                status = rejection.status
                return rejection
            action = self.fault_fn(key, first_index, attempt)
            response, status = await self._act(request, body, key, attempt, action)
            return response
        finally:
            self._record(arrived, key, attempt, action, status)

    def _validate(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        if not self._authorized(request):
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if body.get("stream"):
            return _error(400, "The stub does not support streaming ('stream': true); send stream=false.",
                          "invalid_request_error", "stream_not_supported")  # fmt: skip
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return _error(400, "'messages' must be a non-empty list of objects.", "invalid_request_error", None)
        if self.allowed_roles is not None:
            for i, message in enumerate(messages):
                role = message.get("role")
                if role not in self.allowed_roles:
                    allowed = ", ".join(repr(r) for r in sorted(self.allowed_roles))
                    return _error(400, f"Invalid value for 'messages[{i}].role': {role!r}; supported roles: {allowed}.",
                                  "invalid_request_error", "invalid_value")  # fmt: skip
        return None

    async def _act(
        self, request: web.Request, body: dict[str, Any], key: str, attempt: int, action: str
    ) -> tuple[web.StreamResponse, int | None]:
        """Carry out one action; returns the response and the status to log (None: nothing was delivered)."""
        if action in ("500", "502", "503"):
            return _error(int(action), f"Injected HTTP {action} (stub).", "server_error", None), int(action)
        if action == "429":
            headers = {"Retry-After": self.retry_after_s}
            return _error(429, "Rate limit reached (stub).", "requests", "rate_limit_exceeded", headers), 429
        if action == "429-noheader":
            return _error(429, "Rate limit reached (stub).", "requests", "rate_limit_exceeded"), 429
        if action == "drop":
            return self._drop(request), None
        if action == "400ctx":
            return _error(400, "Requested tokens (2249) exceed context window of 2048. This model's maximum context "
                          "length is 2048 tokens. However, you requested 2249 tokens.", "invalid_request_error",
                          "context_length_exceeded"), 400  # fmt: skip
        if action == "422":
            return _error(422, "1 validation error: body.temperature: Input should be a valid number",
                          "invalid_request_error", None), 422  # fmt: skip
        if action == "500validation":
            return _error(500, "1 validation error for CreateChatCompletionRequest messages.1.role: Input should be "
                          "'system', 'user' or 'assistant'", "server_error", None), 500  # fmt: skip
        if action == "echoauth":
            header = request.headers.get("Authorization", "")
            return _error(500, f"Upstream failed for request with headers {{'Authorization': '{header}'}}",
                          "server_error", None), 500
        if action not in ACTIONS:
            message = f"The stub's fault hook returned an unknown action {action!r}."
            return _error(500, message, "server_error", None), 500

        if action == "slow":
            await asyncio.sleep(self.slow_s)
        elif self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        messages = body["messages"]
        fixed = {"huge": _HUGE_CONTENT, "empty": "", "badutf8": _BAD_SENTINEL}
        content = fixed[action] if action in fixed else self.reply_fn(messages)
        if action == "surrogate":
            content = "Ответ: 42 \ud800"
        completion = self._completion(body, messages, key, attempt, content)
        if action == "nochoices":
            completion["choices"] = []
        if action == "nullcontent":
            completion["choices"][0]["message"]["content"] = None
        if action == "length":
            completion["choices"][0]["finish_reason"] = "length"
        data = json.dumps(completion, ensure_ascii=action == "surrogate").encode()
        if action == "truncated":
            data = data[: len(data) // 2]
        if action == "badutf8":
            # The quoted fragment is unique: a sentinel inside another string would have its quotes escaped.
            data = data.replace(f'"content": "{_BAD_SENTINEL}"'.encode(), '"content": "Ответ: '.encode() + b'\xff\xfe"')
        response = web.Response(body=data, content_type="application/json")
        try:  # send it here rather than by returning it, so `completed` counts only answers actually written
            await response.prepare(request)
            await response.write_eof()
        except ConnectionError:  # the client gave up (e.g. timed out on "slow")
            return response, None
        return response, 200

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:  # linger 0: close with RST, like a crashed proxy, instead of an orderly FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        # aiohttp fails to write this to the closed transport and treats it as a client disconnect.
        return web.Response(status=500)

    def _completion(
        self, body: dict[str, Any], messages: Messages, key: str, attempt: int, content: str
    ) -> dict[str, Any]:
        prompt_tokens = sum(_content_chars(m.get("content")) for m in messages) // 4 + 1
        completion_tokens = len(content) // 4 + 1
        return {
            "id": f"chatcmpl-stub-{key[:16]}-{attempt}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop",
                         **({"logprobs": stub_logprobs(content, int(body.get("top_logprobs") or 1))}
                            if body.get("logprobs") else {})}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }  # fmt: skip

    def _record(self, arrived: float, key: str, attempt: int, action: str, status: int | None) -> None:
        entry = {"t": arrived, "key": key, "attempt": attempt, "action": action, "status": status}
        with self._lock:
            self._log.append(entry)
            if status == 200:
                self._completed[key] = self._completed.get(key, 0) + 1
            if self._log_file is not None:  # flushed per line so a reader sees it even if we are killed
                self._log_file.write(json.dumps(entry) + "\n")
                self._log_file.flush()

    # -- lifecycle ------------------------------------------------------------------------------------
    async def serve(self) -> None:
        """Start listening in the running loop (sets `port`). Both the thread and the process mode use this."""
        if self.log_path is not None:
            self._log_file = self.log_path.open("a", encoding="utf-8")
        runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False,
                               shutdown_timeout=self.shutdown_timeout_s)  # fmt: skip
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", self._port, backlog=1024).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def shutdown(self) -> None:
        """Stop listening; in-flight handlers get shutdown_timeout_s to finish, then are cancelled."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        with self._lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def start(self) -> OpenAIStub:
        if self._thread is not None:
            raise RuntimeError("the stub is already running")
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_forever()
            finally:  # whatever is left (cancelled slow handlers, etc.) is finished off before closing
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name="openai-stub", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.serve(), loop).result(timeout=30)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            raise
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            timeout = max(10.0, 4 * self.shutdown_timeout_s)
            asyncio.run_coroutine_threadsafe(self.shutdown(), loop).result(timeout=timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            self._loop = self._thread = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _write_atomically(path: Path, text: str) -> None:
    # A poller must never read a half-written port number.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="OpenAI-compatible stub server on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ready-file", type=Path, required=True, help="the port is written here once listening")
    parser.add_argument("--log", type=Path, default=None, help="append one JSON line per request")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every OK answer")
    parser.add_argument("--slow", type=float, default=3.0, help="seconds the 'slow' action sleeps")
    parser.add_argument("--retry-after", default="1", help="Retry-After header value of the '429' action")
    parser.add_argument("--fault-sequence", default="", help=f"comma-separated actions: {','.join(sorted(ACTIONS))}")
    parser.add_argument("--fault-every", type=int, default=1, help="every Nth new request key is faulty")
    parser.add_argument("--model", default="stub-model")
    args = parser.parse_args(argv)
    try:
        plan = FaultPlan(tuple(a.strip() for a in args.fault_sequence.split(",") if a.strip()), args.fault_every)
    except ValueError as exc:
        parser.error(str(exc))
    stub = OpenAIStub(model=args.model, fault_plan=plan, delay_s=args.delay, slow_s=args.slow,
                      retry_after_s=args.retry_after, log_path=args.log, port=args.port)  # fmt: skip

    async def serve_until_signal() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await stub.serve()
        try:
            _write_atomically(args.ready_file, str(stub.port))
            await stopping.wait()
        finally:
            await stub.shutdown()

    asyncio.run(serve_until_signal())


if __name__ == "__main__":
    main()
