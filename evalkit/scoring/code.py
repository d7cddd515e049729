"""Pulling a Python program out of a chat answer."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
_CODE_START = re.compile(r"^(?:def |class |import |from |@)", re.MULTILINE)


def extract_code(text: str) -> str:
    """The first fenced block that defines something (else the first fenced block); without fences, the text
    from the first line that starts with def / class / import / from / a decorator."""
    blocks = [block.strip("\n") for block in _FENCE.findall(text)]
    for block in blocks:
        if _CODE_START.search(block):
            return block
    if blocks:
        return blocks[0]
    start = _CODE_START.search(text)
    return text[start.start() :].strip("\n") if start else text.strip()
