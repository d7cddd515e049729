"""Core value types shared by tasks, backends, the runner and the records on disk.

Frozen dataclasses only: no torch / pandas imports here, so everything else can import this cheaply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Message:
    """One chat turn. `role` is a free string: system, user, assistant, or a custom one like `documents`."""

    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        return cls(role=str(data["role"]), content=str(data["content"]))


@dataclass(frozen=True)
class GenerationConfig:
    """Sampling settings for one request; `None` means "the backend's / model's default"."""

    temperature: float = 0.0
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    seed: int | None = None
    n: int = 1
    #: Ask for the k most likely alternatives of each generated token (judges reading label probabilities).
    top_logprobs: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["stop"] = list(self.stop)
        if self.top_logprobs is None:
            del data["top_logprobs"]  # absent when unused, so cache keys of ordinary requests never change
        return data

    def merged(self, overrides: Mapping[str, Any]) -> GenerationConfig:
        """Return a copy with the non-None `overrides` applied (CLI flags over task defaults)."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown generation setting(s): {', '.join(sorted(unknown))}")
        clean = {k: (tuple(v) if k == "stop" else v) for k, v in overrides.items() if v is not None}
        return replace(self, **clean)


@dataclass(frozen=True)
class Request:
    """What a backend receives: the messages, the sampling settings, and which of n replicas this is."""

    messages: tuple[Message, ...]
    config: GenerationConfig
    replica: int = 0


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


@dataclass(frozen=True)
class Completion:
    """One generated answer. `error` is set (and `text` empty) when the request failed for good."""

    text: str
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    error: str | None = None
    cached: bool = False
    #: With GenerationConfig.top_logprobs: per generated token, its most likely alternatives -> logprob.
    top_logprobs: tuple[Mapping[str, float], ...] | None = None
    #: How many times the request was sent (1: no retry); not stored in the cache.
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "usage": self.usage.to_dict(),
            "latency_s": round(self.latency_s, 4),
            "error": self.error,
        }
        if self.top_logprobs is not None:
            data["top_logprobs"] = [dict(position) for position in self.top_logprobs]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], cached: bool = False) -> Completion:
        usage = data.get("usage") or {}
        top = data.get("top_logprobs")
        if not isinstance(data["text"], str):
            raise ValueError("a stored answer's text is not a string")
        # This runs once per cached answer and is most of a warm re-run, so the frozen dataclasses are filled
        # in directly instead of through their per-field object.__setattr__ (three times faster; same fields).
        counts = object.__new__(Usage)
        counts.__dict__.update(prompt_tokens=int(usage.get("prompt_tokens", 0)),
                               completion_tokens=int(usage.get("completion_tokens", 0)))  # fmt: skip
        completion = object.__new__(cls)
        completion.__dict__.update(text=data["text"], finish_reason=data.get("finish_reason"), usage=counts,
                                   latency_s=float(data.get("latency_s", 0.0)), error=data.get("error"),
                                   cached=cached, top_logprobs=tuple(top) if top is not None else None,
                                   attempts=1)  # fmt: skip
        return completion

    @classmethod
    def failed(cls, error: str, latency_s: float = 0.0) -> Completion:
        return cls(text="", finish_reason="error", latency_s=latency_s, error=error)


@dataclass(frozen=True)
class Sample:
    """One benchmark item: the task's own fields plus a stable id and the gold answer."""

    id: str
    fields: Mapping[str, Any]
    target: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Score:
    """What a task's scorer says of one completion: extracted answer(s) and metric values in [0, 1]."""

    extracted: Mapping[str, str | int | None]
    values: Mapping[str, float]


