"""Running untrusted, model-written Python programs: `run(program, limits) -> Outcome`.

Verdicts are decided outside the model's interpreter (evalkit/sandbox_runner.py): inside the sandbox a
trusted evaluator forks; the child runs the solution and answers calls to its functions with plain data
only (a strict serialiser, by exact type); the parent runs the tests against those answers and writes the
verdict on a pipe the harness opened and the child closed. The expected values never enter the solution's
process, so printing a marker, tracing over the asserts, or an object whose `__eq__` is always True cannot
pass. Tests that pass functions or the solution's own classes to it run in the child after the solution
(`in-process`; counted apart as `extra.verdict_mode`), still with no marker the program could print.

Isolation, strongest available first:
  bwrap    bubblewrap (Debian package `bubblewrap`): new user/pid/net/ipc/uts/cgroup namespaces and no
           further user namespaces (`--disable-userns`); a read-only root holding only /usr (+ the /bin,
           /lib symlinks) and the program's folder (read-only, /sandbox); a private tmpfs /tmp of
           `Limits.tmp_mb` as the only writable place; no network; an empty environment; all capabilities
           dropped; a seccomp filter refusing io_uring, bpf, ptrace and the like (evalkit/seccomp.py). As
           root, each run also gets its own unprivileged uid (61000-61063).
  unshare  `unshare --net` (+ a user namespace when not root): no network, but the file system is visible;
           evalkit says so once per run and records it in the summary.
  none     refused unless the caller passes allow_unisolated=True.
Limits: a control group per run (evalkit/cgroups.py) holds memory (including the tmpfs) and the number of
processes for the program and everything it starts; where control groups cannot be made, per-process
rlimits stand in and evalkit says so once. Also CPU seconds (RLIMIT_CPU), file size (RLIMIT_FSIZE, which
caps what the program can print), and a wall-clock timeout after which every process of the run is killed.

Outcome labels the program cannot choose: `passed` only from the evaluator's verdict; `sandbox_error` only
from bwrap's own status (`--json-status-fd`), never from what the program prints; `memory` from the control
group's OOM kills or a MemoryError; the output is capped after the verdict, with a visible marker. The
interpreter inside is the system's `/usr/bin/python3` (override with EVALKIT_SANDBOX_PYTHON).
"""

from __future__ import annotations

import ast
import json
import marshal
import os
import queue
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from evalkit import cgroups, seccomp
from evalkit.errors import UserError

Status = Literal["passed", "failed", "timeout", "memory", "crashed", "sandbox_error"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "timeout", "memory", "crashed", "sandbox_error")
VerdictMode = Literal["verdict", "in-process"]
SANDBOX_UIDS = range(61000, 61064)  # unprivileged uids for sandboxed runs when evalkit is root: one per run
RUNNER = Path(__file__).with_name("sandbox_runner.py")
_free_uids: queue.SimpleQueue[int] = queue.SimpleQueue()
for _uid in SANDBOX_UIDS:
    _free_uids.put(_uid)


@dataclass(frozen=True)
class Limits:
    cpu_s: int = 10
    wall_s: float = 20.0
    memory_mb: int = 1024  # the whole run: every process and the tmpfs (per process where no cgroup can be made)
    processes: int = 64
    file_size_mb: int = 8
    output_chars: int = 8000  # what the outcome keeps of stdout / stderr (after the verdict is read)
    tmp_mb: int = 64  # size of the private /tmp


@dataclass(frozen=True)
class Outcome:
    status: Status
    detail: str = ""
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    isolation: str = ""
    verdict_mode: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class Program:
    """A solution and the tests that judge it. Without `tests`, `code` is a whole script that passes when it
    runs to its end (in the solution's own process)."""

    code: str
    tests: str = ""
    prelude: str = ""  # imports the tests need (run before the solution and before the tests)
    files: Mapping[str, str] = field(default_factory=dict)


