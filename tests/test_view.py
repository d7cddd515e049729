"""`evalkit view` / `evalkit show` without a browser: what the report's data files and the terminal view hold for
a mixed run (tests/fixtures/view/results, made by its make_fixtures.py against the loopback stub server), a
run from before judge prompts were recorded, a damaged record, and two runs compared."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.publish.view.items import run_items, split_reasoning
from evalkit.publish.view.load import Damaged, find_runs, read_rows
from evalkit.publish.view.report import build_report

FIXTURE = Path(__file__).parent / "fixtures" / "view" / "results"
RUN = FIXTURE / "stub-model"


def data_file(path: Path) -> object:
    """The value a data file hands to the page: `EK.put("name", <json>);`."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("EK.put(") and text.endswith(");\n")
    return json.loads(text[len("EK.put("):-3].split(",", 1)[1])


def items_of(task: str):
    (folder,) = find_runs(RUN / task / "ru")
    return folder, run_items(folder)


def by_key(items):
    return {item.key: item for item in items.items}


def test_task_items_carry_every_outcome_flag():
    _, items = items_of("gsm8k")
    flags = {f for item in items.items for f in item.flags}
    assert {"correct", "wrong", "no_answer", "error", "wrong_lang", "damaged"} <= flags
    first = by_key(items)["00000"]
    assert first.flags == ["correct"] and first.score == 1.0
    detail = first.detail
    assert detail["extracted"]["rule"] and detail["answer_key"] == "answer" and detail["target"] == "280"
    assert detail["messages"][-1]["role"] == "user" and "<think>" in detail["reply"]
    english = next(i for i in items.items if "wrong_lang" in i.flags)
    assert english.detail["language"] == "en" and english.detail["expected_language"] == "ru"
    failed = next(i for i in items.items if "error" in i.flags)
    assert "500" in failed.detail["error"] and "correct" not in failed.flags and "wrong" not in failed.flags


def test_damaged_line_is_one_damaged_item_and_the_rest_reads():
    rows = list(read_rows(RUN / "gsm8k" / "ru" / "samples.jsonl"))
    assert isinstance(rows[-1], Damaged) and all(isinstance(r, dict) for r in rows[:-1])
    _, items = items_of("gsm8k")
    damaged = [i for i in items.items if "damaged" in i.flags]
    assert len(damaged) == 1 and len(items.items) == len(rows)
    found = damaged[0].detail["damaged"]
    assert found["line"] == len(rows) and "invalid JSON" in found["reason"]


def test_truncated_and_code_items():
    _, mmlu = items_of("mmlu_pro")
    assert any("truncated" in i.flags for i in mmlu.items)
    _, mbpp = items_of("mbpp")
    statuses = {i.detail["code"]["status"] for i in mbpp.items if i.detail["code"]}
    assert statuses == {"passed", "failed"}
    assert all(i.detail["code"] is None for i in mbpp.items if "error" in i.flags)
    broken = next(i for i in mbpp.items if i.detail["code"]["status"] == "failed")
    assert "SyntaxError" in broken.detail["code"]["detail"] and "def broken" in broken.detail["code"]["program"]


def test_arena_question_both_answers_both_games_and_the_judge_prompt():
    _, items = items_of("arena_hard")
    judged = next(i for i in items.items if len(i.detail["games"]) == 2)
    detail = judged.detail
    assert detail["question"] and detail["answer"] and detail["baseline_answer"]
    assert {g["game"] for g in detail["games"]} == {1, 2}
    game = detail["games"][0]
    assert game["judge_messages"] and game["judge_messages"][0]["role"] == "system"
    assert detail["answer"] in game["judge_messages"][-1]["content"] and "[[B>A]]" in game["raw"]
    assert {g["model_side"] for g in detail["games"]} == {"model > baseline", "baseline > model"}
    assert "inconsistent" in judged.flags and judged.score == 50.0
    half = next(i for i in items.items if len(i.detail["games"]) == 1)  # its other game's judge request failed
    assert "not_judged" in half.flags


def test_grounded_rag_judge_and_an_unscored_item():
    _, items = items_of("rag")
    judged = next(i for i in items.items if i.detail["judge"])
    assert "[[CORRECT]]" in judged.detail["judge"]["raw"] and judged.detail["judge"]["verdict"] is True
    assert any(i.flags == ["unscored"] for i in items.items)  # the judge request failed: no accuracy


def test_mt_bench_turns_and_alpaca_eval_preferences():
    _, mt = items_of("mt_bench")
    graded = next(i for i in mt.items if len(i.detail["games"]) == 2)
    assert len(graded.detail["questions"]) == 2 and len(graded.detail["answers"]) == 2
    assert [g["score"] for g in graded.detail["games"]] == [7.0, 7.0] and "mid" in graded.flags
    assert all(g["judge_messages"] for g in graded.detail["games"])
    _, alpaca = items_of("alpaca_eval")
    judged = next(i for i in alpaca.items if i.detail["games"])
    game = judged.detail["games"][0]
    assert game["preference"] in (1.0, 2.0) and game["model_length"] and game["reference_length"]
    assert game["reference_answer"] and len(game["reference_answer"]) == game["reference_length"]


