"""One program's trouble stays with it: inputs that once raised inside the harness, kills and their labels, limits
for the whole process tree, output that never touches a host file."""

import shutil
import time

import pytest

from evalkit import sandbox
from evalkit.sandbox import Limits, Program, cgroups, run, run_many

FAST = Limits(cpu_s=2, wall_s=6, memory_mb=400, processes=32, file_size_mb=4, output_chars=4000, tmp_mb=32)
TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0"
GOOD = "def add(a, b):\n    return a + b\n"

pytestmark = pytest.mark.usefixtures("bubblewrap")

TROUBLE = {
    "a 1,500-deep failure detail": "def add(a, b):\n    x = []\n    for _ in range(1500):\n        x = [x]\n"
                                   "    raise ValueError(x)\n",
    "a 1,500-deep returned value in the failing assert": "def add(a, b):\n    x = []\n    for _ in range(1500):\n"
                                                         "        x = [x]\n    return x\n",
    "a lone surrogate in a comment": "# \udcff\n" + GOOD.replace("a + b", "a - b"),
    "a line of 3,000 unary ~": "x = " + "~" * 3000 + "1\n" + GOOD,
    "a 300 KB failure detail": "def add(a, b):\n    raise ValueError('x' * 300_000)\n",
    "a 300 KB assertion message": "def add(a, b):\n    assert False, 'y' * 300_000\n",
    "an exception whose str raises": "class E(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n"
                                     "def add(a, b):\n    raise E()\n",
    "a recursion error": "def add(a, b):\n    return add(a, b)\n",
}


@pytest.mark.parametrize("name", list(TROUBLE))
def test_trouble_is_judged_as_this_programs_failure(name):
    outcome = run(Program(TROUBLE[name], tests=TESTS), FAST)
    assert outcome.status == "failed", (name, outcome)
    assert len(outcome.detail) <= 1100


def test_a_batch_with_trouble_judges_every_other_program_once(monkeypatch):
    programs = [Program(GOOD, tests=TESTS), *(Program(code, tests=TESTS) for code in TROUBLE.values()),
                Program(GOOD, tests=TESTS)]
    calls = []
    real = sandbox._run

    def counting(program, mode, limits, kind):
        calls.append(program.code)
        if program.code == TROUBLE["a lone surrogate in a comment"]:
            raise RuntimeError("the harness broke on this one")
        return real(program, mode, limits, kind)

    monkeypatch.setattr(sandbox, "_run", counting)
    outcomes = run_many(programs, FAST, workers=2)
    assert sorted(calls) == sorted(p.code for p in programs)  # each judged exactly once, no re-judging
    assert outcomes[0].passed and outcomes[-1].passed
    broken = outcomes[1 + list(TROUBLE).index("a lone surrogate in a comment")]
    assert broken.status == "sandbox_error" and "the harness broke on this one" in broken.detail


def test_the_lone_surrogate_fails_like_plain_python():
    outcome = run(Program(TROUBLE["a lone surrogate in a comment"], tests=TESTS), FAST)
    assert outcome.status == "failed" and "surrogate" in outcome.detail.lower() or "encode" in outcome.detail.lower()


def test_o_direct_on_the_shared_stdout_changes_nothing():
    code = ("import os, fcntl\nfcntl.fcntl(1, fcntl.F_SETFL, fcntl.fcntl(1, fcntl.F_GETFL) | os.O_DIRECT)\n"
            "fcntl.fcntl(2, fcntl.F_SETFL, fcntl.fcntl(2, fcntl.F_GETFL) | os.O_DIRECT)\n"
            "print('hello', flush=True)\n" + GOOD)
    outcome = run(Program(code, tests=TESTS), FAST)
    assert outcome.passed and "hello" in outcome.stdout, outcome


def test_fallocate_on_stdout_takes_no_host_disk():
    before = shutil.disk_usage("/tmp").free
    code = ("import os\nfor fd in (1, 2):\n    try:\n        os.posix_fallocate(fd, 0, 4 << 30)\n"
            "    except OSError as e:\n        print('refused', e.errno)\n" + GOOD)
    outcome = run(Program(code, tests=TESTS), FAST)
    assert outcome.passed and "refused" in outcome.stdout, outcome
    assert shutil.disk_usage("/tmp").free > before - (512 << 20)


