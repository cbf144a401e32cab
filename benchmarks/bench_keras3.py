"""Bench on Keras 3: tg.profile/tg.Bench rows of the same CNN on tf_keras, Keras 3 on TensorFlow
and Keras 3 on JAX, with their tg.to_tflite exports; written to the ``bench-keras3`` section.

Each engine runs in its own child process (a Keras 3 backend is chosen per process), in rounds
that interleave the engines. A child trains ``tg.models.cnn(width=16, engine=...)`` 2 epochs on
the digits (seed 0), exports it with ``tg.to_tflite`` (float32 and INT8) and benches the three
(energy off: this section is about the figures the bench gives per engine, not energy; 5
latency runs at batch 1). Reported: FLOPs per sample (the same architecture must count the same
FLOPs on every engine and backend: that is the bar), parameters, accuracy, and the median over
rounds of the batch-1 p50 latency and of the per-round ratio to the tf_keras row.

Usage:
    .venv/bin/python benchmarks/bench_keras3.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ENGINES = {  # label -> (tg engine, KERAS_BACKEND)
    "tf_keras": ("tf_keras", "tensorflow"),
    "keras3-tensorflow": ("keras3", "tensorflow"),
    "keras3-jax": ("keras3", "jax"),
}
ROWS = ("keras", "tflite-float32", "tflite-int8")


def child(engine: str) -> None:
    """Train, export and bench one engine's CNN; print one JSON line."""
    import tf_green as tg
    from tf_green import datasets, models

    (x, y), (xv, yv) = datasets.digits(seed=0)
    keras = tg.engine.tf_keras() if engine == "tf_keras" else __import__("keras")
    keras.utils.set_random_seed(0)
    model = models.compile_classifier(models.cnn(width=16, engine=engine))
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    bench = tg.Bench(xv, yv, energy=False, repeats=5, throughput_batch_size=64)
    bench.add("keras", model).add("tflite-float32", tg.to_tflite(model))
    bench.add("tflite-int8", tg.to_tflite(model, quantization="int8", representative_data=x))
    frame = bench.run(progress=False)
    columns = ["name", "runtime", "flops_per_sample", "params", "metric_value", "latency_ms_p50"]
    print(json.dumps(frame[[*columns, "profile_s", "inference_s"]].to_dict("records")))


def run_child(label: str) -> list[dict]:
    engine, backend = ENGINES[label]
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run(
        [sys.executable, __file__, "--child", engine],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{label} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(results: dict[str, list[list[dict]]]) -> str:
    lines = [
        "| engine | row | runtime | FLOPs/sample | params | accuracy | p50 ms (median) "
        "| p50 / tf_keras row (median of rounds) |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for label, rounds in results.items():
        for i, name in enumerate(ROWS):
            rows = [r[i] for r in rounds]
            ratios = [
                r[i]["latency_ms_p50"] / base[i]["latency_ms_p50"]
                for r, base in zip(rounds, results["tf_keras"], strict=True)
            ]
            first = rows[0]
            lines.append(
                f"| {label} | {name} | {first['runtime']} | {first['flops_per_sample']:,} "
                f"| {first['params']:,} | {first['metric_value']:.4f} "
                f"| {statistics.median(r['latency_ms_p50'] for r in rows):.3f} "
                f"| {statistics.median(ratios):.2f}x |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=("tf_keras", "keras3"))
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    results: dict[str, list[list[dict]]] = {label: [] for label in ENGINES}
    for index in range(args.rounds):
        for label in ENGINES:
            results[label].append(run_child(label))
            print(f"round {index + 1}/{args.rounds}: {label} done", file=sys.stderr, flush=True)
    flops = {
        label: [row["flops_per_sample"] for row in rounds[0]] for label, rounds in results.items()
    }
    same = len({tuple(v) for v in flops.values()}) == 1
    load = os.getloadavg()[0]
    body = (
        f"{table(results)}\n\n"
        f"**Bar: the same architecture counts the same FLOPs on every engine and backend: "
        f"{'met' if same else 'MISSED'}** (Keras rows from the TF graph or the jaxpr, .tflite "
        f"rows per op from the flatbuffer).\n\n"
        f"{args.rounds} rounds, engines interleaved in each round, each engine in its own "
        "process; accuracy differs by engine because each trains its own model (same seed, "
        "different initializers and kernels); a JAX model's .tflite (SavedModel export) "
        "counts a few more parameters: converter-inserted zero biases and scalar constants. "
        "The machine was shared with other engineers' "
        f"jobs during this run (1-minute load average {load:.1f} at the end), so latencies "
        "are indicative; the ratios are medians of per-round ratios."
    )
    from _results import write_section

    print(body)
    print(f"wrote {write_section('bench-keras3', body)}")


if __name__ == "__main__":
    main()