class SandboxUnavailable(UserError, RuntimeError):
    """No isolation is available and the caller did not allow running without it."""


def interpreter() -> str:
    return os.environ.get("EVALKIT_SANDBOX_PYTHON", "/usr/bin/python3")


@lru_cache(maxsize=1)
def isolation() -> str:
    """'bwrap', 'unshare' or 'none': what this machine can do (checked once, by running a no-op)."""
    python = interpreter()
    with tempfile.TemporaryDirectory(prefix="evalkit-probe-") as folder:
        if shutil.which("bwrap") and _probe(_bwrap_prefix(Path(folder), Limits()) + [python, "-c", "pass"], True):
            return "bwrap"
    if shutil.which("unshare") and _probe(_unshare_prefix() + [python, "-c", "pass"], False):
        print("evalkit: warning: bubblewrap is not available; model-written code runs under `unshare --net` and "
              "rlimits only (the file system is visible to it)", file=sys.stderr)  # fmt: skip
        return "unshare"
    return "none"


@lru_cache(maxsize=1)
def run_limits() -> str:
    """How memory and processes are limited: 'cgroup v1' / 'cgroup v2', or 'rlimits' (said once)."""
    found = cgroups.layout()
    if found is None:
        print("evalkit: warning: no control group can be made here; memory and process limits of sandboxed "
              "programs are per process (rlimits), not for the run as a whole", file=sys.stderr)  # fmt: skip
        return "rlimits"
    return f"cgroup v{found.version}"


