"""A small OpenAI-compatible chat server on loopback that can misbehave on purpose.

Used by evalkit's fault-injection and resume tests and by the throughput benchmark; also handy for trying a
pipeline offline. Answers are a deterministic function of the messages. Faults are scripted per request key
(a hash of the request body) and attempt number, so a retried request walks through its script and then
succeeds:

    ok | 500 | 502 | 503 | 429 (with Retry-After) | 429-noheader | slow (sleep, then answer)
    drop (close the connection without a response) | badutf8 (200 with invalid UTF-8) | huge | empty

In-process: `with OpenAIStub(fault_plan=FaultPlan(("500", "429"))) as stub: stub.base_url ...`
As a process: `python -m evalkit.testing.openai_stub --port 0 --ready-file F [--log F] [--delay S]
[--fault-sequence 500,429,slow,drop --fault-every 3]` (serves until SIGTERM / SIGINT).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from aiohttp import web

ReplyFn = Callable[[list[dict[str, Any]]], str]
FaultFn = Callable[[str, int, int], str]
ACTIONS = ("ok", "500", "502", "503", "429", "429-noheader", "slow", "drop", "badutf8", "huge", "empty")


def default_reply(messages: list[dict[str, Any]]) -> str:
    digest = hashlib.sha256(json.dumps(messages, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    return f"Ответ: {int(digest[:8], 16) % 1000}"


@dataclass(frozen=True)
class FaultPlan:
    """Keys whose first-arrival index i has i % every == 0 get `sequence[attempt]`, then "ok"."""

    sequence: tuple[str, ...] = ()
    every: int = 1

    def action(self, key: str, first_index: int, attempt: int) -> str:
        if first_index % max(1, self.every) == 0 and attempt < len(self.sequence):
            return self.sequence[attempt]
        return "ok"


def _error(status: int, message: str, kind: str = "server_error", headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"message": message, "type": kind, "code": status}}
    return web.json_response(body, status=status, headers=headers)


class OpenAIStub:
    def __init__(
        self,
        model: str = "stub-model",
        reply_fn: ReplyFn = default_reply,
        fault_plan: FaultPlan | None = None,
        fault_fn: FaultFn | None = None,
        delay_s: float = 0.0,
        slow_s: float = 3.0,
        retry_after_s: str = "1",
        allowed_roles: set[str] | None = None,
        api_key: str | None = None,
        log_path: Path | None = None,
        port: int = 0,
    ):
        self.model = model
        self.reply_fn = reply_fn
        self.fault_fn: FaultFn = fault_fn or (fault_plan or FaultPlan()).action
        self.delay_s = delay_s
        self.slow_s = slow_s
        self.retry_after_s = retry_after_s
        self.allowed_roles = allowed_roles
        self.api_key = api_key
        self.log_path = log_path
        self.port = port
        self.arrivals: dict[str, int] = {}
        self.completed: dict[str, int] = {}
        self.bodies: dict[str, dict[str, Any]] = {}
        self.log: list[dict[str, Any]] = []
        self.total_arrivals = 0
        self._first_index: dict[str, int] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- HTTP handlers ---------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        return app

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "invalid API key", "invalid_request_error")
        return web.json_response({"object": "list", "data": [{"id": self.model, "object": "model"}]})

    def _authorized(self, request: web.Request) -> bool:
        return self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}"

    def _record(self, key: str, attempt: int, action: str, status: int | None) -> None:
        entry = {"t": time.monotonic(), "key": key, "attempt": attempt, "action": action, "status": status}
        with self._lock:
            self.log.append(entry)
            if status == 200:
                self.completed[key] = self.completed.get(key, 0) + 1
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")
                handle.flush()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "request body is not JSON", "invalid_request_error")
        key = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        with self._lock:
            attempt = self.arrivals.get(key, 0)
            self.arrivals[key] = attempt + 1
            self.total_arrivals += 1
            first_index = self._first_index.setdefault(key, len(self._first_index))
            self.bodies.setdefault(key, body)
        if not self._authorized(request):
            self._record(key, attempt, "unauthorized", 401)
            return _error(401, "invalid API key", "invalid_request_error")
        if body.get("stream"):
            self._record(key, attempt, "stream", 400)
            return _error(400, "streaming is not supported by the stub", "invalid_request_error")
        messages = body.get("messages")
        if not isinstance(messages, list):
            return _error(400, "'messages' must be a list", "invalid_request_error")
        if self.allowed_roles is not None:
            for message in messages:
                if message.get("role") not in self.allowed_roles:
                    self._record(key, attempt, "bad-role", 400)
                    return _error(400, f"unsupported role {message.get('role')!r}", "invalid_request_error")

        action = self.fault_fn(key, first_index, attempt)
        if action in ("500", "502", "503"):
            self._record(key, attempt, action, int(action))
            return _error(int(action), f"injected {action}")
        if action == "429":
            self._record(key, attempt, action, 429)
            return _error(429, "rate limited", "rate_limit_error", {"Retry-After": self.retry_after_s})
        if action == "429-noheader":
            self._record(key, attempt, action, 429)
            return _error(429, "rate limited", "rate_limit_error")
        if action == "drop":
            self._record(key, attempt, action, None)
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # nothing more is written on this connection
        if action == "slow":
            await asyncio.sleep(self.slow_s)
        elif self.delay_s:
            await asyncio.sleep(self.delay_s)

        content = self.reply_fn(messages)
        if action == "huge":
            content = ("x" * 99 + "\n") * 1000
        elif action == "empty":
            content = ""
        payload = self._completion(body, content)
        if action == "badutf8":
            data = json.dumps(payload, ensure_ascii=False).replace(content, "@@BAD@@").encode()
            data = data.replace(b"@@BAD@@", b"\xff\xfe bad \xc3")
            self._record(key, attempt, action, 200)
            return web.Response(body=data, content_type="application/json")
        self._record(key, attempt, action, 200)
        return web.json_response(payload, dumps=lambda x: json.dumps(x, ensure_ascii=False))

    def _completion(self, body: dict[str, Any], content: str) -> dict[str, Any]:
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
        prompt_tokens, completion_tokens = prompt_chars // 4 + 1, len(content) // 4 + 1
        return {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }  # fmt: skip

    # -- lifecycle ------------------------------------------------------------------------------------
    async def serve(self) -> None:
        """Start listening on 127.0.0.1 (in the running loop); sets `port`."""
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server  # noqa: SLF001 - the real port when 0 was asked for
        assert server is not None and server.sockets
        self.port = int(server.sockets[0].getsockname()[1])

    async def shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> OpenAIStub:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.serve())
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="openai-stub", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self._loop = self._thread = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="OpenAI-compatible stub server on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", type=Path, required=True, help="the chosen port is written here")
    parser.add_argument("--log", type=Path, default=None)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--slow", type=float, default=3.0)
    parser.add_argument("--retry-after", default="1")
    parser.add_argument("--fault-sequence", default="")
    parser.add_argument("--fault-every", type=int, default=1)
    parser.add_argument("--model", default="stub-model")
    args = parser.parse_args()
    sequence = tuple(a for a in args.fault_sequence.split(",") if a)
    unknown = set(sequence) - set(ACTIONS)
    if unknown:
        parser.error(f"unknown fault action(s): {', '.join(sorted(unknown))}")
    stub = OpenAIStub(model=args.model, fault_plan=FaultPlan(sequence, args.fault_every), delay_s=args.delay,
                      slow_s=args.slow, retry_after_s=args.retry_after, log_path=args.log, port=args.port)  # fmt: skip

    async def serve_until_signal() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stub.serve()
        args.ready_file.write_text(str(stub.port))
        await stop.wait()
        await stub.shutdown()

    asyncio.run(serve_until_signal())


if __name__ == "__main__":
    main()
