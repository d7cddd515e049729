"""The one backend protocol: a batch of requests in, one completion per request out.

A backend implements `generate`; cache, progress and token accounting are wrappers around it
(see `evalkit.backends.cached`). `on_result(index, completion)` is called as each request finishes, in
the caller's thread, so wrappers can persist answers before the whole batch is done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from evalkit.errors import UserError
from evalkit.types import Completion, Request

ResultCallback = Callable[[int, Completion], None]


class BackendError(UserError, RuntimeError):
    """A failure of the backend as a whole (bad key, unreachable server, missing package): the run stops."""


class UnsupportedRoleError(BackendError):
    """A message role the backend cannot carry; raised instead of silently dropping the message."""


class Backend(Protocol):
    #: What produced the answers, for the cache key and summary.json (never contains a secret).
    identity: str
    #: The model name as the backend knows it.
    model: str

    def generate(self, requests: Sequence[Request], on_result: ResultCallback | None = None) -> list[Completion]:
        ...

    def close(self) -> None:
        ...


def check_roles(requests: Sequence[Request], allowed: frozenset[str] | None, backend: str) -> None:
    """Raise UnsupportedRoleError naming the role and backend if any message uses a role not in `allowed`."""
    if allowed is None:
        return
    for request in requests:
        for message in request.messages:
            if message.role not in allowed:
                raise UnsupportedRoleError(
                    f"{backend} cannot carry message role {message.role!r} (it accepts: "
                    f"{', '.join(sorted(allowed))}); use a backend whose chat template knows this role, "
                    "or the task's documented fallback that folds it into another role"
                )
