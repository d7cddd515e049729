"""One run description, three faces: the same run through flags, a config file (YAML and TOML) and
evalkit.evaluate() gives identical summaries; several models share one run; `evalkit rescore` reads saved
replies again without a model. All against a real OpenAI-compatible server on loopback."""

import json
import socket

import pytest

import evalkit
import evalkit.api
from evalkit.cli import main
from evalkit.errors import UserError
from evalkit.run.config import ConfigError, RunConfig
from evalkit.testing.openai_stub import OpenAIStub

VOLATILE = ("started_at", "finished_at", "duration_s", "command", "usage")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stable(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in VOLATILE:
        data.pop(key, None)
    data["extra"].pop("n_cached", None)
    return data


def summaries(root):
    return {str(p.relative_to(root)): stable(p) for p in sorted(root.rglob("summary.json"))}


def test_flags_config_files_and_the_api_give_identical_summaries(tmp_path):
    with OpenAIStub(port=free_port()) as stub:
        model = f"openai:m@{stub.base_url}"
        flags = ["run", "--model", model, "--tasks", "gsm8k,mmlu_pro", "--langs", "ru,pl", "--limit", "2",
                 "--temperature", "0.2", "--max-tokens-cap", "64", "--system-prompt", "Кратко.", "--no-progress",
                 "--cache-path", str(tmp_path / "c1.sqlite"), "--output", str(tmp_path / "flags")]  # fmt: skip
        assert main(flags) == 0
        (tmp_path / "run.yaml").write_text(
            f"model: {model}\ntasks: [gsm8k, mmlu_pro]\nlangs: ru,pl\nlimit: 2\ntemperature: 0.2\n"
            f"max-tokens-cap: 64\nsystem_prompt: Кратко.\nno_progress: true\ncache_path: {tmp_path / 'c2.sqlite'}\n"
            f"output: {tmp_path / 'nowhere'}\n", encoding="utf-8")  # fmt: skip
        # flags given on the command line override the file
        assert main(["run", "--config", str(tmp_path / "run.yaml"), "--output", str(tmp_path / "yaml")]) == 0
        (tmp_path / "run.toml").write_text(
            f'model = "{model}"\ntasks = ["gsm8k", "mmlu_pro"]\nlangs = ["ru", "pl"]\nlimit = 2\ntemperature = 0.2\n'
            f'max_tokens_cap = 64\nsystem_prompt = "Кратко."\nno_progress = true\n'
            f'cache_path = "{tmp_path / "c3.sqlite"}"\noutput = "{tmp_path / "toml"}"\n', encoding="utf-8")  # fmt: skip
        assert main(["run", "--config", str(tmp_path / "run.toml")]) == 0
        returned = evalkit.evaluate(model=model, tasks=["gsm8k", "mmlu_pro"], langs=["ru", "pl"], limit=2,
                                    temperature=0.2, max_tokens_cap=64, system_prompt="Кратко.",
                                    cache_path=tmp_path / "c4.sqlite", output=tmp_path / "api")  # fmt: skip
    reference = summaries(tmp_path / "flags")
    assert len(reference) == 4
    for face in ("yaml", "toml", "api"):
        assert summaries(tmp_path / face) == reference, face
    assert [(s.task, s.lang) for s in returned] == [("gsm8k", "ru"), ("gsm8k", "pl"), ("mmlu_pro", "ru"),
                                                     ("mmlu_pro", "pl")]  # fmt: skip
    written = json.loads((tmp_path / "yaml" / next(iter(reference)).split("/")[0] / "run_config.json").read_text())
    assert written["output"] == str(tmp_path / "yaml") and written["tasks"] == ["gsm8k", "mmlu_pro"]


def test_several_models_share_one_run_and_one_leaderboard(tmp_path):
    with OpenAIStub(model="a") as first, OpenAIStub(model="b") as second:
        models = f"openai:a@{first.base_url},openai:b@{second.base_url}"
        assert main(["run", "--model", models, "--tasks", "gsm8k", "--langs", "ru", "--limit", "2", "--no-progress",
                     "--cache-path", str(tmp_path / "c.sqlite"), "--output", str(tmp_path / "out")]) == 0  # fmt: skip
        assert first.total_arrivals == 2 and second.total_arrivals == 2
    folders = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(folders) == 2 and all((tmp_path / "out" / f / "gsm8k/ru/summary.json").is_file() for f in folders)
    assert main(["leaderboard", "--results", str(tmp_path / "out")]) == 0
    board = (tmp_path / "out" / "leaderboard.md").read_text(encoding="utf-8")
    assert all(f in board for f in folders)


def test_rescore_reads_saved_replies_again_without_a_model(tmp_path, capsys):
    with OpenAIStub(reply_fn=lambda m: "Ход решения… Ответ: 3") as stub:
        assert main(["run", "--model", f"openai:m@{stub.base_url}", "--tasks", "gsm8k", "--langs", "ru", "--limit",
                     "3", "--no-progress", "--no-cache", "--output", str(tmp_path), "--name", "m"]) == 0  # fmt: skip
    folder = tmp_path / "m/gsm8k/ru"
    rows = [json.loads(x) for x in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    # A reply the readers of that day got wrong, as if written by an older evalkit: the reading is corrupted by
    # hand, and rescore (no server running, no cache) must restore today's reading and name the item.
    rows[0]["scores"] = {k: 1.0 - v if k != "no_answer" else v for k, v in rows[0]["scores"].items()}
    (folder / "samples.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    capsys.readouterr()
    assert main(["rescore", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "gsm8k/ru: 1 changed" in out and rows[0]["id"] in out
    again = [json.loads(x) for x in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    assert again[0]["scores"]["exact_match"] == 1.0 - rows[0]["scores"]["exact_match"]
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["extra"]["rescored"]["changed"] == 1
    assert evalkit.api.rescore(tmp_path / "m")[0].changes == []  # a second reading changes nothing


@pytest.mark.parametrize(("text", "named"), [
    ("limit: zero\n", "run.yaml:1: limit must be an integer"),
    ("tasks: [gsm8k]\nlimt: 3\n", "run.yaml:2: unknown setting 'limt'"),
    ("limit: 0\n", "--limit 0: must be >= 1"),
    ("tasks: [gsm8k\n", "run.yaml:2: invalid YAML"),
])  # fmt: skip
def test_a_bad_config_file_names_the_key_and_line(tmp_path, capsys, text, named):
    (tmp_path / "run.yaml").write_text(text, encoding="utf-8")
    assert main(["run", "--config", str(tmp_path / "run.yaml"), "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert named in err and len(err.strip().splitlines()) == 1, err


def test_the_api_refuses_bad_input_with_the_same_message():
    with pytest.raises(ConfigError, match="unknown setting 'limt'"):
        evalkit.evaluate(limt=3)
    with pytest.raises(UserError, match="--top-p 2.0: must be > 0 and <= 1"):
        evalkit.evaluate(top_p=2, tasks=["gsm8k"], dry_run=True)
    assert "evaluate" in dir(evalkit) and isinstance(evalkit.RunConfig(), RunConfig)
