"""Response cache: one SQLite file (WAL) shared by every task and judge that calls a backend.

The key is a SHA-256 of the backend identity, the model, the generation config, the replica index and the
messages, so a changed prompt, setting or endpoint never reuses an answer. Failed requests are never stored, so
a re-run tries them again.

Answers are committed within COMMIT_WINDOW_S of arriving: one that arrives after a quiet spell is committed
at once; answers that stream in (hundreds a second from a fast server) are committed together, one
transaction per COMMIT_BATCH answers or per window, because a transaction per answer cost more client CPU
than the HTTP request itself. A run killed with kill -9 and started again re-sends only the answers of its
last 50 ms, never anything older.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from evalkit.errors import UserError
from evalkit.records import decode_json, encode_json
from evalkit.types import Completion, GenerationConfig, Request


class CacheError(UserError, RuntimeError):
    """The cache file cannot be opened or written: one line naming it, exit 2."""


#: Changes whenever the key's layout does, so keys of another layout can never collide with these.
KEY_LAYOUT = "evalkit-cache-key/2"
COMMIT_WINDOW_S = 0.05
COMMIT_BATCH = 256


@lru_cache(maxsize=256)
def _config_json(config: GenerationConfig) -> str:
    # Requests of one run share a handful of configs; serialise each once.
    return json.dumps(config.to_dict(), sort_keys=True, separators=(",", ":"))


def cache_key(backend_identity: str, model: str, request: Request) -> str:
    """SHA-256 of one flat JSON list — no dicts to build or sort, so the key costs a few microseconds (it is
    computed for every request, and bounds a warm re-run)."""
    flat: list[Any] = [KEY_LAYOUT, backend_identity, model, _config_json(request.config), request.replica]
    for message in request.messages:
        flat += (message.role, message.content)
    return hashlib.sha256(encode_json(flat)).hexdigest()


class ResponseCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str, float]] = []
        self._last_commit = 0.0
        self._timer: threading.Timer | None = None
        self._closed = False
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
            advice = "remove it, choose another --cache-path" if self.path.exists() else "choose another --cache-path"
            raise CacheError(f"response cache {self.path} cannot be opened: {exc} ({advice}, or pass --no-cache)") \
                from None

    def get_many(self, keys: list[str]) -> dict[str, Completion]:
        found: dict[str, Completion] = {}
        with self._lock:
            self._commit_locked()  # an answer still in its commit window is found too
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, completion FROM completions WHERE key IN ({marks})", chunk)
                for key, blob in rows:
                    try:
                        found[key] = Completion.from_dict(decode_json(blob), cached=True)
                    except (ValueError, KeyError, TypeError):  # a damaged entry: dropped and asked again
                        self._db.execute("DELETE FROM completions WHERE key = ?", (key,))
        return found

    def put(self, key: str, completion: Completion) -> None:
        """Store a successful answer; committed at once after a quiet spell, else with its burst (see above)."""
        if not completion.ok:
            return
        row = (key, encode_json(completion.to_dict()).decode("utf-8"), time.time())
        with self._lock:
            self._pending.append(row)
            if len(self._pending) >= COMMIT_BATCH or row[2] - self._last_commit >= COMMIT_WINDOW_S:
                self._commit_locked()
            elif self._timer is None:
                self._timer = threading.Timer(COMMIT_WINDOW_S, self.commit)
                self._timer.daemon = True
                self._timer.start()

    def commit(self) -> None:
        """Write every pending answer now (also called by the window's timer and on close)."""
        with self._lock:
            self._commit_locked()

    def _commit_locked(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending or self._closed:
            return
        rows, self._pending = self._pending, []
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR REPLACE INTO completions (key, completion, created) VALUES (?, ?, ?)", rows)
        self._db.execute("COMMIT")
        self._last_commit = time.time()

    def __len__(self) -> int:
        with self._lock:
            self._commit_locked()
            return int(self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._commit_locked()
            if not self._closed:
                self._db.close()
                self._closed = True
