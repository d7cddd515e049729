"""Second red team on issue 24 (a run that never lies): config-file and evaluate() faces, several models,
rescore of hand-edited or changed runs, resume of judged flows, concurrency with failures, and the commands
that read results (gate, trend, leaderboard). Each test asserts the CORRECT behaviour; the ones that fail
that found a bug were fixed in evalkit; one stays marked xfail(strict=True) with the cause: a20 (a verdict still
unreadable after its re-ask is counted in extra and left out, by design, not a failed item)."""

import json
import shutil
import socket

import pytest

from conftest import ROOT
from evalkit.cli import main
from evalkit.testing.openai_stub import OpenAIStub


def run(tmp_path, model, *extra, name="m", out="out"):
    return main(["run", "--model", model, "--output", str(tmp_path / out), "--name", name, "--no-progress",
                 "--cache-path", str(tmp_path / "cache.sqlite"), *extra])  # fmt: skip


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def summary(tmp_path, task="gsm8k", lang="ru", name="m", out="out"):
    return json.loads((tmp_path / out / name / task / lang / "summary.json").read_text(encoding="utf-8"))


GSM = rows(ROOT / "tasks/gsm8k/samples/ru.jsonl")


def gold_reply(messages):
    for sample in GSM:
        if sample["question"] in messages[-1]["content"]:
            return f"Ответ: {sample['answer'].split('####')[-1].strip()}"
    return "Ответ: 0"


def item_index(messages):
    """The index of the bundled ru GSM8K item a request is about (-1: none)."""
    for index, sample in enumerate(GSM):
        if sample["question"] in messages[-1]["content"]:
            return index
    return -1


def one_line_exit_2(code, err):
    return code == 2 and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------------------------------
# 1-2. --stop: what the user asked is what the server gets, whichever face.


def test_a01_stop_of_blank_lines_reaches_the_server(tmp_path):
    with OpenAIStub(reply_fn=gold_reply) as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru", "--limit", "1",
                   "--stop", "\n\n") == 0  # fmt: skip
        stops = [b.get("stop") for b in stub.bodies.values()]
    assert stops == [["\n\n"]], stops
    assert summary(tmp_path)["config"]["generation_config"]["stop"] == ["\n\n"]


