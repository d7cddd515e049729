"""MBPP (sanitized conventions), translated prompts: write a Python function; run it against the tests.

Schema: google-research-datasets/mbpp `sanitized` (`task_id`, `prompt`, `code`, `test_imports`,
`test_list`); the `full` config's `text` is read as the prompt too. Prompt: 0-shot instruction in the item's
language with the task text and the first test as an example, asking for one fenced Python block.
Program run in evalkit.sandbox: test_imports + the extracted code + every assert of `test_list`.

Metrics: pass@1 (and pass@5 / pass@10 when --samples N gives n >= k completions per problem), with the
unbiased estimator 1 - C(n-c, k) / C(n, k) (evalkit.stats.pass_at_k); pass@1 at temperature 0 by default,
`sampling_temperature` (0.8) when N > 1. Sandbox outcomes (passed / failed / timeout / memory / crashed /
sandbox_error) are counted in summary.json["extra"]["outcomes"], with the isolation used.

Data: en `google-research-datasets/mbpp` config `sanitized`, test split (257). No public Russian or Polish
MBPP is known: a translated file in the same schema runs with --data PATH (translate `prompt` only; the
tests stay as they are). Bundled samples: 10 problems with our own tests, prompts in ru / pl / en.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from evalkit import sandbox
from evalkit.scoring.code import extract_code
from evalkit.stats import pass_at_k
from evalkit.task import DataSource, Task, TaskDataError
from evalkit.types import GenerationConfig, Message, Sample, Score

K_VALUES = (1, 5, 10)
LIMITS = sandbox.Limits(cpu_s=10, wall_s=20, memory_mb=1024, processes=64, file_size_mb=8)


class MBPP(Task):
    name = "mbpp"
    version = "1.0"
    languages = ("ru", "pl", "en")
    sources = {
        "en": (DataSource("mbpp-sanitized", "google-research-datasets/mbpp", revision="main", config="sanitized",
                          split="test", note="no commit sha could be confirmed offline"),),
    }  # fmt: skip
    generation = GenerationConfig(temperature=0.0, max_tokens=512)
    metrics = ("passed",)

    def load(self, lang: str, data: str, limit: int | None = None) -> list[Sample]:
        allowed = os.environ.get("EVALKIT_ALLOW_UNISOLATED") == "1"
        if sandbox.isolation() == "none" and not allowed:
            raise TaskDataError(
                "mbpp runs model-written code, and no sandbox is available: install bubblewrap "
                "(`make setup` does, as root) or set EVALKIT_ALLOW_UNISOLATED=1 to run it without isolation"
            )
        return super().load(lang, data, limit)

    def sample_from_row(self, row: Mapping[str, Any], index: int, where: str) -> Sample:
        item_id = str(row.get("task_id", f"{index:05d}"))
        where = f"{where} (task {item_id})"
        prompt = row.get("prompt") or row.get("text")
        tests = row.get("test_list")
        if not isinstance(prompt, str) or not prompt.strip():
            raise TaskDataError(f"{where}: field 'prompt' (or 'text') is missing")
        if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
            raise TaskDataError(f"{where}: field 'test_list' must be a non-empty list of assert strings")
        imports = row.get("test_imports") or []
        fields = {"prompt": prompt, "tests": tests, "imports": list(imports), "reference": row.get("code") or ""}
        return Sample(id=item_id, fields=fields, target="\n".join(tests))

    def build_messages(self, sample: Sample, lang: str, fewshot: Sequence[Sample]) -> list[Message]:
        prompt = self.render(lang, prompt=sample.fields["prompt"], example=sample.fields["tests"][0])
        return [Message("user", prompt)]

    def program(self, sample: Sample, code: str) -> str:
        return "\n".join([*sample.fields["imports"], code, "", *sample.fields["tests"]])

    def score_batch(self, samples: Sequence[Sample], completions: Sequence[str], lang: str) -> list[Score]:
        codes = [extract_code(text) for text in completions]
        programs = [sandbox.Program(self.program(s, c)) for s, c in zip(samples, codes, strict=True)]
        allowed = os.environ.get("EVALKIT_ALLOW_UNISOLATED") == "1"
        outcomes = sandbox.run_many(programs, LIMITS, allow_unisolated=allowed)
        return [
            Score(extracted={"code": code, "status": o.status, "detail": o.detail},
                  values={"passed": float(o.passed)})  # fmt: skip
            for code, o in zip(codes, outcomes, strict=True)
        ]

    def score(self, sample: Sample, completion: str, lang: str) -> Score:
        return self.score_batch([sample], [completion], lang)[0]

    def item_metrics(self, scores: Sequence[Mapping[str, float]]) -> dict[str, float]:
        n, c = len(scores), int(sum(s["passed"] for s in scores))
        return {f"pass@{k}": pass_at_k(n, c, k) for k in K_VALUES if n >= k}

    def summary_extra(self, extracted: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        counts = Counter(str(e.get("status", "not_run")) for e in extracted)
        return {"outcomes": {s: counts.get(s, 0) for s in (*sandbox.STATUSES, "not_run")},
                "isolation": sandbox.isolation()}  # fmt: skip


TASK = MBPP
