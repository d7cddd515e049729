"""The leaderboard from fixture summaries: golden markdown / CSV / JSON, deterministic bytes, missing cells."""

import os
import shutil
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.leaderboard import LeaderboardError, write_leaderboard

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
    # smollm2 has no MATH run: a dash, and its normalised average covers 3 of 4 tasks
    assert "| smollm2-135m | 9.0 | 2.0 | — | 5.0 | — | 2.0 | 3/4 |" in text
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
    from evalkit.leaderboard import _best_first

    ordered = sorted([("missing", None), ("zero", 0.0), ("high", 52.4)], key=lambda e: (_best_first(e[1]), e[0]))
    assert [name for name, _ in ordered] == ["high", "zero", "missing"]
