"""MBPP (sanitized conventions), translated prompts: write a Python function; run it against the tests.

Schema: google-research-datasets/mbpp `sanitized` (`task_id`, `prompt`, `code`, `test_imports`,
`test_list`); the `full` config's `text` is read as the prompt too. Prompt: 0-shot instruction in the item's
language with the task text and the first test as an example, asking for one fenced Python block.
Program run in evalkit.sandbox: the extracted code is the solution, every assert of `test_list` a test (judged
outside the solution's interpreter), `test_imports` the prelude of both, and the full config's `test_setup_code`
run on the tests' side after the solution and before the asserts.

Metrics: pass@1 (and pass@5 / pass@10 when --samples N gives n >= k completions per problem), with the
unbiased estimator 1 - C(n-c, k) / C(n, k) (evalkit.stats.pass_at_k); pass@1 at temperature 0 by default,
`sampling_temperature` (0.8) when N > 1. Sandbox outcomes (passed / failed / timeout / memory / crashed /
sandbox_error) are counted in summary.json["extra"]["outcomes"], with the isolation used.

Data: en `google-research-datasets/mbpp` config `sanitized`, test split (257). No public Russian or Polish
MBPP is known: a translated file in the same schema runs with --data PATH (translate `prompt` only; the
tests stay as they are). Bundled samples: 10 problems with our own tests, prompts in ru / pl / en.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.run.task import DataSource, TaskDataError
from evalkit.sandbox import Program
from evalkit.sandbox.code_task import CodeTask
from evalkit.types import GenerationConfig, Message, Sample


class MBPP(CodeTask):
    name = "mbpp"
    version = "1.0"
    languages = ("ru", "pl", "en")
    sources = {
        "en": (DataSource("mbpp-sanitized", "google-research-datasets/mbpp", revision="main", config="sanitized",
                          split="test", note="no commit sha could be confirmed offline"),),
    }  # fmt: skip
    generation = GenerationConfig(temperature=0.0, max_tokens=512)

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
        setup = row.get("test_setup_code") or ""
        if not isinstance(setup, str):
            raise TaskDataError(f"{where}: field 'test_setup_code' must be a string")
        fields = {"prompt": prompt, "tests": tests, "imports": list(imports), "setup": setup,
                  "reference": row.get("code") or ""}  # fmt: skip
        return Sample(id=item_id, fields=fields, target="\n".join(tests))

    def build_messages(self, sample: Sample, lang: str, fewshot: Sequence[Sample]) -> list[Message]:
        prompt = self.render(lang, prompt=sample.fields["prompt"], example=sample.fields["tests"][0])
        return [Message("user", prompt)]

    def program(self, sample: Sample, code: str) -> Program:
        return Program(code, tests="\n".join(sample.fields["tests"]), prelude="\n".join(sample.fields["imports"]),
                       setup=sample.fields.get("setup", ""))  # fmt: skip


TASK = MBPP
