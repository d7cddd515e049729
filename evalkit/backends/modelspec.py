"""Model strings: one string names a model and how to reach it.

    local:smollm2                                   the embedded SmolLM2-135M-Instruct (llama.cpp server)
    openai:gpt-4o-mini                              api.openai.com, key from OPENAI_API_KEY
    openai:my-model@http://127.0.0.1:8000/v1        any OpenAI-compatible server
    vllm:t-tech/T-lite-it-1.0?tensor_parallel_size=2&max_model_len=8192

Options after `?` are `key=value` pairs joined by `&`; they go to the backend (engine arguments for vLLM,
client settings for openai). Values are parsed as int, float, bool (true/false) or left as strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from evalkit.errors import UserError

KINDS = ("local", "openai", "vllm")
LOCAL_MODELS = ("smollm2",)


class ModelSpecError(UserError, ValueError):
    """A model string that cannot be understood; the message says what is wrong and what is expected."""


@dataclass(frozen=True)
class ModelSpec:
    kind: str
    name: str
    base_url: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        """A file-system-safe folder name for results: `vllm:t-tech/T-lite` -> `vllm__t-tech__T-lite`."""
        text = f"{self.kind}__{self.name}"
        if self.base_url:
            host = re.sub(r"^https?://", "", self.base_url).split("/")[0]
            text += f"@{host}"
        text = re.sub(r"[^A-Za-z0-9._@-]+", "__", text.replace("/", "__"))
        return re.sub(r"_{2,}", "__", text).strip("_")

    def __str__(self) -> str:
        text = f"{self.kind}:{self.name}"
        if self.base_url:
            text += f"@{self.base_url}"
        if self.options:
            text += "?" + "&".join(f"{k}={v}" for k, v in self.options.items())
        return text


def _coerce(value: str) -> Any:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def parse_model_string(text: str) -> ModelSpec:
    """Parse `kind:name[@base_url][?k=v&...]` into a ModelSpec; raise ModelSpecError on anything else."""
    text = text.strip()
    kind, sep, rest = text.partition(":")
    if not sep or kind not in KINDS or not rest:
        raise ModelSpecError(
            f"bad model string {text!r}: expected one of local:smollm2, openai:<model>[@<base_url>], "
            "vllm:<hf-id-or-path>[?key=value&...]"
        )
    options: dict[str, Any] = {}
    if "?" in rest:
        rest, _, query = rest.partition("?")
        try:
            pairs = parse_qsl(query, keep_blank_values=False, strict_parsing=True)
        except ValueError as exc:
            raise ModelSpecError(f"bad options {query!r} in model string {text!r}: use key=value&key=value") from exc
        options = {k: _coerce(v) for k, v in pairs}
    base_url = None
    match = re.search(r"@(https?://\S+)$", rest)
    if match:
        base_url = match.group(1).rstrip("/")
        rest = rest[: match.start()]
    else:
        address = re.search(r"@((?:localhost|[\w-]+(?:\.[\w-]+)+|\[[0-9a-fA-F:]+\])(?::\d+)?(?:/\S*)?)$", rest)
        if address and ("." in address.group(1) or ":" in address.group(1) or "localhost" in address.group(1)):
            raise ModelSpecError(f"model string {text!r}: the server address {address.group(1)!r} has no scheme; "
                                 f"write {kind}:{rest[: address.start()]}@http://{address.group(1)}")
    if not rest:
        raise ModelSpecError(f"model string {text!r} names no model")
    if kind == "local":
        if rest not in LOCAL_MODELS:
            known = ", ".join(LOCAL_MODELS)
            raise ModelSpecError(f"unknown local model {rest!r} in {text!r}; embedded models: {known}")
        if base_url:
            raise ModelSpecError(f"local models take no base URL: {text!r}")
    if kind == "vllm" and base_url:
        raise ModelSpecError(
            f"{text!r}: a vLLM *server* is reached with openai:<model>@<base_url>; vllm: runs in-process"
        )
    return ModelSpec(kind=kind, name=rest, base_url=base_url, options=options)
