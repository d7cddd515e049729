"""The judge engine: a model string that grades answers, served by the same backend layer and cache.

Every judged number (RAG accuracy, Arena-Hard verdicts, MT-Bench ratings, AlpacaEval preferences) goes
through `Judge.run`: the prompts are sent at temperature 0, each reply is parsed by a strict, pure parser
supplied by the caller, and a reply that yields nothing is re-asked once — the judge's own reply is kept
in the history and a short follow-up asks for the label alone. A reply that still yields nothing is a
`Judgment` with `verdict=None`: callers count it and report it, they never guess.

Two modes (`--judge-mode`):
  text    the reference tools' way: the judge writes its reasoning and a label, parsed strictly (the default).
  choice  the verdict as one constrained choice: the query's `Choice` instruction is appended, the judge
          answers in at most three tokens with its top-20 first-token logprobs, and the verdict is the
          option it wrote or, failing that, the most probable option among those logprobs. No re-ask. This
          is how a small local judge (the embedded 135M model) yields a verdict at all, in seconds; such
          verdicts test the pipeline, they do not measure quality.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from evalkit.backends.base import Backend
from evalkit.types import Completion, GenerationConfig, Message, Request

V = TypeVar("V")


TEXT, CHOICE = "text", "choice"
JUDGE_MODES = (TEXT, CHOICE)
#: Choice mode's request: room for a two-digit option, and the first token's alternatives.
CHOICE_CONFIG = GenerationConfig(temperature=0.0, max_tokens=3, top_logprobs=20)


@dataclass(frozen=True)
class Choice(Generic[V]):
    """A verdict asked as one constrained choice: the instruction that asks for it, and the options the judge
    may answer with (as written -> verdict)."""

    instruction: str
    options: Mapping[str, V]

    def written(self, text: str) -> str | None:
        """The option the reply starts with (longest first; `10` is not `1`), ignoring quotes and brackets."""
        reply = text.strip().lstrip("[(\"'*`« ").strip()
        for option in sorted(self.options, key=len, reverse=True):
            if reply.startswith(option) and not reply[len(option):len(option) + 1].isalnum():
                return option
        return None

    def option_logprobs(self, completion: Completion) -> dict[str, float]:
        """The options among the first generated token's top logprobs (tokens compared without spaces)."""
        if not completion.top_logprobs:
            return {}
        found: dict[str, float] = {}
        for token, logprob in completion.top_logprobs[0].items():
            option = token.strip()
            if option in self.options and logprob > found.get(option, float("-inf")):
                found[option] = logprob
        return found

    def read(self, completion: Completion) -> V | None:
        """The option written, else the most probable option in the first token's top logprobs, else None."""
        return self.judgment(completion).verdict

    def judgment(self, completion: Completion) -> Judgment[V]:
        """The choice-mode Judgment of a reply: its verdict (see `read`) and the options' logprobs."""
        ranked = self.option_logprobs(completion)
        option = self.written(completion.text)
        if option is None and ranked:
            option = max(ranked, key=ranked.__getitem__)
        verdict = None if option is None else self.options[option]
        return Judgment(raw=completion.text, verdict=verdict, mode=CHOICE, option_logprobs=ranked)


def with_instruction(messages: Sequence[Message], instruction: str) -> tuple[Message, ...]:
    """The messages with `instruction` appended to the last user message as its own paragraph."""
    last = max(i for i, m in enumerate(messages) if m.role == "user")
    return tuple(Message(m.role, f"{m.content}\n\n{instruction}") if i == last else m for i, m in enumerate(messages))


@dataclass(frozen=True)
class JudgeQuery:
    """One question to the judge: the prompt, the follow-up sent if no verdict can be parsed, and how to ask
    for the verdict as one constrained choice (choice mode; None: this query is asked as text in any mode)."""

    messages: tuple[Message, ...]
    reask: str
    choice: Choice[Any] | None = None


