"""The shipped chat templates render the formats model cards document, exactly."""

import jinja2
import pytest

from evalkit.backends.chat_templates import SHIPPED, load_chat_template

DIALOGUE = [
    {"role": "system", "content": "Ты помощник."},
    {"role": "user", "content": "Привет"},
    {"role": "assistant", "content": "Здравствуйте!"},
    {"role": "user", "content": "Сколько будет 2+2?"},
]


def render(name, messages=DIALOGUE):
    def raise_exception(message):
        raise ValueError(message)

    env = jinja2.Environment()
    template = env.from_string(load_chat_template(name))
    return template.render(messages=messages, add_generation_prompt=True, bos_token="<s>", eos_token="</s>",
                           raise_exception=raise_exception)  # fmt: skip


def test_chatml():
    assert render("chatml") == (
        "<|im_start|>system\nТы помощник.<|im_end|>\n<|im_start|>user\nПривет<|im_end|>\n"
        "<|im_start|>assistant\nЗдравствуйте!<|im_end|>\n<|im_start|>user\nСколько будет 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_chatml_carries_custom_roles():
    out = render("chatml", [{"role": "documents", "content": "[]"}, {"role": "user", "content": "q"}])
    assert out.startswith("<|im_start|>documents\n[]<|im_end|>\n")


def test_llama2():
    assert render("llama2") == (
        "<s>[INST] <<SYS>>\nТы помощник.\n<</SYS>>\n\nПривет [/INST] Здравствуйте! </s>"
        "<s>[INST] Сколько будет 2+2? [/INST]"
    )


def test_mistral():
    assert render("mistral") == (
        "<s>[INST] Ты помощник.\n\nПривет [/INST]Здравствуйте!</s>[INST] Сколько будет 2+2? [/INST]"
    )


def test_vicuna():
    assert render("vicuna") == (
        "Ты помощник.\nUSER: Привет\nASSISTANT: Здравствуйте!</s>\nUSER: Сколько будет 2+2?\nASSISTANT:"
    )


@pytest.mark.parametrize("name", ["llama2", "mistral", "vicuna"])
def test_unknown_role_is_refused_not_dropped(name):
    with pytest.raises(ValueError, match="unsupported role documents"):
        render(name, [{"role": "documents", "content": "[]"}, {"role": "user", "content": "q"}])


def test_every_shipped_name_loads_and_files_work(tmp_path):
    assert all(load_chat_template(name) for name in SHIPPED)
    path = tmp_path / "t.jinja"
    path.write_text("{{ messages[0]['content'] }}", encoding="utf-8")
    assert load_chat_template(str(path)) == "{{ messages[0]['content'] }}"
