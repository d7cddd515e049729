"""Running untrusted, model-written Python programs: `run(code, files, limits) -> Outcome`.

Isolation, strongest available first:
  bwrap    bubblewrap (Debian package `bubblewrap`): new user/pid/net/ipc/uts/cgroup namespaces, only
           /usr (+ the /bin, /lib symlinks) bound read-only, the program's folder read-only at /sandbox, a
           private tmpfs /tmp as the only writable place, no network, an empty environment, all
           capabilities dropped. When evalkit runs as root each run enters the sandbox as its own
           unprivileged uid (61000-61063), so that the process limit (RLIMIT_NPROC, which the kernel does
           not apply to root) holds per run, and everything left running under that uid is killed after.
  unshare  `unshare --net` (+ a user namespace when not root) and the same rlimits: no network, but the
           file system is visible; evalkit says so once per run and records it in the summary.
  none     only rlimits; refused unless the caller passes allow_unisolated=True.
Limits on every kind: CPU seconds (RLIMIT_CPU), address space (RLIMIT_AS), processes (RLIMIT_NPROC), file
size (RLIMIT_FSIZE, which also caps what the program can print), a wall-clock timeout after which the whole
process group (and with bwrap the whole pid namespace) is killed.

A program passes only if it reaches the end: a random marker is printed after the tests, so `sys.exit(0)`
or `os._exit(0)` before the asserts counts as a failure. The interpreter inside is the system's
`/usr/bin/python3` (override with EVALKIT_SANDBOX_PYTHON): benchmarks need only the standard library.
"""

from __future__ import annotations

import os
import queue
import re
import resource
import secrets
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

Status = Literal["passed", "failed", "timeout", "memory", "crashed", "sandbox_error"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "timeout", "memory", "crashed", "sandbox_error")
SANDBOX_UIDS = range(61000, 61064)  # unprivileged uids for sandboxed runs when evalkit is root: one per run
_free_uids: queue.SimpleQueue[int] = queue.SimpleQueue()
for _uid in SANDBOX_UIDS:
    _free_uids.put(_uid)


@dataclass(frozen=True)
class Limits:
    cpu_s: int = 10
    wall_s: float = 20.0
    memory_mb: int = 1024
    processes: int = 64
    file_size_mb: int = 8
    output_chars: int = 8000


@dataclass(frozen=True)
class Outcome:
    status: Status
    detail: str = ""
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    isolation: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class Program:
    code: str
    files: Mapping[str, str] = field(default_factory=dict)


class SandboxUnavailable(RuntimeError):
    """No isolation is available and the caller did not allow running without it."""


def interpreter() -> str:
    return os.environ.get("EVALKIT_SANDBOX_PYTHON", "/usr/bin/python3")


@lru_cache(maxsize=1)
def isolation() -> str:
    """'bwrap', 'unshare' or 'none': what this machine can do (checked once, by running a no-op)."""
    python = interpreter()
    if shutil.which("bwrap") and _probe(_bwrap_prefix(Path(tempfile.gettempdir())) + [python, "-c", "pass"], True):
        return "bwrap"
    if shutil.which("unshare") and _probe(_unshare_prefix() + [python, "-c", "pass"], False):
        print("evalkit: warning: bubblewrap is not available; model-written code runs under `unshare --net` and "
              "rlimits only (the file system is visible to it)", file=sys.stderr)  # fmt: skip
        return "unshare"
    return "none"


def _probe(command: list[str], drop_root: bool) -> bool:
    try:
        uid = SANDBOX_UIDS[-1] if drop_root and os.geteuid() == 0 else None
        result = subprocess.run(command, capture_output=True, timeout=30,
                                preexec_fn=lambda: _limit(Limits(), uid))  # fmt: skip
        return result.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _bwrap_prefix(folder: Path) -> list[str]:
    binds = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib64", "lib32"):
        target = Path("/") / name
        if target.is_symlink():
            binds += ["--symlink", os.readlink(target), f"/{name}"]
        elif target.is_dir():
            binds += ["--ro-bind", f"/{name}", f"/{name}"]
    return [
        "bwrap", *binds,
        "--ro-bind", str(folder), "/sandbox",
        "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev",
        "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--chdir", "/tmp",
    ]  # fmt: skip


def _unshare_prefix() -> list[str]:
    return ["unshare", "--net", "--map-root-user"] if os.geteuid() != 0 else ["unshare", "--net"]


def _limit(limits: Limits, uid: int | None) -> None:
    """Child side, before exec: new session (so the group can be killed), limits, then no root."""
    os.setsid()
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_mb * mb, limits.file_size_mb * mb))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))


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


