"""HumanEval-style code generation: MERA ruHumanEval / ruCodeEval schema (ru) and OpenAI HumanEval (en).

MERA schema: `instruction` (a template containing {function}), `inputs` = {`function`: signature +
docstring, `tests`: a Python literal list of keyword-argument dicts}, `outputs`: the expected results as
strings, `meta` = {`id`, `entry_point`, `canonical_solution`}. A program passes when, for every test, the
function called with those arguments gives a result whose str() (or repr()) equals the expected string.
HumanEval schema: `task_id`, `prompt`, `canonical_solution`, `test` (defines check(candidate)),
`entry_point`; the program is the model's function (the prompt is prepended when the answer lacks the
`def`), then `test`, then `check(entry_point)`.

Programs run in evalkit.sandbox; pass@1/5/10 with the unbiased estimator, as for MBPP (evalkit.code_task).
Data: ru `MERA-evaluation/ruHumanEval` (test, 164; `ruCodeEval` is its private twin with hidden answers),
en `openai/openai_humaneval` (test, 164). Bundled samples: 10 problems per language, written for evalkit.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.code_task import CodeTask
from evalkit.sandbox import Program
from evalkit.task import DataSource, TaskDataError
from evalkit.types import GenerationConfig, Message, Sample


class HumanEval(CodeTask):
    name = "humaneval"
    version = "1.0"
    languages = ("ru", "en")
    sources = {
        "ru": (DataSource("ruhumaneval", "MERA-evaluation/ruHumanEval", revision="main", split="test",
                          note="no commit sha could be confirmed offline"),),
        "en": (DataSource("humaneval", "openai/openai_humaneval", revision="main", split="test",
                          note="no commit sha could be confirmed offline"),),
    }  # fmt: skip
    generation = GenerationConfig(temperature=0.0, max_tokens=512)

    def sample_from_row(self, row: Mapping[str, Any], index: int, where: str) -> Sample:
        if "inputs" in row:
            return self._from_mera(row, index, where)
        item_id = str(row.get("task_id", f"{index:05d}"))
        where = f"{where} (task {item_id})"
        for name in ("prompt", "test", "entry_point"):
            if not isinstance(row.get(name), str) or not row[name].strip():
                raise TaskDataError(f"{where}: field {name!r} is missing")
        fields = {"schema": "humaneval", "function": row["prompt"], "test": row["test"],
                  "entry_point": row["entry_point"], "reference": row["prompt"] + (row.get("canonical_solution") or "")}
        return Sample(id=item_id, fields=fields, target=row["entry_point"])  # fmt: skip

    def _from_mera(self, row: Mapping[str, Any], index: int, where: str) -> Sample:
        meta = row.get("meta") or {}
        item_id = str(meta.get("id", f"{index:05d}"))
        where = f"{where} (id {item_id})"
        inputs = row.get("inputs") or {}
        function, entry_point = inputs.get("function"), meta.get("entry_point")
        if not isinstance(function, str) or not isinstance(entry_point, str) or not entry_point:
            raise TaskDataError(f"{where}: inputs.function and meta.entry_point are required")
        try:
            tests = ast.literal_eval(inputs.get("tests") or "[]")
        except (ValueError, SyntaxError) as exc:
            raise TaskDataError(f"{where}: inputs.tests is not a Python literal ({exc})") from None
        outputs = row.get("outputs") or []
        if not isinstance(tests, list) or len(tests) != len(outputs) or not tests:
            raise TaskDataError(f"{where}: inputs.tests and outputs must be non-empty lists of equal length")
        instruction = str(row.get("instruction") or "{function}")
        fields = {"schema": "mera", "function": function, "instruction": instruction, "tests": tests,
                  "outputs": [str(o) for o in outputs], "entry_point": entry_point,
                  "reference": function + (meta.get("canonical_solution") or "")}  # fmt: skip
        return Sample(id=item_id, fields=fields, target=entry_point)

    def build_messages(self, sample: Sample, lang: str, fewshot: Sequence[Sample]) -> list[Message]:
        task_text = sample.fields["function"]
        if sample.fields["schema"] == "mera":
            task_text = sample.fields["instruction"].replace("{function}", task_text)
        return [Message("user", self.render(lang, task=task_text))]

    def program(self, sample: Sample, code: str) -> Program:
        fields = sample.fields
        entry = fields["entry_point"]
        if f"def {entry}" not in code:  # the model wrote only the body: complete the given signature
            code = fields["function"] + code
        if fields["schema"] == "humaneval":
            return Program(code, tests=f"{fields['test']}\n\ncheck({entry})\n")
        checks = (  # Python literals (repr), not JSON: a test may hold True, False or None
            f"_tests = {fields['tests']!r}\n"
            f"_outputs = {fields['outputs']!r}\n"
            "for _number, (_args, _expected) in enumerate(zip(_tests, _outputs)):\n"
            f"    _got = {entry}(**_args)\n"
            "    assert str(_got) == _expected or repr(_got) == _expected, "
            "f'test {_number}: got {_got!r}, expected {_expected}'\n"
        )
        return Program(code, tests=checks)


TASK = HumanEval
