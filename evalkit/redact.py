"""Keeping API keys out of everything evalkit writes or prints.

A server may echo the request's Authorization header in its error text; a traceback may carry a key. Every
error text that reaches a record, a summary, a log line or the terminal goes through `redact`, which replaces
every key evalkit knows — the values of the environment's *_API_KEY / *_TOKEN variables and of
EVALKIT_API_KEY — and anything sent as a bearer token.
"""

from __future__ import annotations

import os
import re

_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\",}]+")
_MIN_KEY_CHARS = 6


def known_keys() -> list[str]:
    """The secret values in the environment (longest first, so a key containing another is replaced whole)."""
    keys = {value for name, value in os.environ.items()
            if (name.endswith("_API_KEY") or name.endswith("_TOKEN") or name == "EVALKIT_API_KEY")
            and len(value) >= _MIN_KEY_CHARS}  # fmt: skip
    return sorted(keys, key=len, reverse=True)


def redact(text: str | None) -> str | None:
    """`text` with every known key and bearer token replaced by ***."""
    if not text:
        return text
    for key in known_keys():
        text = text.replace(key, "***")
    return _BEARER.sub(r"\1***", text)
