"""The one metrics table lives in tf_green._engine: quantization scores without importing bench."""

from __future__ import annotations

import os
import subprocess
import sys

import tf_green._engine.metrics as engine_metrics
import tf_green.bench.metrics as bench_metrics
import tf_green.quantization._metrics as quantization_metrics


def test_bench_metrics_is_the_engine_table():
    assert bench_metrics.METRICS is engine_metrics.METRICS
    assert bench_metrics.Metric is engine_metrics.Metric
    assert bench_metrics.resolve_metric is engine_metrics.resolve_metric
    for name, metric in engine_metrics.METRICS.items():
        assert quantization_metrics.METRICS[name] is metric.fn


def test_quantization_does_not_import_bench():
    code = (
        "import sys, tf_green.quantization._metrics, tf_green.quantization.tflite_model\n"
        "print(sorted(m for m in sys.modules if m.startswith('tf_green.bench')))\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