def test_report_files(tmp_path):
    index = build_report(FIXTURE, tmp_path / "report")
    assert index.is_file() and (tmp_path / "report" / "assets" / "app.js").is_file()
    data = data_file(tmp_path / "report" / "data" / "index.js")
    runs = {(r["task"], r["lang"]): r for r in data["runs"]}
    assert set(runs) == {(t, "ru") for t in ("gsm8k", "mmlu_pro", "mbpp", "rag", "arena_hard", "mt_bench",
                                              "alpaca_eval")}
    gsm8k = runs[("gsm8k", "ru")]
    assert gsm8k["status"] == "incomplete" and gsm8k["n_errors"] == 1 and gsm8k["counts"]["damaged"] == 1
    rows = data_file(tmp_path / "report" / "data" / f"{gsm8k['key']}.js")
    assert len(rows) == gsm8k["n_items"] and all("q" in r and "f" in r for r in rows)
    chunk = data_file(tmp_path / "report" / "data" / f"{gsm8k['key']}-0.js")
    assert chunk[0]["kind"] == "task" and chunk[-1]["kind"] == "damaged"
    links = [c["r"] for s in data["leaderboard"] for t in s["tables"] for row in t["rows"] for c in row if "r" in c]
    assert gsm8k["key"] in links and runs[("arena_hard", "ru")]["key"] in links
    assert all(not c.get("w") or c["r"] for s in data["leaderboard"] for t in s["tables"] for row in t["rows"]
               for c in row)  # fmt: skip


def old_run(tmp_path: Path) -> Path:
    """The fixture as a run from before judge prompts, request keys and run status were recorded."""
    old = tmp_path / "old"
    shutil.copytree(FIXTURE, old)
    for path in old.rglob("judgments.jsonl"):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for row in rows:
            row.pop("judge_messages", None)
            row.pop("request_key", None)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    for path in old.rglob("summary.json"):
        summary = json.loads(path.read_text(encoding="utf-8"))
        for key in ("status", "errors", "error_rate", "n_truncated"):
            summary.pop(key, None)
        path.write_text(json.dumps(summary), encoding="utf-8")
    return old


def test_older_runs_degrade_gracefully(tmp_path):
    old = old_run(tmp_path)
    (folder,) = find_runs(old / "stub-model" / "arena_hard" / "ru")
    items = run_items(folder)
    assert any("judge prompts are not in judgments.jsonl" in n for n in items.notes)
    assert all(g["judge_messages"] is None for i in items.items for g in i.detail["games"])
    build_report(old, tmp_path / "report")
    data = data_file(tmp_path / "report" / "data" / "index.js")
    statuses = {r["task"]: r["status"] for r in data["runs"]}
    assert statuses["gsm8k"] == "incomplete" and statuses["mmlu_pro"] == "complete"


def test_summary_missing_or_broken_is_named(tmp_path):
    copy = tmp_path / "r"
    shutil.copytree(FIXTURE, copy)
    (copy / "stub-model" / "gsm8k" / "ru" / "summary.json").write_text("{not json", encoding="utf-8")
    (copy / "stub-model" / "mbpp" / "ru" / "summary.json").unlink()
    build_report(copy, tmp_path / "report")
    data = data_file(tmp_path / "report" / "data" / "index.js")
    notes = {r["task"]: " ".join(r["notes"]) for r in data["runs"]}
    assert "summary.json is not readable" in notes["gsm8k"] and "no summary.json" in notes["mbpp"]
    assert {r["task"]: r["n_items"] for r in data["runs"]}["gsm8k"] == 7


