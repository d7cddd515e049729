"""A tiny plugin used by the tests: add two numbers, answer is the sum."""

from evalkit.run.task import Task, require_fields
from evalkit.scoring.numbers import extract_last
from evalkit.types import GenerationConfig, Message, Sample, Score


class Arith(Task):
    name = "arith"
    version = "0.1"
    languages = ("ru",)
    generation = GenerationConfig(temperature=0.0, max_tokens=8)
    metrics = ("exact_match",)

    def sample_from_row(self, row, index, where):
        require_fields(row, ["a", "b"], where)
        return Sample(id=f"{index:03d}", fields=row, target=str(int(row["a"]) + int(row["b"])))

    def build_messages(self, sample, lang, fewshot):
        return [Message("user", self.render(lang, a=sample.fields["a"], b=sample.fields["b"]))]

    def score(self, sample, completion, lang):
        got = extract_last(completion, lang)
        return Score(extracted={"answer": got}, values={"exact_match": float(got == sample.target)})


TASK = Arith
