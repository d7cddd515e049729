"""Client overhead of evalkit's openai backend against a loopback stub that answers instantly.

5,000 chat requests at concurrency 64, measured side by side in one run (bare and cold alternate for
ROUNDS rounds and the best of each is kept, since the machine is shared):
  bare     the fastest honest client: a bare asyncio loop on raw aiohttp (one session, a semaphore, gather,
           json.dumps / json.loads), with no retries, cache or accounting
  evalkit  CachedBackend(OpenAIBackend) with an empty cache (retries, accounting, per-answer SQLite commit)
  warm     the same requests again: every answer from the cache, zero backend calls (best of ROUNDS passes)
  lm-eval  lm-evaluation-harness's `local-chat-completions` model (num_concurrent=64), if installed
Targets: evalkit / lm-eval <= 0.8; evalkit / bare <= 1.15; warm / cold <= 0.05 with 0 backend calls.
The stub runs in its own process so client and server do not share one interpreter.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from evalkit.backends.openai_backend import OpenAIBackend
from evalkit.backends.wrappers import CachedBackend
from evalkit.run.cache import ResponseCache
from evalkit.types import GenerationConfig, Message, Request

N_REQUESTS = 5000
CONCURRENCY = 64
ROUNDS = 5


def start_stub(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    ready = workdir / "port"
    process = subprocess.Popen(
        [sys.executable, "-m", "evalkit.testing.openai_stub", "--port", "0", "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not (ready.exists() and ready.read_text().strip()):
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("the stub server did not start")
        time.sleep(0.05)
    return process, f"http://127.0.0.1:{int(ready.read_text().strip())}/v1"


def make_requests() -> list[Request]:
    config = GenerationConfig(temperature=0.0, max_tokens=16)
    return [Request((Message("user", f"Сколько будет {i} + {i}?"),), config) for i in range(N_REQUESTS)]


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def bare_loop(base_url: str, requests: list[Request]) -> None:
    async def main() -> None:
        semaphore = asyncio.Semaphore(CONCURRENCY)
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        headers = {"Authorization": "Bearer EMPTY", "Content-Type": "application/json"}
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

            async def one(request: Request) -> object:
                body = {"model": "stub-model", "messages": [m.to_dict() for m in request.messages],
                        "temperature": 0.0, "max_tokens": 16}  # fmt: skip
                async with semaphore, session.post(f"{base_url}/chat/completions", data=json.dumps(body)) as reply:
                    return json.loads(await reply.read())

            await asyncio.gather(*(one(r) for r in requests))

    asyncio.run(main())


class CountingBackend:
    """Counts what reaches the real backend, to prove a warm run sends nothing."""

    def __init__(self, inner: OpenAIBackend):
        self.inner, self.identity, self.model, self.calls = inner, inner.identity, inner.model, 0

    def generate(self, requests, on_result=None):  # type: ignore[no-untyped-def]
        self.calls += len(requests)
        return self.inner.generate(requests, on_result)

    def close(self) -> None:
        self.inner.close()


def lm_eval_loop(base_url: str, requests: list[Request]) -> float | None:
    try:
        from lm_eval.api.instance import Instance
        from lm_eval.models.api_models import JsonChatStr
        from lm_eval.models.openai_completions import LocalChatCompletion
    except ImportError:
        return None
    model = LocalChatCompletion(
        base_url=f"{base_url}/chat/completions", model="stub-model", num_concurrent=CONCURRENCY,
        tokenizer_backend=None, tokenized_requests=False, max_gen_toks=16, max_retries=3,
    )  # fmt: skip
    instances = [
        Instance("generate_until", {}, (JsonChatStr(json.dumps([m.to_dict() for m in r.messages])),
                                        {"until": [], "max_gen_toks": 16, "temperature": 0.0}), i)
        for i, r in enumerate(requests)
    ]  # fmt: skip
    return timed(lambda: model.generate_until(instances, disable_tqdm=True))


def main() -> dict[str, float | int | None]:
    requests = make_requests()
    with tempfile.TemporaryDirectory() as tmp:
        stub, base_url = start_stub(Path(tmp))
        try:
            bare_loop(base_url, requests[:200])  # warm up connections and imports
            bare_times, cold_times = [], []
            for round_index in range(ROUNDS):  # alternate, keep each side's best: the machine is shared
                bare_times.append(timed(lambda: bare_loop(base_url, requests)))
                cache = ResponseCache(Path(tmp) / f"cache{round_index}.sqlite")
                inner = OpenAIBackend("stub-model", base_url=base_url, concurrency=CONCURRENCY)
                counting = CountingBackend(inner)
                wrapped = CachedBackend(counting, cache)
                cold_times.append(timed(lambda: wrapped.generate(requests)))  # noqa: B023 - called at once
            cold_calls = counting.calls
            counting.calls = 0
            # the best of ROUNDS warm passes, as for the other two figures
            warm = min(timed(lambda: CachedBackend(counting, cache).generate(requests)) for _ in range(ROUNDS))
            lm_eval = lm_eval_loop(base_url, requests)
        finally:
            stub.terminate()
            stub.wait(timeout=10)
    bare, cold = min(bare_times), min(cold_times)
    result = {
        "requests": N_REQUESTS, "concurrency": CONCURRENCY, "rounds": ROUNDS,
        "bare_s": round(bare, 3), "evalkit_cold_s": round(cold, 3), "evalkit_warm_s": round(warm, 3),
        "lm_eval_s": round(lm_eval, 3) if lm_eval else None,
        "evalkit_over_bare": round(cold / bare, 3), "warm_over_cold": round(warm / cold, 4),
        "warm_backend_calls": counting.calls, "cold_backend_calls": cold_calls,
        "evalkit_over_lm_eval": round(cold / lm_eval, 3) if lm_eval else None,
    }  # fmt: skip
    return result


if __name__ == "__main__":
    figures = main()
    print(json.dumps(figures, indent=2))
    print(f"evalkit / bare aiohttp loop: {figures['evalkit_over_bare']} (target <= 1.15)")
    print(f"warm cache / cold run: {figures['warm_over_cold']} with {figures['warm_backend_calls']} backend calls "
          "(target <= 0.05, 0 calls)")  # fmt: skip
    if figures["evalkit_over_lm_eval"] is not None:
        print(f"evalkit / lm-eval local-chat-completions: {figures['evalkit_over_lm_eval']} (target <= 0.8)")
