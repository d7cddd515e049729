"""Task plugins: an explicit table of the built-in ones, plus folders the user names with --plugins.

Nothing is discovered at import time; a task's module is imported only when the task is asked for.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from evalkit.run.task import Task, TaskDataError

#: Built-in tasks and judge arenas: name -> folder in the repository (explicit registration; a line per plugin).
BUILTIN_TASKS: dict[str, str] = {
    "gsm8k": "tasks/gsm8k",
    "mmlu_pro": "tasks/mmlu_pro",
    "math": "tasks/math",
    "mbpp": "tasks/mbpp",
    "humaneval": "tasks/humaneval",
    "rag": "tasks/rag",
    "arena_hard": "judges/arena_hard",
    "mt_bench": "judges/mt_bench",
    "alpaca_eval": "judges/alpaca_eval",
}


def repository_root() -> Path:
    return Path(__file__).resolve().parent.parent.parent


def _task_folder(name: str, plugin_dirs: Sequence[Path]) -> Path:
    if name in BUILTIN_TASKS:
        return repository_root() / BUILTIN_TASKS[name]
    for directory in plugin_dirs:
        if (directory / name / "task.py").is_file():
            return directory / name
    raise TaskDataError(f"unknown task {name!r}; available: {', '.join(available_tasks(plugin_dirs))}")


def load_task(name: str, plugin_dirs: Sequence[Path] = ()) -> Task:
    """Import `<folder>/task.py` and return its TASK, checked to be a Task bound to its folder."""
    folder = _task_folder(name, plugin_dirs)
    path = folder / "task.py"
    spec = importlib.util.spec_from_file_location(f"evalkit_tasks.{name}", path)
    if spec is None or spec.loader is None:
        raise TaskDataError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise TaskDataError(f"{exc.filename or path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except ImportError as exc:
        raise TaskDataError(f"{path}: cannot be imported: {exc}") from None
    task_class = getattr(module, "TASK", None)
    if not (isinstance(task_class, type) and issubclass(task_class, Task)):
        raise TaskDataError(f"{path}: must define TASK = <a subclass of evalkit.run.task.Task>")
    task = task_class(folder)
    if task.name != name:
        raise TaskDataError(f"{path}: TASK.name is {task.name!r}, but the folder is {name!r}")
    return task


def available_tasks(plugin_dirs: Sequence[Path] = ()) -> list[str]:
    names = list(BUILTIN_TASKS)
    for directory in plugin_dirs:
        if not directory.is_dir():
            raise TaskDataError(f"--plugins {directory}: not a directory")
        names += sorted(p.parent.name for p in directory.glob("*/task.py") if p.parent.name not in names)
    return names
