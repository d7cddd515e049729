"""The other model's answers to the same questions — one concept for every judged benchmark: Arena-Hard calls
it the baseline, MT-Bench and AlpacaEval the reference. A reference is a model string, or `dataset` (the
answers shipped with the questions: AlpacaEval's `output` column, MT-Bench's `reference` field). Its answers
are taken, in this order, from:
  1. `--reference-answers NAME=FILE` (our answers.jsonl, FastChat / arena-hard-auto model_answer JSONL,
     or an alpaca_eval outputs JSON list of {instruction, output, generator});
  2. an earlier evalkit run: results/<reference-slug>/<task>/<lang>/answers.jsonl;
  3. bundled answers for the bundled samples: <plugin>/references/<lang>/<reference-slug>.jsonl;
  4. the runner itself: the reference model is served and answers the same requests, and its answers are
     written to results/<reference-slug>/<task>/<lang>/answers.jsonl (cached like every request).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.backends.base import Backend
from evalkit.backends.modelspec import ModelSpecError, parse_model_string
from evalkit.records import TaskDataError, read_json_list, read_jsonl, run_dir, write_jsonl
from evalkit.run.runner import PreparedRun, generate_steps
from evalkit.types import Completion, Sample

DATASET = "dataset"
#: Answers to the bundled samples written by hand by evalkit's authors (judges/<name>/references/<lang>/):
#: the default opponent on the samples, so that the embedded model has someone other than itself to face.
HANDWRITTEN = "handwritten"


@dataclass(frozen=True)
class ReferenceAnswers:
    """A reference model's answers (question id -> turns) and where they came from (for the summary)."""

    name: str
    answers: Mapping[str, list[str]]
    source: str


@dataclass(frozen=True)
class AnswerSources:
    """Where reference answers may be found or made: given files, the results store, a way to serve a model."""

    output_root: Path
    data: str
    files: Mapping[str, Path]  # --reference-answers NAME=FILE
    serve: Callable[[str], Backend] | None = None  # a backend for another model string


def instruction_id(text: str) -> str:
    """A stable id for data keyed by instruction text (alpaca_eval has no ids): sha1 of the text, 12 hex."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def row_id(row: Mapping[str, Any]) -> str | None:
    for key in ("question_id", "id", "uid"):
        if row.get(key) is not None:
            return str(row[key])
    if isinstance(row.get("instruction"), str):
        return instruction_id(row["instruction"])
    return None


def answer_turns(row: Mapping[str, Any]) -> list[str] | None:
    """Every turn's answer in a row of any supported answers file, or None when it holds none."""
    choices = row.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        turns = choices[0].get("turns")
        if isinstance(turns, list) and turns:
            return [t["content"] if isinstance(t, dict) else str(t) for t in turns]
    for key in ("turns", "answers"):
        if isinstance(row.get(key), list) and all(isinstance(t, str) for t in row[key]) and row[key]:
            return list(row[key])
    for key in ("answer", "output"):
        if isinstance(row.get(key), str):
            return [row[key]]
    return None


def read_answer_file(path: Path) -> dict[str, list[str]]:
    """id -> answer turns from a JSONL file or a JSON list (errors name the file and the row)."""
    if path.suffix == ".json":
        numbered = [(f"{path}[{i}]", row) for i, row in enumerate(read_json_list(path, "answers"))]
    else:
        numbered = [(f"{path}:{row['_line']}", row) for row in read_jsonl(path)]
    answers: dict[str, list[str]] = {}
    for where, row in numbered:
        key = row_id(row) if isinstance(row, dict) else None
        turns = answer_turns(row) if isinstance(row, dict) else None
        if key is None or turns is None:
            raise TaskDataError(f"{where}: needs an id ('question_id' or 'instruction') and an answer "
                                "('choices[0].turns', 'answer' or 'output')")  # fmt: skip
        if row.get("error"):
            raise TaskDataError(f"{where}: this reference answer failed ({str(row['error'])[:200]}); answer it "
                                "again (run the reference model) before judging against it")  # fmt: skip
        answers[key] = turns
    return answers


