"""Reading a results tree for the viewer: every run folder, its summary and its per-item records.

Nothing here raises on a damaged file: a JSONL line that is not a JSON object (a run killed mid-write, a disk
that filled up) becomes a `Damaged` row that the report shows as a damaged item, and the other lines are read
normally; an unreadable summary.json is named in the run's warnings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The files a run folder (results/<model>/<task>/<lang>/) may hold.
RUN_FILES = ("summary.json", "samples.jsonl", "answers.jsonl", "judgments.jsonl")
ARENAS = ("arena_hard", "mt_bench", "alpaca_eval")


@dataclass(frozen=True)
class Damaged:
    """A line of a JSONL file that could not be read as a JSON object."""

    path: Path
    line: int
    text: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.path.name, "line": self.line, "text": self.text[:2000], "reason": self.reason}


@dataclass
class RunFolder:
    """One results/<model>/<task>/<lang>/ folder."""

    model: str
    task: str
    lang: str
    path: Path
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """arena_hard, mt_bench, alpaca_eval (judged arenas) or task (one record per item)."""
        return self.task if self.task in ARENAS else "task"

    @property
    def extra(self) -> Mapping[str, Any]:
        extra = self.summary.get("extra")
        return extra if isinstance(extra, Mapping) else {}

    def rows(self, name: str) -> Iterator[dict[str, Any] | Damaged]:
        """The records of one JSONL file of this run (none when it is absent)."""
        path = self.path / name
        return read_rows(path) if path.is_file() else iter(())


def read_rows(path: Path) -> Iterator[dict[str, Any] | Damaged]:
    """Each line of a JSONL file as a dict, or as Damaged when it is not a JSON object (blank lines skipped)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        yield Damaged(path, 0, "", f"cannot read: {exc.strerror}")
        return
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            yield Damaged(path, number, line.decode("utf-8", "replace"), f"not UTF-8 at byte {exc.start}")
            continue
        except ValueError as exc:
            yield Damaged(path, number, line.decode("utf-8", "replace"), f"invalid JSON: {exc}")
            continue
        if not isinstance(row, dict):
            yield Damaged(path, number, line.decode("utf-8", "replace"), f"a JSON {type(row).__name__}, not an object")
            continue
        yield row


def read_summary(folder: RunFolder) -> None:
    path = folder.path / "summary.json"
    if not path.is_file():
        folder.warnings.append("no summary.json (the run did not finish, or was not judged)")
        return
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(summary, dict):
            raise ValueError(f"a JSON {type(summary).__name__}, not an object")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        folder.warnings.append(f"summary.json is not readable ({exc})")
        return
    folder.summary = summary


def _is_run_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in RUN_FILES)


def find_runs(root: Path) -> list[RunFolder]:
    """Every run under `root`: a results root (<model>/<task>/<lang>/), one model's folder (<task>/<lang>/) or
    a single run folder. Sorted by model, task, language."""
    root = Path(root)
    if not root.is_dir():
        return []
    if _is_run_folder(root):
        candidates = [(root.parent.parent.name, root.parent.name, root.name, root)]
    else:
        model_level = [p for p in sorted(root.glob("*/*")) if _is_run_folder(p)]
        if model_level:
            candidates = [(root.name, p.parent.name, p.name, p) for p in model_level]
        else:
            candidates = [(p.parts[-3], p.parts[-2], p.parts[-1], p)
                          for p in sorted(root.glob("*/*/*")) if _is_run_folder(p)]  # fmt: skip
    runs = []
    for model, task, lang, path in sorted(candidates):
        folder = RunFolder(model, task, lang, path)
        read_summary(folder)
        runs.append(folder)
    return runs
