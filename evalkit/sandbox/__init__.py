"""Running untrusted, model-written Python programs: `run(Program(code, tests), limits) -> Outcome`.

Threat model: the model under test has read this source. Three processes per program:

  harness    this module, in evalkit's process: makes the pipes, the control group and the two processes below,
             watches the clocks, drains the solution's stdout/stderr (pipes, capped), reads the verdict, labels.
  solution   a fresh interpreter exec'd inside bubblewrap (evalkit/sandbox/sandbox_server.py): the model's code, and
             answers to the evaluator's questions about it. Its filesystem holds /usr, a read-only folder with
             sandbox_server.py + sandbox_wire.py, and a sized private tmpfs /tmp; nothing of the tests.
  evaluator  a fresh interpreter outside the sandbox (evalkit/sandbox/sandbox_evaluator.py), as another uid when evalkit
             is root: gets the job (code, tests, setup) on stdin from the harness, runs the tests with the real
             builtins, asks the solution for values over two pipes (plain data and handles, JSON), and writes the
             verdict on a descriptor only it and the harness hold.

The tests never exist in the solution's process, memory or filesystem, and nothing the solution writes reaches
the harness except its stdout/stderr (kept as text, capped) and its answers to the evaluator (plain data).

Isolation of the solution, strongest available first:
  bwrap    bubblewrap (Debian package `bubblewrap`): new user/pid/net/ipc/uts/cgroup namespaces and no further
           user namespaces (`--disable-userns`); a read-only root of /usr (+ the /bin, /lib symlinks) and the
           server folder at /sandbox; a tmpfs /tmp of `Limits.tmp_mb`; no network; an environment of PATH, HOME
           and PYTHONHASHSEED only; all capabilities dropped; a seccomp filter (evalkit/sandbox/seccomp.py); as root, an
           unprivileged uid of its own (61000-61063).
  unshare  `unshare --net` (+ a user namespace when not root): no network, the file system visible; said once.
  none     refused unless the caller passes allow_unisolated=True.
Limits: a control group per run (evalkit/sandbox/cgroups.py): memory (with the tmpfs), processes, and one core of CPU
for the whole process tree, whose CPU time the harness reads against `Limits.cpu_s`; rlimits (CPU, address
space, file size, core) inside as a backstop; the harness's wall clock. Where no control group can be made,
per-process rlimits stand in and evalkit says so once.

Labels come from the harness's own observations: `timeout` from its clocks (wall, and the control group's CPU
time), `memory` from the control group's OOM kills (or a MemoryError that ended the tests), `sandbox_error`
from bubblewrap's own status or a failure of the harness/evaluator while judging this one program, `passed`
only from the evaluator's verdict. The interpreter is the system's `/usr/bin/python3` (EVALKIT_SANDBOX_PYTHON).
"""

from __future__ import annotations

import atexit
import json
import marshal
import os
import queue
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from evalkit.errors import UserError
from evalkit.sandbox import cgroups, seccomp

Status = Literal["passed", "failed", "timeout", "memory", "crashed", "sandbox_error"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "timeout", "memory", "crashed", "sandbox_error")
VerdictMode = Literal["verdict", "script"]
SANDBOX_UIDS = range(61000, 61064)  # unprivileged uids for sandboxed runs when evalkit is root: one per run
EVALUATOR_UID = 65534  # the evaluator's uid when evalkit is root (nobody): not the solution's, not root
HERE = Path(__file__).parent
SERVER_FILES = ("sandbox_server.py", "sandbox_wire.py")
EVALUATOR_FILES = ("sandbox_evaluator.py", "sandbox_wire.py")
DETAIL_CHARS = 1000
GRACE_S = 0.5  # after the verdict: how long the solution's process has to flush its output and exit
_free_uids: queue.SimpleQueue[int] = queue.SimpleQueue()
for _uid in SANDBOX_UIDS:
    _free_uids.put(_uid)


@dataclass(frozen=True)
class Limits:
    cpu_s: int = 10  # CPU seconds of the whole program tree
    wall_s: float = 20.0
    memory_mb: int = 1024  # the whole run: every process and the tmpfs (per process where no cgroup can be made)
    processes: int = 64
    file_size_mb: int = 8
    output_chars: int = 8000  # what the outcome keeps of stdout / stderr
    tmp_mb: int = 64  # size of the private /tmp


