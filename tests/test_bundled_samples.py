"""Every built-in task loads its bundled samples and few-shot exemplars in every language and builds prompts."""

import pytest

from evalkit.run.plugins import BUILTIN_TASKS, load_task

ANSWER_READING = ("gsm8k", "mmlu_pro", "math")
CASES = [(name, lang) for name in BUILTIN_TASKS for lang in load_task(name).languages]


@pytest.mark.parametrize(("name", "lang"), CASES, ids=[f"{n}-{lang}" for n, lang in CASES])
def test_samples_load_and_render(name, lang):
    task = load_task(name)
    samples = task.load(lang, "samples")
    assert len(samples) >= 8
    fewshot = task.fewshot(lang, "samples")
    for sample in samples:
        messages = task.build_messages(sample, lang, fewshot)
        assert messages and all(m.content.strip() for m in messages)


@pytest.mark.parametrize("lang", ["ru", "pl", "uk", "cs", "en"])
def test_math_gold_answers_equal_themselves(lang):
    task = load_task("math")
    for sample in task.load(lang, "samples"):
        score = task.score(sample, "Решение.\n\n$\\boxed{" + sample.target + "}$", lang)
        assert score.values["accuracy"] == 1.0, (sample.id, sample.target, score.extracted)


@pytest.mark.parametrize("name", ANSWER_READING)
def test_answer_reading_tasks_recount_their_rules(name):
    task = load_task(name)
    sample = task.load("ru", "samples")[0]
    extracted = [task.score(sample, reply, "ru").extracted for reply in ("", "<think>незакончено", "Ответ: (B) 5")]
    extra = task.summary_extra(extracted)
    assert extra["reading_rules"]["empty"] == 1 and extra["n_unterminated_reasoning"] == 1
