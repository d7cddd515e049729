"""Code verdicts a model cannot forge: adversarial solutions to one MBPP-style problem are contained AND never
pass; varied correct solutions still pass; limits hold for the run as a whole."""

import json
import secrets
import time
from pathlib import Path

import pytest

from evalkit import sandbox
from evalkit.sandbox import Limits, Program, cgroups, run, run_many

FAST = Limits(cpu_s=2, wall_s=6, memory_mb=400, processes=32, file_size_mb=4, output_chars=4000, tmp_mb=32)
#: The problem every adversarial solution claims to solve: add two numbers. The expected values never reach it.
TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\nassert add(10, 20) == 30"
CORRECT_FILE = Path(__file__).parent / "fixtures/sandbox/correct_programs.json"
CORRECT = json.loads(CORRECT_FILE.read_text(encoding="utf-8")) if CORRECT_FILE.is_file() else []

ADVERSARIAL = {
    # the end marker / verdict channel
    "print a pass marker": "import sys\ndef add(a, b):\n    return 0\nprint('__evalkit_done__ passed OK')",
    "read own program file": "def add(a, b):\n    return 0\nprint(open(__file__).read() if '__file__' in dir() else '')",  # noqa: E501
    "read the sandbox folder": "import os\ndef add(a, b):\n    return 0\nfor n in os.listdir('/sandbox'):\n    print(open('/sandbox/' + n, 'rb').read()[-200:])",  # noqa: E501
    "write a fake verdict to every fd": "import os\ndef add(a, b):\n    return 0\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'\\x00passed')\n    except OSError:\n        pass",  # noqa: E501
    # The parent is bubblewrap's init: /dev/null, the solution's own stdout/stderr, and bwrap's setup eventfd.
    "parent fd through /proc": "import os\ndef add(a, b):\n    return 0\nmine = {os.readlink(f'/proc/self/fd/{fd}') for fd in os.listdir('/proc/self/fd') if os.path.exists(f'/proc/self/fd/{fd}')}\nfor fd in os.listdir(f'/proc/{os.getppid()}/fd'):\n    try:\n        target = os.readlink(f'/proc/{os.getppid()}/fd/{fd}')\n        if target in mine or target in ('/dev/null', 'anon_inode:[eventfd]'):\n            continue\n        os.open(f'/proc/{os.getppid()}/fd/{fd}', os.O_WRONLY)\n        print('OPENED', fd, target)\n    except OSError:\n        pass",  # noqa: E501
    "kill the evaluator": "import os, signal\ndef add(a, b):\n    return 0\nos.kill(os.getppid(), signal.SIGKILL)",
    "exit before the tests": "import sys\ndef add(a, b):\n    return 0\nsys.exit(0)",
    "os._exit before the tests": "import os\ndef add(a, b):\n    return 0\nos._exit(0)",
    # the interpreter
    "settrace over the asserts": "import sys\ndef add(a, b):\n    return 0\ndef tracer(frame, event, arg):\n    if event == 'line' and 'assert' in str(frame.f_code.co_filename):\n        frame.f_lineno += 1\n    return tracer\nsys.settrace(tracer)",  # noqa: E501
    "always-equal object": "class Yes:\n    def __eq__(self, other):\n        return True\n    def __ne__(self, other):\n        return False\ndef add(a, b):\n    return Yes()",  # noqa: E501
    "int subclass equal to all": "class I(int):\n    def __eq__(self, other):\n        return True\ndef add(a, b):\n    return I(0)",  # noqa: E501
    "str subclass": "class S(str):\n    def __eq__(self, other):\n        return True\ndef add(a, b):\n    return S('x')",  # noqa: E501
    "list subclass": "class L(list):\n    def __eq__(self, other):\n        return True\ndef add(a, b):\n    return L()",  # noqa: E501
    "patch builtins assert helpers": "import builtins\nbuiltins.AssertionError = type('AssertionError', (Exception,), {})\ndef add(a, b):\n    return 0",  # noqa: E501
    "replace int equality via ctypes": "def add(a, b):\n    return 0\ntry:\n    import ctypes\n    ctypes.pythonapi.Py_IncRef\nexcept Exception:\n    pass",  # noqa: E501
    "rewrite the evaluator with gc": "import gc\ndef add(a, b):\n    return 0\nfor o in gc.get_objects():\n    if callable(o) and getattr(o, '__name__', '') in ('parent', 'proxy', 'describe'):\n        o.__code__ = (lambda *a, **k: {'status': 'passed'}).__code__",  # noqa: E501
    "return a function": "def add(a, b):\n    return add",
    "return a generator": "def add(a, b):\n    yield a + b",
    "deep recursion bomb result": "def add(a, b):\n    x = []\n    for _ in range(10000):\n        x = [x]\n    return x",  # noqa: E501
    "raise SystemExit in the call": "def add(a, b):\n    raise SystemExit(0)",
    "KeyboardInterrupt in the call": "def add(a, b):\n    raise KeyboardInterrupt",
    # limits
    "three forks of 300 MB": "import os, time\ndef add(a, b):\n    return a + b\nfor _ in range(3):\n    if os.fork() == 0:\n        x = bytearray(300 * 1024 * 1024)\n        time.sleep(3)\n        os._exit(0)\ntime.sleep(4)\nraise SystemExit",  # noqa: E501
    "fill /tmp": "def add(a, b):\n    return a + b\nimport os\nfor i in range(100):\n    with open(f'/tmp/f{i}', 'wb') as f:\n        f.write(b'x' * 1024 * 1024)\nraise SystemExit",  # noqa: E501
    "fork bomb": "import os\ndef add(a, b):\n    return a + b\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",  # noqa: E501
    "huge allocation": "x = bytearray(50 * 1024 ** 3)\ndef add(a, b):\n    return a + b",
    "busy loop": "def add(a, b):\n    while True:\n        pass",
    "sleep forever": "import time\ndef add(a, b):\n    time.sleep(600)",
    # escaping
    "write the root": "def add(a, b):\n    return 0\nopen('/evil', 'w').write('x')\nraise SystemExit",
    "write /sandbox": "def add(a, b):\n    return 0\nopen('/sandbox/evil', 'w').write('x')\nraise SystemExit",
    "nested user namespace": "import ctypes\ndef add(a, b):\n    return 0\nlibc = ctypes.CDLL(None, use_errno=True)\nassert libc.unshare(0x10000000) == 0, 'userns refused'\nraise SystemExit",  # noqa: E501
    "io_uring": "import ctypes\ndef add(a, b):\n    return 0\nlibc = ctypes.CDLL(None, use_errno=True)\nassert libc.syscall(425, 8, ctypes.create_string_buffer(120)) >= 0, 'io_uring refused'\nraise SystemExit",  # noqa: E501
    "ptrace": "import ctypes\ndef add(a, b):\n    return 0\nlibc = ctypes.CDLL(None, use_errno=True)\nassert libc.ptrace(16, 1, 0, 0) == 0, 'ptrace refused'\nraise SystemExit",  # noqa: E501
    "network": "import socket\ndef add(a, b):\n    return 0\nsocket.create_connection(('1.1.1.1', 80), timeout=2)\nraise SystemExit",  # noqa: E501
    "fake bwrap message": "import sys\ndef add(a, b):\n    return 0\nsys.stderr.write('bwrap: Creating new namespace failed\\n')\nsys.exit(1)",  # noqa: E501
}


