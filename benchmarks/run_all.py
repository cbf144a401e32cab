"""Run every benchmark script in turn (`make bench`); each writes its RESULTS.md section.

Keras 3 scripts run once per backend where their section is per backend (a backend is chosen
per process, with ``KERAS_BACKEND``). ``--quick`` goes to the scripts that take it.

Usage:
    .venv/bin/python benchmarks/run_all.py [--quick]
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

# (script, its arguments, KERAS_BACKEND or None for the default)
RUNS = [
    ("pruning", [], None),
    ("pruning_keras3", [], "tensorflow"),
    ("pruning_keras3", [], "jax"),
    ("structured_pruning", [], None),
    ("distillation", [], None),
    ("export", [], None),
    ("export", ["--keras3"], "tensorflow"),
    ("export", ["--keras3"], "jax"),
    ("bench_overhead", [], None),
    ("bench_keras3", [], None),
    ("energy", [], None),
    ("end_to_end", [], None),
    ("end_to_end", ["--engine", "tf_keras"], None),
    ("streaming", [], None),
    ("slm", [], None),
    ("slm_decoding", [], None),
]


def main() -> int:
    here = pathlib.Path(__file__).resolve().parent
    quick = "--quick" in sys.argv[1:]
    failed = []
    for name, args, backend in RUNS:
        script = here / f"{name}.py"
        extra = ["--quick"] if quick and '"--quick"' in script.read_text() else []
        command = [sys.executable, str(script), *args, *extra]
        env = {**os.environ, **({"KERAS_BACKEND": backend} if backend else {})}
        label = " ".join([f"benchmarks/{name}.py", *args]) + (f" ({backend})" if backend else "")
        print(f"=== {label}", flush=True)
        if subprocess.call(command, env=env):
            failed.append(label)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
