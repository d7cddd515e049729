"""The Python face of evalkit: `evaluate()` runs what `evalkit run` runs and returns the summaries; `gate()`
compares two results folders as `evalkit gate` does; `rescore()` reads saved replies again.

    import evalkit
    summaries = evalkit.evaluate(model="openai:my-model@http://127.0.0.1:8000/v1", tasks=["gsm8k"], langs=["ru"],
                                 limit=100, name="ckpt-1200", step=1200)
    verdict = evalkit.gate("results/release-1.2", "results/ckpt-1200", max_drop=1.0)
    if not verdict.passed: ...

Keyword arguments are the flags of `evalkit run` with underscores (`cache_path`, `max_tokens_cap`); a
RunConfig may be given instead, or as the base the keywords change. Nothing is printed (no progress bar unless
`no_progress=False` is given); bad input raises evalkit.errors.UserError with the same one-line message the
command line prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.run.config import RunConfig
from evalkit.types import RunSummary


def evaluate(config: RunConfig | None = None, **settings: Any) -> list[RunSummary]:
    """Run every task and language of `config` (and/or the keyword settings); return the summaries written."""
    from evalkit.run.launch import launch  # noqa: PLC0415 - the run machinery loads only when a run starts

    settings.setdefault("no_progress", True)
    if config is None:
        config = RunConfig.from_mapping(settings)
    elif settings:
        config = RunConfig.from_mapping({**config.to_dict(), **settings})
    return launch(config, command=("evalkit.evaluate", *(f"{k}={v!r}" for k, v in sorted(settings.items()))))


@dataclass(frozen=True)
class GateVerdict:
    """`evalkit gate`'s verdict: passed unless some task regressed; the comparisons and the markdown report."""

    passed: bool
    comparisons: list[Any]
    report: str

    @property
    def regressions(self) -> list[Any]:
        return [c for c in self.comparisons if c.regression]


def gate(baseline: str | Path, candidate: str | Path, tasks: Sequence[str] | None = None, max_drop: float = 1.0,
         alpha: float = 0.05, rounds: int = 10000, seed: int = 0, allow_errors: bool = False) -> GateVerdict:
    """Compare a candidate results folder with a baseline (the same statistics as `evalkit gate`)."""
    from evalkit.publish.gate import report, run_gate  # noqa: PLC0415

    comparisons = run_gate(Path(baseline), Path(candidate), list(tasks) if tasks else None, max_drop, alpha, rounds,
                           seed, allow_errors)  # fmt: skip
    text = report(comparisons, Path(baseline), Path(candidate), max_drop, alpha)
    return GateVerdict(not any(c.regression for c in comparisons), comparisons, text)


def rescore(run_dir: str | Path, plugins: Sequence[str | Path] = (), write: bool = True) -> list[Any]:
    """Read a finished run's saved replies again with today's readers (see evalkit.run.rescore)."""
    from evalkit.run.rescore import rescore as read_again  # noqa: PLC0415

    return read_again(Path(run_dir), [Path(p) for p in plugins], write)
