"""AlpacaEval's numbers: pairwise preferences against reference answers -> (length-controlled) win-rates, and
`evalkit alpaca-eval score` over alpaca_eval's own annotations.

The run itself is the one judged flow (evalkit.run.judged) with the plugin judges/alpaca_eval/task.py.
Layout under results/<model>/alpaca_eval/<lang>/:
  answers.jsonl     one line per instruction: question_id, instruction, output, generator (alpaca_eval's
                    model_outputs fields, so the file can be fed to alpaca_eval as is), usage, error
  judgments.jsonl   append-only, one line per (instruction, reference): the presented order (`switched`),
                    the raw judge reply, the preference in the presented order (`verdict`) and in alpaca_eval's
                    orientation (`preference`: 1 = the reference wins, 2 = the model wins, 1.5 tie), whether it
                    came from label-token probabilities (`soft`); null when unparsed after one re-ask
  summary.json      lc_win_rate, win_rate (percent) and avg_symbols for the first reference; every reference's
                    numbers under extra.per_reference; extra.gamma says how instruction difficulty was handled
                    and extra.lc_formula names the LC formula (LC_FORMULAS): length_controlled_minimal without
                    γ, evalkit_joint_difficulty with it — neither is the published leaderboard's LC

Order: as alpaca_eval's pairwise annotators, the reference is output_1 and the model output_2 unless a coin
seeded by the instruction (`random.Random("is_switched_outputs" + instruction + "123")`, alpaca_eval's
RandomSwitchTwoColumnsProcessor with seed 123) says to switch them; a switched preference x is read as 3 - x.
Preference: when the judge backend returns top logprobs of the first token, the soft preference
2 - P(m) / (P(m) + P(M)) of alpaca_eval's weighted annotators (completion_parsers.logprob_parser,
is_binarize=False); otherwise the reply must be exactly `m` (1) or `M` (2).
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.records import TaskDataError, read_json_list
from evalkit.run.judged import JudgedRun, Outcome, read_judgments
from evalkit.run.references import DATASET, instruction_id
from evalkit.run.runner import PreparedRun
from evalkit.stats import estimate_difficulty, length_controlled_win_rate, nan_as_lowest, win_rate
from evalkit.types import Completion, MetricValue, finite_number

SWITCH_SEED = "123"
#: The LC win-rate formulas evalkit computes, by the name the table, JSON, summary and leaderboard show.
LC_FORMULAS = {
    "length_controlled_v1": "alpaca_eval's published LC (length_controlled_v1): length, the instruction difficulty "
                            "and the gamed-baseline regularisation of alpaca_eval's df_gamed.csv",
    "length_controlled_noreg": "alpaca_eval's length_controlled_noreg: length and a given instruction difficulty, "
                               "without the gamed-baseline regularisation; not the published LC",
    "length_controlled_minimal": "length only (alpaca_eval's length_controlled_minimal): no instruction difficulty, "
                                 "no gamed-baseline regularisation; not the published LC",
    "evalkit_joint_difficulty": "evalkit's: length and an instruction difficulty fitted jointly on the judgments "
                                "of the models under results/ (length_controlled_noreg's form); not the published LC",
}  # fmt: skip


class EqualLengths(TaskDataError):
    """Every model output is exactly as long as the reference's: the length GLM is undefined (alpaca_eval raises)."""


#: Estimate instruction difficulty jointly only with at least this many models judged on the same questions.
MIN_MODELS_FOR_DIFFICULTY = 4


def is_switched(instruction: str) -> bool:
    """Whether the model's output is shown first for this instruction (alpaca_eval's seeded coin)."""
    return random.Random("is_switched_outputs" + instruction + SWITCH_SEED).choices([False, True], k=1)[0]


