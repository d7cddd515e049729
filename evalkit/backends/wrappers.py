"""Cross-cutting wrappers around any backend, written once: response cache, progress and token accounting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from evalkit.backends.base import Backend, ResultCallback
from evalkit.run.cache import ResponseCache, cache_key
from evalkit.types import Completion, Request


class CachedBackend:
    """Answers from the cache what it can; sends only the misses, storing each answer the moment it arrives."""

    def __init__(self, inner: Backend, cache: ResponseCache):
        self.inner = inner
        self.cache = cache
        self.identity = inner.identity
        self.model = inner.model
        self.hits = 0
        self.misses = 0

    def generate(self, requests: Sequence[Request], on_result: ResultCallback | None = None) -> list[Completion]:
        keys = [cache_key(self.identity, self.model, r) for r in requests]
        found = self.cache.get_many(keys)
        results: list[Completion | None] = [found.get(k) for k in keys]
        for index, completion in enumerate(results):
            if completion is not None and on_result is not None:
                on_result(index, completion)
        missing = [i for i, c in enumerate(results) if c is None]
        self.hits += len(requests) - len(missing)
        self.misses += len(missing)

        def store(sub_index: int, completion: Completion) -> None:
            index = missing[sub_index]
            self.cache.put(keys[index], completion)
            results[index] = completion
            if on_result is not None:
                on_result(index, completion)

        if missing:
            self.inner.generate([requests[i] for i in missing], store)
        return [c if c is not None else Completion.failed("no answer") for c in results]

    def close(self) -> None:
        self.inner.close()


@dataclass
class TokenTotals:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    errors: int = 0
    retried: int = 0


class ProgressBackend:
    """A tqdm bar per batch (done/total, rate, ETA, tokens) and running token totals across batches."""

    def __init__(self, inner: Backend, enabled: bool = True):
        self.inner = inner
        self.identity = inner.identity
        self.model = inner.model
        self.enabled = enabled
        self.totals = TokenTotals()
        self.description = ""

    def generate(self, requests: Sequence[Request], on_result: ResultCallback | None = None) -> list[Completion]:
        bar = tqdm(total=len(requests), desc=self.description or None, unit="req", disable=not self.enabled,
                   dynamic_ncols=True, leave=True)  # fmt: skip
        batch = TokenTotals()

        def track(index: int, completion: Completion) -> None:
            batch.requests += 1
            batch.errors += 0 if completion.ok else 1
            batch.retried += completion.attempts > 1
            batch.prompt_tokens += completion.usage.prompt_tokens
            batch.completion_tokens += completion.usage.completion_tokens
            bar.update(1)
            bar.set_postfix(tok_in=batch.prompt_tokens, tok_out=batch.completion_tokens, err=batch.errors,
                            retried=batch.retried, refresh=False)  # fmt: skip
            if on_result is not None:
                on_result(index, completion)

        try:
            return self.inner.generate(requests, track)
        finally:
            bar.close()
            for name in ("prompt_tokens", "completion_tokens", "requests", "errors", "retried"):
                setattr(self.totals, name, getattr(self.totals, name) + getattr(batch, name))

    def close(self) -> None:
        self.inner.close()