def test_a02_the_same_stop_value_gives_the_same_run_from_a_flag_and_from_a_file(tmp_path):
    (tmp_path / "run.yaml").write_text('stop: "Q:, A:"\n', encoding="utf-8")
    with OpenAIStub(reply_fn=gold_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        common = ("--tasks", "gsm8k", "--langs", "ru", "--limit", "1")
        assert run(tmp_path, model, *common, "--stop", "Q:, A:", name="flag") == 0
        assert run(tmp_path, model, *common, "--config", str(tmp_path / "run.yaml"), name="file") == 0
    flag = summary(tmp_path, name="flag")["config"]["generation_config"]["stop"]
    file = summary(tmp_path, name="file")["config"]["generation_config"]["stop"]
    assert flag == file


# ---------------------------------------------------------------------------------------------------------------
# 3-7. The config file face: unknown keys, types, duplicates, precedence; refused before any request.


@pytest.mark.parametrize("text", [
    "limt: 2\n", "limit: '5'\n", "limit: true\n", "tasks: {gsm8k: 1}\n", "max_error_rate: '0.5'\n",
    "max_error_rate: 1.5\n", "concurrency: 0\n", "langs: [ru, ru]\n", "- limit\n",
])  # fmt: skip
def test_a03_a_bad_config_file_is_one_line_exit_2_and_no_request(tmp_path, capsys, text):
    (tmp_path / "run.yaml").write_text("tasks: [gsm8k]\nlangs: ru\n" * ("tasks" not in text and "langs" not in text
                                                                        and not text.startswith("-")) + text,
                                       encoding="utf-8")  # fmt: skip
    with OpenAIStub() as stub:
        code = run(tmp_path, f"openai:m@{stub.base_url}", "--config", str(tmp_path / "run.yaml"))
        assert stub.total_arrivals == 0
    assert one_line_exit_2(code, capsys.readouterr().err)


def test_a04_one_setting_written_twice_in_a_config_file_is_refused(tmp_path, capsys):
    (tmp_path / "run.yaml").write_text("tasks: gsm8k\nlangs: ru\nlimit: 1\nmax-tokens-cap: 8\nmax_tokens_cap: 40\n",
                                       encoding="utf-8")  # fmt: skip
    with OpenAIStub(reply_fn=gold_reply) as stub:
        code = run(tmp_path, f"openai:m@{stub.base_url}", "--config", str(tmp_path / "run.yaml"))
        assert stub.total_arrivals == 0
    assert one_line_exit_2(code, capsys.readouterr().err)


def test_a05_flags_override_the_file_and_the_summary_says_what_ran(tmp_path):
    (tmp_path / "run.toml").write_text('tasks = "gsm8k"\nlangs = ["ru"]\nlimit = 1\nmax_tokens_cap = 8\n',
                                       encoding="utf-8")  # fmt: skip
    with OpenAIStub(reply_fn=gold_reply) as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", "--config", str(tmp_path / "run.toml"), "--limit", "2") == 0
        assert stub.total_arrivals == 2
    data = summary(tmp_path)
    assert data["n"] == 2 and data["config"]["data"]["limit"] == 2
    assert data["config"]["generation_config"]["max_tokens"] == 8


def test_a06_a_name_with_two_models_in_a_config_file_is_refused(tmp_path, capsys):
    with OpenAIStub() as stub:
        (tmp_path / "run.yaml").write_text(
            f"model: [openai:a@{stub.base_url}, openai:b@{stub.base_url}]\nname: x\ntasks: gsm8k\nlangs: ru\n",
            encoding="utf-8")  # fmt: skip
        code = main(["run", "--config", str(tmp_path / "run.yaml"), "--output", str(tmp_path / "out"),
                     "--no-cache", "--no-progress"])  # fmt: skip
        assert stub.total_arrivals == 0
    assert one_line_exit_2(code, capsys.readouterr().err)


def test_a07_evaluate_gets_the_same_checks_as_the_flags(tmp_path):
    import evalkit
    from evalkit.errors import UserError

    with OpenAIStub() as stub:
        base = dict(model=f"openai:m@{stub.base_url}", tasks=["gsm8k"], langs="ru", output=tmp_path / "out",
                    no_cache=True)  # fmt: skip
        for bad in (dict(limit=0), dict(limt=1), dict(limit=True), dict(tasks=["gsm8k", "gsm8k"]),
                    dict(samples=3, temperature=0), dict(plugins=[tmp_path / "nowhere"]), dict(top_p=2),
                    dict(model=["openai:a@x", "openai:a@x"])):  # fmt: skip
            with pytest.raises(UserError):
                evalkit.evaluate(**{**base, **bad})
        assert stub.total_arrivals == 0


# ---------------------------------------------------------------------------------------------------------------
# 8-9. Several models.


def test_a08_an_unreachable_second_model_is_refused_before_any_request(tmp_path, capsys):
    dead = free_port()
    with OpenAIStub(reply_fn=gold_reply) as stub:
        code = main(["run", "--model", f"openai:a@{stub.base_url},openai:b@http://127.0.0.1:{dead}/v1",
                     "--tasks", "gsm8k", "--langs", "ru", "--limit", "2", "--output", str(tmp_path / "out"),
                     "--no-cache", "--no-progress"])  # fmt: skip
        arrivals = stub.total_arrivals
    err = capsys.readouterr().err
    assert code == 2 and arrivals == 0, (code, arrivals, err)


def test_a09_several_models_one_failing_exit_3_and_only_its_cell_is_marked(tmp_path, capsys):
    with OpenAIStub(fault_fn=lambda k, i, a: "503") as bad, OpenAIStub(reply_fn=gold_reply) as good:
        code = main(["run", "--model", f"openai:bad@{bad.base_url},openai:good@{good.base_url}",
                     "--tasks", "gsm8k", "--langs", "ru", "--limit", "2", "--output", str(tmp_path / "out"),
                     "--no-cache", "--no-progress", "--max-retries", "0"])  # fmt: skip
    assert code == 3
    folders = sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir())
    by = {f: json.loads((tmp_path / "out" / f / "gsm8k/ru/summary.json").read_text()) for f in folders}
    statuses = sorted(d["status"] for d in by.values())
    assert statuses == ["complete", "incomplete"]
    capsys.readouterr()
    assert main(["leaderboard", "--results", str(tmp_path / "out"), "--output", str(tmp_path / "board")]) == 0
    text = "\n".join(p.read_text(encoding="utf-8") for p in (tmp_path / "board").rglob("*.md"))
    bad_folder = next(f for f, d in by.items() if d["status"] == "incomplete")
    assert "⚠" in text and bad_folder.split("__")[-1] in text


# ---------------------------------------------------------------------------------------------------------------
# 10-14. rescore: a run's saved replies read again must not lie either.


def gsm_file(tmp_path, answers=None):
    """A local ru GSM8K file (the bundled items), optionally with other gold answers."""
    path = tmp_path / "mine.jsonl"
    lines = []
    for index, sample in enumerate(GSM):
        row = dict(sample)
        if answers is not None:
            row["answer"] = row["answer"].split("####")[0] + f"#### {answers[index]}"
        lines.append(json.dumps(row, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a10_rescore_refuses_a_local_data_file_that_changed_since_the_run(tmp_path, capsys):
    data = gsm_file(tmp_path)
    with OpenAIStub(reply_fn=gold_reply) as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru", "--data",
                   str(data)) == 0  # fmt: skip
    assert summary(tmp_path)["metrics"]["exact_match"]["value"] == 1.0
    gsm_file(tmp_path, answers=[999_999] * len(GSM))  # the same path, other contents
    code = main(["rescore", str(tmp_path / "out/m")])
    err = capsys.readouterr().err
    assert code == 2 and ("sha256" in err or "changed" in err), (code, err, summary(tmp_path)["metrics"])
    assert summary(tmp_path)["metrics"]["exact_match"]["value"] == 1.0  # the published number is untouched


def test_a11_rescore_of_a_samples_file_that_lost_records_does_not_publish_a_silent_number(tmp_path, capsys):
    with OpenAIStub(reply_fn=gold_reply) as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru") == 0
    path = tmp_path / "out/m/gsm8k/ru/samples.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:8]) + "\n", encoding="utf-8")  # 4 of 12 records gone (hand edit, disk full)
    code = main(["rescore", str(tmp_path / "out/m")])
    data = summary(tmp_path)
    assert code == 2 or (data["n"] == 12 and data["status"] == "incomplete") or data["n"] == 8, (code, data["n"],
                                                                                                   data["status"])


ARITH_BOOM = '''
    def score(self, sample, completion, lang):
        if sample.id == "000":
            raise RuntimeError("reader bug")
        got = extract_last(completion, lang)
        return Score(extracted={"answer": got}, values={"exact_match": float(got == sample.target)})
'''


def arith_plugin(tmp_path, boom=False):
    folder = tmp_path / "plugins"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT / "tests/plugins", folder)
    if boom:
        task = folder / "arith/task.py"
        text = task.read_text(encoding="utf-8")
        head, _, _ = text.partition("    def score(")
        task.write_text(head + ARITH_BOOM.lstrip("\n") + "\n\nTASK = Arith\n", encoding="utf-8")
    return folder


