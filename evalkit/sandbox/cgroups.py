"""Memory and process limits for a sandboxed program and everything it starts: one control group per run.

RLIMIT_AS holds per process, so three forks of 800 MB each take 2.4 GB under a "1 GB" limit, and a tmpfs the
program fills is memory no rlimit sees. A control group counts all of it — every process of the run and the
pages of its tmpfs — against one `memory` limit, and one `pids` limit for the run as a whole. cgroup v2
(`memory.max`, `pids.max`, `memory.swap.max`) is used where its controllers are enabled, else cgroup v1's
memory and pids hierarchies (`memory.limit_in_bytes` + `memory.memsw.limit_in_bytes`, `pids.max`). CPU: where the
cpu controller can be used, the run gets one core at most (v2 `cpu.max`, v1 `cpu.cfs_quota_us`), so a program
that starts 60 busy children takes one core, not the machine; `cpu_seconds()` reads what the whole tree used
(v2 `cpu.stat` usage_usec, v1 `cpuacct.usage`), which the harness compares with the CPU limit. Where
neither can be written (not root, no controllers), `available()` is False and the sandbox falls back to
rlimits and says so once.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_PREFIX = "evalkit-sandbox"


@dataclass(frozen=True)
class Layout:
    version: int
    memory: Path  # the folder run groups are made in, for the memory controller
    pids: Path  # and for the pids controller (the same folder on v2)
    cpu: Path | None = None  # and for the cpu controller (quota), None where it cannot be used
    cpuacct: Path | None = None  # and for CPU time accounting (v1 `cpuacct`; the cpu folder on v2)


@lru_cache(maxsize=1)
def layout() -> Layout | None:
    """Where this machine lets evalkit make control groups (checked once, by making and removing one)."""
    candidates: list[Layout] = []
    unified = ROOT / "cgroup.controllers"
    if unified.is_file() and {"memory", "pids"} <= set(unified.read_text().split()):
        has_cpu = "cpu" in unified.read_text().split()
        candidates.append(Layout(2, ROOT, ROOT, ROOT if has_cpu else None, ROOT if has_cpu else None))
        candidates.append(Layout(2, ROOT, ROOT))
    if (ROOT / "memory" / "memory.limit_in_bytes").is_file() and (ROOT / "pids").is_dir():
        cpu = next((ROOT / n for n in ("cpu", "cpu,cpuacct") if (ROOT / n / "cpu.cfs_quota_us").is_file()), None)
        acct = next((ROOT / n for n in ("cpuacct", "cpu,cpuacct") if (ROOT / n / "cpuacct.usage").is_file()), None)
        if cpu is not None and acct is not None:
            candidates.append(Layout(1, ROOT / "memory", ROOT / "pids", cpu, acct))
        candidates.append(Layout(1, ROOT / "memory", ROOT / "pids"))
    for candidate in candidates:
        try:
            group = RunGroup.create(candidate, memory_mb=64, processes=8)
            group.remove()
            return candidate
        except OSError:
            continue
    return None


def available() -> bool:
    return layout() is not None


@dataclass
class RunGroup:
    """One run's control group(s): limits, the processes to put in, the OOM kills counted, removal."""

    layout: Layout
    memory_dir: Path
    pids_dir: Path
    cpu_dirs: tuple[Path, ...] = ()  # v1: the cpu and cpuacct groups (when separate hierarchies)
    oom_base: int = 0  # counters when the current run started (a group is reused run after run)
    cpu_base: float = 0.0

    @classmethod
    def create(cls, where: Layout, memory_mb: int, processes: int) -> RunGroup:
        name = f"{_PREFIX}-{os.getpid()}-{secrets.token_hex(4)}"
        memory_dir, pids_dir = where.memory / name, where.pids / name
        memory_dir.mkdir()
        if pids_dir != memory_dir:
            pids_dir.mkdir()
        group = cls(where, memory_dir, pids_dir)
        limit = str(memory_mb * 1024 * 1024)
        if where.version == 2:
            (memory_dir / "memory.max").write_text(limit)
            _try_write(memory_dir / "memory.swap.max", "0")
            (memory_dir / "pids.max").write_text(str(processes))
            if where.cpu is not None:
                (memory_dir / "cpu.max").write_text("100000 100000")  # one core at most
        else:
            if where.cpu is not None and where.cpuacct is not None:
                folders = tuple(dict.fromkeys([where.cpu / name, where.cpuacct / name]))
                for folder in folders:
                    if folder not in (memory_dir, pids_dir):
                        folder.mkdir()
                group.cpu_dirs = folders
                (where.cpu / name / "cpu.cfs_period_us").write_text("100000")
                (where.cpu / name / "cpu.cfs_quota_us").write_text("100000")  # one core at most
            (memory_dir / "memory.limit_in_bytes").write_text(limit)
            _try_write(memory_dir / "memory.memsw.limit_in_bytes", limit)
            (pids_dir / "pids.max").write_text(str(processes))
        return group

    def add(self, *pids: int) -> None:
        """Put processes in the group (before they start the processes that must be limited)."""
        for pid in pids:
            for folder in self._folders():
                (folder / "cgroup.procs").write_text(str(pid))

    def _folders(self) -> list[Path]:
        return list(dict.fromkeys([self.memory_dir, self.pids_dir, *self.cpu_dirs]))

    def cpu_seconds(self) -> float | None:
        """CPU time used by every process of the current run so far (None where it is not accounted)."""
        total = self._cpu_total()
        return None if total is None else total - self.cpu_base

    def _cpu_total(self) -> float | None:
        try:
            if self.layout.version == 2 and self.layout.cpu is not None:
                for line in (self.memory_dir / "cpu.stat").read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "usage_usec":
                        return int(value) / 1e6
            elif self.layout.cpuacct is not None and self.cpu_dirs:
                return int((self.layout.cpuacct / self.memory_dir.name / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            pass
        return None

    def start_run(self) -> None:
        """Mark the start of a run: OOM kills and CPU time are counted from here (the group is empty)."""
        self.oom_base = self._oom_total()
        self.cpu_base = self._cpu_total() or 0.0

    def is_empty(self, wait_s: float = 0.05) -> bool:
        """No process left, and none still counted (pids.current counts a killed process until it is reaped, and a
        group reused before that would refuse the next run's forks)."""
        end = time.monotonic() + wait_s
        while True:
            try:
                counted = int((self.pids_dir / "pids.current").read_text())
            except (OSError, ValueError):
                counted = 0
            if counted == 0 and not self._pids():
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.002)

    def oom_kills(self) -> int:
        """How many processes of the current run the kernel killed for memory."""
        return self._oom_total() - self.oom_base

    def _oom_total(self) -> int:
        name = "memory.events" if self.layout.version == 2 else "memory.oom_control"
        try:
            for line in (self.memory_dir / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except OSError:
            pass
        return 0

    def kill_all(self) -> None:
        """SIGKILL every process still in the group (a fork bomb, a detached child)."""
        if self.layout.version == 2 and (self.memory_dir / "cgroup.kill").exists():
            _try_write(self.memory_dir / "cgroup.kill", "1")
        kill_until_gone(self._pids)

    def remove(self) -> None:
        self.kill_all()
        for folder in self._folders():
            for attempt in range(1000):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # the last processes are still leaving the group
                    time.sleep(0.0005 if attempt < 100 else 0.01)

    def _pids(self) -> list[int]:
        pids: set[int] = set()
        for folder in self._folders():
            try:
                pids |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return sorted(pids)


def kill_until_gone(pids_of: Callable[[], list[int]], deadline_s: float = 10.0) -> None:
    """SIGKILL the processes `pids_of` lists until it lists none (polling fast at first) or the deadline."""
    end = time.monotonic() + deadline_s
    attempt = 0
    while time.monotonic() < end:
        pids = pids_of()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.0005 if attempt < 100 else 0.01)
        attempt += 1


def _try_write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError:
        pass  # an optional knob (swap accounting) this kernel does not have
