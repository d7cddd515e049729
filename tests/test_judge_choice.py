"""Choice mode: a verdict read as one constrained choice — the option written, else the likeliest option among
the first token's top logprobs — and the judge engine asking for it (instruction appended, no re-ask)."""

import math

import pytest

from evalkit.backends.openai_backend import OpenAIBackend
from evalkit.run.judging import CHOICE, CHOICE_CONFIG, Choice, Judge, JudgeQuery, with_instruction
from evalkit.testing.openai_stub import OpenAIStub
from evalkit.types import Completion, Message

GRADES = Choice("grade 1-10", {str(g): float(g) for g in range(1, 11)})
VERDICT = Choice("1 = correct, 0 = wrong", {"1": True, "0": False})


@pytest.mark.parametrize(("text", "top", "expected"), [
    ("7", None, 7.0),
    ("10", None, 10.0),  # the longer option first: 10 is not 1
    ("10/10", None, 10.0),
    ("1", None, 1.0),
    ("[[8]]", None, 8.0),
    ("«9»", None, 9.0),
    ("12", None, None),  # not an option, no logprobs
    ("Ocena", ({"Oc": -0.1, " 6": -2.0, "3": -2.5, "x": -0.5},), 6.0),  # the likeliest option below the token
    ("The answer", ({"The": -0.05, "Answer": -3.0},), None),  # no option among the alternatives
    ("", ({" 4": -1.2, "4": -0.9, "5": -1.0},), 4.0),  # the same option with and without a space: its best
])  # fmt: skip
def test_grades_read_as_a_choice(text, top, expected):
    assert GRADES.read(Completion(text=text, top_logprobs=top)) == expected


def test_option_logprobs_are_recorded_per_option():
    completion = Completion(text="Tak", top_logprobs=({"Tak": -0.1, "1": -2.0, " 0": -3.0, "0": -4.0},))
    assert VERDICT.option_logprobs(completion) == {"1": -2.0, "0": -3.0}
    assert VERDICT.read(completion) is True
    assert VERDICT.written("0.") == "0" and VERDICT.written("01") is None


def test_instruction_goes_to_the_last_user_message():
    messages = (Message("system", "S"), Message("user", "Q"), Message("assistant", "A"), Message("user", "Q2"))
    out = with_instruction(messages, "Answer with one digit.")
    assert [m.content for m in out] == ["S", "Q", "A", "Q2\n\nAnswer with one digit."]


def test_judge_in_choice_mode_asks_one_constrained_token_over_http_and_never_reasks():
    """The real openai backend against the loopback stub: the request carries the instruction, three tokens and
    top-20 logprobs; an unreadable reply stays unparsed (no re-ask), a readable one is the option."""
    def reply(messages):
        return "7" if "Ocena" in messages[-1]["content"] else "zzz"

    with OpenAIStub(reply_fn=reply) as stub:
        backend = OpenAIBackend(model="m", base_url=stub.base_url, concurrency=2)
        judge = Judge(backend, "openai:m", mode=CHOICE)
        queries = [JudgeQuery((Message("user", "Ocena: 7"),), reask="again", choice=GRADES),
                   JudgeQuery((Message("user", "zzz"),), reask="again", choice=GRADES)]  # fmt: skip
        judgments = judge.run(queries, parse=lambda text: None)
        bodies = list(stub.bodies.values())
    assert stub.total_arrivals == 2  # no re-ask in choice mode
    for body in bodies:
        assert body["max_tokens"] == CHOICE_CONFIG.max_tokens and body["top_logprobs"] == 20 and body["logprobs"]
        assert body["messages"][-1]["content"].endswith("\n\ngrade 1-10")
    assert [j.verdict for j in judgments] == [7.0, 1.0]  # written; else the likeliest option ("1" at -1.1)
    assert judgments[1].option_logprobs == {str(d): pytest.approx(-1.0 - d / 10) for d in range(1, 10)}
    assert all(j.mode == CHOICE for j in judgments)
    assert [j.to_dict()["judge_mode"] for j in judgments] == ["choice", "choice"]
    assert all(math.isfinite(v) for j in judgments for v in j.option_logprobs.values())
