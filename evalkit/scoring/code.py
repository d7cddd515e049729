"""Pulling a Python program out of a chat answer; `read_code` also names the rule that decided it.

Rules, in order (the first that applies):
  fenced block defining code   the first fenced block with a def / class / import / from / decorator line
  closing fence only           code from the first def / class / import line up to a bare closing fence that has
                               no opening one (the prose after the fence is not code)
  first fenced block           the first fenced block (a snippet without definitions)
  unfenced code                no fence: from the first def / class / import / from / decorator line, up to the
                               first unindented line of prose (a line that is neither Python nor a code keyword)
  whole reply                  nothing looks like code: the reply itself (it will fail to compile, visibly)
"""

from __future__ import annotations

import ast
import re

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
_CODE_START = re.compile(r"^(?:def |class |import |from |@|async def )", re.MULTILINE)
_CODE_WORDS = re.compile(
    r"^(?:def|class|import|from|if|elif|else|for|while|try|except|finally|with|return|async|assert|raise|global|"
    r"nonlocal|pass|break|continue|del|lambda|print|yield)\b|^[@#]"
)


def extract_code(text: str) -> str:
    return read_code(text)[0]


def read_code(text: str) -> tuple[str, str]:
    """(code, rule) for one reply; see the module docstring for the rules."""
    blocks = [block.strip("\n") for block in _FENCE.findall(text)]
    first_fence = text.find("```")
    if first_fence >= 0:
        before = text[:first_fence]
        start = _CODE_START.search(before)
        rest = text[first_fence + 3 :]
        bare = re.match(r"[ \t]*(?:\n|\Z)", rest) is not None
        after = rest.split("```", 1)[0]
        if start and bare and not _CODE_START.search(after):
            return before[start.start() :].strip("\n"), "closing fence only"
    for block in blocks:
        if _CODE_START.search(block):
            return block, "fenced block defining code"
    if blocks:
        return blocks[0], "first fenced block"
    start = _CODE_START.search(text)
    if start:
        return _until_prose(text[start.start() :]).strip("\n"), "unfenced code"
    return text.strip(), "whole reply"


def _until_prose(code: str) -> str:
    lines = code.splitlines()
    for number, line in enumerate(lines[1:], start=1):
        if not line.strip() or line[0] in " \t" or _CODE_WORDS.match(line):
            continue
        if not _parses(line):
            return "\n".join(lines[:number])
    return code


def _parses(line: str) -> bool:
    try:
        ast.parse(line)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
