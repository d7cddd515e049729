import json

from evalkit.records import atomic_write_text, write_jsonl
from evalkit.run.runner import with_system_prompt
from evalkit.types import (
    SCHEMA_VERSION,
    Completion,
    GenerationConfig,
    Message,
    MetricValue,
    RunSummary,
    SampleRecord,
    Usage,
)


def test_sample_record_is_versioned_and_json_safe():
    record = SampleRecord(
        id="ru-001", task="gsm8k", lang="ru", messages=(Message("user", "Задача"),), target="42",
        completion="Ответ: 42", finish_reason="stop", extracted={"strict": "42"}, scores={"em": 1.0},
        error=None, usage=Usage(5, 2), latency_s=0.123456, cached=False,
    )
    data = json.loads(json.dumps(record.to_dict(), ensure_ascii=False))
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["messages"] == [{"role": "user", "content": "Задача"}]
    assert data["usage"] == {"prompt_tokens": 5, "completion_tokens": 2}
    assert data["latency_s"] == 0.1235


def test_summary_carries_the_full_generation_config():
    config = GenerationConfig(temperature=0.3, top_k=40, stop=("x",))
    summary = RunSummary(
        task="gsm8k", task_version="1.0", lang="pl", model="local:smollm2", backend="b",
        metrics={"em": MetricValue(0.5, 0.1)}, n=2, n_errors=0, data={"source": "samples"},
        generation_config=config, system_prompt=None, chat_template=None, usage=Usage(), evalkit_version="0",
        git_sha=None, started_at="s", finished_at="f", duration_s=1.0,
    )
    data = summary.to_dict()
    assert data["generation_config"]["top_k"] == 40 and data["generation_config"]["stop"] == ["x"]
    assert data["metrics"] == {"em": {"value": 0.5, "stderr": 0.1}}


def test_metric_without_a_standard_error_is_strict_json_and_printed_without_one():
    one_item = MetricValue(0.0, float("nan"))  # the standard error of a single judged item
    text = json.dumps(one_item.to_dict(), allow_nan=False)
    assert json.loads(text) == {"value": 0.0, "stderr": None}
    assert json.loads(json.dumps(MetricValue(float("nan"), None).to_dict(), allow_nan=False))["value"] is None
    assert one_item.shown(4) == "0.0000"
    assert MetricValue(0.125, 0.0417).shown(3) == "0.125±0.042"


def test_atomic_write_leaves_no_temp_files(tmp_path):
    target = tmp_path / "a" / "samples.jsonl"
    write_jsonl(target, [{"x": "ł"}, {"x": 2}])
    atomic_write_text(target, target.read_text(encoding="utf-8"))
    assert [p.name for p in target.parent.iterdir()] == ["samples.jsonl"]
    assert [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()] == [{"x": "ł"}, {"x": 2}]


def test_generation_config_merge_rejects_unknown_settings():
    config = GenerationConfig().merged({"temperature": 0.7, "top_p": None})
    assert config.temperature == 0.7 and config.top_p is None
    try:
        GenerationConfig().merged({"temprature": 1})
    except ValueError as exc:
        assert "temprature" in str(exc)
    else:
        raise AssertionError


def test_system_prompt_is_added_or_merged():
    user = Message("user", "q")
    assert with_system_prompt([user], "Ты помощник.") == (Message("system", "Ты помощник."), user)
    merged = with_system_prompt([Message("system", "Task rules."), user], "Ты помощник.")
    assert merged == (Message("system", "Ты помощник.\n\nTask rules."), user)
    assert with_system_prompt([user], None) == (user,)


def test_failed_completion_is_marked():
    failed = Completion.failed("HTTP 500")
    assert not failed.ok and failed.text == "" and failed.error == "HTTP 500"


def test_results_files_respect_the_umask(tmp_path):
    """mkstemp alone makes 0600 files; every results file gets what open() would give: 0666 less the umask."""
    import os

    from evalkit.records import current_umask, write_json

    for umask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        previous = os.umask(umask)
        try:
            assert current_umask() == umask
            folder = tmp_path / oct(umask)
            write_json(folder / "summary.json", {"n": 1})
            write_jsonl(folder / "samples.jsonl", [{"id": "a"}])
            atomic_write_text(folder / "leaderboard.md", "x\n")
            with (folder / "judgments.jsonl").open("a", encoding="utf-8") as handle:  # as the judged flow appends
                handle.write("{}\n")
        finally:
            os.umask(previous)
        assert {p.name: oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {
            name: oct(mode) for name in ("summary.json", "samples.jsonl", "leaderboard.md", "judgments.jsonl")}