def _probe(command: list[str], drop_root: bool) -> bool:
    try:
        uid = SANDBOX_UIDS[-1] if drop_root and os.geteuid() == 0 else None
        result = subprocess.run(command, capture_output=True, timeout=30,
                                preexec_fn=lambda: _limit(Limits(), uid))  # fmt: skip
        return result.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _bwrap_prefix(folder: Path, limits: Limits, seccomp_fd: int | None = None,
                  status_fd: int | None = None) -> list[str]:  # fmt: skip
    binds = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib64", "lib32"):
        target = Path("/") / name
        if target.is_symlink():
            binds += ["--symlink", os.readlink(target), f"/{name}"]
        elif target.is_dir():
            binds += ["--ro-bind", f"/{name}", f"/{name}"]
    extra = (["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else []) + (
        ["--json-status-fd", str(status_fd)] if status_fd is not None else [])
    return [
        "bwrap", *binds,
        "--ro-bind", str(folder), "/sandbox",
        "--size", str(limits.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev",
        "--remount-ro", "/",
        "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
        "--cap-drop", "ALL", *extra,
        "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--chdir", "/tmp",
    ]  # fmt: skip


def _unshare_prefix() -> list[str]:
    return ["unshare", "--net", "--map-root-user"] if os.geteuid() != 0 else ["unshare", "--net"]


def _limit(limits: Limits, uid: int | None) -> None:
    """Child side of the isolation probe, before exec: new session, the run's rlimits, then no root."""
    os.setsid()
    rlimits = _rlimits(limits, whole_run_limits=False)
    processes = rlimits.pop("RLIMIT_NPROC")
    for name, value in rlimits.items():
        resource.setrlimit(getattr(resource, name), value)
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    resource.setrlimit(resource.RLIMIT_NPROC, processes)


def _processes_of(uid: int) -> list[int]:
    """Live processes running as `uid`. Zombies are skipped: they run nothing and the system's init reaps
    them (the rotation over 64 uids leaves it time before a uid is reused)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1").split()[0]) == uid and not fields.get("State", "").strip().startswith("Z"):
            pids.append(int(entry))
    return pids


def _reap_uid(uid: int) -> None:
    """Kill whatever still runs as `uid` (a background process, a fork bomb being torn down) and wait."""
    cgroups.kill_until_gone(lambda: _processes_of(uid))


def plan(program: Program) -> tuple[VerdictMode, list[str]]:
    """How the tests are run: in the evaluator against the solution's answers ('verdict', with the tests'
    top-level statements), or after the solution in its own process ('in-process'): tests that pass a
    lambda or one of the solution's classes across cannot be judged from outside."""
    if not program.tests.strip():
        return "in-process", []
    try:
        tree = ast.parse(program.tests)
    except SyntaxError:
        return "in-process", []
    try:
        classes = {n.name for n in ast.parse(program.code).body if isinstance(n, ast.ClassDef)}
    except SyntaxError:
        classes = set()  # the solution does not compile: the child reports it
    for node in ast.walk(tree):
        if isinstance(node, ast.Lambda) or (isinstance(node, ast.Name) and node.id in classes):
            return "in-process", []
    statements = [ast.get_source_segment(program.tests, node) or "" for node in tree.body]
    return "verdict", [s for s in statements if s.strip()]


def run(program: Program | str, limits: Limits = Limits(), allow_unisolated: bool = False) -> Outcome:
    """Run a solution against its tests in the sandbox and classify what happened."""
    program = Program(program) if isinstance(program, str) else program
    kind = isolation()
    if kind == "none" and not allow_unisolated:
        raise SandboxUnavailable(
            "no sandbox available (install bubblewrap: apt-get install bubblewrap); refusing to run model-written "
            "code without isolation unless explicitly allowed (--allow-unisolated / EVALKIT_ALLOW_UNISOLATED=1)"
        )
    mode, statements = plan(program)
    outcome = _run_mode(program, mode, statements, limits, kind)
    if outcome.detail == "needs in-process":  # a test passed a function or an object across: run it inside
        outcome = _run_mode(program, "in-process", [], limits, kind)
    return outcome


def _rlimits(limits: Limits, whole_run_limits: bool) -> dict[str, tuple[int, int]]:
    """The rlimits the evaluator sets on itself (and so on the solution) before the solution starts."""
    mb = 1024 * 1024
    found = {"RLIMIT_CPU": (limits.cpu_s, limits.cpu_s + 1),
             "RLIMIT_AS": (limits.memory_mb * mb, limits.memory_mb * mb),
             "RLIMIT_FSIZE": (limits.file_size_mb * mb, limits.file_size_mb * mb), "RLIMIT_CORE": (0, 0)}
    if not whole_run_limits:  # no control group: processes are counted per uid instead
        found["RLIMIT_NPROC"] = (limits.processes, limits.processes)
    return found


def _run_mode(program: Program, mode: VerdictMode, statements: list[str], limits: Limits, kind: str) -> Outcome:
    spec = {"mode": mode, "prelude": program.prelude, "code": program.code, "tests": program.tests,
            "statements": statements, "limits": _rlimits(limits, run_limits() != "rlimits")}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="evalkit-sandbox-") as tmp:
        folder = Path(tmp)
        os.chmod(folder, 0o755)
        for name, content in program.files.items():
            path = folder / name
            if path.resolve().parent != folder.resolve() or name in ("runner.py", "spec.marshal", "seccomp.bpf"):
                return Outcome("sandbox_error", f"file name {name!r} is not allowed in the sandbox folder",
                               isolation=kind, verdict_mode=mode)  # fmt: skip
            path.write_text(content, encoding="utf-8")
        shutil.copyfile(RUNNER, folder / "runner.py")
        (folder / "spec.marshal").write_bytes(marshal.dumps(spec))
        bpf = seccomp.filter_program() if kind == "bwrap" else None
        if bpf is not None:
            (folder / "seccomp.bpf").write_bytes(bpf)
        for path in folder.iterdir():
            os.chmod(path, 0o644)
        inside = Path("/sandbox") if kind == "bwrap" else folder
        return _execute(folder, inside, limits, kind, mode, bpf is not None)


