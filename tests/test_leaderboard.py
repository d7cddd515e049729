"""The leaderboard from fixture summaries: golden markdown / CSV / JSON, deterministic bytes, missing cells."""

import os
import shutil
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.publish.leaderboard import LeaderboardError, write_leaderboard

FIXTURES = Path(__file__).parent / "fixtures" / "leaderboard"
RESULTS = FIXTURES / "results"
GOLDEN = FIXTURES / "golden"
FILES = ("leaderboard.md", "leaderboard.csv", "leaderboard.json")


def test_matches_the_golden_files(tmp_path):
    write_leaderboard(RESULTS, tmp_path)
    if os.environ.get("EVALKIT_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        for name in FILES:
            shutil.copyfile(tmp_path / name, GOLDEN / name)
    for name in FILES:
        assert (tmp_path / name).read_text(encoding="utf-8") == (GOLDEN / name).read_text(encoding="utf-8"), name


def test_same_results_give_byte_identical_files(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    written = write_leaderboard(RESULTS, first)
    write_leaderboard(RESULTS, second)
    names = sorted(p.name for p in written)
    assert "leaderboard_arena_hard_ru.png" in names and "leaderboard_arena_hard_pl.png" in names
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_tables_show_what_cards_publish_and_never_fill_zeros(tmp_path):
    write_leaderboard(RESULTS, tmp_path)
    text = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert text.index("## ru") < text.index("## pl")  # Russian first
    # smollm2 has no MATH run: a dash, and its normalised average covers 3 of 4 tasks (its MBPP run is incomplete)
    assert "| smollm2-135m | 9.0 | 2.0 | — | 5.0⚠ | — | 2.0⚠ | 3/4 |" in text
    # (52 - 10) / 90 * 100 = 46.67, (71 + 38 + 61 + 46.67) / 4 = 54.17
    assert "| vikhr-nemo-12b | 52.0 | 71.0 | 38.0 | 61.0 | 66.0 | 54.2 | 4/4 |" in text
    assert "| openai:gpt-3.5-turbo-0125 (baseline) | 50.0 | — | — |" in text
    assert "| vikhr-nemo-12b | 68.2 | (-2.3, +2.2) | 612 |" in text
    assert "![Arena-Hard (ru)" in text and "(leaderboard_arena_hard_ru.png)" in text
    assert "| vikhr-nemo-12b | 7.81 | 8.10 | 7.52 |" in text
    assert "| t-lite-7b | 41.9 | 47.3 | 2231 |" in text and "reference openai:gpt-4o-mini" in text
    assert "| smollm2-135m | in_domain | — | 13.0 | 2.00 | 9 |" in text  # no judge: accuracy missing, not 0
    assert "d0rj/gsm8k-ru@5b475005f3eb" in text and "Judges: openai:gpt-4o." in text


def test_broken_summary_is_named_and_skipped(tmp_path, capsys):
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    broken = results / "t-lite-7b" / "gsm8k" / "ru" / "summary.json"
    broken.write_text("{not json", encoding="utf-8")
    assert main(["leaderboard", "--results", str(results)]) == 0
    assert f"{broken}: skipped" in capsys.readouterr().err
    assert (results / "leaderboard.md").is_file()


def test_no_results_is_misuse(tmp_path):
    with pytest.raises(LeaderboardError, match="no summary.json"):
        write_leaderboard(tmp_path)
    assert main(["leaderboard", "--results", str(tmp_path)]) == 2


def test_a_score_of_zero_ranks_above_a_missing_one():
    from evalkit.publish.leaderboard import _best_first

    ordered = sorted([("missing", None), ("zero", 0.0), ("high", 52.4)], key=lambda e: (_best_first(e[1]), e[0]))
    assert [name for name, _ in ordered] == ["high", "zero", "missing"]


def test_an_incomplete_run_is_marked_in_markdown_csv_and_json(tmp_path):
    """smollm2-135m's mbpp/ru run has 12 of 257 items failed (fixture): its cell, and the average it enters, carry
    the mark; the note names the count and the first error; CSV and JSON rows carry status and errors."""
    import csv
    import json

    write_leaderboard(RESULTS, tmp_path)
    text = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert "| smollm2-135m | 9.0 | 2.0 | — | 5.0⚠ | — | 2.0⚠ | 3/4 |" in text
    assert "| t-lite-7b | 45.0 | 64.0 | 30.0 | 55.0 | — | 47.0 | 4/4 |" in text  # complete runs: no mark
    note = next(line for line in text.splitlines() if line.startswith("- ⚠ incomplete run"))
    assert "smollm2-135m mbpp/ru: 12 of 257 items failed; first error: HTTP 400: This model's maximum context" in note
    assert "(+1 other error)" in note
    rows = list(csv.DictReader((tmp_path / "leaderboard.csv").open(encoding="utf-8")))
    mbpp = next(r for r in rows if r["model"] == "smollm2-135m" and r["task"] == "mbpp")
    assert (mbpp["status"], mbpp["n_errors"]) == ("incomplete", "12") and mbpp["first_error"].startswith("HTTP 400")
    assert {r["status"] for r in rows if r is not mbpp and not (r["model"], r["task"]) == ("smollm2-135m", "mbpp")} \
        == {"complete"}  # fmt: skip
    board = json.loads((tmp_path / "leaderboard.json").read_text(encoding="utf-8"))
    assert board["incomplete"] == [{"model": "smollm2-135m", "task": "mbpp", "lang": "ru", "n": 257, "n_errors": 12,
                                    "errors": {"HTTP 400: This model's maximum context length is 2048 tokens. However, "
                                               "you requested 2249 tokens.": 10,
                                               "HTTP 503: Service Unavailable": 2}}]  # fmt: skip


def test_a_summary_from_before_the_status_field_is_incomplete_by_its_error_count(tmp_path):
    import json

    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    path = results / "t-lite-7b" / "gsm8k" / "ru" / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary["n_errors"] = 4  # no status, no errors: an old summary
    path.write_text(json.dumps(summary), encoding="utf-8")
    write_leaderboard(results, tmp_path / "out")
    text = (tmp_path / "out" / "leaderboard.md").read_text(encoding="utf-8")
    assert "| t-lite-7b | 45.0 | 64.0⚠ | 30.0 | 55.0 | — | 47.0⚠ | 4/4 |" in text
    assert "- ⚠ incomplete run t-lite-7b gsm8k/ru: 4 of 1319 items failed. Its numbers" in text


def test_judged_tables_mark_the_incomplete_run_and_alpaca_eval_names_its_lc_formula(tmp_path):
    import json

    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    for task in ("arena_hard", "mt_bench", "alpaca_eval"):
        path = results / "t-lite-7b" / task / "ru" / "summary.json"
        summary = json.loads(path.read_text(encoding="utf-8"))
        summary.update(status="incomplete", n_errors=3, errors={"HTTP 500: boom": 3})
        if task == "alpaca_eval":
            summary["extra"]["lc_formula"] = "length_controlled_minimal"
        path.write_text(json.dumps(summary), encoding="utf-8")
    write_leaderboard(results, tmp_path / "out")
    text = (tmp_path / "out" / "leaderboard.md").read_text(encoding="utf-8")
    assert "| t-lite-7b | 57.5⚠ |" in text and "| t-lite-7b | 7.02⚠ |" in text
    assert "| t-lite-7b | 41.9⚠ | 47.3 | 2231 | length_controlled_minimal |" in text
    assert "| vikhr-nemo-12b | 52.4 | 55.0 | 1780 | evalkit_joint_difficulty |" in text
    assert "length_controlled_minimal = length only (alpaca_eval's length_controlled_minimal)" in text
    rows = json.loads((tmp_path / "out" / "leaderboard.json").read_text(encoding="utf-8"))["rows"]
    formulas = {(r["model"], r["metric"]): r["lc_formula"] for r in rows if r["task"] == "alpaca_eval"}
    assert formulas[("t-lite-7b", "lc_win_rate")] == "length_controlled_minimal"
    assert formulas[("vikhr-nemo-12b", "lc_win_rate")] == "evalkit_joint_difficulty"
    assert formulas[("t-lite-7b", "win_rate")] is None


def test_print_into_a_closed_pipe_is_quiet(tmp_path):
    """`evalkit leaderboard --print | head -1`: the reader is gone before evalkit writes; no error, exit 0."""
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "evalkit", "leaderboard", "--results", str(RESULTS), "--output",
                                str(tmp_path), "--print"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    process.stdout.close()  # the reader has stopped: every write to stdout fails with EPIPE
    _, err = process.communicate(timeout=300)
    assert err.decode() == "" and process.returncode == 0
    assert (tmp_path / "leaderboard.md").is_file()


def test_print_stops_quietly_when_stdout_breaks(tmp_path, monkeypatch, capsys):
    import sys

    class Closed:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", Closed())
    assert main(["leaderboard", "--results", str(RESULTS), "--output", str(tmp_path), "--print"]) == 0
    assert "Broken pipe" not in capsys.readouterr().err


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_every_published_file_respects_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        written = write_leaderboard(RESULTS, tmp_path)
    finally:
        os.umask(previous)
    assert {p.suffix for p in written} == {".md", ".csv", ".json", ".png"}
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in written} == {p.name: oct(mode) for p in written}


def recap_summary(task, n, n_errors, errors):
    from evalkit.types import GenerationConfig, MetricValue, RunSummary, Usage

    return RunSummary(task=task, task_version="1.0", lang="ru", model="m", backend="b",
                      metrics={"exact_match": MetricValue(0.5, 0.1)}, n=n, n_errors=n_errors,
                      data={"source": "samples"}, generation_config=GenerationConfig(), system_prompt=None,
                      chat_template=None, usage=Usage(), evalkit_version="0", git_sha=None, started_at="s",
                      finished_at="f", duration_s=1.0, errors=errors)  # fmt: skip


def test_the_recap_shows_failed_items_loudly_and_points_at_the_real_output_folder():
    from evalkit.publish.recap import recap_lines

    lines = recap_lines([recap_summary("gsm8k", 12, 4, {"HTTP 503: Service Unavailable": 3, "timeout": 1}),
                         recap_summary("mmlu_pro", 12, 0, {})], "/data/evals/ckpt-7", 61.0)  # fmt: skip
    text = "\n".join(lines)
    gsm8k = next(line for line in lines if line.startswith("gsm8k/ru"))
    assert "4 !" in gsm8k and "⚠ INCOMPLETE" in gsm8k
    assert "⚠" not in next(line for line in lines if line.startswith("mmlu_pro/ru"))
    assert ("ERRORS gsm8k/ru: 4 of 12 items failed (33%), not scored: its numbers are over the 8 answered items; "
            "most frequent (3×): HTTP 503: Service Unavailable (+1 other)") in lines
    # The hints name the folder the run wrote to (`--output /data/evals`), not results/.
    assert "next: evalkit leaderboard --results /data/evals  (/data/evals/leaderboard.md" in text
    assert "--candidate /data/evals/ckpt-7" in text and "/data/evals/ckpt-7/<task>/<lang>/samples.jsonl" in text
    assert "results/" not in text


def test_the_recap_keeps_make_leaderboard_for_the_default_output():
    from evalkit.publish.recap import recap_lines

    text = "\n".join(recap_lines([recap_summary("gsm8k", 12, 0, {})], "results/local__smollm2", 5.0))
    assert "next: make leaderboard" in text and "(results/leaderboard.md" in text and "ERRORS" not in text


def test_the_recap_says_a_run_of_one_or_two_items_is_too_small_to_gate():
    from evalkit.publish.recap import recap_lines

    lines = recap_lines([recap_summary("gsm8k", 2, 0, {}), recap_summary("math", 5, 3, {"HTTP 500": 3})],
                        "results/m", 1.0)
    assert " too small " in next(line for line in lines if line.startswith("gsm8k/ru"))
    assert " too small " in next(line for line in lines if line.startswith("math/ru"))  # 2 answered of 5
