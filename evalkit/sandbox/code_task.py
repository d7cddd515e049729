"""Shared base of code-generation tasks: run each answer in the sandbox, count outcomes, report pass@k."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from evalkit import sandbox
from evalkit.run.task import Task, TaskDataError
from evalkit.scoring.code import read_code
from evalkit.stats import pass_at_k
from evalkit.types import Sample, Score

K_VALUES = (1, 5, 10)


def unisolated_allowed() -> bool:
    return os.environ.get("EVALKIT_ALLOW_UNISOLATED") == "1"


class CodeTask(Task):
    """Subclasses build the solution and its tests for one answer in `program(sample, code)`."""

    metrics = ("passed",)
    primary_metric = "pass@1"
    chance_level = 0.0
    limits: ClassVar[sandbox.Limits] = sandbox.Limits(cpu_s=10, wall_s=20, memory_mb=1024, processes=64)

    def program(self, sample: Sample, code: str) -> sandbox.Program:
        raise NotImplementedError

    def build(self, sample: Sample, code: str) -> tuple[sandbox.Program, str]:
        """The program for one reply's code and the rule that assembled it (recorded beside the verdict)."""
        return self.program(sample, code), "the reply's code"

    def load(self, lang: str, data: str, limit: int | None = None) -> list[Sample]:
        if sandbox.isolation() == "none" and not unisolated_allowed():
            raise TaskDataError(
                f"{self.name} runs model-written code, and no sandbox is available: install bubblewrap "
                "(`make setup` does, as root), or pass --allow-unisolated (EVALKIT_ALLOW_UNISOLATED=1) to run it "
                "without isolation"
            )
        return super().load(lang, data, limit)

    def score_batch(self, samples: Sequence[Sample], completions: Sequence[str], lang: str) -> list[Score]:
        read = [read_code(text) for text in completions]
        built = [self.build(s, code) for s, (code, _) in zip(samples, read, strict=True)]
        outcomes = sandbox.run_many([p for p, _ in built], self.limits, allow_unisolated=unisolated_allowed())
        return [
            Score(extracted={"code": code, "code_rule": code_rule, "program_rule": program_rule, "status": o.status,
                             "detail": o.detail, "verdict_mode": o.verdict_mode},
                  values={"passed": float(o.passed)})  # fmt: skip
            for (code, code_rule), (_, program_rule), o in zip(read, built, outcomes, strict=True)
        ]

    def score(self, sample: Sample, completion: str, lang: str) -> Score:
        return self.score_batch([sample], [completion], lang)[0]

    def item_metrics(self, scores: Sequence[Mapping[str, float]]) -> dict[str, float]:
        """pass@k for every k the number of completions n allows (unbiased estimator, evalkit.stats)."""
        n, c = len(scores), int(sum(s["passed"] for s in scores))
        return {f"pass@{k}": pass_at_k(n, c, k) for k in K_VALUES if n >= k}

    def summary_extra(self, extracted: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        counts = Counter(str(e.get("status", "not_run")) for e in extracted)
        modes = Counter(str(e["verdict_mode"]) for e in extracted if e.get("verdict_mode"))
        return {"outcomes": {s: counts.get(s, 0) for s in (*sandbox.STATUSES, "not_run")},
                "verdict_mode": dict(sorted(modes.items())), "isolation": sandbox.isolation(),
                "limits": sandbox.run_limits()}  # fmt: skip