def _execute(folder: Path, inside: Path, limits: Limits, kind: str, mode: str, filtered: bool) -> Outcome:
    # As root, each run gets its own unprivileged uid, so whatever it left behind can be found and killed.
    uid = _free_uids.get() if kind == "bwrap" and os.geteuid() == 0 else None
    group = None
    if run_limits() != "rlimits":
        try:
            group = cgroups.RunGroup.create(cgroups.layout(), limits.memory_mb, limits.processes)  # type: ignore[arg-type]
        except OSError:
            group = None
    try:
        return _execute_as(folder, inside, limits, kind, mode, filtered, uid, group)
    finally:
        if group is not None:
            group.remove()
        if uid is not None:
            if group is None:  # a control group already killed everything the run started
                _reap_uid(uid)
            _free_uids.put(uid)


def _execute_as(folder: Path, inside: Path, limits: Limits, kind: str, mode: str, filtered: bool, uid: int | None,
                group: cgroups.RunGroup | None) -> Outcome:  # fmt: skip
    verdict_read, verdict_write = os.pipe()
    go_read, go_write = os.pipe()
    status_read, status_write = os.pipe() if kind == "bwrap" else (None, None)
    seccomp_fd = os.open(folder / "seccomp.bpf", os.O_RDONLY) if filtered else None
    runner = [interpreter(), "-I", "-S", str(inside / "runner.py"), str(inside / "spec.marshal"),
              str(verdict_write), str(go_read)]  # fmt: skip
    if kind == "bwrap":
        command = _bwrap_prefix(folder, limits, seccomp_fd, status_write) + runner
    else:
        command = (_unshare_prefix() if kind == "unshare" else []) + runner
    passed_fds = tuple(fd for fd in (verdict_write, go_read, status_write, seccomp_fd) if fd is not None)
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:  # no preexec_fn: the harness is not forked with Python code to run, so starting is cheap
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=str(folder), env=env,
                pass_fds=passed_fds, start_new_session=True, user=uid, group=uid,
                extra_groups=[] if uid is not None else None,
            )  # fmt: skip
        except OSError as exc:
            for fd in (verdict_read, go_write, *passed_fds, status_read):
                if fd is not None:
                    os.close(fd)
            return Outcome("sandbox_error", f"cannot start the sandbox: {exc}", isolation=kind, verdict_mode=mode)
        for fd in passed_fds:
            os.close(fd)
        clock = threading.Event()  # set by the timer when the wall-clock limit strikes
        timer = threading.Timer(limits.wall_s, lambda: (clock.set(), _signal_group(process)))
        timer.start()
        status_bytes = b""
        try:
            if status_read is not None:
                status_bytes = _first_status(status_read)
            status = _parse_status(status_bytes)
            if group is not None:  # the evaluator waits for this before it starts the solution
                group.add(process.pid)
                inner = status.get("child-pid")
                if isinstance(inner, int):
                    group.add(inner)  # bwrap's init; what it started before this moment is found below
                    group.add(*_descendants(inner))
            os.write(go_write, b"g")
        except OSError:
            _signal_group(process)  # not in its control group: it must not start the solution
        finally:
            os.close(go_write)
        try:
            process.wait()  # blocking, no polling: the timer ends it at the limit
        finally:
            timer.cancel()
            _kill_group(process)
            if group is not None:
                group.kill_all()
        timed_out = clock.is_set()
        duration = time.monotonic() - started
        verdict = _read_verdict(verdict_read)
        if status_read is not None:
            with os.fdopen(status_read, "rb") as handle:
                status_bytes += handle.read(1 << 16)
        status = _parse_status(status_bytes)
        oom = group.oom_kills() if group is not None else 0
        stdout, stderr = _read(out, limits.output_chars), _read(err, limits.output_chars)
    facts = RunFacts(process.returncode, timed_out, verdict, status, oom, kind, mode)
    return classify(facts, stdout, stderr, duration)


def _descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc/<pid>/task/<tid>/children."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as handle:
                    children = [int(c) for c in handle.read().split()]
            except OSError:
                continue
            found += children
            stack += children
    return found


