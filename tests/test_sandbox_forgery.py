# ruff: noqa: E501 - the attack programs read best one statement per string
"""White-box attacks on the round-2 design (issue 26), each written knowing evalkit's source: the solution runs in
a fresh interpreter inside bubblewrap, the tests run in a separate evaluator outside it, and the two talk over a
pair of pipes in JSON (evalkit/sandbox/sandbox_wire.py). Every attack must fail to pass, and the harness must carry on."""

import secrets
import time

import pytest

from evalkit.sandbox import Limits, Program, run, run_many

FAST = Limits(cpu_s=2, wall_s=6, memory_mb=400, processes=32, file_size_mb=4, output_chars=4000, tmp_mb=32)
SECRET = f"expected-{secrets.token_hex(6)}"
#: The tests hold a value the solution would need to see to pass: SECRET. It never reaches the solution.
TESTS = f"assert add(2, 3) == 5\nassert add(-1, 1) == 0\nassert key() == {SECRET!r}"
CHECK = f"def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(0, 0) == 0\n\ncheck(add)\nassert key() == {SECRET!r}"
WRONG = "def add(a, b):\n    return 0\ndef key():\n    return 'guess'\n"

ATTACKS = {
    # -- the builtins the tests use are the real ones ----------------------------------------------------------
    "shadow abs, set, zip, range, len, str with always-equal values":
        "class Y:\n    def __eq__(s, o): return True\n    __hash__ = object.__hash__\n"
        "def abs(*a): return Y()\ndef set(*a): return Y()\ndef zip(*a): return Y()\ndef range(*a): return Y()\n"
        "def len(*a): return Y()\ndef str(*a): return Y()\n" + WRONG,
    "shadow isinstance and type": "def isinstance(*a): return True\ndef type(*a): return int\n" + WRONG,
    "define AssertionError and Exception": "class AssertionError(BaseException): pass\nException = SystemExit\n" + WRONG,
    "define check and candidate": "def check(c): return True\ncandidate = check\n" + WRONG,
    # -- the tests are not in reach -----------------------------------------------------------------------------
    "search the filesystem for the tests":
        "import os\nfound = []\nfor root in ('/sandbox', '/tmp', '/proc/self', '/'):\n"
        "    try:\n        names = os.listdir(root)\n    except OSError:\n        continue\n"
        "    for n in names:\n        try:\n            data = open(os.path.join(root, n), 'rb').read(1 << 20)\n"
        "        except OSError:\n            continue\n        if b'expected-' in data:\n            found.append(data)\n"
        "SEEN = found[0].split(b'expected-')[1][:12].decode() if found else 'none'\n"
        "def add(a, b):\n    return a + b\ndef key():\n    return 'expected-' + SEEN\n",
    "scan gc objects for the tests":
        "import gc\nSEEN = [o for o in gc.get_objects() if isinstance(o, str) and o.startswith('expected-')]\n"
        "def add(a, b):\n    return a + b\ndef key():\n    return SEEN[0] if SEEN else 'none'\n",
    "walk the frames of the calling process":
        "import sys\ndef add(a, b):\n    return a + b\ndef key():\n    f = sys._getframe()\n    while f:\n"
        "        for v in list(f.f_globals.values()) + list(f.f_locals.values()):\n"
        "            if isinstance(v, str) and v.startswith('expected-'):\n                return v\n"
        "        f = f.f_back\n    return 'none'\n",
    "read other processes' memory and cmdline":
        "import os\nhits = []\nfor pid in os.listdir('/proc'):\n    if pid.isdigit():\n"
        "        for what in ('cmdline', 'environ', 'mem'):\n            try:\n"
        "                data = open(f'/proc/{pid}/{what}', 'rb').read(1 << 20)\n"
        "                if b'expected-' in data:\n                    hits.append(data)\n"
        "            except OSError:\n                pass\n"
        "def add(a, b):\n    return a + b\n"
        "def key():\n    return 'expected-' + hits[0].split(b'expected-')[1][:12].decode() if hits else 'none'\n",
    "read inherited descriptors":
        "import os\ndata = b''\nfor fd in range(64):\n    try:\n        os.set_blocking(fd, False)\n"
        "        data += os.read(fd, 1 << 16)\n    except OSError:\n        pass\n"
        "def add(a, b):\n    return a + b\n"
        "def key():\n    return 'expected-' + data.split(b'expected-')[1][:12].decode() if b'expected-' in data else 'x'\n",
    # -- the verdict channel ------------------------------------------------------------------------------------
    "write a passed verdict on every descriptor":
        "import os, json\nfor fd in range(3, 64):\n    for m in (b'{\"status\": \"passed\"}', json.dumps({'ok': True}).encode()):\n"
        "        try:\n            os.write(fd, len(m).to_bytes(4, 'big') + m)\n        except OSError:\n            pass\n" + WRONG,
    "print a verdict on stdout and stderr":
        "import sys\nprint('{\"status\": \"passed\"}')\nsys.stderr.write('{\"status\": \"passed\"}')\n" + WRONG,
    "patch the channel to answer every request with the last argument":
        "import sandbox_wire\n_send = sandbox_wire.Channel.send\n"
        "def send(self, m):\n    return _send(self, {'ok': 5})\nsandbox_wire.Channel.send = send\n" + WRONG,
    "answer a request that was never made":
        "import sandbox_wire, sys\nch = sys.modules['sandbox_server'].CHANNEL\n"
        "ch.send({'ok': 5})\nch.send({'ok': 5})\n" + WRONG,
    "send a malformed frame then exit":
        "import os, sys\nch = sys.modules['sandbox_server'].CHANNEL\nos.write(ch.write_fd, b'\\xff\\xff\\xff\\xff garbage')\n"
        "os._exit(0)\n" + WRONG,
    "send deeply nested JSON":
        "import sys\nch = sys.modules['sandbox_server'].CHANNEL\nimport os\nm = b'[' * 100000 + b']' * 100000\n"
        "os.write(ch.write_fd, len(m).to_bytes(4, 'big') + m)\n" + WRONG,
    "claim a 4 GB message": "import os, sys\nos.write(sys.modules['sandbox_server'].CHANNEL.write_fd, b'\\xff\\xff\\xff\\xf0')\n" + WRONG,
    "ask the tests for attributes of a callback": "def add(a, b):\n    return a + b\ndef key(f=None):\n    return 'none'\n",
    "request a module with side effects as a test name": "import antigravity as check\n" + WRONG,
    "bind a fake math module":
        "import types\nmath = types.ModuleType('math')\nmath.isclose = lambda *a, **k: True\n" + WRONG,
    "a function named like the module the prelude imports":
        "def math():\n    pass\nmath.isclose = lambda *a, **k: True\n" + WRONG,
    "return a builtin with side effects for the tests to call":
        "def add(a, b):\n    return breakpoint\ndef key():\n    return exec\n",
    # -- values and exceptions ----------------------------------------------------------------------------------
    "always-equal subclass of str": "class S(str):\n    def __eq__(s, o): return True\n    __hash__ = str.__hash__\n"
                                    "def add(a, b):\n    return a + b\ndef key():\n    return S('x')\n",
    "object with __bool__ and __eq__ True": "class Y:\n    def __eq__(s, o): return True\n    def __bool__(s): return True\n"
                                            "def add(a, b):\n    return Y()\ndef key():\n    return Y()\n",
    "dict subclass lying in items and __iter__":
        "class D(dict):\n    def __eq__(s, o): return True\n    def items(s): return [(1, 2)]\n    def __iter__(s): return iter([1])\n"
        "def add(a, b):\n    return a + b\ndef key():\n    return D()\n",
    "raise SystemExit inside a call the tests guard":
        "def add(a, b):\n    return a + b\ndef key():\n    raise SystemExit(0)\n",
    "exit the process inside a call": "import os\ndef add(a, b):\n    return a + b\ndef key():\n    os._exit(0)\n",
    "kill itself inside a call": "import os, signal\ndef add(a, b):\n    return a + b\ndef key():\n    os.kill(os.getpid(), 9)\n",
    "a custom exception named like a pass":
        "class passed(Exception): pass\ndef add(a, b):\n    return a + b\ndef key():\n    raise passed('passed')\n",
    "fork a child that keeps answering":
        "import os\ndef add(a, b):\n    return a + b\ndef key():\n    if os.fork() == 0:\n        return 'child'\n    os._exit(0)\n",
    "stop itself": "import os, signal\ndef add(a, b):\n    return a + b\ndef key():\n    os.kill(os.getpid(), signal.SIGSTOP)\n",
    "mutate the tests' argument into the expected value":
        "def add(a, b):\n    return a + b\ndef key(*a):\n    return 'x'\n",
}
#: Tests that try to swallow failures the way MBPP/HumanEval tests sometimes do (`except Exception`).
GUARDED = TESTS.replace(f"assert key() == {SECRET!r}",
                        f"try:\n    k = key()\nexcept Exception:\n    k = {SECRET!r}\nassert k == {SECRET!r}")
