"""`RunConfig`: the one description of a run, whichever face made it.

Three faces build it and nothing else does: the flags of `evalkit run`, a config file (`evalkit run --config
run.yaml` or `.toml`; flags given on the command line override the file) and `evalkit.evaluate(...)`. A key is
the flag's name with dashes as underscores (`--cache-path` -> `cache_path`), lists are lists (`tasks: [gsm8k,
math]`; a comma-separated string works too), so a run moves between faces without a table. The plan check
(evalkit.run.plan) validates a RunConfig once, whichever face made it; errors name the flag, or the file's key and
line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from evalkit.errors import UserError

#: Generation settings that override each task's defaults (None: the task's own).
GENERATION_KEYS = ("temperature", "top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty",
                   "frequency_penalty", "max_tokens", "seed")  # fmt: skip
#: vLLM engine arguments (also accepted as vllm:<id>?key=value&...).
ENGINE_KEYS = ("tensor_parallel_size", "data_parallel_size", "pipeline_parallel_size", "max_model_len", "dtype",
               "gpu_memory_utilization", "enforce_eager", "distributed_executor_backend", "swap_space",
               "trust_remote_code")  # fmt: skip


class ConfigError(UserError, ValueError):
    """A run description that cannot be used; the message names the key (and the file's line)."""


@dataclass(frozen=True)
class RunConfig:
    """Everything `evalkit run` can be told. Field names are the flags' names with underscores."""

    model: tuple[str, ...] = ("local:smollm2",)  # one or several model strings; several share one leaderboard
    tasks: tuple[str, ...] | None = None  # None: every task
    langs: tuple[str, ...] | None = None  # None: every language of each task
    data: str = "samples"
    limit: int | None = None
    max_tokens_cap: int | None = None
    output: Path = Path("results")
    name: str | None = None
    step: float | None = None
    plugins: tuple[Path, ...] = ()
    lm_eval_include: tuple[Path, ...] = ()
    concurrency: int = 32
    timeout: float = 600.0
    max_retries: int = 6
    max_error_rate: float = 0.0
    no_cache: bool = False
    cache_path: Path | None = None
    system_prompt: str | None = None
    chat_template: str | None = None
    stop: tuple[str, ...] | None = None
    allow_unisolated: bool = False
    samples: int = 1
    no_progress: bool = False
    judge: str | None = None
    judge_max_tokens: int = 1024
    judge_mode: str = "auto"
    answer_judge: str | None = None
    answer_judge_scope: str = "uncertain"
    answer_judge_scored: bool = False
    baseline: str | None = None
    baseline_answers: Path | None = None
    arena_method: str | None = None
    style_control: str | None = None
    bootstrap_rounds: int | None = None
    bootstrap_seed: int | None = None
    reference: tuple[str, ...] = ()
    reference_answers: tuple[str, ...] = ()  # NAME=FILE
    task_option: tuple[str, ...] = ()  # TASK.NAME=VALUE
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    tensor_parallel_size: int | None = None
    data_parallel_size: int | None = None
    pipeline_parallel_size: int | None = None
    max_model_len: int | None = None
    dtype: str | None = None
    gpu_memory_utilization: float | None = None
    enforce_eager: bool | None = None
    distributed_executor_backend: str | None = None
    swap_space: float | None = None
    trust_remote_code: bool | None = None
    dry_run: bool = False
    overwrite: bool = False

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: Mapping[str, str] | None = None) -> RunConfig:
        """A RunConfig from keys and values (keyword arguments, a config file, explicit flags).

        `where` names, per key, where it was given (`run.yaml:7`, `--limit`), for the error message.
        """
        known = {f.name: f for f in fields(cls)}
        settings: dict[str, Any] = {}
        for key, value in values.items():
            place = (where or {}).get(key, key)
            if key not in known:
                close = [k for k in known if k.replace("_", "") == key.replace("_", "").replace("-", "")]
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"{place}: unknown setting {key!r}{hint}")
            settings[key] = _coerce(key, value, str(known[key].type), place)
        return cls(**settings)

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data (written beside the results as run_config.json)."""
        data = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if k in ("plugins", "lm_eval_include")
                    else list(v) if isinstance(v, tuple) else v) for k, v in data.items()}  # fmt: skip

    def generation_overrides(self) -> dict[str, Any]:
        overrides: dict[str, Any] = {key: getattr(self, key) for key in GENERATION_KEYS}
        if self.stop:
            overrides["stop"] = tuple(self.stop)
        return overrides

    def engine_args(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in ENGINE_KEYS if getattr(self, key) is not None}


def _coerce(key: str, value: Any, kind: str, place: str) -> Any:
    """One value in the field's type; lists accept a list or a comma-separated string."""

    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{place}: {key} must be {expected}, got {value!r}")

    if value is None:
        if "None" in kind:
            return None
        raise fail("set")
    if key == "stop":  # stop strings are taken as written: never split at commas, never stripped
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or any(not isinstance(x, str) or x == "" for x in items):
            raise fail("a stop string or a list of them, none empty")
        return tuple(items)
    if kind.startswith("tuple"):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise fail("a list")
        if any(not isinstance(x, (str, Path)) for x in items):
            raise fail("a list of strings")
        cleaned = [str(x).strip() for x in items]
        if key in ("tasks", "langs") and cleaned == ["all"]:
            return None if "None" in kind else ()
        if key in ("tasks", "langs", "model") and (not cleaned or any(not x for x in cleaned)):
            raise fail("a non-empty list of names")
        return tuple(Path(x) for x in cleaned) if "Path" in kind else tuple(cleaned)
    if "Path" in kind:
        if not isinstance(value, (str, Path)):
            raise fail("a path")
        return Path(value)
    if kind.startswith("bool"):
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if kind.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("an integer")
        return value
    if kind.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail("a number")
        return float(value)
    if not isinstance(value, str):
        raise fail("a string")
    return value


