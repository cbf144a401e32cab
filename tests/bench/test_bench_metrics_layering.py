"""The one metrics table lives in tf_green._engine: quantization scores without importing bench.

That importing quantization leaves tf_green.bench unimported is checked in a fresh interpreter
by tests/test_fresh_interpreter.py::test_quantization_does_not_import_bench.
"""

from __future__ import annotations

import tf_green._engine.metrics as engine_metrics
import tf_green.bench.metrics as bench_metrics
import tf_green.quantization._metrics as quantization_metrics


def test_bench_metrics_is_the_engine_table():
    assert bench_metrics.METRICS is engine_metrics.METRICS
    assert bench_metrics.Metric is engine_metrics.Metric
    assert bench_metrics.resolve_metric is engine_metrics.resolve_metric
    for name, metric in engine_metrics.METRICS.items():
        assert quantization_metrics.METRICS[name] is metric.fn