def per_reference_outcome(run: JudgedRun, records: Sequence[Mapping[str, Any]],
                          answers: Mapping[str, Sequence[Completion]]) -> Outcome:  # fmt: skip
    """Win-rate and LC win-rate against every reference (the first one's are the summary's metrics)."""
    outputs = {qid: a[-1].text for qid, a in answers.items() if a[-1].ok}
    answered = [r for r in records if str(r["question_id"]) in outputs]
    difficulty, gamma_models = joint_difficulty(run.output_root, run.prepared.task.name, run.lang, run.judge.model,
                                                list(outputs))  # fmt: skip
    per_reference: dict[str, dict[str, Any]] = {}
    formula = "evalkit_joint_difficulty" if difficulty is not None else "length_controlled_minimal"
    for name, reference in run.references.items():
        if name == run.model:
            continue
        rows_for = {str(r["question_id"]): r for r in answered if r["reference"] == name}
        ids = [qid for qid in outputs if qid in reference.answers and qid in rows_for]
        if not ids:
            continue
        preferences, model_lengths = [_preference(rows_for[qid]) for qid in ids], [len(outputs[q]) for q in ids]
        reference_lengths = [len(reference.answers[q][0]) for q in ids]
        gamma = [difficulty[q] for q in ids] if difficulty is not None else None
        try:
            numbers = reference_numbers(preferences, model_lengths, reference_lengths, gamma)
        except EqualLengths as exc:  # a finished run keeps its raw win-rate; the LC is shown as missing, with why
            numbers = {**reference_numbers(preferences, [], [], None, raw_only=True), "lc_undefined": str(exc)}
        per_reference[name] = {k: finite_number(v) if isinstance(v, float) else v for k, v in numbers.items()}
        per_reference[name]["answers"] = reference.source
        per_reference[name]["lc_formula"] = formula
    primary = next(iter(per_reference.values()), None)
    metrics: dict[str, MetricValue] = {}
    if primary is not None and primary["n_total"] > 0:
        if primary["lc_win_rate"] is not None:  # None: undefined (equal lengths), said in per_reference
            metrics["lc_win_rate"] = MetricValue(primary["lc_win_rate"], primary["lc_standard_error"])
        metrics["win_rate"] = MetricValue(primary["win_rate"], primary["standard_error"])
    if outputs and metrics:
        metrics["avg_symbols"] = MetricValue(sum(map(len, outputs.values())) / len(outputs), None)
    return Outcome(metrics, {
        "reference": next(iter(per_reference), None), "per_reference": per_reference,
        "gamma": "joint" if difficulty is not None else "none", "gamma_models": gamma_models,
        "lc_formula": formula,
        "judgments": len(answered), "unparsed": sum(r["preference"] is None for r in answered),
        "soft": sum(bool(r.get("soft")) for r in answered), "reasked": sum(bool(r.get("reasked")) for r in answered),
        "length_unit": "characters",
    })  # fmt: skip


def dataset_generator(prepared: PreparedRun) -> str:
    """The name of the model that wrote the data's own reference outputs (alpaca_eval's `generator`)."""
    names = {str(s.metadata.get("generator")) for s in prepared.samples if s.metadata.get("generator")}
    return names.pop() if len(names) == 1 else DATASET


def _preference(row: Mapping[str, Any]) -> float:
    value = row.get("preference")
    return math.nan if value is None else float(value)


def reference_numbers(preferences: Sequence[float], model_lengths: Sequence[int], reference_lengths: Sequence[int],
                      difficulty: Sequence[float] | None,
                      regularisation: tuple[np.ndarray, np.ndarray, float] | None = None, raw_only: bool = False
                      ) -> dict[str, Any]:  # fmt: skip
    """Raw and length-controlled win-rates of one model against one reference (alpaca_eval's metrics).

    Raises EqualLengths when every output is exactly as long as its reference output (more than one item): the
    length feature Δ / sd(Δ) is then 0 / 0 for every row, and alpaca_eval's GLM raises on it ("Input X contains
    NaN"); a number here would be a raw win-rate presented as length-controlled. `raw_only`: the counts and the
    raw win-rate alone."""
    raw = win_rate(preferences)
    numbers: dict[str, Any] = {
        "win_rate": raw.win_rate, "standard_error": raw.standard_error, "discrete_win_rate": raw.discrete_win_rate,
        "n_wins": raw.n_wins, "n_wins_base": raw.n_wins_base, "n_draws": raw.n_draws, "n_total": raw.n_total,
    }  # fmt: skip
    if raw.n_total == 0 or raw_only:
        return {**numbers, "lc_win_rate": math.nan, "lc_standard_error": math.nan}
    delta = np.asarray(reference_lengths, dtype=float) - np.asarray(model_lengths, dtype=float)
    if len(delta) > 1 and not np.any(delta):
        raise EqualLengths(f"the length-controlled win-rate is undefined: all {len(delta)} outputs are exactly as "
                           "long as the reference's (the standardised length difference is 0 / 0; alpaca_eval's "
                           "GLM raises on it too)")  # fmt: skip
    lc = length_controlled_win_rate(preferences, model_lengths, reference_lengths, difficulty, regularisation)
    return {**numbers, "lc_win_rate": lc.lc_win_rate, "lc_standard_error": lc.lc_standard_error,
            "glm_weights": lc.weights, "glm_c": lc.c}  # fmt: skip


