"""AlpacaEval's numbers: pairwise preferences against reference answers -> (length-controlled) win-rates, and
`evalkit alpaca-eval score` over alpaca_eval's own annotations.

The run itself is the one judged flow (evalkit.judged) with the plugin judges/alpaca_eval/task.py.
Layout under results/<model>/alpaca_eval/<lang>/:
  answers.jsonl     one line per instruction: question_id, instruction, output, generator (alpaca_eval's
                    model_outputs fields, so the file can be fed to alpaca_eval as is), usage, error
  judgments.jsonl   append-only, one line per (instruction, reference): the presented order (`switched`),
                    the raw judge reply, the preference in the presented order (`verdict`) and in alpaca_eval's
                    orientation (`preference`: 1 = the reference wins, 2 = the model wins, 1.5 tie), whether it
                    came from label-token probabilities (`soft`); null when unparsed after one re-ask
  summary.json      lc_win_rate, win_rate (percent) and avg_symbols for the first reference; every reference's
                    numbers under extra.per_reference; extra.gamma says how instruction difficulty was handled

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

from evalkit.judged import JudgedRun, Outcome, read_judgments
from evalkit.references import DATASET, instruction_id
from evalkit.runner import PreparedRun
from evalkit.stats import estimate_difficulty, length_controlled_win_rate, nan_as_lowest, win_rate
from evalkit.task import TaskDataError, read_json_list
from evalkit.types import Completion, MetricValue, finite_number

SWITCH_SEED = "123"
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
    for name, reference in run.references.items():
        if name == run.model:
            continue
        rows_for = {str(r["question_id"]): r for r in answered if r["reference"] == name}
        ids = [qid for qid in outputs if qid in reference.answers and qid in rows_for]
        if not ids:
            continue
        numbers = reference_numbers(
            [_preference(rows_for[qid]) for qid in ids], [len(outputs[q]) for q in ids],
            [len(reference.answers[q][0]) for q in ids],
            [difficulty[q] for q in ids] if difficulty is not None else None,
        )  # fmt: skip
        per_reference[name] = {k: finite_number(v) if isinstance(v, float) else v for k, v in numbers.items()}
        per_reference[name]["answers"] = reference.source
    primary = next(iter(per_reference.values()), None)
    metrics: dict[str, MetricValue] = {}
    if primary is not None and primary["n_total"] > 0:
        metrics["lc_win_rate"] = MetricValue(primary["lc_win_rate"], primary["lc_standard_error"])
        metrics["win_rate"] = MetricValue(primary["win_rate"], primary["standard_error"])
    if outputs and metrics:
        metrics["avg_symbols"] = MetricValue(sum(map(len, outputs.values())) / len(outputs), None)
    return Outcome(metrics, {
        "reference": next(iter(per_reference), None), "per_reference": per_reference,
        "gamma": "joint" if difficulty is not None else "none", "gamma_models": gamma_models,
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
                      regularisation: tuple[np.ndarray, np.ndarray, float] | None = None
                      ) -> dict[str, Any]:  # fmt: skip
    """Raw and length-controlled win-rates of one model against one reference (alpaca_eval's metrics)."""
    raw = win_rate(preferences)
    numbers: dict[str, Any] = {
        "win_rate": raw.win_rate, "standard_error": raw.standard_error, "discrete_win_rate": raw.discrete_win_rate,
        "n_wins": raw.n_wins, "n_wins_base": raw.n_wins_base, "n_draws": raw.n_draws, "n_total": raw.n_total,
    }  # fmt: skip
    if raw.n_total == 0:
        return {**numbers, "lc_win_rate": math.nan, "lc_standard_error": math.nan}
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
            if row.get("judge") != judge_model or row.get("preference") is None or "reference_length" not in row:
                continue
            by_model.setdefault(f"{row['model']}|{row['reference']}", {})[str(row["question_id"])] = (
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


def score_annotations(path: Path, difficulty_path: Path | None = None,
                      gamed_path: Path | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """alpaca_eval's win-rate and LC win-rate per model (generator_2) of an annotations.json.

    Instruction difficulty, as in alpaca_eval, is looked up by the annotation's position among the model's
    annotations (its 805 instructions in the original order). Formulas as alpaca_eval names them:
    `gamed_path` (df_gamed.csv, which also holds the difficulties) -> length_controlled_v1, alpaca_eval's
    default; `difficulty_path` alone -> length_controlled_noreg; neither -> length_controlled_minimal.
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
    table = []
    for model, model_rows in sorted(by_model.items()):
        prefs = [math.nan if r.get("preference") is None else float(r["preference"]) for r in model_rows]
        baseline = model_rows[0]["generator_1"]
        gamma = None
        if difficulty is not None:
            try:
                gamma = [difficulty[i] for i in range(len(model_rows))]
            except KeyError as exc:
                raise TaskDataError(f"{difficulty_path}: no difficulty for index {exc.args[0]}") from None
        if model == baseline:
            raw = win_rate(prefs)
            numbers = {"win_rate": raw.win_rate, "standard_error": raw.standard_error, "lc_win_rate": 50.0,
                       "lc_standard_error": 0.0, "n_total": raw.n_total}  # fmt: skip
        else:
            numbers = reference_numbers(prefs, [len(r["output_2"]) for r in model_rows],
                                        [len(r["output_1"]) for r in model_rows], gamma, regularisation)
        numbers.pop("glm_weights", None)
        formula = ("length_controlled_v1" if regularisation else "length_controlled_noreg" if gamma
                   else "length_controlled_minimal")  # fmt: skip
        table.append({"model": model, "reference": baseline, **numbers, "formula": formula,
                      "avg_length": sum(len(r["output_2"]) for r in model_rows) / len(model_rows)})  # fmt: skip
    return sorted(table, key=lambda e: (-nan_as_lowest(e["lc_win_rate"]), e["model"]))



def format_table(table: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"{'model':40} {'LC win-rate':>11} {'win-rate':>9} {'avg length':>10} {'n':>5}  reference"]
    for e in table:
        lines.append(f"{e['model'][:40]:40} {e['lc_win_rate']:11.2f} {e['win_rate']:9.2f} {e['avg_length']:10.0f} "
                     f"{e['n_total']:5d}  {e['reference']}")  # fmt: skip
    return "\n".join(lines)


__all__ = ["instruction_id", "per_reference_outcome", "score_annotations"]