BARE = TESTS.replace(f"assert key() == {SECRET!r}",
                     f"try:\n    k = key()\nexcept:\n    k = {SECRET!r}\nassert k == {SECRET!r}")
RAISES = {"a custom exception named like a pass"}  # an ordinary exception: the tests' own except decides
MATH_TESTS = "import math\nassert math.isclose(add(1, 1), 3.0)"


def test_the_corpus_with_the_older_one_has_at_least_40_programs():
    from test_sandbox_verdicts import ADVERSARIAL

    assert len(ATTACKS) + len(ADVERSARIAL) >= 40


@pytest.mark.usefixtures("bubblewrap")
@pytest.mark.parametrize("name", list(ATTACKS))
@pytest.mark.parametrize("tests", ["asserts", "check", "guarded", "bare except"])
def test_attack_never_passes(name, tests):
    if tests in ("guarded", "bare except") and name in RAISES:
        pytest.skip("a test that catches the solution's exception passes it in plain Python too")
    source = {"asserts": TESTS, "check": CHECK, "guarded": GUARDED, "bare except": BARE}[tests]
    if name in ("bind a fake math module", "a function named like the module the prelude imports"):
        return _math_attack(name)
    started = time.monotonic()
    outcome = run(Program(ATTACKS[name], tests=source), FAST)
    assert outcome.status not in ("passed", "sandbox_error"), (name, outcome)
    assert SECRET not in outcome.stdout + outcome.stderr, (name, outcome)
    assert time.monotonic() - started < FAST.wall_s + 10