def answer_rows(samples: Sequence[Sample], steps: Sequence[Sequence[Completion]],
                model: str) -> Iterable[dict[str, Any]]:  # fmt: skip
    """answers.jsonl rows in FastChat's model_answer schema (plus usage and errors), one per item."""
    for sample, answers in zip(samples, steps, strict=True):
        yield {
            "question_id": sample.id, "model_id": model,
            "choices": [{"index": 0, "turns": [c.text for c in answers]}],
            "finish_reasons": [c.finish_reason for c in answers],
            "usage": {"prompt_tokens": sum(c.usage.prompt_tokens for c in answers),
                      "completion_tokens": sum(c.usage.completion_tokens for c in answers)},
            "error": next((c.error for c in answers if c.error is not None), None),
        }  # fmt: skip


def stored_answer_paths(plugin: Any, lang: str, slug: str, data: str, output_root: Path) -> list[Path]:
    """Where a named model's answers may already be, in order: its own evalkit run's answers.jsonl, then (on the
    bundled samples only) the plugin's `references/<lang>/<slug>.jsonl`."""
    paths = [run_dir(output_root, slug, plugin.name, lang) / "answers.jsonl"]
    if data == "samples":
        paths.append(plugin.folder / "references" / lang / f"{slug}.jsonl")
    return paths


def reference_answers(prepared: PreparedRun, reference: str, sources: AnswerSources,
                      dataset: Callable[[Sample], list[str] | None], dataset_name: str = DATASET
                      ) -> ReferenceAnswers:  # fmt: skip
    """The reference's answers for this run's items, looked up in the documented order (generated last).

    `dataset` reads a sample's own reference answer (the `dataset` reference, named `dataset_name`).
    """
    task, lang = prepared.task, prepared.lang
    if reference == DATASET:
        found = {s.id: turns for s in prepared.samples if (turns := dataset(s)) is not None}
        where = prepared.data_info.get("dataset_id") or prepared.data_info.get("path")
        return ReferenceAnswers(dataset_name, found, f"{DATASET} ({where})")
    if reference in sources.files:
        path = sources.files[reference]
        return ReferenceAnswers(reference, read_answer_file(path), str(path))
    if reference == HANDWRITTEN:
        path = task.folder / "references" / lang / f"{HANDWRITTEN}.jsonl"
        if sources.data != "samples" or not path.is_file():
            raise TaskDataError(f"{task.name}/{lang}: {HANDWRITTEN!r} answers exist only for the bundled samples "
                                f"({path}); name another reference or pass --reference-answers NAME=FILE")
        return ReferenceAnswers(reference, read_answer_file(path), str(path))
    try:
        slug = parse_model_string(reference).slug
    except ModelSpecError:
        raise TaskDataError(f"{task.name}/{lang}: the reference {reference!r} is not a model string evalkit can run; "
                            f"pass its answers with --reference-answers {reference}=FILE") from None
    candidates = stored_answer_paths(task, lang, slug, sources.data, sources.output_root)
    for path in candidates:
        if path.is_file():
            return ReferenceAnswers(reference, read_answer_file(path), str(path))
    if sources.serve is None:
        looked = ", ".join(map(str, candidates))
        raise TaskDataError(f"{task.name}/{lang}: no answers of the reference {reference!r} (looked in {looked}); "
                            f"pass --reference-answers {reference}=FILE")  # fmt: skip
    backend = sources.serve(reference)
    if hasattr(backend, "description"):
        backend.description = f"{task.name}/{lang} reference {reference}"
    steps, _ = generate_steps(prepared, backend)
    failed = sum(any(not c.ok for c in s) for s in steps)
    if failed:
        raise TaskDataError(f"{task.name}/{lang}: {failed} answers of the reference {reference!r} failed; "
                            "run again (finished answers are cached)")  # fmt: skip
    write_jsonl(candidates[0], answer_rows(prepared.samples, steps, reference))
    print(f"{task.name}/{lang}: answers of the reference {reference} written to {candidates[0]}")
    return ReferenceAnswers(reference, read_answer_file(candidates[0]), str(candidates[0]))
