"""Energy benchmark: per-process vs whole-machine energy, with and without a competing CPU load.

The reference models are a ``models.cnn(width=16)`` teacher trained on the embedded digits and
its TFLite float32 and full-INT8 exports. Each is profiled by ``tf_green.bench.Bench`` twice
per condition (``energy_attribution="process"``, the default, and ``"machine"``), once on the
machine as it is ("quiet") and once with a competing load that this script starts itself:
``--load-procs`` busy-loop subprocesses, each bounded in time (they exit on their own after
the loaded phase's estimated length plus a margin, and are terminated at its end).

Bars (on resolved figures only; a figure below resolution gives no ratio):

* the per-process figure of each variant moves by less than 25% when the load is added;
* under load, no ratio of two variants' per-process figures differs by more than 2x from the
  ratio of their CPU time per inference, measured separately in a bare loop of batch-1 calls
  (``cpu_ms_tight_loop``; ``cpu_ms_per_inference`` from the latency stage is shown too, and
  includes the timing harness's own overhead).

The whole-machine figures, their statuses and ratios are recorded beside them.

Usage:
    .venv/bin/python benchmarks/energy.py                  # full run (~10-15 min), prints
    .venv/bin/python benchmarks/energy.py --write          # ... and writes RESULTS.md "energy"
    .venv/bin/python benchmarks/energy.py --quick          # smoke run (~1-2 min), prints only
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pandas as pd
from _results import write_section

from tf_green import datasets, models
from tf_green._engine import keras_named
from tf_green.bench import Bench, Targets
from tf_green.bench.report import markdown_table
from tf_green.bench.variants import as_variant
from tf_green.quantization import TFLiteModel, to_tflite

BUSY_LOOP = (
    "import sys, time\nend = time.time() + float(sys.argv[1])\nwhile time.time() < end: pass\n"
)
COLUMNS = [
    "condition",
    "attribution",
    "name",
    "energy_j_per_1k",
    "energy_uncertainty_j_per_1k",
    "energy_status",
    "cpu_ms_per_inference",
    "cpu_ms_tight_loop",
    "latency_ms_p50",
    "energy_window_s",
]


def reference_variants(epochs: int, engine: str = "keras3") -> tuple[dict, object, object]:
    """The trained teacher and its float32 and INT8 exports, with validation data."""
    (x, y), (x_val, y_val) = datasets.digits()
    keras_named(engine).utils.set_random_seed(0)
    teacher = models.compile_classifier(models.cnn(width=16, engine=engine))
    teacher.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    variants = {
        "keras": teacher,
        "tflite-float32": TFLiteModel(to_tflite(teacher), name="tflite-float32"),
        "tflite-int8": TFLiteModel(
            to_tflite(teacher, quantization="int8", representative_data=x[:200]),
            name="tflite-int8",
        ),
    }
    return variants, x_val, y_val


def run_bench(variants: dict, x, y, attribution: str, args) -> pd.DataFrame:
    bench = Bench(
        x,
        y,
        targets=Targets(max_metric_drop=0.05),
        energy_attribution=attribution,
        repeats=args.repeats,
        energy_window_s=args.window_s,
        energy_budget_s=args.energy_budget_s,
        latency_calls=args.latency_calls,
    )
    for name, model in variants.items():
        bench.add(name, model)
    frame = bench.run(progress=args.progress)
    frame["cpu_ms_tight_loop"] = [cpu_ms_tight_loop(m, x, args.cpu_s) for m in variants.values()]
    return frame


def cpu_ms_tight_loop(model, x, seconds: float) -> float:
    """This process's CPU ms per batch-1 inference in a bare loop (no timing harness)."""
    variant = as_variant(model)
    batch = x[:1].astype(variant.input_dtype())
    variant.run(batch)
    calls, cpu0, end = 0, time.process_time(), time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(20):
            variant.run(batch)
        calls += 20
    return 1000.0 * (time.process_time() - cpu0) / calls


def start_load(procs: int, seconds: float) -> list[subprocess.Popen]:
    """Busy-loop subprocesses that end on their own after ``seconds``."""
    return [
        subprocess.Popen([sys.executable, "-c", BUSY_LOOP, f"{seconds:.1f}"]) for _ in range(procs)
    ]


def stop_load(load: list[subprocess.Popen]) -> None:
    for process in load:
        process.terminate()
    for process in load:
        process.wait(timeout=10)