def flipped_copy(tmp_path: Path) -> Path:
    """A second run of the fixture in which two GSM8K items changed their verdict."""
    second = tmp_path / "second" / "stub-model"
    shutil.copytree(RUN, second)
    path = second / "gsm8k" / "ru" / "samples.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if row["id"] in ("00000", "00002"):
            row["scores"]["exact_match"] = 1.0 - row["scores"]["exact_match"]
            lines[number] = json.dumps(row, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return second


def test_two_runs_flipped_items(tmp_path):
    second = flipped_copy(tmp_path)
    build_report(RUN, tmp_path / "report", second)
    data = data_file(tmp_path / "report" / "data" / "index.js")
    pairs = {p["task"]: p for p in data["compare"]}
    gsm8k = pairs["gsm8k"]
    assert {f["id"]: (f["a"], f["b"]) for f in gsm8k["flips"]} == {"00000": (100.0, 0.0), "00002": (0.0, 100.0)}
    assert gsm8k["gate"] is not None or gsm8k["note"]
    assert all(f["ia"] is not None and f["ib"] is not None for f in gsm8k["flips"])
    assert pairs["mmlu_pro"]["flips"] == []


def test_split_reasoning():
    assert split_reasoning("<think>a</think>b") == ("a", "b", False)
    assert split_reasoning("plan</think>answer") == ("plan", "answer", False)
    assert split_reasoning("intro <thinking>never ends") == ("never ends", "intro ", True)
    assert split_reasoning("plain") == (None, "plain", False)


def test_show_prints_the_chain(capsys):
    assert main(["show", str(RUN / "gsm8k" / "ru"), "--id", "00000"]) == 0
    out = capsys.readouterr().out
    for needle in ("messages sent", "reasoning folded", "rule: answer_phrase", "── target", "exact_match: 1.0"):
        assert needle in out
    assert main(["show", str(RUN / "arena_hard" / "ru"), "--id", "ru000", "--full"]) == 0
    out = capsys.readouterr().out
    assert "game 1: A = handwritten" in out and "game 2" in out and "judge prompt:" in out and "[[B>A]]" in out
    assert main(["show", str(RUN / "mbpp" / "ru"), "--id", "2"]) == 0
    out = capsys.readouterr().out
    assert "sandbox outcome" in out and "SyntaxError" in out


def test_show_damaged_and_unknown(capsys):
    assert main(["show", str(RUN / "gsm8k" / "ru"), "--id", "damaged:samples.jsonl:7"]) == 0
    assert "damaged record: samples.jsonl line 7" in capsys.readouterr().out
    assert main(["show", str(RUN / "gsm8k" / "ru"), "--id", "nope"]) == 2
    assert "no item 'nope'" in capsys.readouterr().err


def test_view_command(tmp_path, capsys):
    assert main(["view", str(FIXTURE), "--out", str(tmp_path / "r")]) == 0
    assert str((tmp_path / "r" / "index.html").resolve()) in capsys.readouterr().out
    assert main(["view", str(tmp_path / "empty")]) == 2


@pytest.mark.parametrize("where", ["root", "model", "run"])
def test_view_accepts_a_root_a_model_folder_or_a_run(where, tmp_path):
    path = {"root": FIXTURE, "model": RUN, "run": RUN / "mbpp" / "ru"}[where]
    runs = find_runs(path)
    assert runs and all(r.model == "stub-model" for r in runs)
    assert len(runs) == (1 if where == "run" else 7)


def test_unencodable_text_and_a_foreign_output_folder(tmp_path):
    run = tmp_path / "results" / "m" / "gsm8k" / "ru"
    run.mkdir(parents=True)
    record = {"id": "x1", "messages": [{"role": "user", "content": "Сколько?"}], "completion": "Ответ: 5 \ud800",
              "finish_reason": "stop", "extracted": {"answer": "5", "rule": "answer_phrase"}, "target": "5",
              "scores": {"exact_match": 1.0}, "error": None}
    (run / "samples.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")  # the surrogate as an escape
    build_report(tmp_path / "results", tmp_path / "report")
    chunk = data_file(tmp_path / "report" / "data" / "r0-0.js")
    assert chunk[0]["reply"] == "Ответ: 5 \ud800"
    (tmp_path / "mine" / "data").mkdir(parents=True)
    with pytest.raises(Exception, match="not an evalkit report"):
        build_report(tmp_path / "results", tmp_path / "mine")
    assert (tmp_path / "mine" / "data").is_dir()


def test_replicas_and_lm_eval_filters_are_items_of_their_own(tmp_path):
    run = tmp_path / "m" / "mbpp" / "en"
    run.mkdir(parents=True)
    rows = [{"id": "7", "replica": r, "completion": "x", "extracted": {"code": "x", "status": "failed"},
             "scores": {"passed": float(r == 1)}, "error": None} for r in range(3)]
    rows += [{"id": "9", "replica": 0, "completion": "y", "metadata": {"filter": f}, "extracted": {"filtered": "[]"},
              "scores": {"exact_match": 0.0}, "error": None} for f in ("strict-match", "flexible-extract")]
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (folder,) = find_runs(run)
    keys = [item.key for item in run_items(folder).items]
    assert keys == ["7#0", "7#1", "7#2", "9", "9#flexible-extract"]


def test_only_the_judgments_the_summary_counts(tmp_path):
    """judgments.jsonl is append-only: another judge's records and an earlier judgment of the same game stay in
    the file; the item shows the last judgment of each game by the summary's judge, and says what it left out."""
    copy = tmp_path / "r"
    shutil.copytree(RUN / "arena_hard", copy / "m" / "arena_hard")
    path = copy / "m" / "arena_hard" / "ru" / "judgments.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    first = rows[0]
    older = {**first, "raw": "an earlier judgment [[A=B]]", "verdict": "A=B"}
    other = {**first, "judge": "openai:another-judge", "raw": "another judge", "verdict": "A>>B"}
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in [older, other, *rows]),
                    encoding="utf-8")  # fmt: skip
    (folder,) = find_runs(copy / "m" / "arena_hard" / "ru")
    items = run_items(folder)
    item = by_key(items)[str(first["question_id"])]
    assert [g["raw"] for g in item.detail["games"] if g["game"] == first["game"]] == [first["raw"]]
    assert any("2 record(s) of judgments.jsonl are not shown" in n for n in items.notes)