def joint_difficulty(output_root: Path, task: str, lang: str, judge_model: str,
                     ids: Sequence[str]) -> tuple[dict[str, float] | None, int]:  # fmt: skip
    """γ per instruction, fitted jointly on every model's judgments in the results store, when enough exist.

    Uses the judgments (same judge, same language, same reference) of every model under results/ whose
    answers cover all of `ids`; with fewer than MIN_MODELS_FOR_DIFFICULTY such models, returns None (the
    minimal formula without γ is used and the summary says so).
    """
    by_model: dict[str, dict[str, tuple[float, int, int]]] = {}
    for path in sorted(output_root.glob(f"*/{task}/{lang}/judgments.jsonl")):
        for row in read_judgments(path):
            if (row.get("judge") != judge_model or row.get("preference") is None or "reference_length" not in row
                    or not row.get("request_key")):  # an unkeyed verdict may belong to answers since replaced
                continue
            # one results folder is one run: a model run twice under two names is two rows of the fit, as in
            # alpaca_eval (a verdict appended later replaces an earlier one of the same question)
            run = path.parts[-4]
            by_model.setdefault(f"{run}|{row['reference']}", {})[str(row["question_id"])] = (
                float(row["preference"]) - 1, int(row["model_length"]), int(row["reference_length"]))
    complete = {m: rows for m, rows in sorted(by_model.items()) if all(q in rows for q in ids)}
    if len(complete) < MIN_MODELS_FOR_DIFFICULTY or len(ids) < 2:
        return None, len(complete)
    position = {qid: i for i, qid in enumerate(ids)}
    model_index, instruction_index, length, preferences = [], [], [], []
    for m, rows in enumerate(complete.values()):
        deltas = np.asarray([rows[q][2] - rows[q][1] for q in ids], dtype=float)
        scale = np.std(deltas, ddof=1)
        for q, delta in zip(ids, deltas, strict=True):
            model_index.append(m)
            instruction_index.append(position[q])
            length.append(math.tanh(delta / scale) if scale > 0 else 0.0)
            preferences.append(rows[q][0])
    gamma = estimate_difficulty(np.asarray(model_index), np.asarray(instruction_index), np.asarray(length),
                                np.asarray(preferences), len(complete), len(ids))  # fmt: skip
    return {qid: float(gamma[position[qid]]) for qid in ids}, len(complete)


# -- interop: alpaca_eval's annotations files ------------------------------------------------------------------
def read_annotations(path: Path) -> list[dict[str, Any]]:
    rows = read_json_list(path, "alpaca_eval annotations")
    for index, row in enumerate(rows):
        missing = [k for k in ("output_1", "output_2", "generator_1", "generator_2") if not isinstance(row.get(k), str)]
        if missing:
            raise TaskDataError(f"{path}[{index}]: field {missing[0]!r} is missing or not a string")
    return rows


def read_difficulty(path: Path) -> dict[int, float]:
    """instruction_difficulty.csv (alpaca_eval): index,instruction_difficulty; looked up by annotation position."""
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    try:
        return {int(r[0]): float(r[1]) for r in rows[1:] if r}
    except (ValueError, IndexError):
        raise TaskDataError(f"{path}: expected CSV rows 'index,instruction_difficulty'") from None


def read_gamed(path: Path) -> tuple[dict[int, float], np.ndarray, np.ndarray]:
    """alpaca_eval's df_gamed.csv: (difficulty by index, design rows, soft labels) of its two gamed baselines.

    Columns used: index, preference (already in [0, 1]), std_delta_len, instruction_difficulty. The rows enter
    the fit as [tanh(std_delta_len), instruction_difficulty, 0] (not_gamed_baseline is false for them).
    """
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    try:
        difficulty: dict[int, float] = {}
        for row in rows:
            difficulty.setdefault(int(float(row["index"])), float(row["instruction_difficulty"]))
        x = np.asarray([[math.tanh(float(r["std_delta_len"])), float(r["instruction_difficulty"]), 0.0] for r in rows])
        p = np.asarray([float(r["preference"]) for r in rows])
    except (KeyError, ValueError) as exc:
        raise TaskDataError(f"{path}: expected alpaca_eval's df_gamed.csv columns index, preference, std_delta_len, "
                            f"instruction_difficulty ({exc})") from None  # fmt: skip
    return difficulty, x, p


#: alpaca_eval's length_controlled_v1: gamed-baseline rows weighted λ / 2 against 1.
GAMED_LAMBDA = 0.2


def annotations_name(path: Path) -> str | None:
    """The model an annotations file belongs to, by where it lies: alpaca_eval writes
    `<model folder>/<annotator>/annotations.json` (the model folder holds its model_outputs.json), so the folder
    two levels up; another file name is its own stem. None when the path names nothing."""
    resolved = path.resolve()
    if path.name == "annotations.json":
        return resolved.parent.parent.name or None if len(resolved.parents) >= 2 else None
    return path.stem or None


