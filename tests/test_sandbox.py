"""Adversarial programs: each must be contained, and the harness must carry on."""

import os
import secrets
import time

import pytest

from conftest import ROOT
from evalkit.sandbox import Limits, Program, run, run_many

FAST = Limits(cpu_s=2, wall_s=5, memory_mb=512, processes=32, file_size_mb=4, output_chars=4000)


pytestmark = pytest.mark.usefixtures("bubblewrap")


def test_a_correct_program_passes_and_a_wrong_one_names_its_assert():
    assert run("def add(a, b):\n    return a + b\nassert add(2, 3) == 5", limits=FAST).status == "passed"
    outcome = run("def add(a, b):\n    return a - b\nassert add(2, 3) == 5\nassert add(1, 1) == 2", limits=FAST)
    assert outcome.status == "failed" and outcome.detail == "assert add(2, 3) == 5"


@pytest.mark.parametrize("host", ["1.1.1.1", "127.0.0.1"])
def test_no_network(host):
    code = f"import socket\ns = socket.create_connection(({host!r}, 80), timeout=3)\nprint('CONNECTED')"
    outcome = run(code, limits=FAST)
    assert outcome.status == "failed" and "CONNECTED" not in outcome.stdout
    assert "unreachable" in outcome.detail.lower() or "refused" in outcome.detail.lower()


def test_environment_is_empty(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-planted-secret")
    outcome = run("import os\nprint(dict(os.environ))\nprint(open('/proc/self/environ').read())", limits=FAST)
    assert outcome.status == "passed"
    assert "sk-planted-secret" not in outcome.stdout and "OPENAI_API_KEY" not in outcome.stdout


@pytest.mark.parametrize(
    "target", ["/etc/evalkit-evil", str(ROOT / "evalkit-evil"), os.path.expanduser("~/evalkit-evil")]
)
def test_cannot_write_outside_tmp(target):
    outcome = run(f"open({target!r}, 'w').write('owned')", limits=FAST)
    assert outcome.status == "failed" and not os.path.exists(target)
    assert run("open('/tmp/ok', 'w').write('fine')\nassert open('/tmp/ok').read() == 'fine'", limits=FAST).passed


def test_cannot_delete_repository_files(tmp_path):
    canary = ROOT / "tests" / f".canary-{secrets.token_hex(4)}"
    canary.write_text("keep me")
    try:
        code = (f"import os, shutil\nos.remove({str(canary)!r})\n")
        outcome = run(code, limits=FAST)
        assert outcome.status == "failed" and canary.exists()
        assert run(f"import shutil\nshutil.rmtree({str(ROOT)!r})", limits=FAST).status == "failed"
        assert (ROOT / "README.md").exists()
    finally:
        canary.unlink()


def test_killing_the_parent_does_not_reach_the_harness():
    # Inside the pid namespace the parent is the sandbox's own init, which ignores the signal; the evaluator
    # lives outside the namespace, where the solution cannot name it.
    outcome = run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nassert False, 'after kill'", limits=FAST)
    assert outcome.status == "failed" and "after kill" in outcome.detail
    assert run("assert True", limits=FAST).passed  # the harness is still here


def test_fork_bomb_is_contained_and_cleaned_up():
    started = time.monotonic()
    outcome = run("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", limits=FAST)
    assert outcome.status in ("timeout", "memory") and time.monotonic() - started < 30
    assert run("assert 2 + 2 == 4", limits=FAST).passed


def test_huge_allocation_is_a_memory_outcome():
    outcome = run("x = bytearray(50 * 1024 ** 3)", limits=FAST)
    assert outcome.status == "memory"


def test_infinite_loop_hits_the_cpu_limit():
    outcome = run("while True:\n    pass", limits=Limits(cpu_s=2, wall_s=30))  # CPU first, even on a busy host
    assert outcome.status == "timeout" and outcome.detail == "CPU limit"


def test_sleeping_forever_hits_the_wall_clock_limit():
    outcome = run("import time\ntime.sleep(600)", limits=Limits(cpu_s=2, wall_s=2))
    assert outcome.status == "timeout" and outcome.detail == "wall-clock limit" and outcome.duration_s < 10


def test_printing_a_gigabyte_is_capped():
    code = "import sys\nblock = 'x' * 1_000_000\nfor _ in range(1000):\n    sys.stdout.write(block)"
    outcome = run(code, limits=FAST)  # through a pipe the harness drains: no host file, no disk taken
    assert len(outcome.stdout) <= FAST.output_chars + 100
    assert "[evalkit: output cut at" in outcome.stdout


def test_detached_background_process_does_not_survive():
    tag = f"evalkit-bg-{secrets.token_hex(6)}"
    code = (
        "import subprocess\n"
        f"subprocess.Popen(['/usr/bin/python3', '-c', 'import time; time.sleep(120)', {tag!r}],"
        " start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print('spawned')"
    )
    assert run(code, limits=FAST).passed
    survivors = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if tag.encode() in open(f"/proc/{pid}/cmdline", "rb").read():
                survivors.append(pid)
        except OSError:
            pass
    assert survivors == []


@pytest.mark.parametrize("exit_call", ["import sys\nsys.exit(0)", "import os\nos._exit(0)", "raise SystemExit"])
def test_exiting_before_the_asserts_is_not_a_pass(exit_call):
    outcome = run(f"def f():\n    return 1\n{exit_call}\nassert f() == 2", limits=FAST)
    assert outcome.status == "failed"


def test_segfault_is_a_crash():
    assert run("import ctypes\nctypes.string_at(0)", limits=FAST).status == "crashed"


def test_results_do_not_depend_on_worker_count():
    programs = [Program(f"assert {i} % 3 != 0") for i in range(12)] + [Program("while True: pass")]
    one = [o.status for o in run_many(programs, FAST, workers=1)]
    three = [o.status for o in run_many(programs, FAST, workers=3)]
    assert one == three == ["failed" if i % 3 == 0 else "passed" for i in range(12)] + ["timeout"]
