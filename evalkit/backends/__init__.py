"""Backends: build one from a model string. Heavy packages (vllm) are imported only by the backend that needs them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from evalkit.backends.base import Backend, BackendError, UnsupportedRoleError
from evalkit.backends.modelspec import ModelSpec
from evalkit.backends.retry import RetryPolicy

__all__ = ["Backend", "BackendError", "BackendOptions", "UnsupportedRoleError", "build_backend"]


@dataclass(frozen=True)
class BackendOptions:
    concurrency: int = 32
    timeout_s: float = 600.0
    max_retries: int = 6
    chat_template: str | None = None  # template text, already resolved from a name or file
    engine_args: Mapping[str, Any] = field(default_factory=dict)  # vLLM engine arguments from CLI flags
    check_reachable: bool = True


def build_backend(spec: ModelSpec, options: BackendOptions = BackendOptions()) -> Backend:
    """Create the backend a model string names. The caller owns it and must `close()` it."""
    retry = RetryPolicy(max_retries=options.max_retries)
    if spec.kind == "openai":
        from evalkit.backends.openai_backend import OpenAIBackend

        concurrency = int(spec.options.get("concurrency", options.concurrency))
        backend = OpenAIBackend(
            model=spec.name, base_url=spec.base_url, concurrency=concurrency, timeout_s=options.timeout_s,
            retry=retry, chat_template=options.chat_template,
        )  # fmt: skip
        if options.check_reachable:
            backend.check_reachable()
        return backend
    if spec.kind == "local":
        from evalkit.backends.local import LocalBackend

        if options.chat_template is not None:
            raise BackendError("--chat-template applies to vllm (and vLLM servers); the embedded model uses its own")
        return LocalBackend(spec.name, timeout_s=options.timeout_s, retry=retry)
    if spec.kind == "vllm":
        from evalkit.backends.vllm_backend import VLLMBackend

        engine_args = {**spec.options, **options.engine_args}
        return VLLMBackend(spec.name, engine_args=engine_args, chat_template=options.chat_template)
    raise BackendError(f"unknown backend kind {spec.kind!r}")