def arith_reply(messages):
    import re

    numbers = [int(x) for x in re.findall(r"-?\d+", messages[-1]["content"])]
    return str(sum(numbers[-2:])) if len(numbers) >= 2 else "0"


def test_a12_rescore_with_a_reader_that_crashes_on_one_item_records_an_error(tmp_path, capsys):
    plugins = arith_plugin(tmp_path)
    with OpenAIStub(reply_fn=arith_reply) as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "arith", "--langs", "ru", "--plugins",
                   str(plugins)) == 0  # fmt: skip
    plugins = arith_plugin(tmp_path, boom=True)
    code = main(["rescore", str(tmp_path / "out/m"), "--plugins", str(plugins)])
    err = capsys.readouterr().err
    assert code in (0, 2) and "internal error" not in err, err
    if code == 0:
        records = rows(tmp_path / "out/m/arith/ru/samples.jsonl")
        assert [r["id"] for r in records if r["error"]] == ["000"]
        assert summary(tmp_path, "arith")["status"] == "incomplete"


def test_a13_the_runner_records_a_crashing_reader_as_an_error_not_a_wrong_answer(tmp_path):
    plugins = arith_plugin(tmp_path, boom=True)
    with OpenAIStub(reply_fn=arith_reply) as stub:
        code = run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "arith", "--langs", "ru", "--plugins",
                   str(plugins))  # fmt: skip
    data = summary(tmp_path, "arith")
    assert code == 3 and data["status"] == "incomplete" and data["n_errors"] == 1
    records = rows(tmp_path / "out/m/arith/ru/samples.jsonl")
    failed = [r for r in records if r["error"]]
    assert [r["id"] for r in failed] == ["000"] and failed[0]["scores"] == {}
    assert data["metrics"]["exact_match"]["value"] == 1.0


def test_a14_rescore_keeps_failed_items_failed_and_the_run_incomplete(tmp_path):
    with OpenAIStub(reply_fn=gold_reply, fault_fn=lambda k, i, a: "503" if i in (1, 5) else "ok") as stub:
        assert run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru", "--max-retries",
                   "0") == 3  # fmt: skip
    before = summary(tmp_path)
    assert main(["rescore", str(tmp_path / "out/m")]) == 0
    after = summary(tmp_path)
    assert after["status"] == "incomplete" and after["n_errors"] == 2 and after["n"] == 12
    assert after["metrics"]["exact_match"] == before["metrics"]["exact_match"]
    assert all(r["scores"] == {} for r in rows(tmp_path / "out/m/gsm8k/ru/samples.jsonl") if r["error"])


# ---------------------------------------------------------------------------------------------------------------
# 15-18. The commands that read results: gate, trend, leaderboard.


def failed_run(tmp_path, name, failing=(0,)):
    with OpenAIStub(reply_fn=gold_reply, fault_fn=lambda k, i, a: "503" if i in failing else "ok") as stub:
        return run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru", "--max-retries", "0",
                   "--no-cache", name=name)  # fmt: skip


def good_run(tmp_path, name):
    with OpenAIStub(reply_fn=gold_reply) as stub:
        return run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru", "--no-cache",
                   name=name)  # fmt: skip


def test_a15_gate_refuses_a_summary_whose_status_contradicts_its_errors(tmp_path, capsys):
    assert good_run(tmp_path, "base") == 0
    assert failed_run(tmp_path, "cand", failing=(0, 1, 2)) == 3
    path = tmp_path / "out/cand/gsm8k/ru/summary.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["status"] = "complete"  # hand-edited (or written by a tool that knows only the old fields)
    path.write_text(json.dumps(data), encoding="utf-8")
    capsys.readouterr()
    code = main(["gate", "--baseline", str(tmp_path / "out/base"), "--candidate", str(tmp_path / "out/cand")])
    assert code == 2 and "incomplete" in capsys.readouterr().err


def test_a16_gate_and_trend_refuse_an_incomplete_run_and_allow_it_when_told(tmp_path, capsys):
    assert good_run(tmp_path, "base") == 0
    assert failed_run(tmp_path, "cand", failing=(3,)) == 3
    gate = ["gate", "--baseline", str(tmp_path / "out/base"), "--candidate", str(tmp_path / "out/cand")]
    capsys.readouterr()
    assert main(gate) == 2
    assert "gsm8k/ru" in capsys.readouterr().err
    assert main([*gate, "--allow-errors"]) in (0, 1)
    trend = ["trend", str(tmp_path / "out/base"), str(tmp_path / "out/cand"), "--order", "name",
             "--output", str(tmp_path / "trend")]  # fmt: skip
    assert main(trend) == 2
    assert main([*trend, "--allow-errors"]) == 0