def score_annotations(path: Path, difficulty_path: Path | None = None, gamed_path: Path | None = None,
                      name: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """alpaca_eval's win-rate and LC win-rate per model of an annotations.json.

    The model row is named `name`, else by the file (`annotations_name`): generator_2 inside the file is whatever
    the model_outputs said (alpaca_eval's NullModel calls itself "example"), so it names a row only when the file
    holds several models, and is kept as `generator`. The baseline's own rows (generator_2 = generator_1) score
    50 by construction, with their counts, as in alpaca_eval.

    Instruction difficulty, as in alpaca_eval, is looked up by the annotation's position among the model's
    annotations (its 805 instructions in the original order). Formulas as alpaca_eval names them (LC_FORMULAS):
    `gamed_path` (df_gamed.csv, which also holds the difficulties) -> length_controlled_v1, alpaca_eval's
    default and the published leaderboard's LC; `difficulty_path` alone -> length_controlled_noreg; neither ->
    length_controlled_minimal. Outputs all exactly as long as the baseline's are an error (EqualLengths).
    """
    rows = read_annotations(path)
    difficulty = read_difficulty(difficulty_path) if difficulty_path else None
    regularisation = None
    if gamed_path is not None:
        difficulty, gamed_x, gamed_p = read_gamed(gamed_path)
        regularisation = (gamed_x, gamed_p, GAMED_LAMBDA)
        difficulty_path = gamed_path
    by_model: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_model.setdefault(row["generator_2"], []).append(row)
    models = [m for m, model_rows in by_model.items() if m != model_rows[0]["generator_1"]]
    if name is not None and len(models) > 1:
        raise TaskDataError(f"{path}: --name names one model, but the file holds {len(models)} "
                            f"({', '.join(sorted(models))}); their rows are named by generator_2")  # fmt: skip
    own_name = (name or annotations_name(path)) if len(models) == 1 else None
    formula = ("length_controlled_v1" if regularisation else "length_controlled_noreg" if difficulty is not None
               else "length_controlled_minimal")  # fmt: skip
    table = []
    for generator, model_rows in sorted(by_model.items()):
        prefs = [math.nan if r.get("preference") is None else float(r["preference"]) for r in model_rows]
        baseline = model_rows[0]["generator_1"]
        gamma = None
        if difficulty is not None:
            try:
                gamma = [difficulty[i] for i in range(len(model_rows))]
            except KeyError as exc:
                raise TaskDataError(f"{difficulty_path}: no difficulty for index {exc.args[0]}") from None
        shown_name = own_name if generator != baseline and own_name else generator
        if generator == baseline:  # the baseline against itself: 50 by construction, counts as for the others
            numbers = {**reference_numbers(prefs, [], [], None, raw_only=True), "lc_win_rate": 50.0,
                       "lc_standard_error": 0.0}  # fmt: skip
        else:
            try:
                numbers = reference_numbers(prefs, [len(r["output_2"]) for r in model_rows],
                                            [len(r["output_1"]) for r in model_rows], gamma, regularisation)
            except EqualLengths as exc:
                raise EqualLengths(f"{path}: {shown_name} against {baseline}: {exc}") from None
        numbers.pop("glm_weights", None)
        table.append({"model": shown_name, "generator": generator, "reference": baseline, **numbers,
                      "formula": formula, "formula_note": LC_FORMULAS[formula],
                      "avg_length": sum(len(r["output_2"]) for r in model_rows) / len(model_rows)})  # fmt: skip
    return sorted(table, key=lambda e: (-nan_as_lowest(e["lc_win_rate"]), e["model"]))


def format_table(table: Sequence[Mapping[str, Any]]) -> str:
    """The score table, under a line naming the LC formula (and whether it is alpaca_eval's published one)."""
    formulas = sorted({str(e["formula"]) for e in table})
    lines = [f"LC formula: {f} = {LC_FORMULAS.get(f, 'unknown')}" for f in formulas]
    if formulas and "length_controlled_v1" not in formulas:
        lines.append("(the published AlpacaEval 2.0 leaderboard's LC: pass --gamed df_gamed.csv)")
    lines.append(f"{'model':40} {'LC win-rate':>11} {'win-rate':>9} {'avg length':>10} {'n':>5} {'wins':>5} "
                 f"{'draws':>5}  reference")  # fmt: skip
    for e in table:
        lines.append(f"{e['model'][:40]:40} {_number(e['lc_win_rate'], 11)} {_number(e['win_rate'], 9)} "
                     f"{e['avg_length']:10.0f} {e['n_total']:5d} {e['n_wins']:5d} {e['n_draws']:5d}  "
                     f"{e['reference']}")  # fmt: skip
    return "\n".join(lines)


def _number(value: Any, width: int) -> str:
    found = finite_number(value)
    return f"{'—':>{width}}" if found is None else f"{found:{width}.2f}"


__all__ = ["instruction_id", "per_reference_outcome", "score_annotations"]
