"""evalkit: evaluation harness for Slavic-language LLMs.

The Python face: `evalkit.evaluate(...)`, `evalkit.gate(...)`, `evalkit.rescore(...)` and `evalkit.RunConfig`
(see evalkit.api). They are loaded on first use, so `import evalkit` stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["RunConfig", "evaluate", "gate", "rescore", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("evaluate", "gate", "rescore"):
        from evalkit import api  # noqa: PLC0415

        return getattr(api, name)
    if name == "RunConfig":
        from evalkit.run.config import RunConfig  # noqa: PLC0415

        return RunConfig
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
