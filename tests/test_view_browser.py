"""The report in a real browser: Debian's headless Chromium driven through chromium-driver (selenium), opened
from file:// with the network off. Open the report, follow a leaderboard link, filter, search, open items of
every kind and check their fields, compare two runs.

Without chromium these tests are skipped on a laptop, and fail in CI (`CI` set) or with
EVALKIT_REQUIRE_BROWSER=1 (set by .ci/run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_view import FIXTURE, RUN, flipped_copy

from evalkit.publish.view.browser import chromium, file_url, find_chromium
from evalkit.publish.view.report import build_report

REQUIRED = os.environ.get("EVALKIT_REQUIRE_BROWSER") == "1" or bool(os.environ.get("CI"))


def _browser_missing() -> str | None:
    if find_chromium() is None:
        return "chromium / chromedriver not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401, PLC0415
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def driver():
    missing = _browser_missing()
    if missing is not None:
        if REQUIRED:
            pytest.fail(f"a browser is required here (EVALKIT_REQUIRE_BROWSER=1 or CI): {missing}")
        pytest.skip(missing)
    with chromium() as browser:
        browser.set_page_load_timeout(30)
        yield browser


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("view") / "report"
    build_report(FIXTURE, out)
    return out


def wait(driver, script: str, timeout: float = 10.0):
    """Poll a JavaScript expression until it is truthy; return its value."""
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: d.execute_script("return " + script))


def open_page(driver, report: Path, fragment: str = "") -> None:
    driver.get("about:blank")
    driver.get(file_url(report / "index.html", fragment))
    wait(driver, "window.EK && EK.index !== null")


def css(driver, selector: str):
    return driver.find_elements("css selector", selector)


def text_of(driver, selector: str) -> str:
    return driver.find_element("css selector", selector).text


def open_item(driver, item_id: str) -> None:
    wait(driver, f"document.querySelector('#items tr.item[data-id=\"{item_id}\"]')")
    css(driver, f'#items tr.item[data-id="{item_id}"]')[0].click()
    wait(driver, f"(document.querySelector('#item-id') || {{}}).textContent === '{item_id}'")


def test_leaderboard_link_filter_search_and_item(driver, report):
    open_page(driver, report)
    assert "Leaderboard" in text_of(driver, "main h1")
    links = [a for a in css(driver, "table.board a.cell-link")
             if (a.get_attribute("title") or "").startswith("exact_match")]
    assert links, "the GSM8K number links to its page"
    links[0].click()
    wait(driver, "document.querySelectorAll('#items tr.item').length > 0")
    assert "GSM8K" in text_of(driver, "main h1") and text_of(driver, "#run-status") == "incomplete"
    assert len(css(driver, "#items tr.item")) == 7
    assert css(driver, "#distribution rect.bar"), "the page shows the outcome distribution"

    css(driver, '#filters button[data-flag="wrong"]')[0].click()
    wait(driver, "location.hash.includes('f=wrong')")
    wait(driver, "document.querySelectorAll('#items tr.item').length === 3")
    for row in css(driver, "#items tr.item"):
        assert "wrong" in row.text
    css(driver, '#filters button[data-flag="wrong"]')[0].click()  # off again
    wait(driver, "document.querySelectorAll('#items tr.item').length === 7")
    for flag, count in (("correct", 2), ("no_answer", 2), ("error", 1), ("wrong_lang", 2), ("damaged", 1)):
        button = css(driver, f'#filters button[data-flag="{flag}"]')[0]
        assert f"({count})" in button.text
    assert css(driver, '#filters button[data-flag="truncated"]')[0].get_attribute("disabled") is not None

    search = css(driver, "#search")[0]
    search.send_keys("sorry")
    wait(driver, "location.hash.includes('q=sorry')")
    wait(driver, "document.querySelectorAll('#items tr.item').length === 2")

    open_page(driver, report, "run=" + run_key(driver, "gsm8k"))
    open_item(driver, "00000")
    detail = text_of(driver, "#detail")
    assert "Messages sent" in detail and "Марина купила" in detail  # the question, under its folded examples
    folded = css(driver, "#detail .field-messages details.msg-fold")[0]
    assert folded.get_attribute("open") is None and "Реши математическую задачу" in folded.get_attribute("textContent")
    assert text_of(driver, ".extracted-answer") == "280" and text_of(driver, ".extracted-rule") == "answer_phrase"
    assert text_of(driver, ".target-text") == "280"
    assert "exact_match" in text_of(driver, ".field-scores")
    reasoning = css(driver, "#detail details.reasoning")[0]
    assert reasoning.get_attribute("open") is None, "reasoning is folded"
    assert "Ответ: 280" in text_of(driver, ".reply-text") and "Считаю" not in text_of(driver, ".reply-text")
    assert css(driver, "#detail .lang-ok")

    open_item(driver, "00001")
    assert css(driver, "#detail .lang-wrong")[0].text.startswith("en")
    assert text_of(driver, ".extracted-answer") == "(none)"


def run_key(driver, task: str) -> str:
    return driver.execute_script(f"return EK.index.runs.find(r => r.task === '{task}').key")


def test_error_and_damaged_items(driver, report):
    open_page(driver, report)
    open_page(driver, report, "run=" + run_key(driver, "gsm8k") + "&f=error")
    wait(driver, "document.querySelectorAll('#items tr.item').length === 1")
    css(driver, "#items tr.item")[0].click()
    wait(driver, "document.querySelector('.field-error')")
    assert "HTTP 500" in text_of(driver, ".field-error")
    open_page(driver, report, "run=" + run_key(driver, "gsm8k") + "&f=damaged")
    wait(driver, "document.querySelectorAll('#items tr.item').length === 1")
    css(driver, "#items tr.item")[0].click()
    wait(driver, "document.querySelector('#detail .damaged')")
    assert "line 7" in text_of(driver, "#detail .damaged") and "Отв" in text_of(driver, "#detail")


def test_arena_game_side_by_side(driver, report):
    open_page(driver, report)
    open_page(driver, report, "run=" + run_key(driver, "arena_hard"))
    open_item(driver, "ru000")
    assert "палиндром" in text_of(driver, ".field-question")
    sides = css(driver, ".field-answers > div")
    assert len(sides) == 2 and "Model:" in sides[0].text and "Baseline: handwritten" in sides[1].text
    assert "def is_palindrome" in sides[1].text
    games = css(driver, ".field-game")
    assert [g.get_attribute("data-game") for g in games] == ["1", "2"]
    assert "B>A" in games[0].text and "model > baseline" in games[0].text and "baseline > model" in games[1].text
    prompt = games[0].find_element("css selector", "details.judge-prompt")
    prompt.find_element("css selector", "summary").click()
    assert "SYSTEM" in prompt.text.upper() and "палиндром" in prompt.text
    assert "[[B>A]]" in games[0].find_element("css selector", ".judge-text").text
    css(driver, "#distribution rect.bar.lost")[0].click()  # a bar of the picture filters the list
    wait(driver, "location.hash.includes('f=lost')")


def test_code_mt_bench_and_alpaca_items(driver, report):
    open_page(driver, report)
    open_page(driver, report, "run=" + run_key(driver, "mbpp"))
    open_item(driver, "2")
    assert "def broken" in text_of(driver, ".field-program")
    assert text_of(driver, ".sandbox-status") == "failed" and "SyntaxError" in text_of(driver, ".field-sandbox")

    open_page(driver, report, "run=" + run_key(driver, "mt_bench"))
    open_item(driver, "1001")
    turns = css(driver, ".field-turn")
    assert len(turns) == 2 and "rating 7" in turns[0].text and "субботник" in turns[0].text
    open_item(driver, "1003")  # a reasoning question: graded against the reference answer
    reference = css(driver, ".field-turn details.reference")
    assert reference and "reference answer" in reference[0].text
    assert "[[7]]" in text_of(driver, ".field-turn .judge-text")

    open_page(driver, report, "run=" + run_key(driver, "rag"))
    open_item(driver, "ru-00")
    assert "[[CORRECT]]" in text_of(driver, ".field-judge") and "accuracy" in text_of(driver, ".field-scores")

    open_page(driver, report, "run=" + run_key(driver, "alpaca_eval"))
    wait(driver, "document.querySelectorAll('#items tr.item').length > 0")
    css(driver, '#filters button[data-flag="won"]')[0].click()
    wait(driver, "location.hash.includes('f=won')")
    css(driver, "#items tr.item")[0].click()
    wait(driver, "document.querySelector('.field-game')")
    game = text_of(driver, ".field-game")
    assert "preference 2.000" in game and "characters)" in game and "Reference handwritten" in game


def test_two_runs_side_by_side(driver, tmp_path):
    out = tmp_path / "report"
    build_report(RUN, out, flipped_copy(tmp_path))
    open_page(driver, out)
    css(driver, "#compare-link")[0].click()
    wait(driver, "document.querySelector('#compare')")
    pair = [a for a in css(driver, "a.pair-link") if a.text.startswith("GSM8K")][0]
    pair.click()
    wait(driver, "document.querySelectorAll('#flips tr.flip').length === 2")
    css(driver, '#flips tr.flip[data-id="00000"]')[0].click()
    wait(driver, "document.querySelector('#flip-a #item-id') && document.querySelector('#flip-b #item-id')")
    assert text_of(driver, "#flip-a #item-id") == "00000" == text_of(driver, "#flip-b #item-id")
    assert "Ответ: 280" in text_of(driver, "#flip-a") and "Ответ: 280" in text_of(driver, "#flip-b")


def test_own_check_renders_every_page_and_names_a_broken_one(driver, tmp_path, capsys):
    from evalkit.cli import main  # noqa: PLC0415
    from evalkit.publish.view.browser import check_report  # noqa: PLC0415

    out = tmp_path / "report"
    assert main(["view", str(FIXTURE), "--out", str(out), "--check"]) == 0
    assert "every page rendered" in capsys.readouterr().out
    (out / "data" / "r1-0.js").unlink()  # an item chunk lost in transit
    problems = check_report(out / "index.html", timeout_s=3)
    assert any("first item did not render" in p for p in problems)
    assert any("r1-0.js" in p for p in problems)


def test_keys_step_through_the_list_and_the_breakdown_is_shown(driver, report):
    open_page(driver, report)
    open_page(driver, report, "run=" + run_key(driver, "mmlu_pro") + "&f=wrong")
    wait(driver, "document.querySelectorAll('#items tr.item').length === 3")
    wrong = driver.execute_script("return [...document.querySelectorAll('#items tr.item')].map(r => r.dataset.index)")
    body = driver.find_element("tag name", "body")
    body.send_keys("j")
    wait(driver, f"location.hash.endsWith('item={wrong[0]}')")
    driver.find_element("tag name", "body").send_keys("j")
    wait(driver, f"location.hash.endsWith('item={wrong[1]}') && document.querySelector('#item-id')")
    assert "by category" in text_of(driver, "details.breakdown summary")