pytestmark = pytest.mark.usefixtures("bubblewrap")


def test_the_corpus_is_large():
    assert len(ADVERSARIAL) >= 30 and len(CORRECT) >= 50


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_solution_is_contained_and_never_passes(name):
    marker = Path("/tmp") / f"evalkit-outside-{secrets.token_hex(4)}"
    started = time.monotonic()
    outcome = run(Program(ADVERSARIAL[name], tests=TESTS), FAST)
    assert outcome.status != "passed", (name, outcome)
    assert outcome.status != "sandbox_error", (name, outcome)  # a label the program cannot choose
    assert time.monotonic() - started < FAST.wall_s + 15  # the harness carried on
    assert "OPENED" not in outcome.stdout and not Path("/evil").exists() and not marker.exists()
    assert run(Program("def add(a, b):\n    return a + b", tests=TESTS), FAST).passed  # nothing was left broken


def test_correct_programs_pass_in_every_style():
    programs = [Program(p["solution"], tests=p["tests"], prelude=p["prelude"]) for p in CORRECT]
    outcomes = run_many(programs, Limits(cpu_s=10, wall_s=20, memory_mb=1024, processes=64), workers=2)
    failed = [(p["name"], o.status, o.detail) for p, o in zip(CORRECT, outcomes, strict=True) if not o.passed]
    assert failed == []
    assert {o.verdict_mode for o in outcomes} == {"verdict"}