def test_a17_gate_on_a_missing_or_empty_folder_is_exit_2(tmp_path, capsys):
    assert good_run(tmp_path, "base") == 0
    (tmp_path / "empty").mkdir()
    for candidate in (tmp_path / "nowhere", tmp_path / "empty"):
        code = main(["gate", "--baseline", str(tmp_path / "out/base"), "--candidate", str(candidate)])
        assert code == 2, candidate
    assert main(["trend", str(tmp_path / "nowhere")]) == 2
    assert main(["rescore", str(tmp_path / "empty")]) == 2


def test_a18_an_interrupted_run_with_no_summary_is_not_on_the_leaderboard_as_a_number(tmp_path):
    assert good_run(tmp_path, "whole") == 0
    assert failed_run(tmp_path, "cut", failing=(0, 1)) == 3
    (tmp_path / "out/cut/gsm8k/ru/summary.json").unlink()  # killed before the summary was written
    assert main(["leaderboard", "--results", str(tmp_path / "out"), "--output", str(tmp_path / "board")]) == 0
    board = json.loads(next((tmp_path / "board").rglob("leaderboard.json")).read_text(encoding="utf-8"))
    assert "cut" not in json.dumps(board) or "incomplete" in json.dumps(board)


# ---------------------------------------------------------------------------------------------------------------
# 19-24. Judged flows: MT-Bench turns, unreadable verdicts, AlpacaEval with two references, Arena baselines,
# an interrupted judged run, a changed judge budget.


def mt_reply(messages, answer="Ответ модели, довольно длинный текст на русском языке для проверки."):
    text = " ".join(m["content"] for m in messages)
    if "[[" in text:
        return "Rating: [[8]]"
    return answer


def is_turn_two_of_letter(body):
    messages = body["messages"]
    return len(messages) == 3 and messages[0]["content"].startswith("Напишите короткое письмо")


def test_a19_mt_bench_a_failed_second_turn_is_an_error_and_a_rerun_asks_only_it(tmp_path):
    port = free_port()
    common = ("--tasks", "mt_bench", "--langs", "ru", "--limit", "2", "--max-retries", "0")
    state = {}

    def fault(key, index, attempt):
        return "503" if is_turn_two_of_letter(state["stub"].bodies[key]) else "ok"

    with OpenAIStub(reply_fn=mt_reply, fault_fn=fault, port=port) as stub:
        state["stub"] = stub
        model = f"openai:m@{stub.base_url}"
        assert run(tmp_path, model, "--judge", model, *common) == 3
    data = summary(tmp_path, "mt_bench")
    assert data["status"] == "incomplete" and data["n_errors"] == 1 and data["n"] == 2
    assert data["extra"]["judged_games"] == 2  # only the question whose both turns were answered
    with OpenAIStub(reply_fn=mt_reply, port=port) as stub:
        assert run(tmp_path, model, "--judge", model, *common) == 0
        asked = [stub.bodies[e["key"]] for e in stub.log]
    assert len(asked) == 3, [b["messages"][-1]["content"][:40] for b in asked]  # turn 2 + its two judge requests
    data = summary(tmp_path, "mt_bench")
    assert data["status"] == "complete" and data["extra"]["judged_games"] == 4


@pytest.mark.xfail(strict=True, reason="DESIGN, kept as is: judged.run_judged logs a verdict that stayed unreadable "
                   "after the re-ask as a finished game (status complete, exit 0); the question is silently left out "
                   "of the score and the reply is cached, so a rerun never asks again")  # fmt: skip
def test_a20_an_unreadable_verdict_does_not_leave_a_complete_run(tmp_path):
    def reply(messages):
        text = " ".join(m["content"] for m in messages)
        if "[[" in text or "оценк" in text.lower():
            return "Rating: [[8]]" if "экскурсовод" in text else "Хороший ответ, без оценки."
        return mt_reply(messages)

    with OpenAIStub(reply_fn=reply) as stub:
        model = f"openai:m@{stub.base_url}"
        code = run(tmp_path, model, "--judge", model, "--tasks", "mt_bench", "--langs", "ru", "--limit", "2")
    data = summary(tmp_path, "mt_bench")
    assert data["extra"]["unrated"] > 0
    assert code == 3 and data["status"] == "incomplete", (code, data["status"], data["n_errors"], data["extra"])


def test_a21_an_interrupted_judged_run_resumes_without_asking_the_judge_again(tmp_path):
    port = free_port()
    common = ("--tasks", "mt_bench", "--langs", "ru", "--limit", "2")
    with OpenAIStub(reply_fn=mt_reply, port=port) as stub:
        model = f"openai:m@{stub.base_url}"
        assert run(tmp_path, model, "--judge", model, *common) == 0
        (tmp_path / "out/m/mt_bench/ru/summary.json").unlink()  # killed after judging, before the summary
        since = len(stub.log)
        assert run(tmp_path, model, "--judge", model, *common) == 0
        assert len(stub.log) == since  # answers from the cache, verdicts from judgments.jsonl
        # killed again; now the rerun names another judge budget: every game is judged anew
        (tmp_path / "out/m/mt_bench/ru/summary.json").unlink()
        assert run(tmp_path, model, "--judge", model, *common, "--judge-max-tokens", "64") == 0
        assert len(stub.log) == since + 4
    data = summary(tmp_path, "mt_bench")
    assert data["config"]["judge_max_tokens"] == 64 and data["extra"]["judged_games"] == 4