def _math_attack(name):
    for tests, prelude in ((MATH_TESTS, ""), ("assert math.isclose(add(1, 1), 3.0)", "import math")):
        outcome = run(Program(ATTACKS[name], tests=tests, prelude=prelude), FAST)
        assert outcome.status not in ("passed", "sandbox_error"), (name, prelude, outcome)


@pytest.mark.usefixtures("bubblewrap")
def test_a_returned_callable_the_tests_call_is_a_handle_or_a_pure_builtin():
    # a callable the solution returns stays in its process (calling it runs there) ...
    assert run(Program("def make():\n    return eval", tests="assert make()('2 + 3') == 5"), FAST).passed
    # ... and a forged reference to one of the evaluator's builtins is refused unless it is a pure one
    forge = ("import sandbox_wire\n_encode = sandbox_wire.encode\nclass Mark:\n    pass\n"
             "def encode(value, other, *rest):\n"
             "    return ['bi', NAME] if isinstance(value, Mark) else _encode(value, other, *rest)\n"
             "sandbox_wire.encode = encode\ndef make():\n    return Mark()\n")
    for name in ("exec", "eval", "breakpoint", "open", "__import__", "globals", "input"):
        outcome = run(Program(f"NAME = {name!r}\n" + forge, tests="g = make()\nassert g('2 + 3') == 5"), FAST)
        assert outcome.status == "failed" and "malformed" in outcome.detail, (name, outcome)
    outcome = run(Program("NAME = 'len'\n" + forge, tests="assert make()('abc') == 3"), FAST)
    assert outcome.passed, outcome


@pytest.mark.usefixtures("bubblewrap")
def test_the_honest_solution_passes_all_four_test_styles():
    honest = f"def add(a, b):\n    return a + b\ndef key():\n    return {SECRET!r}\n"
    outcomes = run_many([Program(honest, tests=t) for t in (TESTS, CHECK, GUARDED, BARE)], FAST)
    assert [o.status for o in outcomes] == ["passed"] * 4, outcomes


@pytest.mark.usefixtures("bubblewrap")
def test_a_failure_that_the_tests_catch_still_fails():
    # the solution's process ends inside a call the tests guard with `except Exception` and a bare `except`
    code = "import os\ndef add(a, b):\n    os._exit(0)\n"
    for guard in ("except Exception", "except BaseException", "except"):
        tests = f"try:\n    r = add(2, 3)\n{guard}:\n    r = 5\nassert r == 5"
        outcome = run(Program(code, tests=tests), FAST)
        assert outcome.status == "failed" and "ended" in outcome.detail, (guard, outcome)


@pytest.mark.usefixtures("bubblewrap")
def test_the_solution_cannot_see_the_tests_in_its_filesystem_or_environment():
    probe = ("import os\ndef look():\n    seen = []\n    for root, dirs, files in os.walk('/sandbox'):\n"
             "        seen += files\n    return sorted(seen), sorted(os.environ), os.listdir('/tmp')\n")
    tests = ("files, env, tmp = look()\nassert [f for f in files if not f.endswith('.pyc')] == ['sandbox_server.py', "
             "'sandbox_wire.py'], files\n"
             "assert set(env) <= {'HOME', 'PATH', 'PWD', 'LC_CTYPE', 'PYTHONDONTWRITEBYTECODE', 'PYTHONHASHSEED'}\n"
             "assert tmp == [], tmp")
    outcome = run(Program(probe, tests=tests), FAST)
    assert outcome.passed, outcome


@pytest.mark.usefixtures("bubblewrap")
def test_nothing_of_the_tests_reaches_the_solution_not_even_their_names():
    # the solution records every message its server receives; the tests check none holds their own names/values
    spy = ("import sandbox_wire\nSEEN = []\n_receive = sandbox_wire.Channel.receive\n"
           "def receive(self):\n    message = _receive(self)\n    SEEN.append(repr(message))\n    return message\n"
           "sandbox_wire.Channel.receive = receive\n"
           "def add(a, b):\n    return a + b\ndef seen():\n    return '\\n'.join(SEEN)\n")
    tests = (f"import string\nhidden_identifier_{SECRET[-6:]} = {SECRET!r}\nassert add(2, 3) == 5\n"
             f"log = seen()\nassert 'hidden_identifier' not in log and {SECRET!r} not in log, log\n"
             "assert 'ascii_lowercase' not in log and 'string' not in log, log\n"
             "assert \"'globals'\" in log and \"'call'\" in log, log  # the spy saw the requests")
    outcome = run(Program(spy, tests=tests, setup="EXPECTED = [1, 2, 3]"), FAST)
    assert outcome.passed, outcome
