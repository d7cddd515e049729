"""Sandbox throughput: 500 short passing programs on this machine, full isolation vs none, side by side.

Isolated: evalkit.sandbox.run_many (bubblewrap with seccomp, a control group per run, the verdict decided
outside the solution's interpreter) with one worker per core.
Unisolated: the same solutions and asserts run by the same interpreter as plain subprocesses, same worker count.
Target: >= 20 programs/s isolated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from evalkit import sandbox

N_PROGRAMS = 500


def programs() -> list[sandbox.Program]:
    return [sandbox.Program(f"def f(x):\n    return x * {i}", tests=f"assert f(2) == {2 * i}")
            for i in range(N_PROGRAMS)]


def plain(program: sandbox.Program, folder: Path, index: int) -> bool:
    path = folder / f"p{index}.py"
    path.write_text(f"{program.code}\n{program.tests}\n", encoding="utf-8")
    return subprocess.run([sandbox.interpreter(), "-I", str(path)], capture_output=True, timeout=30).returncode == 0


def main() -> dict[str, float | int | str]:
    codes = programs()
    workers = os.cpu_count() or 1
    sandbox.isolation()  # probe once, outside the timing
    sandbox.run_limits()
    started = time.perf_counter()
    outcomes = sandbox.run_many(codes, workers=workers)
    isolated = time.perf_counter() - started
    assert all(o.passed for o in outcomes), "every benchmark program must pass"
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(workers) as pool:
        started = time.perf_counter()
        results = list(pool.map(lambda pair: plain(pair[1], Path(tmp), pair[0]), enumerate(codes)))
        unisolated = time.perf_counter() - started
    assert all(results)
    return {
        "programs": N_PROGRAMS, "workers": workers, "isolation": sandbox.isolation(), "limits": sandbox.run_limits(),
        "verdict_mode": sorted({o.verdict_mode for o in outcomes}),
        "isolated_s": round(isolated, 2), "unisolated_s": round(unisolated, 2),
        "isolated_per_s": round(N_PROGRAMS / isolated, 1), "unisolated_per_s": round(N_PROGRAMS / unisolated, 1),
        "overhead_ratio": round(isolated / unisolated, 2),
    }  # fmt: skip


if __name__ == "__main__":
    figures = main()
    print(json.dumps(figures, indent=2))
    print(f"sandbox throughput: {figures['isolated_per_s']} programs/s with {figures['isolation']} (target >= 20); "
          f"isolated / unisolated wall time: {figures['overhead_ratio']}")  # fmt: skip
    sys.exit(0)