@dataclass(frozen=True)
class Judgment(Generic[V]):
    """The judge's answer to one query; `verdict` is None when it stayed unparseable (or the request failed)."""

    raw: str
    verdict: V | None
    reasked: bool = False
    raw_reask: str | None = None
    error: str | None = None
    mode: str = TEXT
    option_logprobs: Mapping[str, float] = field(default_factory=dict)

    @property
    def parsed(self) -> bool:
        return self.verdict is not None

    def to_dict(self, verdict: Any = None) -> dict[str, Any]:
        """JSON form; `verdict` overrides how the parsed verdict is written (e.g. an enum's label)."""
        shown = verdict if verdict is not None else self.verdict
        return {"raw": self.raw, "verdict": shown, "reasked": self.reasked, "raw_reask": self.raw_reask,
                "error": self.error, **self.mode_fields()}  # fmt: skip

    def mode_fields(self) -> dict[str, Any]:
        """What a choice-mode verdict adds to its record: the mode and the options' first-token logprobs."""
        return {"judge_mode": CHOICE, "option_logprobs": dict(self.option_logprobs)} if self.mode == CHOICE else {}


@dataclass(frozen=True)
class JudgeInfo:
    """What a summary records of the judge that gave its verdicts (also known before its backend starts)."""

    model: str
    mode: str
    max_tokens: int


class Judge:
    """A judge model behind any backend; deterministic (temperature 0) with a configurable token budget."""

    def __init__(self, backend: Backend, model: str, max_tokens: int = 1024, mode: str = TEXT):
        if mode not in JUDGE_MODES:
            raise ValueError(f"judge mode {mode!r}: expected one of {', '.join(JUDGE_MODES)}")
        self.backend = backend
        self.model = model  # the model string, as written in summaries and judgments
        self.mode = mode
        self.config = GenerationConfig(temperature=0.0, max_tokens=max_tokens)

    @property
    def identity(self) -> str:
        return self.backend.identity

    @property
    def info(self) -> JudgeInfo:
        return JudgeInfo(self.model, self.mode, self.config.max_tokens)

    def request(self, query: JudgeQuery, config: GenerationConfig | None = None) -> Request:
        """The first request `run` sends for `query`: in choice mode with the choice instruction and settings."""
        if self.mode == CHOICE and query.choice is not None:
            return Request(with_instruction(query.messages, query.choice.instruction), CHOICE_CONFIG)
        return Request(query.messages, config or self.config)

    def request_key(self, query: JudgeQuery, config: GenerationConfig | None = None) -> str:
        """What a stored verdict belongs to: the cache key of the exact judge request (judge backend and model,
        the rendered messages with both answers, the mode's instruction and the generation settings) and the
        mode. A verdict is reused only for the identical request."""
        from evalkit.run.cache import cache_key  # noqa: PLC0415 - sqlite3 is only needed by judged flows

        return cache_key(f"{self.identity}|judge-mode={self.mode}", self.model, self.request(query, config))

    def run(self, queries: Sequence[JudgeQuery], parse: Callable[[str], V | None] | None, description: str = "judge",
            read: Callable[[Completion], V | None] | None = None, config: GenerationConfig | None = None,
            on_judgment: Callable[[int, Judgment[V]], None] | None = None) -> list[Judgment[V]]:  # fmt: skip
        """Ask every query, re-ask once those whose reply does not parse, and return one Judgment each.

        `read` replaces `parse` when the verdict needs more than the text (label-token probabilities);
        `config` replaces the judge's generation settings (e.g. one token with top logprobs).
        `on_judgment(index, judgment)` is called the moment a query's judgment is final (parsed, failed, or
        re-asked), in the caller's thread, so a caller can persist each one before the batch ends.
        In choice mode a query with a `Choice` is asked and read as that choice, and never re-asked.
        """
        config = config or self.config
        if read is None:
            assert parse is not None, "a judge needs a reader: parse (reply text) or read (whole completion)"
            read = lambda completion: parse(completion.text)  # noqa: E731
        chosen = {i: q.choice for i, q in enumerate(queries) if self.mode == CHOICE and q.choice is not None}
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
            choice = chosen.get(index)
            if choice is not None:
                settle(index, choice.judgment(completion))
                return
            verdict = read(completion)
            if verdict is None:
                final[index] = Judgment(raw=completion.text, verdict=None)
                retry.append(index)
            else:
                settle(index, Judgment(raw=completion.text, verdict=verdict))

        self._describe(description)
        seen: set[int] = set()
        requests = [self.request(q, config) for q in queries]
        answered = self.backend.generate(requests, lambda i, c: (seen.add(i), first(i, c)))
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