def evaluator_limits(limits: Limits) -> dict[str, list[int]]:
    """The trusted evaluator runs outside the solution's control group: its own rlimits bound what a hostile
    answer can make it spend (decoding huge or hash-colliding values): address space like the run's (at least
    256 MB for its own interpreter and the tests' data) and CPU a second over the program's."""
    memory = max(256, limits.memory_mb) << 20
    cpu = limits.cpu_s + 1
    return {"RLIMIT_AS": [memory, memory], "RLIMIT_CPU": [cpu, cpu + 1], "RLIMIT_CORE": [0, 0]}


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
    """A solution and the tests that judge it. Without `tests`, `code` is a whole script that passes when it runs
    to its end (verdict_mode 'script': the script is its own judge; no task uses this)."""

    code: str
    tests: str = ""
    prelude: str = ""  # imports both need (MBPP's test_imports): run before the solution and before the tests
    setup: str = ""  # MBPP's test_setup_code: run on the tests' side after the solution is bound, before the tests
    files: Mapping[str, str] = field(default_factory=dict)  # extra read-only files beside the server (/sandbox)


class SandboxUnavailable(UserError, RuntimeError):
    """No isolation is available and the caller did not allow running without it."""


def interpreter() -> str:
    return os.environ.get("EVALKIT_SANDBOX_PYTHON", "/usr/bin/python3")


@lru_cache(maxsize=1)
def _folders() -> tuple[Path, Path]:
    """The server's folder (bound read-only at /sandbox) and the evaluator's, made once per process."""
    made = []
    for files in (SERVER_FILES, EVALUATOR_FILES):
        folder = Path(tempfile.mkdtemp(prefix="evalkit-sandbox-code-"))
        atexit.register(shutil.rmtree, folder, True)
        _fill(folder, files)
        made.append(folder)
    return made[0], made[1]


def _fill(folder: Path, files: Sequence[str]) -> None:
    """Copy the files and byte-compile them with the sandbox's interpreter (started fresh for every program, it
    then reads bytecode instead of compiling a few hundred lines twice per program)."""
    for name in files:
        shutil.copyfile(HERE / name, folder / name)
    subprocess.run([interpreter(), "-s", "-S", "-c", "import py_compile, sys\nfor f in sys.argv[1:]:\n"
                    "    py_compile.compile(f, doraise=True)", *(str(folder / n) for n in files)],
                   capture_output=True, timeout=60, check=False)  # fmt: skip
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def _launch(folder: Path | str, module: str) -> list[str]:
    return [interpreter(), "-s", "-S", "-c", f"import sys; sys.path[0] = {str(folder)!r}; import {module}; "
            f"{module}.entry()"]  # fmt: skip


@lru_cache(maxsize=1)
def isolation() -> str:
    """'bwrap', 'unshare' or 'none': what this machine can do (checked once, by running a no-op)."""
    python = interpreter()
    server, _ = _folders()
    if shutil.which("bwrap") and _probe(_bwrap_prefix(server, Limits(), "0") + [python, "-c", "pass"], True):
        return "bwrap"
    if shutil.which("unshare") and _probe(_unshare_prefix() + [python, "-c", "pass"], False):
        print("evalkit: warning: bubblewrap is not available; model-written code runs under `unshare --net` and "
              "rlimits only (the file system is visible to it)", file=sys.stderr)  # fmt: skip
        return "unshare"
    return "none"


@lru_cache(maxsize=1)
def run_limits() -> str:
    """How memory, processes and CPU are limited: 'cgroup v1' / 'cgroup v2' (+ ' cpu'), or 'rlimits'."""
    found = cgroups.layout()
    if found is None:
        print("evalkit: warning: no control group can be made here; memory, process and CPU limits of sandboxed "
              "programs are per process (rlimits), not for the run as a whole", file=sys.stderr)  # fmt: skip
        return "rlimits"
    return f"cgroup v{found.version}" + (" cpu" if found.cpu is not None else "")


