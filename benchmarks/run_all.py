"""Run every benchmark script in turn (`make bench`); each writes its RESULTS.md section.

Usage:
    .venv/bin/python benchmarks/run_all.py [--quick]
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

SCRIPTS = ["pruning", "distillation", "export", "bench_overhead", "end_to_end", "slm"]


def main() -> int:
    here = pathlib.Path(__file__).resolve().parent
    failed = []
    for name in SCRIPTS:
        print(f"=== benchmarks/{name}.py", flush=True)
        code = subprocess.call([sys.executable, str(here / f"{name}.py"), *sys.argv[1:]])
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
