"""Chat templates shipped with evalkit for the formats Slavic model cards document.

`--chat-template` takes one of these names or a path to a Jinja2 file.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from evalkit.errors import UserError

SHIPPED = ("chatml", "llama2", "mistral", "vicuna")


def load_chat_template(name_or_path: str) -> str:
    """Return the template text for a shipped name or a file path; raise ValueError naming what is wrong."""
    if name_or_path in SHIPPED:
        return (resources.files(__package__) / f"{name_or_path}.jinja").read_text(encoding="utf-8")
    path = Path(name_or_path)
    if not path.is_file():
        raise UserError(f"--chat-template {name_or_path!r}: no such file, and not one of {', '.join(SHIPPED)}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"--chat-template {path}: not UTF-8 text ({exc})") from None
