import pytest

from evalkit.scoring.code import extract_code

CASES = [
    ("Вот решение:\n```python\ndef f(x):\n    return x\n```\nГотово.", "def f(x):\n    return x"),
    ("```py\nimport math\ndef g():\n    return math.pi\n```", "import math\ndef g():\n    return math.pi"),
    ("Пример:\n```\nf(1)\n```\nКод:\n```python\ndef f(x):\n    return x\n```", "def f(x):\n    return x"),
    ("```\nprint(1)\n```", "print(1)"),
    ("Rozwiązanie:\ndef f(x):\n    return x * 2", "def f(x):\n    return x * 2"),
    ("```python\ndef f(x):\n    return x", "def f(x):\n    return x"),  # unterminated fence (cut by max tokens)
    ("Не знаю.", "Не знаю."),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_extract_code(text, expected):
    assert extract_code(text) == expected