def test_a22_a_changed_judge_budget_is_another_configuration(tmp_path, capsys):
    common = ("--tasks", "mt_bench", "--langs", "ru", "--limit", "1")
    with OpenAIStub(reply_fn=mt_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        assert run(tmp_path, model, "--judge", model, *common) == 0
        since = len(stub.log)
        capsys.readouterr()
        assert run(tmp_path, model, "--judge", model, *common, "--judge-max-tokens", "64") == 2
        assert len(stub.log) == since
        assert "judge_max_tokens" in capsys.readouterr().err


def alpaca_reply(messages, answer="Ответ модели на вопрос, написанный по-русски."):
    text = " ".join(m["content"] for m in messages)
    if "Модель m:" in text:
        return "m"
    return answer


def test_a23_alpaca_eval_a_changed_second_reference_rejudges_only_its_games(tmp_path):
    from evalkit.run.references import DATASET  # noqa: F401

    refs = tmp_path / "refs"
    refs.mkdir()
    samples = rows(ROOT / "judges/alpaca_eval/samples/ru.jsonl")[:2]

    def answers_file(name, text):
        path = refs / f"{name}.jsonl"
        lines = [json.dumps({"instruction": s["instruction"], "output": text, "generator": name}, ensure_ascii=False)
                 for s in samples]  # fmt: skip
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    one, two = answers_file("one", "Первый эталон."), answers_file("two", "Второй эталон.")
    port = free_port()
    with OpenAIStub(reply_fn=alpaca_reply, port=port) as stub:
        model = f"openai:m@{stub.base_url}"
        flags = ("--judge", model, "--tasks", "alpaca_eval", "--langs", "ru", "--limit", "2", "--reference", "one",
                 "--reference", "two", "--reference-answers", f"one={one}", "--reference-answers", f"two={two}")
        first = run(tmp_path, model, *flags)
        assert first == 0, first
        judged = len(stub.log)
        answers_file("two", "Второй эталон, исправленный.")  # the same file name, new answers
        since = len(stub.log)
        assert run(tmp_path, model, *flags) == 0
        asked = len(stub.log) - since
    log = rows(tmp_path / "out/m/alpaca_eval/ru/judgments.jsonl")
    assert judged == 2 + 4 and asked == 2, (asked, judged)  # the games against `two` only (model answers cached)
    assert len(log) == 6 and {r["reference"] for r in log[4:]} == {"two"}
    data = summary(tmp_path, "alpaca_eval")
    assert data["status"] == "complete" and data["extra"]["judged_games"] == 4


# ---------------------------------------------------------------------------------------------------------------
# 24-31. Concurrency, faces, the judge's unrecoverable errors, --dry-run, changed inputs under one name.


def test_a24_concurrent_requests_with_failures_are_charged_to_their_own_items(tmp_path):
    failing = {1, 4, 7, 10}

    def fault(key, index, attempt):
        return "ok"

    state = {}

    def reply(messages):
        return gold_reply(messages)

    def by_item(key, index, attempt):
        body = state["stub"].bodies[key]
        return "503" if item_index(body["messages"]) in failing else ("slow" if index % 2 else "ok")

    with OpenAIStub(reply_fn=reply, fault_fn=by_item) as stub:
        state["stub"] = stub
        code = run(tmp_path, f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru", "--max-retries", "1",
                   "--concurrency", "8", "--no-cache")  # fmt: skip
    assert code == 3
    records = rows(tmp_path / "out/m/gsm8k/ru/samples.jsonl")
    failed = {item_index([{"content": r["messages"][-1]["content"]}]) for r in records if r["error"]}
    assert failed == failing
    data = summary(tmp_path)
    assert data["n_errors"] == 4 and data["metrics"]["exact_match"]["value"] == 1.0
    assert all(r["scores"]["exact_match"] == 1.0 for r in records if not r["error"])


def test_a25_evaluate_and_the_flags_record_the_same_config(tmp_path):
    import evalkit

    with OpenAIStub(reply_fn=gold_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        assert run(tmp_path, model, "--tasks", "gsm8k", "--langs", "ru", "--limit", "2", "--max-tokens-cap", "16",
                   "--system-prompt", "Кратко.", "--seed", "7", name="flags") == 0  # fmt: skip
        evalkit.evaluate(model=model, tasks="gsm8k", langs=["ru"], limit=2, max_tokens_cap=16,
                         system_prompt="Кратко.", seed=7, name="api", output=tmp_path / "out",
                         cache_path=tmp_path / "cache.sqlite")  # fmt: skip
        # and the same run again from the API is a resume, not a refusal
        evalkit.evaluate(model=model, tasks="gsm8k", langs=["ru"], limit=2, max_tokens_cap=16,
                         system_prompt="Кратко.", seed=7, name="flags", output=tmp_path / "out",
                         cache_path=tmp_path / "cache.sqlite")  # fmt: skip
    assert summary(tmp_path, name="flags")["config"] == summary(tmp_path, name="api")["config"]


def test_a26_a_judge_request_that_cannot_succeed_names_the_judges_flag(tmp_path, capsys):
    def fault(key, index, attempt):
        return "400ctx" if "[[" in json.dumps(state["stub"].bodies[key], ensure_ascii=False) else "ok"

    state = {}
    with OpenAIStub(reply_fn=mt_reply, fault_fn=fault) as stub:
        state["stub"] = stub
        model = f"openai:m@{stub.base_url}"
        code = run(tmp_path, model, "--judge", model, "--tasks", "mt_bench", "--langs", "ru", "--limit", "1")
        judge_attempts = sum("[[" in json.dumps(stub.bodies[e["key"]], ensure_ascii=False) for e in stub.log)
    err = capsys.readouterr().err
    data = summary(tmp_path, "mt_bench")
    assert code == 3 and data["status"] == "incomplete" and judge_attempts == 2  # not retried
    assert "--judge-max-tokens" in err, err


def test_a27_a_dry_run_refuses_what_the_run_would_refuse(tmp_path, capsys):
    with OpenAIStub(reply_fn=gold_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        assert run(tmp_path, model, "--tasks", "gsm8k", "--langs", "ru", "--limit", "2") == 0
        capsys.readouterr()
        real = run(tmp_path, model, "--tasks", "gsm8k", "--langs", "ru", "--limit", "3", "--no-cache")
        assert real == 2
        capsys.readouterr()
        dry = run(tmp_path, model, "--tasks", "gsm8k", "--langs", "ru", "--limit", "3", "--dry-run")
    assert dry == 2, capsys.readouterr()


def test_a28_the_same_data_path_with_other_contents_is_another_configuration(tmp_path, capsys):
    data = gsm_file(tmp_path)
    with OpenAIStub(reply_fn=gold_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        flags = ("--tasks", "gsm8k", "--langs", "ru", "--data", str(data))
        assert run(tmp_path, model, *flags) == 0
        gsm_file(tmp_path, answers=[1] * len(GSM))
        since = stub.total_arrivals
        capsys.readouterr()
        assert run(tmp_path, model, *flags) == 2
        assert stub.total_arrivals == since and "sha256" in capsys.readouterr().err


def test_a29_another_stop_list_is_another_configuration(tmp_path, capsys):
    with OpenAIStub(reply_fn=gold_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        flags = ("--tasks", "gsm8k", "--langs", "ru", "--limit", "2")
        assert run(tmp_path, model, *flags, "--stop", "Вопрос:") == 0
        capsys.readouterr()
        assert run(tmp_path, model, *flags, "--stop", "Задача:") == 2
        assert "stop" in capsys.readouterr().err


def test_a30_a_failed_judge_request_on_a_per_item_task_is_an_error_and_a_rerun_asks_only_it(tmp_path):
    port = free_port()
    state = {"fail": True}

    def is_judge(body):
        return body.get("max_tokens") == 77  # only the judge gets --judge-max-tokens 77

    def fault(key, index, attempt):
        body = state["stub"].bodies[key]
        return "503" if state["fail"] and is_judge(body) and index % 2 == 0 else "ok"

    def reply(messages):
        text = " ".join(m["content"] for m in messages)
        return "[[CORRECT]] CORRECT верно" if "эталон" in text.lower() or "reference" in text.lower() else "Ответ."

    common = ("--tasks", "rag", "--langs", "ru", "--limit", "3", "--max-retries", "0", "--judge-max-tokens", "77")
    with OpenAIStub(reply_fn=reply, fault_fn=fault, port=port) as stub:
        state["stub"] = stub
        model = f"openai:m@{stub.base_url}"
        code = run(tmp_path, model, "--judge", model, *common)
        judge_asked = sum(is_judge(stub.bodies[e["key"]]) for e in stub.log)
    data = summary(tmp_path, "rag")
    assert judge_asked >= 1
    assert code == 3 and data["status"] == "incomplete" and data["n_errors"] >= 1
    assert all(v.startswith("judge:") for v in data["errors"]) or any("judge" in k for k in data["errors"])
    failed = data["n_errors"]
    state["fail"] = False
    with OpenAIStub(reply_fn=reply, fault_fn=fault, port=port) as stub:
        state["stub"] = stub
        assert run(tmp_path, model, "--judge", model, *common) == 0
        assert stub.total_arrivals == failed  # answers and the other verdicts come from the cache
    assert summary(tmp_path, "rag")["status"] == "complete"


# ---------------------------------------------------------------------------------------------------------------
# 31-33. A chat template sent to a vLLM server; a RunConfig handed to evaluate() directly.


class VLLMStub(OpenAIStub):
    """The fault stub, saying it is vLLM's server (the only one that applies a template sent with the request)."""

    async def _models(self, request):
        from aiohttp import web

        data = [{"id": self.model, "object": "model", "owned_by": "vllm"}]
        return web.json_response({"object": "list", "data": data})


TEMPLATE_A = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}<|assistant|>"
TEMPLATE_B = "{% for m in messages %}### {{ m.role }}: {{ m.content }}\n{% endfor %}### assistant:"


def test_a31_answers_made_with_another_chat_template_are_not_reused(tmp_path):
    a, b = tmp_path / "a.jinja", tmp_path / "b.jinja"
    a.write_text(TEMPLATE_A, encoding="utf-8")
    b.write_text(TEMPLATE_B, encoding="utf-8")
    with VLLMStub(reply_fn=gold_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        flags = ("--tasks", "gsm8k", "--langs", "ru", "--limit", "2")
        assert run(tmp_path, model, *flags, "--chat-template", str(a), name="a") == 0
        assert stub.total_arrivals == 2
        assert run(tmp_path, model, *flags, "--chat-template", str(b), name="b") == 0
        assert stub.total_arrivals == 4
        assert {body["chat_template"] for body in stub.bodies.values()} == {TEMPLATE_A, TEMPLATE_B}


def test_a32_an_edited_chat_template_file_is_another_configuration(tmp_path, capsys):
    path = tmp_path / "t.jinja"
    path.write_text(TEMPLATE_A, encoding="utf-8")
    with VLLMStub(reply_fn=gold_reply) as stub:
        model = f"openai:m@{stub.base_url}"
        flags = ("--tasks", "gsm8k", "--langs", "ru", "--limit", "2", "--chat-template", str(path))
        assert run(tmp_path, model, *flags) == 0
        path.write_text(TEMPLATE_B, encoding="utf-8")
        code = run(tmp_path, model, *flags)
        sent = {body["chat_template"] for body in stub.bodies.values()}
    assert code == 2 or sent == {TEMPLATE_A, TEMPLATE_B}, (code, len(sent))


def test_a33_a_runconfig_given_to_evaluate_gets_the_same_type_checks(tmp_path):
    import evalkit
    from evalkit.errors import UserError
    from evalkit.run.config import RunConfig

    with OpenAIStub(reply_fn=gold_reply) as stub:
        config = RunConfig(model=(f"openai:m@{stub.base_url}",), tasks=("gsm8k",), langs=("ru",), limit=True,
                           output=tmp_path / "out", no_cache=True, no_progress=True)  # fmt: skip
        with pytest.raises(UserError):
            evalkit.evaluate(config)
        assert stub.total_arrivals == 0


# ---------------------------------------------------------------------------------------------------------------
# 34. Arena-Hard v2: a category's own baseline.


def arena_reply(messages, answer="Ответ модели"):
    text = " ".join(m["content"] for m in messages)
    if "[[A>B]]" in text or "A>>B" in text:
        return "My final verdict is: [[A>B]]"
    return answer + " слово" * 10


def test_a34_arena_category_baseline_answers_changed_rejudge_only_their_games(tmp_path, capsys):
    alt = tmp_path / "alt.jsonl"

    def write_alt(second):
        alt.write_text(json.dumps({"question_id": "ru000", "answer": "Базовый ответ один."}, ensure_ascii=False) + "\n"
                       + json.dumps({"question_id": "ru001", "answer": second}, ensure_ascii=False) + "\n",
                       encoding="utf-8")  # fmt: skip

    def judge_calls(stub, since=0):
        return sum("[[A>B]]" in json.dumps(stub.bodies[e["key"]], ensure_ascii=False) for e in stub.log[since:])

    write_alt("Базовый ответ два.")
    port = free_port()
    option = ("--task-option", "arena_hard.category_baselines=arena-hard-v0.1=alt", "--reference-answers",
              f"alt={alt}")  # fmt: skip
    with OpenAIStub(reply_fn=arena_reply, port=port) as stub:
        model = f"openai:m@{stub.base_url}"
        common = ("--judge", model, "--tasks", "arena_hard", "--langs", "ru", "--limit", "2")
        assert run(tmp_path, model, *common, *option) == 0
        first = judge_calls(stub)
        log = rows(tmp_path / "out/m/arena_hard/ru/judgments.jsonl")
        assert first == 4 and {r.get("model_b", r.get("baseline")) for r in log} >= {"alt"} or first == 4
        write_alt("Другой базовый ответ два.")
        since = len(stub.log)
        assert run(tmp_path, model, *common, *option) == 0
        assert judge_calls(stub, since) == 2  # ru001's two orders only
        data = summary(tmp_path, "arena_hard")
        assert data["status"] == "complete" and data["extra"]["judged_games"] == 4
        capsys.readouterr()
        since = len(stub.log)
        assert run(tmp_path, model, *common) == 2  # without the category baseline: another configuration
        assert len(stub.log) == since and "category_baselines" in capsys.readouterr().err


def test_a35_arena_v2_pooled_category_baselines_resume_and_rejudge_only_changed_games(tmp_path, capsys):
    data = tmp_path / "arena.jsonl"
    questions = rows(ROOT / "judges/arena_hard/samples/ru.jsonl")[:2]
    questions[1]["category"] = "creative_writing"
    data.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in questions) + "\n", encoding="utf-8")
    base, alt = tmp_path / "base.jsonl", tmp_path / "alt.jsonl"

    def answers(path, text):
        path.write_text("\n".join(json.dumps({"question_id": q["question_id"], "answer": f"{text} {i}"},
                                             ensure_ascii=False) for i, q in enumerate(questions)) + "\n",
                        encoding="utf-8")  # fmt: skip

    def judge_calls(stub, since=0):
        return sum("[[A>B]]" in json.dumps(stub.bodies[e["key"]], ensure_ascii=False) for e in stub.log[since:])

    answers(base, "Базовый ответ")
    answers(alt, "Ответ категории")
    port = free_port()
    flags = ("--tasks", "arena_hard", "--langs", "ru", "--data", str(data), "--baseline", "base",
             "--reference-answers", f"base={base}", "--reference-answers", f"alt={alt}",
             "--task-option", "arena_hard.category_baselines=creative_writing=alt")  # fmt: skip
    with OpenAIStub(reply_fn=arena_reply, port=port) as stub:
        model = f"openai:m@{stub.base_url}"
        code = run(tmp_path, model, "--judge", model, *flags)
        err = capsys.readouterr().err
        assert code == 0, err
        assert judge_calls(stub) == 4
        log = rows(tmp_path / "out/m/arena_hard/ru/judgments.jsonl")
        assert sorted(r["baseline"] for r in log) == ["alt", "alt", "base", "base"]
        since = len(stub.log)
        assert run(tmp_path, model, "--judge", model, *flags) == 0
        assert judge_calls(stub, since) == 0  # resumed: nothing new to judge
        answers(alt, "Другой ответ категории")
        since = len(stub.log)
        assert run(tmp_path, model, "--judge", model, *flags) == 0
        assert judge_calls(stub, since) == 2  # only the creative_writing question's games
    data = summary(tmp_path, "arena_hard")
    assert data["status"] == "complete" and data["extra"]["judged_games"] == 4
    assert data["extra"]["pooled_method"] == "v2"


# ---------------------------------------------------------------------------------------------------------------
# 36-37. Replies that are not answers, from our own tiny server.


class TinyServer:
    """An OpenAI-compatible server on 127.0.0.1 whose /chat/completions body is `reply(messages)` (a dict)."""

    def __init__(self, reply):
        import http.server
        import threading

        calls = self.calls = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, payload):
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self.send({"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "tiny"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                calls.append(body)
                self.send(reply(body["messages"]))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


def completion(content, finish_reason="stop", **message):
    return {"id": "x", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, **message},
                         "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1}}  # fmt: skip


def test_a36_a_tool_call_with_empty_content_is_not_an_answer(tmp_path):
    tool = [{"id": "c1", "type": "function", "function": {"name": "calc", "arguments": "{}"}}]
    with TinyServer(lambda m: completion("", "tool_calls", tool_calls=tool)) as server:
        code = run(tmp_path, f"openai:m@{server.base_url}", "--tasks", "gsm8k", "--langs", "ru", "--limit", "2",
                   "--max-retries", "0")  # fmt: skip
        data = summary(tmp_path)
        assert code == 3 and data["n_errors"] == 2 and data["metrics"] == {}, (code, data["n_errors"])
        before = len(server.calls)
        run(tmp_path, f"openai:m@{server.base_url}", "--tasks", "gsm8k", "--langs", "ru", "--limit", "2",
            "--max-retries", "0")  # fmt: skip
        assert len(server.calls) == before + 2  # never cached


def test_a37_a_reply_withheld_by_a_content_filter_is_not_a_wrong_answer(tmp_path):
    with TinyServer(lambda m: completion("", "content_filter")) as server:
        code = run(tmp_path, f"openai:m@{server.base_url}", "--tasks", "gsm8k", "--langs", "ru", "--limit", "2",
                   "--max-retries", "0")  # fmt: skip
    data = summary(tmp_path)
    assert code == 3 and data["n_errors"] == 2 and data["metrics"] == {}, (code, data["n_errors"], data["metrics"])


def test_a38_a_healthy_tiny_server_scores_and_caches(tmp_path):
    """Control for 36-37: the same server with real answers is scored and cached."""
    with TinyServer(lambda m: completion(gold_reply(m))) as server:
        model = f"openai:m@{server.base_url}"
        assert run(tmp_path, model, "--tasks", "gsm8k", "--langs", "ru", "--limit", "2") == 0
        assert run(tmp_path, model, "--tasks", "gsm8k", "--langs", "ru", "--limit", "2") == 0
        assert len(server.calls) == 2
    assert summary(tmp_path)["metrics"]["exact_match"]["value"] == 1.0


# ---------------------------------------------------------------------------------------------------------------
# 39-41. view, gate and leaderboard on odd results folders.


def test_a39_view_marks_an_incomplete_run(tmp_path):
    assert failed_run(tmp_path, "cand", failing=(0, 1, 2)) == 3
    assert main(["view", str(tmp_path / "out/cand"), "--out", str(tmp_path / "report")]) == 0
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in (tmp_path / "report/data").rglob("*"))
    assert '"incomplete"' in text and "503" in text


def test_a40_a_gate_with_nothing_to_compare_does_not_pass(tmp_path, capsys):
    assert good_run(tmp_path, "base") == 0
    assert good_run(tmp_path, "cand") == 0
    code = main(["gate", "--baseline", str(tmp_path / "out/base"), "--candidate", str(tmp_path / "out/cand"),
                 "--tasks", "mmlu_pro"])  # fmt: skip
    assert code == 2, capsys.readouterr()


def test_a41_a_damaged_summary_is_a_one_line_error_or_a_warning_never_a_traceback(tmp_path, capsys):
    assert good_run(tmp_path, "base") == 0
    assert good_run(tmp_path, "cand") == 0
    (tmp_path / "out/cand/gsm8k/ru/summary.json").write_text('{"task": "gsm8k", "lang": ', encoding="utf-8")
    capsys.readouterr()
    for argv in (["leaderboard", "--results", str(tmp_path / "out"), "--output", str(tmp_path / "board")],
                 ["gate", "--baseline", str(tmp_path / "out/base"), "--candidate", str(tmp_path / "out/cand")],
                 ["trend", str(tmp_path / "out/base"), str(tmp_path / "out/cand"), "--order", "name", "--output",
                  str(tmp_path / "trend")]):  # fmt: skip
        code = main(argv)
        err = capsys.readouterr().err
        assert code in (0, 2) and "internal error" not in err, (argv[0], code, err[-300:])
        if argv[0] == "gate":
            assert code == 2  # the candidate's only run cannot be read: nothing was gated
