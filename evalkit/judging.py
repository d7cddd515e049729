"""The judge engine: a model string that grades answers, served by the same backend layer and cache.

Every judged number (RAG accuracy, Arena-Hard verdicts, MT-Bench ratings, AlpacaEval preferences) goes
through `Judge.run`: the prompts are sent at temperature 0, each reply is parsed by a strict, pure parser
supplied by the caller, and a reply that yields nothing is re-asked once — the judge's own reply is kept
in the history and a short follow-up asks for the label alone. A reply that still yields nothing is a
`Judgment` with `verdict=None`: callers count it and report it, they never guess.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from evalkit.backends.base import Backend
from evalkit.types import Completion, GenerationConfig, Message, Request

V = TypeVar("V")


@dataclass(frozen=True)
class JudgeQuery:
    """One question to the judge: the prompt, and the follow-up sent if no verdict can be parsed."""

    messages: tuple[Message, ...]
    reask: str


@dataclass(frozen=True)
class Judgment(Generic[V]):
    """The judge's answer to one query; `verdict` is None when it stayed unparseable (or the request failed)."""

    raw: str
    verdict: V | None
    reasked: bool = False
    raw_reask: str | None = None
    error: str | None = None

    @property
    def parsed(self) -> bool:
        return self.verdict is not None

    def to_dict(self, verdict: Any = None) -> dict[str, Any]:
        """JSON form; `verdict` overrides how the parsed verdict is written (e.g. an enum's label)."""
        shown = verdict if verdict is not None else self.verdict
        return {"raw": self.raw, "verdict": shown, "reasked": self.reasked, "raw_reask": self.raw_reask,
                "error": self.error}  # fmt: skip


class Judge:
    """A judge model behind any backend; deterministic (temperature 0) with a configurable token budget."""

    def __init__(self, backend: Backend, model: str, max_tokens: int = 1024):
        self.backend = backend
        self.model = model  # the model string, as written in summaries and judgments
        self.config = GenerationConfig(temperature=0.0, max_tokens=max_tokens)

    @property
    def identity(self) -> str:
        return self.backend.identity

    def run(self, queries: Sequence[JudgeQuery], parse: Callable[[str], V | None] | None, description: str = "judge",
            read: Callable[[Completion], V | None] | None = None, config: GenerationConfig | None = None,
            on_judgment: Callable[[int, Judgment[V]], None] | None = None) -> list[Judgment[V]]:  # fmt: skip
        """Ask every query, re-ask once those whose reply does not parse, and return one Judgment each.

        `read` replaces `parse` when the verdict needs more than the text (label-token probabilities);
        `config` replaces the judge's generation settings (e.g. one token with top logprobs).
        `on_judgment(index, judgment)` is called the moment a query's judgment is final (parsed, failed, or
        re-asked), in the caller's thread, so a caller can persist each one before the batch ends.
        """
        config = config or self.config
        if read is None:
            assert parse is not None, "a judge needs a reader: parse (reply text) or read (whole completion)"
            read = lambda completion: parse(completion.text)  # noqa: E731
        final: dict[int, Judgment[V]] = {}
        retry: list[int] = []

        def settle(index: int, judgment: Judgment[V]) -> None:
            final[index] = judgment
            if on_judgment is not None:
                on_judgment(index, judgment)

        def first(index: int, completion: Completion) -> None:
            if not completion.ok:
                settle(index, Judgment(raw="", verdict=None, error=completion.error))
                return
            verdict = read(completion)
            if verdict is None:
                final[index] = Judgment(raw=completion.text, verdict=None)
                retry.append(index)
            else:
                settle(index, Judgment(raw=completion.text, verdict=verdict))

        self._describe(description)
        seen: set[int] = set()
        answered = self.backend.generate([Request(q.messages, config) for q in queries],
                                         lambda i, c: (seen.add(i), first(i, c)))  # fmt: skip
        for index, completion in enumerate(answered):  # a backend that did not report every result
            if index not in seen:
                first(index, completion)
        if retry:
            retry.sort()
            self._describe(f"{description} (re-ask)")
            follow_ups = [
                Request((*queries[i].messages, Message("assistant", final[i].raw), Message("user", queries[i].reask)),
                        config)
                for i in retry
            ]  # fmt: skip

            def second(sub_index: int, completion: Completion) -> None:
                index = retry[sub_index]
                verdict = read(completion) if completion.ok else None
                settle(index, Judgment(raw=final[index].raw, verdict=verdict, reasked=True, raw_reask=completion.text,
                                       error=completion.error))  # fmt: skip

            seen.clear()
            answered = self.backend.generate(follow_ups, lambda i, c: (seen.add(i), second(i, c)))
            for sub_index, completion in enumerate(answered):
                if sub_index not in seen:
                    second(sub_index, completion)
        return [final.get(i, Judgment(raw="", verdict=None, error="no answer")) for i in range(len(queries))]

    def _describe(self, description: str) -> None:
        if hasattr(self.backend, "description"):
            self.backend.description = description
