"""MBPP: bundled problems are sound, programs run in the sandbox, pass@k over replicas."""

import json

import pytest

from evalkit.cli import main
from evalkit.run.plugins import load_task
from evalkit.run.task import TaskDataError
from evalkit.testing.openai_stub import OpenAIStub


@pytest.mark.parametrize("lang", ["ru", "pl", "en"])
def test_every_bundled_problem_passes_with_its_reference_solution(lang):
    task = load_task("mbpp")
    samples = task.load(lang, "samples")
    assert len(samples) >= 10
    scores = task.score_batch(samples, [f"```python\n{s.fields['reference']}\n```" for s in samples], lang)
    assert [s.extracted["status"] for s in scores] == ["passed"] * len(samples)
    wrong = task.score_batch(samples[:2], ["```python\ndef nothing():\n    pass\n```"] * 2, lang)
    assert [s.values["passed"] for s in wrong] == [0.0, 0.0]


def test_malformed_problem_names_its_task_id(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"task_id": 77, "prompt": "x", "test_list": []}) + "\n", encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"\(task 77\): field 'test_list'"):
        load_task("mbpp").load("ru", str(path))


def test_pass_at_k_over_replicas_through_a_server(tmp_path):
    """5 completions per problem; the stub answers right for some replicas only (the seed differs per replica)."""
    task = load_task("mbpp")
    references = {s.fields["prompt"]: s.fields["reference"] for s in task.load("en", "samples")}
    calls: dict[str, int] = {}

    def reply(messages):
        content = messages[-1]["content"]
        prompt = next(p for p in references if p in content)
        calls[prompt] = calls.get(prompt, 0) + 1
        good = calls[prompt] <= 2 if "digit" in prompt else calls[prompt] == 1
        return f"```python\n{references[prompt] if good else 'def broken(): pass'}\n```"

    with OpenAIStub(reply_fn=reply) as stub:
        code = main(["run", "--model", f"openai:m@{stub.base_url}", "--tasks", "mbpp", "--langs", "en", "--limit", "3",
                     "--samples", "5", "--concurrency", "1", "--output", str(tmp_path), "--name", "m", "--no-cache",
                     "--no-progress"])  # fmt: skip
    assert code == 0
    summary = json.loads((tmp_path / "m/mbpp/en/summary.json").read_text(encoding="utf-8"))
    assert summary["n"] == 3 and summary["generation_config"]["temperature"] == 0.8
    # digit_sum: 2 of 5 pass; the other two problems: 1 of 5 each.
    assert summary["metrics"]["pass@1"]["value"] == pytest.approx((2 / 5 + 1 / 5 + 1 / 5) / 3)
    expected_at_5 = 1.0
    assert summary["metrics"]["pass@5"]["value"] == pytest.approx(expected_at_5)
    assert "pass@10" not in summary["metrics"]
    assert summary["extra"]["outcomes"]["passed"] == 4 and summary["extra"]["outcomes"]["failed"] == 11
    assert summary["extra"]["isolation"] == "bwrap"
    rows = [json.loads(x) for x in (tmp_path / "m/mbpp/en/samples.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted({r["replica"] for r in rows}) == [0, 1, 2, 3, 4] and len(rows) == 15


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_humaneval_references_pass_and_bodies_are_completed(lang):
    task = load_task("humaneval")
    samples = task.load(lang, "samples")
    assert len(samples) >= 10
    full = task.score_batch(samples, [f"```python\n{s.fields['reference']}\n```" for s in samples], lang)
    assert [s.extracted["status"] for s in full] == ["passed"] * len(samples)
    # An answer with only the body is completed with the given signature.
    clamp = next(s for s in samples if s.fields["entry_point"] == "clamp")
    body_only = task.score_batch([clamp], ["```python\n    return max(low, min(x, high))\n```"], lang)[0]
    assert body_only.extracted["status"] == "passed"
    wrong = task.score_batch([clamp], ["```python\ndef clamp(x, low, high):\n    return x\n```"], lang)[0]
    assert wrong.extracted["status"] == "failed" and wrong.extracted["detail"].startswith("assert ")


def test_humaneval_malformed_mera_item_names_its_id(tmp_path):
    path = tmp_path / "bad.jsonl"
    row = {"instruction": "{function}", "inputs": {"function": "def f():\n", "tests": "[{}]"}, "outputs": [],
           "meta": {"id": 42, "entry_point": "f"}}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"\(id 42\): inputs.tests and outputs"):
        load_task("humaneval").load("ru", str(path))