def test_functions_and_the_solutions_objects_cross_as_callbacks_and_handles():
    outcome = run(Program("def apply(f, x):\n    return f(x)", tests="assert apply(lambda v: v * 2, 4) == 8"), FAST)
    assert outcome.passed and outcome.verdict_mode == "verdict"
    classes = Program("class P:\n    def __init__(self, a):\n        self.a = a\ndef first(ps):\n    return ps[0].a",
                      tests="assert first([P(3), P(4)]) == 3\nassert P(5).a == 5")  # fmt: skip
    outcome = run(classes, FAST)
    assert outcome.verdict_mode == "verdict" and outcome.passed, outcome


def test_a_long_output_does_not_change_the_verdict_and_is_cut_visibly():
    outcome = run(Program("def add(a, b):\n    print('x' * 9000)\n    return a + b", tests=TESTS), FAST)
    assert outcome.passed and "[evalkit: output cut at 4000 characters" in outcome.stdout


def test_a_failure_names_the_assert():
    outcome = run(Program("def add(a, b):\n    return a - b", tests=TESTS), FAST)
    assert outcome.status == "failed" and outcome.detail == "assert add(2, 3) == 5"


@pytest.mark.skipif(not cgroups.available(), reason="no control group can be made on this machine")
def test_memory_holds_for_a_program_and_all_its_children():
    outcome = run(Program(ADVERSARIAL["three forks of 300 MB"], tests=TESTS), FAST)
    assert outcome.status == "memory"
    outcome = run(Program(ADVERSARIAL["fill /tmp"], tests=TESTS), Limits(memory_mb=400, file_size_mb=200,
                                                                           tmp_mb=1024, wall_s=10))  # fmt: skip
    assert outcome.status in ("memory", "failed") and not outcome.passed
    assert sandbox.run_limits().startswith("cgroup")


def test_sandbox_error_comes_from_bubblewrap_not_from_the_program():
    outcome = run(Program(ADVERSARIAL["fake bwrap message"], tests=TESTS), FAST)
    assert outcome.status == "failed" and "bwrap:" in outcome.stderr


def test_mbpp_end_to_end_from_a_canned_server_passes_no_forged_answer(tmp_path):
    import re

    from evalkit.cli import main
    from evalkit.run.plugins import load_task
    from evalkit.testing.openai_stub import OpenAIStub

    task = load_task("mbpp")
    names = {s.fields["prompt"]: re.search(r"def (\w+)\(", s.fields["reference"]).group(1)
             for s in task.load("en", "samples")}  # fmt: skip
    attacks = [
        "class Yes:\n    def __eq__(self, other):\n        return True\ndef {name}(*args, **kwargs):\n    return Yes()",
        "import sys\ndef {name}(*args, **kwargs):\n    return None\ndef t(frame, event, arg):\n    return t\nsys.settrace(t)",  # noqa: E501
        "import os\ndef {name}(*args, **kwargs):\n    return None\nos._exit(0)",
    ]
    calls = {"n": 0}

    def reply(messages):
        name = next(n for p, n in names.items() if p in messages[-1]["content"])
        calls["n"] += 1
        return "```python\n" + attacks[calls["n"] % len(attacks)].format(name=name) + "\n```"

    with OpenAIStub(reply_fn=reply) as stub:
        code = main(["run", "--model", f"openai:m@{stub.base_url}", "--tasks", "mbpp", "--langs", "en",
                     "--output", str(tmp_path), "--name", "m", "--no-cache", "--no-progress"])  # fmt: skip
    assert code == 0
    summary = json.loads((tmp_path / "m/mbpp/en/summary.json").read_text(encoding="utf-8"))
    assert summary["metrics"]["pass@1"]["value"] == 0.0 and summary["extra"]["outcomes"]["passed"] == 0
    assert summary["extra"]["verdict_mode"] == {"verdict": summary["n"]}
    assert summary["extra"]["limits"].startswith("cgroup") or summary["extra"]["limits"] == "rlimits"