def test_a_program_that_kills_itself_is_a_failure_not_a_cpu_limit():
    outcome = run(Program("import os\nos.kill(os.getpid(), 9)\n" + GOOD, tests=TESTS), FAST)
    assert outcome.status == "failed" and "CPU" not in outcome.detail, outcome


def test_a_program_that_stops_itself_runs_out_of_wall_clock():
    limits = Limits(cpu_s=2, wall_s=3)
    outcome = run(Program("import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\n" + GOOD, tests=TESTS), limits)
    assert outcome.status == "timeout" and outcome.detail == "wall-clock limit", outcome


def test_writing_past_the_private_tmp_is_refused_in_the_sandbox():
    code = "def add(a, b):\n    open('/tmp/big', 'wb').write(b'x' * (64 << 20))\n    return a + b\n"
    outcome = run(Program(code, tests=TESTS), Limits(cpu_s=4, wall_s=10, memory_mb=400, tmp_mb=16, file_size_mb=128))
    assert outcome.status in ("failed", "memory") and not outcome.passed, outcome


@pytest.mark.skipif("cpu" not in sandbox.run_limits(), reason="the cpu controller is not usable here")
def test_sixty_busy_children_take_one_core_and_the_cpu_limit_of_the_tree():
    bomb = ("import os, time\nfor _ in range(60):\n    if os.fork() == 0:\n        os.setsid()\n"
            "        while True:\n            pass\ntime.sleep(30)\n" + GOOD)
    neighbour = ("import time\ndef add(a, b):\n    end = time.process_time() + 1.0\n"
                 "    while time.process_time() < end:\n        pass\n    return a + b\n")
    limits = Limits(cpu_s=3, wall_s=10, memory_mb=400, processes=100)
    started = time.monotonic()
    outcomes = run_many([Program(bomb, tests=TESTS), Program(neighbour, tests="assert add(2, 3) == 5")], limits,
                        workers=2)
    assert outcomes[0].status == "timeout" and outcomes[0].detail == "CPU limit", outcomes[0]
    assert outcomes[1].passed, outcomes[1]
    assert time.monotonic() - started < limits.wall_s + 5


@pytest.mark.skipif(not cgroups.available(), reason="no control group can be made here")
def test_memory_kill_is_labelled_from_the_control_group():
    # three children of 300 MB each under a 400 MB run: the kernel kills one; the answer needed all three
    code = ("import os, time\ndef add(a, b):\n    children = []\n    for _ in range(3):\n        pid = os.fork()\n"
            "        if pid == 0:\n            x = bytearray(300 << 20)\n            time.sleep(2)\n"
            "            os._exit(0)\n"
            "        children.append(pid)\n    ok = all(os.waitpid(p, 0)[1] == 0 for p in children)\n"
            "    return a + b if ok else 0\n")
    outcome = run(Program(code, tests=TESTS), Limits(cpu_s=4, wall_s=15, memory_mb=400, processes=32))
    assert outcome.status == "memory" and "control group" in outcome.detail, outcome


def test_extra_files_are_read_only_beside_the_server():
    code = "def read():\n    return open('/sandbox/data.txt').read()\n"
    outcome = run(Program(code, tests="assert read() == 'x'", files={"data.txt": "x"}), FAST)
    assert outcome.passed, outcome
    refused = run(Program(code, tests="assert read() == 'x'", files={"sandbox_wire.py": "evil"}), FAST)
    assert refused.status == "sandbox_error" and "not allowed" in refused.detail


def test_a_reused_control_group_carries_nothing_over_from_a_fork_bomb():
    bomb = ("import os\ndef add(a, b):\n    while True:\n        try:\n            os.fork()\n"
            "        except OSError:\n            pass\n")
    forking = ("import os\ndef add(a, b):\n    pids = []\n    for _ in range(8):\n        pid = os.fork()\n"
               "        if pid == 0:\n            os._exit(0)\n        pids.append(pid)\n"
               "    for pid in pids:\n        os.waitpid(pid, 0)\n    return a + b\n")
    limits = Limits(cpu_s=2, wall_s=4, memory_mb=400, processes=16)
    assert not run(Program(bomb, tests=TESTS), limits).passed
    outcomes = run_many([Program(forking, tests=TESTS)] * 6, limits, workers=2)
    assert [o.status for o in outcomes] == ["passed"] * 6, [o.detail for o in outcomes]
