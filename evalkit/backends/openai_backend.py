"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM server, llama.cpp server, TGI, ...).

Async with bounded concurrency, on aiohttp directly (one session and connection pool per batch); every
request is retried with exponential backoff and full jitter on 429,
5xx, timeouts and dropped connections, honouring Retry-After / retry-after-ms. A request that still fails
becomes a per-item error (recorded, never cached); a rejected API key or an unreachable server stops the run
with one clear line. The API key is read from the environment and never logged or stored.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import aiohttp

from evalkit.backends.base import BackendError, ResultCallback, check_roles
from evalkit.backends.retry import RetryPolicy
from evalkit.records import decode_json, encode_json
from evalkit.redact import redact
from evalkit.types import Completion, Request, Usage

OPENAI_URL = "https://api.openai.com/v1"
OPENAI_ROLES = frozenset({"system", "developer", "user", "assistant"})
_FATAL_STATUS = {401: "API key rejected", 403: "access denied", 404: "model or endpoint not found"}


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asked us to wait (retry-after-ms, or Retry-After as seconds or an HTTP date)."""
    if headers is None:
        return None
    if "retry-after-ms" in headers:
        try:
            return float(headers["retry-after-ms"]) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def resolve_api_key(base_url: str | None, env: dict[str, str] | os._Environ = os.environ) -> str:
    """OPENAI_API_KEY is required for api.openai.com; local servers get a placeholder when none is set."""
    key = env.get("EVALKIT_API_KEY") or env.get("OPENAI_API_KEY")
    if key:
        return key
    if base_url is None or base_url.rstrip("/") == OPENAI_URL:
        raise BackendError("OPENAI_API_KEY is not set: export it (or EVALKIT_API_KEY) to call api.openai.com")
    return "EMPTY"


def request_body(model: str, request: Request, chat_template: str | None = None) -> dict[str, Any]:
    """Map our GenerationConfig one to one onto a chat.completions request body.

    top_k, min_p and repetition_penalty are not OpenAI parameters; vLLM and llama.cpp servers read them
    from the body (what the openai client calls `extra_body`), so they are sent only when set.
    """
    config = request.config
    body: dict[str, Any] = {
        "model": model,
        "messages": [m.to_dict() for m in request.messages],
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
    }
    for name in ("top_p", "seed", "presence_penalty", "frequency_penalty", "top_k", "min_p", "repetition_penalty"):
        value = getattr(config, name)
        if value is not None:
            body[name] = value
    if config.stop:
        body["stop"] = list(config.stop)
    if config.seed is not None:
        body["seed"] = config.seed + request.replica  # replicas of one item must not repeat each other
    if chat_template is not None:
        body["chat_template"] = chat_template  # understood by vLLM's server
    if config.top_logprobs:
        body["logprobs"] = True
        body["top_logprobs"] = config.top_logprobs
    return body


def read_top_logprobs(choice: dict[str, Any]) -> tuple[dict[str, float], ...] | None:
    """choices[0].logprobs.content[*].top_logprobs as one {token: logprob} per generated token, if present."""
    content = (choice.get("logprobs") or {}).get("content") if isinstance(choice.get("logprobs"), dict) else None
    if not isinstance(content, list):
        return None
    positions = []
    for entry in content:
        alternatives = entry.get("top_logprobs") if isinstance(entry, dict) else None
        if not isinstance(alternatives, list):
            return None
        positions.append({str(a["token"]): float(a["logprob"]) for a in alternatives
                          if isinstance(a, dict) and "token" in a and isinstance(a.get("logprob"), (int, float))
                          and not isinstance(a.get("logprob"), bool)})  # fmt: skip
    return tuple(positions)




#: What a permanent error's message says of its cause -> the fix to print with it.
_PERMANENT_CAUSES = (
    (("context length", "context window", "maximum context", "n_ctx", "too many tokens", "prompt is too long",
      "max_model_len"),
     "the prompt plus max_tokens exceed the model's context: lower --max-tokens / --max-tokens-cap (for the judge: "
     "--judge-max-tokens), or serve the model with a longer context (llama.cpp --n_ctx, vLLM --max-model-len)"),
    (("role",), "the server rejected a message role: use the task's fallback (e.g. --task-option "
     "rag.documents=fold) or a server whose chat template knows the role"),
)  # fmt: skip


def permanent_hint(status: int, message: str) -> str | None:
    """Why a request can never succeed, with the fix — or None when retrying may help.

    4xx other than 408/429 are permanent; a 5xx is permanent only when its message names a validation or
    context-length error (llama.cpp's server answers those with 500).
    """
    lowered = message.lower()
    fix = next((fix for needles, fix in _PERMANENT_CAUSES if any(n in lowered for n in needles)), None)
    if status >= 500:  # 502/503/504 are a proxy or an overloaded server: always worth another try
        if status != 500:
            return None
        context = fix is _PERMANENT_CAUSES[0][1]
        return fix if context or "validation" in lowered else None
    if status in (408, 429):
        return None
    return fix or "the server refused the request as invalid; it is not retried (fix the request or the server)"


def error_text(raw: bytes) -> str:
    """The message of an OpenAI-style error body ({"error": {"message": ...}}), else the body's start."""
    try:
        body = json.loads(raw)
    except ValueError:
        return raw[:300].decode("utf-8", "replace")
    inner = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(inner, dict) and inner.get("message"):
        return str(inner["message"])[:300]
    return str(inner)[:300]


class OpenAIBackend:
    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        concurrency: int = 32,
        timeout_s: float = 600.0,
        retry: RetryPolicy = RetryPolicy(),
        chat_template: str | None = None,
        identity: str | None = None,
        allowed_roles: frozenset[str] | None = None,
        label: str | None = None,
    ):
        self.model = model
        self.base_url = (base_url or OPENAI_URL).rstrip("/")
        self.concurrency = max(1, concurrency)
        self.timeout_s = timeout_s
        self.retry = retry
        self.chat_template = chat_template
        # Answers made under another chat template are other answers: the template is part of the identity.
        template = f"|template={hashlib.sha256(chat_template.encode()).hexdigest()[:16]}" if chat_template else ""
        self.identity = (identity or f"openai@{self.base_url}") + template
        # Custom roles pass through to a self-hosted server (its chat template decides); api.openai.com
        # rejects them, so say so before sending.
        if allowed_roles is None and base_url is None:
            allowed_roles = OPENAI_ROLES
        self.allowed_roles = allowed_roles
        self.label = label or f"openai backend at {self.base_url}"
        self._api_key = resolve_api_key(base_url)

    def _session(self) -> aiohttp.ClientSession:
        """One HTTP session per batch on aiohttp itself: the official client's per-request CPU (~0.3 ms of
        request building and response models) is what bounds a harness at high concurrency (see bench/)."""
        connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=self.concurrency)
        headers = {"Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json"}
        return aiohttp.ClientSession(connector=connector, headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=self.timeout_s))  # fmt: skip

    def check_reachable(self) -> None:
        """Fail fast with one line when the server cannot be reached or rejects the key; refuse a chat template
        the server would ignore (only vLLM's server applies one sent with the request)."""
        status = http_status(f"{self.base_url}/models", self._api_key)
        if isinstance(status, str):
            raise BackendError(f"cannot reach {self.base_url}: {status}")
        if status in (401, 403):
            raise BackendError(f"{self.base_url}: API key rejected (HTTP {status})")
        if status == 404 and not self.base_url.endswith("/v1"):
            raise BackendError(f"{self.base_url}/models: HTTP 404; OpenAI-compatible servers serve under /v1: "
                               f"did you mean {self.base_url}/v1?")  # fmt: skip
        if self.chat_template is not None:
            owner = served_by(self.base_url, self._api_key)
            if owner != "vllm":
                raise BackendError(f"--chat-template: the server at {self.base_url} (owned_by {owner!r}) does not "
                                   "apply a chat template sent with the request (only vLLM's server does); set the "
                                   "template on the server instead")  # fmt: skip

    def generate(self, requests: Sequence[Request], on_result: ResultCallback | None = None) -> list[Completion]:
        check_roles(requests, self.allowed_roles, self.label)
        if not requests:
            return []
        return asyncio.run(self._generate_all(requests, on_result))

    async def _generate_all(self, requests: Sequence[Request], on_result: ResultCallback | None) -> list[Completion]:
        semaphore = asyncio.Semaphore(self.concurrency)
        results: list[Completion | None] = [None] * len(requests)
        async with self._session() as session:

            async def run_one(index: int) -> None:
                async with semaphore:
                    completion = await self._complete_with_retries(session, requests[index])
                results[index] = completion
                if on_result is not None:
                    on_result(index, completion)

            tasks = [asyncio.create_task(run_one(i)) for i in range(len(requests))]
            try:
                await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
        return [r if r is not None else Completion.failed("not run") for r in results]

    async def _complete_with_retries(self, session: aiohttp.ClientSession, request: Request) -> Completion:
        data = encode_json(request_body(self.model, request, self.chat_template))
        url = f"{self.base_url}/chat/completions"
        started = time.monotonic()
        last_error = "no attempt made"
        for attempt in range(self.retry.max_retries + 1):
            wait: float | None = None
            try:
                async with session.post(url, data=data) as response:
                    status, headers, raw = response.status, response.headers, await response.read()
            except asyncio.TimeoutError:
                last_error = f"timeout: no answer within {self.timeout_s:g} s"
            except aiohttp.ClientError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if status == 200:
                    try:
                        return self._to_completion(decode_json(raw), time.monotonic() - started, attempt + 1)
                    except FilteredReply as exc:
                        failed = Completion.failed(f"bad response: {exc} — not retried", time.monotonic() - started)
                        return replace(failed, attempts=attempt + 1)
                    except (BadReply, UnicodeDecodeError, ValueError, TypeError, AttributeError, KeyError) as exc:
                        # A 200 whose body is cut off, not UTF-8, without choices or content: a failed
                        # attempt, retried like a 5xx (never stored as an answer).
                        last_error = f"bad response: {type(exc).__name__}: {exc}"
                else:
                    message = error_text(raw)
                    if status in _FATAL_STATUS:
                        hint = ""
                        if status == 404 and not self.base_url.endswith("/v1"):
                            hint = f" (the base URL has no /v1: did you mean {self.base_url}/v1?)"
                        raise BackendError(redact(f"{self.base_url}: {_FATAL_STATUS[status]} (HTTP {status}) for "
                                                  f"model {self.model!r}: {message}{hint}"))  # fmt: skip
                    last_error = f"HTTP {status}: {message}"
                    hint = permanent_hint(status, message)
                    if hint is not None:
                        failed = Completion.failed(redact(f"{last_error} — not retried: {hint}"),
                                                   time.monotonic() - started)  # fmt: skip
                        return replace(failed, attempts=attempt + 1)
                    wait = retry_after_seconds(headers)
            if attempt == self.retry.max_retries:
                break
            delay = self.retry.backoff(attempt) if wait is None else min(wait, self.retry.max_retry_after_s)
            await asyncio.sleep(delay)
        failed = Completion.failed(redact(f"failed after {self.retry.max_retries + 1} attempts: {last_error}"),
                                   time.monotonic() - started)  # fmt: skip
        return replace(failed, attempts=self.retry.max_retries + 1)

    @staticmethod
    def _to_completion(response: Any, latency_s: float, attempts: int = 1) -> Completion:
        choices = response.get("choices") if isinstance(response, dict) else None
        if not choices or not isinstance(choices[0], dict):
            raise BadReply("the response has no choices")
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise BadReply("the response's message is not an object")
        content = message.get("content")
        finish = choices[0].get("finish_reason")
        if message.get("tool_calls") or message.get("function_call") or finish in ("tool_calls", "function_call"):
            raise BadReply("the response is a tool call, not an answer (evalkit sends no tools)")
        if finish == "content_filter":
            raise FilteredReply("the server's content filter withheld the answer (finish_reason content_filter)")
        if content is None:
            raise BadReply("the response's content is null")
        if not isinstance(content, str):
            raise BadReply(f"the response's content is a {type(content).__name__}, not text")
        usage = response.get("usage") or {}
        if not isinstance(usage, dict):
            usage = {}
        return Completion(
            text=content,
            finish_reason=finish if isinstance(finish, str) else None,
            usage=Usage(_count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))),
            latency_s=latency_s,
            top_logprobs=read_top_logprobs(choices[0]),
            attempts=attempts,
        )

    def close(self) -> None:
        pass


def _count(value: Any) -> int:
    """A token count from a reply's usage; anything that is not a whole number counts as 0."""
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value else 0


class BadReply(ValueError):
    """A 200 response that carries no answer (no choices, null content)."""


class FilteredReply(BadReply):
    """A 200 whose answer the server's content filter withheld: asking again gives the same, so it is not retried."""


def served_by(base_url: str, api_key: str | None = None) -> str | None:
    """The `owned_by` of the first model in GET /models (vLLM's server says "vllm"), or None."""
    request = urllib.request.Request(f"{base_url}/models",
                                     headers={"Authorization": f"Bearer {api_key}"} if api_key else {})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10.0) as response:
            body = json.loads(response.read())
        return str(body["data"][0].get("owned_by"))
    except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


def http_status(url: str, api_key: str | None = None, timeout_s: float = 10.0) -> int | str:
    """GET `url`: the HTTP status, or a one-line description of why nothing answered."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{type(reason).__name__}: {reason}"