def _reap_uid(uid: int, deadline_s: float = 10.0) -> None:
    """Kill whatever still runs as `uid` (a background process, a fork bomb being torn down) and wait."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        pids = _processes_of(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.02)


def run(
    code: str,
    files: Mapping[str, str] | None = None,
    limits: Limits = Limits(),
    allow_unisolated: bool = False,
) -> Outcome:
    """Run `code` (a whole Python program: solution + tests) in the sandbox and classify what happened."""
    kind = isolation()
    if kind == "none" and not allow_unisolated:
        raise SandboxUnavailable(
            "no sandbox available (install bubblewrap: apt-get install bubblewrap); refusing to run model-written "
            "code without isolation unless explicitly allowed (--allow-unisolated / EVALKIT_ALLOW_UNISOLATED=1)"
        )
    marker = f"__evalkit_done_{secrets.token_hex(16)}__"
    with tempfile.TemporaryDirectory(prefix="evalkit-sandbox-") as tmp:
        folder = Path(tmp)
        os.chmod(folder, 0o755)
        program = folder / "program.py"
        program.write_text(f"{code}\n\nprint({marker!r}, flush=True)\n", encoding="utf-8")
        for name, content in (files or {}).items():
            path = folder / name
            if path.resolve().parent != folder.resolve():
                return Outcome("sandbox_error", f"file name {name!r} leaves the sandbox folder", isolation=kind)
            path.write_text(content, encoding="utf-8")
        for path in folder.iterdir():
            os.chmod(path, 0o644)
        if kind == "bwrap":
            command = _bwrap_prefix(folder) + [interpreter(), "-I", "/sandbox/program.py"]
            cwd = None
        else:
            prefix = _unshare_prefix() if kind == "unshare" else []
            command = prefix + [interpreter(), "-I", str(program)]
            cwd = str(folder)
        return _execute(command, cwd, limits, marker, kind)


def _execute(command: list[str], cwd: str | None, limits: Limits, marker: str, kind: str) -> Outcome:
    # As root, each run gets its own unprivileged uid: RLIMIT_NPROC then bounds this run alone, and
    # every process it left behind can be found and killed afterwards.
    uid = _free_uids.get() if kind == "bwrap" and os.geteuid() == 0 else None
    try:
        return _execute_as(command, cwd, limits, marker, kind, uid)
    finally:
        if uid is not None:
            _reap_uid(uid)
            _free_uids.put(uid)


def _execute_as(command: list[str], cwd: str | None, limits: Limits, marker: str, kind: str,
                uid: int | None) -> Outcome:  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd, env=env,
                preexec_fn=lambda: _limit(limits, uid),
            )  # fmt: skip
        except OSError as exc:
            return Outcome("sandbox_error", f"cannot start the sandbox: {exc}", isolation=kind)
        timed_out = False
        try:
            process.wait(timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(process)
        duration = time.monotonic() - started
        stdout, stderr = _read(out, limits.output_chars), _read(err, limits.output_chars)
    return classify(process.returncode, stdout, stderr, marker, timed_out, duration, kind)


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


def _read(handle: tempfile._TemporaryFileWrapper[bytes] | object, limit: int) -> str:
    handle.seek(0)  # type: ignore[attr-defined]
    return handle.read(limit * 4).decode("utf-8", "replace")[:limit]  # type: ignore[attr-defined]


_ASSERT_LINE = re.compile(r'^\s*File "[^"]*program\.py", line \d+.*\n\s*(assert .+)$', re.MULTILINE)


def classify(code: int | None, stdout: str, stderr: str, marker: str, timed_out: bool, duration: float,
             kind: str) -> Outcome:  # fmt: skip
    def outcome(status: Status, detail: str = "") -> Outcome:
        shown_stdout = stdout.replace(marker, "").rstrip()
        return Outcome(status, detail, code, shown_stdout, stderr, round(duration, 4), kind)

    if timed_out:
        return outcome("timeout", "wall-clock limit")
    if code == 0 and marker in stdout:
        return outcome("passed")
    if kind == "bwrap" and code == 1 and stderr.startswith("bwrap:"):
        return outcome("sandbox_error", stderr.strip()[:300])
    # RLIMIT_CPU sends SIGXCPU at the soft limit and SIGKILL at the hard one (bwrap reports 128 + signal).
    if code in (-signal.SIGXCPU, 128 + signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGKILL):
        return outcome("timeout", "CPU limit")
    if "MemoryError" in stderr:
        return outcome("memory", "memory limit")
    if "AssertionError" in stderr:
        match = _ASSERT_LINE.search(stderr)
        return outcome("failed", match.group(1).strip() if match else "assertion failed")
    if code == 0:
        return outcome("failed", "the program exited before its tests finished")
    if code is not None and (code < 0 or code > 128):
        return outcome("crashed", f"killed by signal {-code if code < 0 else code - 128}")
    last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit code {code}"
    return outcome("failed", last[:300])


def run_many(programs: Sequence[Program], limits: Limits = Limits(), workers: int | None = None,
             allow_unisolated: bool = False) -> list[Outcome]:  # fmt: skip
    """Run programs in parallel; the result list follows the input order whatever the worker count."""
    workers = max(1, workers or os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: run(p.code, p.files, limits, allow_unisolated), programs))
