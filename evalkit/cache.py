"""Response cache: one SQLite file (WAL) shared by every task and judge that calls a backend.

The key is a SHA-256 of the backend identity, the model, the messages, the generation config and the replica
index, so a changed prompt, setting or endpoint never reuses an answer. Each completion is committed as soon
as it arrives: a run killed with kill -9 and started again re-sends nothing that had completed. Failed
requests are never stored, so a re-run tries them again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from functools import lru_cache
from pathlib import Path

from evalkit.records import dumps
from evalkit.types import Completion, GenerationConfig, Request


@lru_cache(maxsize=256)
def _config_json(config: GenerationConfig) -> str:
    # Requests of one run share a handful of configs; serialise each once.
    return json.dumps(config.to_dict(), sort_keys=True, separators=(",", ":"))


def cache_key(backend_identity: str, model: str, request: Request) -> str:
    payload = {
        "backend": backend_identity,
        "model": model,
        "messages": [m.to_dict() for m in request.messages],
        "config": _config_json(request.config),
        "replica": request.replica,
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


class ResponseCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # A process that dies (even kill -9) loses nothing at OFF: committed pages are in the OS cache.
            # Only an OS crash could lose or damage recent entries, and a cache can be rebuilt.
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS completions ("
                " key TEXT PRIMARY KEY, completion TEXT NOT NULL, created REAL NOT NULL)"
            )
        except sqlite3.DatabaseError as exc:
            raise RuntimeError(
                f"response cache {self.path} cannot be opened: {exc} (remove it or pass --no-cache)"
            ) from exc

    def get_many(self, keys: list[str]) -> dict[str, Completion]:
        found: dict[str, Completion] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, completion FROM completions WHERE key IN ({marks})", chunk)
                for key, blob in rows:
                    try:
                        found[key] = Completion.from_dict(json.loads(blob), cached=True)
                    except (ValueError, KeyError, TypeError):  # a damaged entry: dropped and asked again
                        self._db.execute("DELETE FROM completions WHERE key = ?", (key,))
        return found

    def put(self, key: str, completion: Completion) -> None:
        if not completion.ok:
            return
        blob = dumps(completion.to_dict())
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO completions (key, completion, created) VALUES (?, ?, ?)",
                (key, blob, time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
