"""Writing run outputs: results/<model-slug>/<task>/<lang>/{samples.jsonl, summary.json}, atomically."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from evalkit.errors import UserError


def current_umask() -> int:
    """The process umask, read without changing it where the OS lets us (/proc on Linux): os.umask can only be
    read by setting it, and another thread creating a file in between would get the temporary value."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same folder + rename, so readers never see a half-written file.

    The file gets the mode a plain open() would give it (0o666 less the umask: 0644 by default); mkstemp alone
    makes it 0600, so a results folder shared with a team or served by a web server would be unreadable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def dumps(value: Any, **options: Any) -> str:
    """JSON that can always be written as UTF-8: readable text as it is, and a string that cannot be encoded
    (a model reply with a lone surrogate, "\\ud800") escaped, so it is kept losslessly (json.loads gives it
    back) instead of aborting the run."""
    text = json.dumps(value, ensure_ascii=False, **options)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, **options)
    return text


def encode_json(value: Any, sort_keys: bool = False) -> bytes:
    """Compact JSON as UTF-8 bytes: orjson (several times faster than json; client CPU bounds a harness at high
    concurrency), json for what orjson refuses (a lone surrogate carried over from a reply), escaped losslessly."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    except TypeError:
        return json.dumps(value, sort_keys=sort_keys, separators=(",", ":")).encode("utf-8")


def decode_json(raw: bytes | str) -> Any:
    """orjson, else json (which reads escaped lone surrogates back unchanged)."""
    try:
        return orjson.loads(raw)
    except ValueError:
        return json.loads(raw)


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(dumps(row) + "\n" for row in rows))


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, dumps(data, indent=2, sort_keys=False) + "\n")


def run_dir(output_root: Path, model_slug: str, task: str, lang: str) -> Path:
    return output_root / model_slug / task / lang


@lru_cache(maxsize=1)
def git_sha() -> str | None:
    """The evalkit checkout's commit (with '-dirty' when it has local changes), or None outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)  # fmt: skip
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


class TaskDataError(UserError, ValueError):
    """Bad task input (file, item or field); the message names it."""


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a JSONL file; any bad line raises TaskDataError naming the file and line."""
    rows: list[dict[str, Any]] = []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TaskDataError(f"{path}: cannot read ({exc.strerror})") from None
    raw = raw.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark (Windows editors write one) is not data
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise TaskDataError(f"{path}:{number}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
        except json.JSONDecodeError as exc:
            raise TaskDataError(f"{path}:{number}: invalid JSON ({exc.msg}, column {exc.colno})") from None
        if not isinstance(row, dict):
            raise TaskDataError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        row.setdefault("_line", number)
        rows.append(row)
    return rows


def read_json_list(path: Path, what: str) -> list[Any]:
    """A JSON file holding one list (alpaca_eval's outputs and annotations); errors name the file."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TaskDataError(f"{path}: cannot read {what} (a JSON list): {exc}") from None
    if not isinstance(rows, list):
        raise TaskDataError(f"{path}: {what} must be a JSON list")
    return rows
