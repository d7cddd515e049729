"""`make bench`: every benchmark, each printing ratios measured side by side in one run."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["backend_throughput.py", "sandbox_throughput.py", "arena_bootstrap.py", "lc_winrate.py",
              "langid_speed.py", "langid_compare.py", "reader_speed.py", "view_open.py"]

if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        runpy.run_path(str(HERE / name), run_name="__main__")
