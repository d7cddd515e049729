import pytest

from evalkit.backends.modelspec import ModelSpecError, parse_model_string


@pytest.mark.parametrize(
    ("text", "kind", "name", "base_url", "options", "slug"),
    [
        ("local:smollm2", "local", "smollm2", None, {}, "local__smollm2"),
        ("openai:gpt-4o-mini", "openai", "gpt-4o-mini", None, {}, "openai__gpt-4o-mini"),
        ("openai:my-model@http://127.0.0.1:8000/v1", "openai", "my-model", "http://127.0.0.1:8000/v1", {},
         "openai__my-model@127.0.0.1__8000"),
        ("openai:org/model@https://api.example.com/v1/", "openai", "org/model", "https://api.example.com/v1", {},
         "openai__org__model@api.example.com"),
        ("vllm:t-tech/T-lite-it-1.0", "vllm", "t-tech/T-lite-it-1.0", None, {}, "vllm__t-tech__T-lite-it-1.0"),
        ("vllm:t-tech/T-lite-it-1.0?tensor_parallel_size=2&max_model_len=8192&enforce_eager=true&dtype=float32",
         "vllm", "t-tech/T-lite-it-1.0", None,
         {"tensor_parallel_size": 2, "max_model_len": 8192, "enforce_eager": True, "dtype": "float32"},
         "vllm__t-tech__T-lite-it-1.0"),
        ("vllm:/models/my ckpt?gpu_memory_utilization=0.3", "vllm", "/models/my ckpt", None,
         {"gpu_memory_utilization": 0.3}, "vllm__models__my__ckpt"),
    ],
)
def test_parse(text, kind, name, base_url, options, slug):
    spec = parse_model_string(text)
    assert (spec.kind, spec.name, spec.base_url, dict(spec.options)) == (kind, name, base_url, options)
    assert spec.slug == slug
    assert "/" not in spec.slug
    assert parse_model_string(str(spec)) == spec


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("gpt-4o", "expected one of"),
        ("hf:foo", "expected one of"),
        ("openai:", "expected one of"),
        ("local:llama70b", "unknown local model"),
        ("vllm:foo@http://127.0.0.1:8000/v1", "in-process"),
        ("openai:@http://127.0.0.1:1/v1", "names no model"),
        ("vllm:foo?novalue", "bad options"),
    ],
)
def test_errors_say_what_is_wrong(text, fragment):
    with pytest.raises(ModelSpecError, match=fragment):
        parse_model_string(text)