def _probe(command: list[str], drop_root: bool) -> bool:
    try:
        uid = SANDBOX_UIDS[-1] if drop_root and os.geteuid() == 0 else None
        result = subprocess.run(command, capture_output=True, timeout=30, user=uid, group=uid,
                                extra_groups=[] if uid is not None else None, start_new_session=True)  # fmt: skip
        return result.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _bwrap_prefix(folder: Path, limits: Limits, seed: str, seccomp_fd: int | None = None,
                  status_fd: int | None = None, block_fd: int | None = None) -> list[str]:  # fmt: skip
    binds = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib64", "lib32"):
        target = Path("/") / name
        if target.is_symlink():
            binds += ["--symlink", os.readlink(target), f"/{name}"]
        elif target.is_dir():
            binds += ["--ro-bind", f"/{name}", f"/{name}"]
    extra = (["--seccomp", str(seccomp_fd)] if seccomp_fd is not None else []) + (
        ["--json-status-fd", str(status_fd)] if status_fd is not None else []) + (
        ["--block-fd", str(block_fd)] if block_fd is not None else [])
    return [
        "bwrap", *binds,
        "--ro-bind", str(folder), "/sandbox",
        "--size", str(limits.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev",
        "--remount-ro", "/",
        "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
        "--cap-drop", "ALL", *extra,
        "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--setenv", "PYTHONHASHSEED", seed, "--chdir", "/tmp",
    ]  # fmt: skip


def _unshare_prefix() -> list[str]:
    return ["unshare", "--net", "--map-root-user"] if os.geteuid() != 0 else ["unshare", "--net"]


def _rlimits(limits: Limits, whole_run_limits: bool) -> dict[str, tuple[int, int]]:
    """The rlimits the solution's server sets on itself before the solution runs (a backstop under the cgroup)."""
    mb = 1024 * 1024
    cpu = limits.cpu_s + 1 if whole_run_limits else limits.cpu_s  # the cgroup's CPU time decides first
    found = {"RLIMIT_CPU": (cpu, cpu), "RLIMIT_AS": (limits.memory_mb * mb, limits.memory_mb * mb),
             "RLIMIT_FSIZE": (limits.file_size_mb * mb, limits.file_size_mb * mb), "RLIMIT_CORE": (0, 0)}
    if not whole_run_limits:  # no control group: processes are counted per uid instead
        found["RLIMIT_NPROC"] = (limits.processes, limits.processes)
    return found


def run(program: Program | str, limits: Limits = Limits(), allow_unisolated: bool = False) -> Outcome:
    """Run a solution against its tests in the sandbox and classify what happened. Whatever goes wrong while
    judging this program is this program's `sandbox_error` (with the reason), never an exception."""
    program = Program(program) if isinstance(program, str) else program
    kind = isolation()
    if kind == "none" and not allow_unisolated:
        raise SandboxUnavailable(
            "no sandbox available (install bubblewrap: apt-get install bubblewrap); refusing to run model-written "
            "code without isolation unless explicitly allowed (--allow-unisolated / EVALKIT_ALLOW_UNISOLATED=1)"
        )
    mode: VerdictMode = "verdict" if program.tests.strip() else "script"
    try:
        return _run(program, mode, limits, kind)
    except Exception as exc:  # noqa: BLE001 - one program's trouble stays with it
        return Outcome("sandbox_error", _cap(f"the harness failed on this program: {type(exc).__name__}: {exc}"),
                       isolation=kind, verdict_mode=mode)  # fmt: skip


def _cap(text: str, limit: int = DETAIL_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f" [evalkit: cut at {limit} characters]"


def _run(program: Program, mode: VerdictMode, limits: Limits, kind: str) -> Outcome:
    server, _ = _folders()
    if not program.files:
        return _execute(program, mode, limits, kind, server)
    with tempfile.TemporaryDirectory(prefix="evalkit-sandbox-") as tmp:
        folder = Path(tmp)
        _fill(folder, SERVER_FILES)
        for name, content in program.files.items():
            path = folder / name
            if path.resolve().parent != folder.resolve() or name in SERVER_FILES:
                return Outcome("sandbox_error", f"file name {name!r} is not allowed in the sandbox folder",
                               isolation=kind, verdict_mode=mode)  # fmt: skip
            path.write_text(content, encoding="utf-8", errors="surrogateescape")
        for path in [folder, *folder.iterdir()]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        return _execute(program, mode, limits, kind, folder)


_groups: dict[tuple[int, int], queue.SimpleQueue[cgroups.RunGroup]] = {}
_groups_made: list[cgroups.RunGroup] = []


def _take_group(limits: Limits) -> cgroups.RunGroup | None:
    """A control group with these limits, empty: reused from an earlier run (making one costs a dozen writes to
    /sys/fs/cgroup) or made now. Its OOM kills and CPU time are counted from this run's start. A group whose last
    run's processes are not reaped yet (pids.current still counts them) waits in the queue for a later run."""
    if run_limits() == "rlimits":
        return None
    free = _groups.setdefault((limits.memory_mb, limits.processes), queue.SimpleQueue())
    group = None
    for _ in range(free.qsize()):
        try:
            candidate = free.get_nowait()
        except queue.Empty:
            break
        if candidate.is_empty(wait_s=0.0):
            group = candidate
            break
        free.put(candidate)
    if group is None:
        try:
            group = cgroups.RunGroup.create(cgroups.layout(), limits.memory_mb, limits.processes)  # type: ignore[arg-type]
        except OSError:
            return None
        if not _groups_made:
            atexit.register(_remove_groups)
        _groups_made.append(group)
    group.start_run()
    return group


def _give_back(group: cgroups.RunGroup, limits: Limits) -> None:
    """Back in the queue once nothing of its run is left running (reaping may finish later: see _take_group)."""
    group.kill_all()
    if group._pids():  # something survived the kill (it should not): this group is not reused
        _groups_made.remove(group)
        group.remove()
        return
    _groups[(limits.memory_mb, limits.processes)].put(group)


def _remove_groups() -> None:
    for group in _groups_made:
        group.remove()


def _execute(program: Program, mode: VerdictMode, limits: Limits, kind: str, folder: Path) -> Outcome:
    # As root, each run gets its own unprivileged uid, so whatever it left behind can be found and killed.
    uid = _free_uids.get() if kind == "bwrap" and os.geteuid() == 0 else None
    group = _take_group(limits)
    opened: list[int] = []
    processes: list[subprocess.Popen[bytes]] = []
    try:
        return _execute_as(program, mode, limits, kind, folder, uid, group, opened, processes)
    finally:
        for process in processes:
            _kill_group(process)
        for fd in opened:
            try:
                os.close(fd)
            except OSError:
                pass
        if group is not None:
            _give_back(group, limits)
        if uid is not None:
            if group is None:  # a control group already killed everything the run started
                _reap_uid(uid)
            _free_uids.put(uid)


@lru_cache(maxsize=1)
def _setpriv() -> str | None:
    return shutil.which("setpriv")


def _as_user(uid: int | None) -> list[str]:
    """A command prefix that drops to `uid` (util-linux setpriv): Popen's own user= / group= make Python fork the
    whole harness instead of vfork, which costs milliseconds per program in a large process."""
    if uid is None or _setpriv() is None:
        return []
    return [_setpriv(), f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]  # type: ignore[list-item]


def _popen_user(uid: int | None) -> dict:
    if uid is None or _setpriv() is not None:
        return {}
    return {"user": uid, "group": uid, "extra_groups": []}


def _pipe(opened: list[int]) -> tuple[int, int]:
    read, write = os.pipe()
    opened += [read, write]
    return read, write


def _close(fd: int | None, opened: list[int]) -> None:
    if fd is not None and fd in opened:
        opened.remove(fd)
        os.close(fd)


def _execute_as(program: Program, mode: VerdictMode, limits: Limits, kind: str, folder: Path, uid: int | None,
                group: cgroups.RunGroup | None, opened: list[int],
                processes: list[subprocess.Popen[bytes]]) -> Outcome:  # fmt: skip
    to_solution_r, to_solution_w = _pipe(opened)
    to_evaluator_r, to_evaluator_w = _pipe(opened)
    out_r, out_w = _pipe(opened)
    err_r, err_w = _pipe(opened)
    verdict_r, verdict_w = _pipe(opened)
    job_r, job_w = _pipe(opened)
    status_r, status_w = _pipe(opened) if kind == "bwrap" else (None, None)
    # bwrap waits on this before it starts the interpreter, so only its init has to be put in the control group
    block_r, block_w = _pipe(opened) if kind == "bwrap" else (None, None)
    bpf = seccomp.filter_program() if kind == "bwrap" else None
    seccomp_r = None
    if bpf is not None:
        seccomp_r, seccomp_w = _pipe(opened)
        os.write(seccomp_w, bpf)  # a few hundred bytes: fits the pipe's buffer
        _close(seccomp_w, opened)
    seed = str(secrets.randbelow(4294967295))  # one hash seed for both sides: sets iterate alike on both
    server = [*_launch("/sandbox" if kind == "bwrap" else folder, "sandbox_server"), str(to_solution_r),
              str(to_evaluator_w)]  # fmt: skip
    if kind == "bwrap":
        command = _bwrap_prefix(folder, limits, seed, seccomp_r, status_w, block_r) + server
    else:
        command = (_unshare_prefix() if kind == "unshare" else []) + server
    solution_fds = tuple(fd for fd in (to_solution_r, to_evaluator_w, status_w, seccomp_r, block_r) if fd is not None)
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": seed}
    started = time.monotonic()
    solution = subprocess.Popen(
        _as_user(uid) + command, stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w, cwd="/tmp", env=env,
        pass_fds=solution_fds, start_new_session=True, **_popen_user(uid),
    )  # fmt: skip
    processes.append(solution)
    for fd in (*solution_fds, out_w, err_w):
        _close(fd, opened)
    evaluator_uid = EVALUATOR_UID if os.geteuid() == 0 else None
    _, evaluator_folder = _folders()
    evaluator = subprocess.Popen(
        [*_as_user(evaluator_uid), *_launch(evaluator_folder, "sandbox_evaluator"), str(to_solution_w),
         str(to_evaluator_r), str(verdict_w)],
        stdin=job_r, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/", env=env,
        pass_fds=(to_solution_w, to_evaluator_r, verdict_w), start_new_session=True, **_popen_user(evaluator_uid),
    )  # fmt: skip
    processes.append(evaluator)
    for fd in (job_r, to_solution_w, to_evaluator_r, verdict_w):
        _close(fd, opened)
    status_bytes = b""
    if status_r is not None:
        status_bytes = _first_status(status_r)
        if "child-pid" not in _parse_status(status_bytes):
            solution.wait(timeout=10)
            stderr = _drain_now(err_r, limits.output_chars)
            return Outcome("sandbox_error", _cap(stderr.strip() or f"bubblewrap exited with {solution.returncode}"),
                           solution.returncode, isolation=kind, verdict_mode=mode)  # fmt: skip
    if group is not None:  # before the job is sent: the solution's code runs only after it
        inner = _parse_status(status_bytes).get("child-pid")
        if isinstance(inner, int):  # bwrap's init (the outer bwrap only watches it, outside the namespaces)
            group.add(inner)  # what it started before this moment is found below; later children inherit
            group.add(*_descendants(inner))
        else:
            group.add(solution.pid)
    if block_w is not None:
        os.write(block_w, b"g")
        _close(block_w, opened)
    whole_run = group is not None
    job = {"code": program.prelude + "\n" + program.code if program.prelude.strip() else program.code,
           "tests": program.tests, "setup": program.setup, "prelude": program.prelude, "mode": mode,
           "limits": _rlimits(limits, whole_run),
           "evaluator_limits": evaluator_limits(limits)}  # fmt: skip
    data = marshal.dumps(job)  # a lone surrogate in the code is just data (marshal keeps it)
    watch = _Watch(limits, group, started)
    try:
        _write_all(job_w, data, watch)
    except OSError:
        pass  # the evaluator is gone already: no verdict, said below
    _close(job_w, opened)
    out, err, verdict_bytes = watch.collect(out_r, err_r, verdict_r, limits.output_chars, mode == "script")
    verdict = _parse_verdict(verdict_bytes)
    if status_r is not None and not watch.struck and (verdict or {}).get("status") != "passed":
        try:  # the solution's process ended: let bwrap report how (a signal is a crash), briefly
            solution.wait(timeout=min(2.0, max(0.0, watch.deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            pass
    # The verdict is in (or a clock struck): stop everything the run started before reading the rest.
    if group is not None:
        group.kill_all()
    for process in processes:
        _kill_group(process)
    if status_r is not None:
        status_bytes += _drain_now(status_r, 1 << 16).encode("utf-8", "replace")
    facts = RunFacts(
        exit_code=_parse_status(status_bytes).get("exit-code", solution.returncode),
        clock=watch.struck, verdict=verdict,
        oom_kills=group.oom_kills() if group is not None else 0,
        cpu_seconds=group.cpu_seconds() if group is not None else None, isolation=kind, mode=mode,
        cpu_limit=limits.cpu_s,
    )  # fmt: skip
    return classify(facts, out, err, time.monotonic() - started)


class _Watch:
    """The harness's clocks: wall-clock, and the control group's CPU time of the whole tree (checked when it
    could have reached the limit: with one core at most, CPU time never runs ahead of the wall clock)."""

    def __init__(self, limits: Limits, group: cgroups.RunGroup | None, started: float):
        self.limits, self.group, self.started = limits, group, started
        self.deadline = started + limits.wall_s
        self.cpu_check = started + limits.cpu_s if group is not None and group.cpu_dirs or (
            group is not None and group.layout.version == 2 and group.layout.cpu is not None) else None
        self.struck = ""

    def next_timeout(self) -> float | None:
        now = time.monotonic()
        if now >= self.deadline:
            self.struck = "wall-clock limit"
            return None
        if self.cpu_check is not None and now >= self.cpu_check:
            used = self.group.cpu_seconds() if self.group is not None else None
            if used is not None and used >= self.limits.cpu_s:
                self.struck = "CPU limit"
                return None
            self.cpu_check = now + max(0.05, self.limits.cpu_s - (used or 0.0))
        wake = min(self.deadline, self.cpu_check) if self.cpu_check is not None else self.deadline
        return max(0.0, wake - now)

    def collect(self, out_r: int, err_r: int, verdict_r: int, keep_chars: int,
                mode_script: bool = False) -> tuple[str, str, bytes]:  # fmt: skip
        """Drain stdout/stderr (keeping the first bytes, counting the rest) until the evaluator's verdict is
        complete (its end of file) or a clock strikes."""
        keep = keep_chars * 4
        kept = {out_r: bytearray(), err_r: bytearray()}
        total = {out_r: 0, err_r: 0}
        verdict = bytearray()
        open_fds = [out_r, err_r, verdict_r]
        while verdict_r in open_fds:
            timeout = self.next_timeout()
            if timeout is None:
                break
            ready, _, _ = select.select(open_fds, [], [], timeout)
            for fd in ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    open_fds.remove(fd)
                elif fd == verdict_r:
                    if len(verdict) < (1 << 20):
                        verdict += chunk
                else:
                    total[fd] += len(chunk)
                    if len(kept[fd]) < keep:
                        kept[fd] += chunk[: keep - len(kept[fd])]
        # The verdict is in. The solution's server flushed what it printed before each answer: take what is in
        # the pipes now; wait a little (GRACE_S) only for a process that is ending on its own (a script's exit).
        grace = min(time.monotonic() + (GRACE_S if mode_script else 0.0), self.deadline)
        for _ in range(4096):  # at most 256 MB more read (and dropped) from a program still printing
            if (out_r not in open_fds and err_r not in open_fds) or self.struck:
                break
            left = max(0.0, grace - time.monotonic())
            ready, _, _ = select.select([fd for fd in (out_r, err_r) if fd in open_fds], [], [], left)
            if not ready:
                break
            for fd in ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    open_fds.remove(fd)
                    continue
                total[fd] += len(chunk)
                if len(kept[fd]) < keep:
                    kept[fd] += chunk[: keep - len(kept[fd])]
        return (_text(kept[out_r], total[out_r], keep_chars), _text(kept[err_r], total[err_r], keep_chars),
                bytes(verdict))  # fmt: skip


def _write_all(fd: int, data: bytes, watch: _Watch) -> None:
    view = memoryview(data)
    while view:
        timeout = watch.next_timeout()
        if timeout is None:
            return
        _, ready, _ = select.select([], [fd], [], timeout)
        if ready:
            view = view[os.write(fd, view[: 1 << 16]) :]


def _text(kept: bytearray, total: int, limit: int) -> str:
    """What the program printed, cut to `limit` characters with a visible marker."""
    text = bytes(kept).decode("utf-8", "replace")
    if len(text) > limit or total > len(kept):
        return text[:limit] + f"\n[evalkit: output cut at {limit} characters of {total} bytes]"
    return text


def _drain_now(fd: int, limit: int) -> str:
    data = bytearray()
    while len(data) < limit:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            break
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        data += chunk
    return bytes(data[:limit]).decode("utf-8", "replace")


def _processes_of(uid: int) -> list[int]:
    """Live processes running as `uid` (zombies skipped: they run nothing)."""
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
    """What bwrap has written on its status pipe once its first message ({"child-pid": n}) is complete."""
    data = b""
    while b"}" not in data:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data


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


def _parse_verdict(raw: bytes) -> dict | None:
    """The evaluator's verdict (marshal data from evalkit's own evaluator, on a descriptor the solution never had)."""
    try:
        value = marshal.loads(raw) if raw else None
    except (ValueError, EOFError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass(frozen=True)
class RunFacts:
    """What the harness itself observed of a run (never the program's output)."""

    exit_code: int | None  # the solution's server as bwrap reported it (or the process's own status)
    clock: str  # "" or which of the harness's clocks struck
    verdict: dict | None  # the evaluator's verdict
    oom_kills: int
    cpu_seconds: float | None  # CPU time of the whole tree (control group), None where not accounted
    isolation: str
    mode: str
    cpu_limit: float = 0.0


def classify(facts: RunFacts, stdout: str, stderr: str, duration: float) -> Outcome:
    """The outcome from what the harness saw: its clocks, the control group, the evaluator's verdict."""

    def outcome(status: Status, detail: str = "") -> Outcome:
        return Outcome(status, _cap(detail), facts.exit_code, stdout.rstrip(), stderr, round(duration, 4),
                       facts.isolation, facts.mode)  # fmt: skip

    verdict = facts.verdict or {}
    status = verdict.get("status")
    if status == "passed" and not facts.clock:
        return outcome("passed")
    if facts.clock:
        return outcome("timeout", facts.clock)
    if facts.oom_kills:
        return outcome("memory", "memory limit (the run's control group)")
    if facts.cpu_seconds is not None and facts.cpu_limit and facts.cpu_seconds >= facts.cpu_limit * 0.98:
        return outcome("timeout", "CPU limit")
    detail = str(verdict.get("detail", ""))
    if status == "failed":
        if verdict.get("type") == "MemoryError":
            return outcome("memory", f"MemoryError: {detail}")
        return outcome("failed", detail)
    if status == "evaluator_error":
        return outcome("sandbox_error", f"the evaluator failed: {detail}")
    code = facts.exit_code
    if facts.cpu_seconds is None and isinstance(code, int) and code == 128 + signal.SIGXCPU:
        return outcome("timeout", "CPU limit (per-process rlimit)")
    if isinstance(code, int) and code > 128 and code - 128 in (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL,
                                                               signal.SIGFPE, signal.SIGABRT):  # fmt: skip
        return outcome("crashed", f"killed by signal {code - 128}")
    if status == "solution_ended":
        return outcome("failed", f"{detail} (exit code {code})" if detail else f"the solution ended (exit code {code})")
    return outcome("failed", f"no verdict from the evaluator (exit code {code})")


def run_many(programs: Sequence[Program], limits: Limits = Limits(), workers: int | None = None,
             allow_unisolated: bool = False) -> list[Outcome]:  # fmt: skip
    """Run programs in parallel; the result list follows the input order whatever the worker count. Each program
    is judged once: its own trouble becomes its own outcome."""
    workers = max(1, workers or os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: run(p, limits, allow_unisolated), programs))