@dataclass(frozen=True)
class SampleRecord:
    """One line of samples.jsonl."""

    id: str
    task: str
    lang: str
    messages: tuple[Message, ...]
    target: str
    completion: str
    finish_reason: str | None
    extracted: Mapping[str, str | int | None]
    scores: Mapping[str, float]
    error: str | None
    usage: Usage
    latency_s: float
    cached: bool
    replica: int = 0
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: Every step's answer of a multi-step item (RAG's ids then answer, MT-Bench's turns); empty for one step.
    answers: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "id": self.id,
            "task": self.task,
            "lang": self.lang,
            "replica": self.replica,
            "metadata": dict(self.metadata),
            "messages": [m.to_dict() for m in self.messages],
            "target": self.target,
            "completion": self.completion,
            "finish_reason": self.finish_reason,
            "extracted": dict(self.extracted),
            "scores": dict(self.scores),
            "error": self.error,
            "usage": self.usage.to_dict(),
            "latency_s": round(self.latency_s, 4),
            "cached": self.cached,
            **({"answers": list(self.answers)} if self.answers else {}),
        }


@dataclass(frozen=True)
class MetricValue:
    value: float
    stderr: float | None

    def to_dict(self) -> dict[str, float | None]:
        """NaN / inf (a standard error of one item, say) are written as null: summary.json stays strict JSON."""
        return {"value": finite_number(self.value), "stderr": finite_number(self.stderr)}

    def shown(self, digits: int) -> str:
        """`0.1250±0.0417`, the ± part left out when there is no standard error."""
        spread = finite_number(self.stderr)
        return f"{self.value:.{digits}f}" + (f"±{spread:.{digits}f}" if spread is not None else "")


def finite_number(value: Any) -> float | None:
    """A number as a float, or None when it is missing, not a number, NaN or infinite."""
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


@dataclass(frozen=True)
class RunSummary:
    """summary.json: everything needed to trace a number and to decide whether two runs are comparable."""

    task: str
    task_version: str
    lang: str
    model: str
    backend: str
    metrics: Mapping[str, MetricValue]
    n: int
    n_errors: int
    data: Mapping[str, Any]
    generation_config: GenerationConfig
    system_prompt: str | None
    chat_template: str | None
    usage: Usage
    evalkit_version: str
    git_sha: str | None
    started_at: str
    finished_at: str
    duration_s: float
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: metadata key -> value -> {"n": count, metric: {"value", "stderr"}}
    breakdown: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    #: Each distinct error of a failed item (after retries) -> how many items it hit.
    errors: Mapping[str, int] = field(default_factory=dict)
    #: Replies the server cut at the token limit (finish_reason "length").
    n_truncated: int = 0
    #: How the run was started (the command line) and the versions of evalkit and the backend's libraries.
    command: tuple[str, ...] = ()
    versions: Mapping[str, str] = field(default_factory=dict)
    #: What decides the numbers (evalkit.run.runner.run_config): compared when a run is started again under its name.
    config: Mapping[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def status(self) -> str:
        """`complete` when every item was answered (metrics are over answered items only), else `incomplete`."""
        return "complete" if self.n_errors == 0 else "incomplete"

    @property
    def error_rate(self) -> float:
        return self.n_errors / self.n if self.n else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "task": self.task,
            "task_version": self.task_version,
            "lang": self.lang,
            "model": self.model,
            "backend": self.backend,
            "metrics": {name: m.to_dict() for name, m in self.metrics.items()},
            "breakdown": {key: dict(groups) for key, groups in self.breakdown.items()},
            "status": self.status,
            "n": self.n,
            "n_errors": self.n_errors,
            "error_rate": round(self.error_rate, 6),
            "errors": dict(self.errors),
            "n_truncated": self.n_truncated,
            "data": dict(self.data),
            "generation_config": self.generation_config.to_dict(),
            "system_prompt": self.system_prompt,
            "chat_template": self.chat_template,
            "usage": self.usage.to_dict(),
            "evalkit_version": self.evalkit_version,
            "git_sha": self.git_sha,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": round(self.duration_s, 3),
            "config": dict(self.config),
            "command": list(self.command),
            "versions": dict(self.versions),
            "extra": dict(self.extra),
        }