def ratio_checks(frame: pd.DataFrame) -> list[dict]:
    """Pairs of variants: energy ratio vs CPU-time-per-inference ratio (resolved figures only)."""
    rows = []
    for a, b in itertools.combinations(frame.to_dict("records"), 2):
        cpu_ratio = a["cpu_ms_tight_loop"] / b["cpu_ms_tight_loop"]
        resolved = not (pd.isna(a["energy_j_per_1k"]) or pd.isna(b["energy_j_per_1k"]))
        energy_ratio = a["energy_j_per_1k"] / b["energy_j_per_1k"] if resolved else math.nan
        off = max(energy_ratio / cpu_ratio, cpu_ratio / energy_ratio) if resolved else math.nan
        rows.append(
            {
                "condition": a["condition"],
                "attribution": a["attribution"],
                "pair": f"{a['name']} / {b['name']}",
                "energy_ratio": energy_ratio,
                "cpu_time_ratio": cpu_ratio,
                "times_off": off,
                "within_2x": bool(off <= 2.0) if resolved else "no ratio (below resolution)",
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run; prints, writes nothing")
    parser.add_argument("--write", action="store_true", help="write the RESULTS.md section")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--window-s", type=float, default=3.0)
    parser.add_argument("--energy-budget-s", type=float, default=60.0)
    parser.add_argument("--latency-calls", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--load-procs", type=int, default=1)
    parser.add_argument("--cpu-s", type=float, default=2.0, help="seconds of the CPU-time loop")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--engine", choices=["keras3", "tf_keras"], default="keras3")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.window_s, args.energy_budget_s = 2, 0.2, 2.0
        args.latency_calls, args.epochs, args.write, args.cpu_s = 20, 1, False, 0.3
    began = time.perf_counter()
    variants, x, y = reference_variants(args.epochs, args.engine)
    frames, phase_s = [], 0.0
    for condition in ("quiet", "loaded"):
        load = start_load(args.load_procs, 3 * phase_s + 120) if condition == "loaded" else []
        phase = time.perf_counter()
        try:
            for attribution in ("process", "machine"):
                frame = run_bench(variants, x, y, attribution, args)
                frame.insert(0, "attribution", attribution)
                frame.insert(0, "condition", condition)
                frames.append(frame)
        finally:
            stop_load(load)
        phase_s = time.perf_counter() - phase
    table = pd.concat(frames, ignore_index=True)
    process = table[table["attribution"] == "process"].set_index(["condition", "name"])
    moves = []
    for name in variants:
        quiet, loaded = (process.loc[(c, name), "energy_j_per_1k"] for c in ("quiet", "loaded"))
        change = abs(loaded / quiet - 1) if not (pd.isna(quiet) or pd.isna(loaded)) else math.nan
        moves.append(
            {
                "name": name,
                "quiet_j_per_1k": quiet,
                "loaded_j_per_1k": loaded,
                "change": change,
                "below_25pct": bool(change < 0.25) if not math.isnan(change) else "no figure",
            }
        )
    checks = pd.DataFrame(
        [
            row
            for (_, attribution), group in table.groupby(["condition", "attribution"], sort=False)
            for row in ratio_checks(group)
        ]
    )
    loaded_process = checks[
        (checks["condition"] == "loaded") & (checks["attribution"] == "process")
    ]
    bar_ratio = all(v is True for v in loaded_process["within_2x"])
    bar_move = all(m["below_25pct"] is True for m in moves)
    methods = "; ".join(sorted(set(table["energy_method"])))
    body = "\n".join(
        [
            f"Reference models: cnn(16) ({'Keras 3' if args.engine == 'keras3' else 'tf_keras'}, "
            f"`--engine`) trained {args.epochs} epochs, TFLite float32 and INT8. "
            f"{args.repeats} energy windows of >= {args.window_s:g} s (calls planned from the "
            f"latency), budget {args.energy_budget_s:g} s per variant; competing load: "
            f"{args.load_procs} busy-loop process(es). Energy methods: {methods}. "
            f"Run took {time.perf_counter() - began:.0f} s.",
            "",
            f"- Bar: per-process figure moves < 25% under load: {'met' if bar_move else 'MISSED'}.",
            f"- Bar: under load, per-process ratios within 2x of CPU-time ratios: "
            f"{'met' if bar_ratio else 'MISSED'}.",
            "",
            markdown_table(table, COLUMNS),
            "",
            markdown_table(pd.DataFrame(moves), list(moves[0])),
            "",
            markdown_table(checks, list(checks.columns)),
        ]
    )
    print(body)
    if args.write:
        write_section("energy", body, command="benchmarks/energy.py")


if __name__ == "__main__":
    main()