def _first_status(fd: int) -> bytes:
    """What bwrap has written on its status pipe once its first message ({"child-pid": n}: the sandbox has
    started) is complete; whatever else came with it is kept for `_parse_status`."""
    data = b""
    while b"}" not in data:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data


@dataclass(frozen=True)
class RunFacts:
    """What the harness itself observed of a run (never the program's output)."""

    exit_code: int | None
    timed_out: bool
    verdict: dict | None  # the evaluator's verdict, from the pipe the program cannot write to
    status: dict  # bubblewrap's --json-status-fd messages, merged
    oom_kills: int
    isolation: str
    mode: str


def _read_verdict(fd: int) -> dict | None:
    """The evaluator's verdict (marshal data written by evalkit's own runner, which the program cannot reach)."""
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(1 << 20)
    try:
        value = marshal.loads(data) if data else None
    except (ValueError, EOFError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def _parse_status(raw: bytes) -> dict:
    """bwrap's status messages ({"child-pid": n} then {"exit-code": n}), merged into one dict."""
    data = raw.decode("utf-8", "replace")
    merged: dict = {}
    decoder = json.JSONDecoder()
    position = 0
    while position < len(data):
        while position < len(data) and data[position].isspace():
            position += 1
        if position >= len(data):
            break
        try:
            value, position = decoder.raw_decode(data, position)
        except json.JSONDecodeError:
            break
        if isinstance(value, dict):
            merged.update(value)
    return merged


def _signal_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    _signal_group(process)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _read(handle: tempfile._TemporaryFileWrapper[bytes] | object, limit: int) -> str:
    """What the program printed, cut to `limit` characters with a visible marker (the verdict is already in)."""
    handle.seek(0, os.SEEK_END)  # type: ignore[attr-defined]
    size = handle.tell()  # type: ignore[attr-defined]
    handle.seek(0)  # type: ignore[attr-defined]
    text = handle.read(limit * 4).decode("utf-8", "replace")  # type: ignore[attr-defined]
    if len(text) > limit or size > limit * 4:
        return text[:limit] + f"\n[evalkit: output cut at {limit} characters of {size} bytes]"
    return text


def classify(facts: RunFacts, stdout: str, stderr: str, duration: float) -> Outcome:
    """The outcome from what the harness saw: the verdict, bwrap's status, the control group, the clock."""

    def outcome(status: Status, detail: str = "") -> Outcome:
        return Outcome(status, detail, facts.exit_code, stdout.rstrip(), stderr, round(duration, 4), facts.isolation,
                       facts.mode)  # fmt: skip

    verdict = facts.verdict
    if facts.timed_out:
        return outcome("timeout", "wall-clock limit")
    if facts.oom_kills:
        return outcome("memory", "memory limit (the run's control group)")
    if facts.isolation == "bwrap" and "child-pid" not in facts.status:
        return outcome("sandbox_error", (stderr.strip() or f"bubblewrap exited with {facts.exit_code}")[:300])
    if verdict is not None:
        status = verdict.get("status")
        detail = str(verdict.get("detail", ""))
        if status == "passed":
            return outcome("passed")
        if status == "needs_in_process":
            return outcome("failed", "needs in-process")
        if status in ("memory", "timeout", "crashed"):
            return outcome(status, detail)
        return outcome("failed", detail)
    # No verdict: the evaluator (idle while the solution works, so never the one over its CPU limit) was
    # stopped by the program. Whatever the exit code says, it is no pass.
    return outcome("failed", f"no verdict: the evaluator was stopped (exit code {facts.exit_code})")


def run_many(programs: Sequence[Program], limits: Limits = Limits(), workers: int | None = None,
             allow_unisolated: bool = False) -> list[Outcome]:  # fmt: skip
    """Run programs in parallel; the result list follows the input order whatever the worker count."""
    workers = max(1, workers or os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: run(p, limits, allow_unisolated), programs))