def read_config_file(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings of a YAML or TOML run file and, per key, `file:line` (for error messages)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"--config {path}: not UTF-8 ({exc.reason})") from None
    if path.suffix == ".toml":
        try:
            import tomllib  # noqa: PLC0415 - Python 3.11+
        except ModuleNotFoundError:
            raise ConfigError(f"--config {path}: TOML run files need Python 3.11 or newer; use YAML") from None
        try:
            values = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML ({exc})") from None
        lines = {}
        for key in values:
            found = re.search(rf"^\s*{re.escape(key)}\s*=", text, flags=re.MULTILINE)
            lines[key.replace("-", "_")] = f"{path}:{text[: found.start()].count(chr(10)) + 1}" if found else str(path)
        return _flat(values, path), lines
    if path.suffix not in (".yaml", ".yml"):
        raise ConfigError(f"--config {path}: expected a .yaml, .yml or .toml file")
    import yaml  # noqa: PLC0415

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        values = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if values is None:
        return {}, {}
    if not isinstance(values, dict) or node is None or not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{path}: expected a mapping of settings (key: value)")
    lines: dict[str, str] = {}
    for key_node, _ in node.value:
        name, where = str(key_node.value).replace("-", "_"), f"{path}:{key_node.start_mark.line + 1}"
        if name in lines:
            raise ConfigError(f"{where}: {key_node.value!r} is set twice (also at {lines[name]})")
        lines[name] = where
    return _flat(values, path), lines


def _flat(values: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """Keys as written, with dashes read as underscores (`cache-path` is `cache_path`)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise ConfigError(f"{path}: key {key!r} is not a name")
        if key.replace("-", "_") in flat:
            raise ConfigError(f"{path}: {key!r} is set twice (as {key!r} and with underscores)")
        flat[key.replace("-", "_")] = value
    return flat


def merge(file_values: Mapping[str, Any], explicit: Mapping[str, Any]) -> dict[str, Any]:
    """Flags given on the command line override the file."""
    return {**file_values, **explicit}
