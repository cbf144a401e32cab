import time

import numpy as np
import pytest

from tf_green.bench.latency import measure_latency, measure_throughput
from tf_green.bench.memory import PeakMemory
from tf_green.bench.targets import Targets


def busy_wait(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_latency_times_every_call_in_every_repeat():
    seen = []

    def call(i):
        seen.append(i)
        busy_wait(0.002)

    stats = measure_latency(call, repeats=3, calls=4, warmup=2)
    assert seen == list(range(2 + 12))  # warm-up indices first, then consecutive batches
    assert stats.calls == 12 and len(stats.repeat_p50_ms) == 3
    assert 2.0 <= stats.latency_ms_p50 <= stats.latency_ms_p95
    assert stats.latency_cv >= 0.0 and stats.total_s >= 14 * 0.002


def test_latency_picks_enough_calls_automatically():
    stats = measure_latency(lambda i: busy_wait(0.001), repeats=2, warmup=0, min_run_s=0.03)
    assert 20 <= stats.calls // 2 <= 40
    with pytest.raises(ValueError, match="`repeats` and `calls` must be >= 1"):
        measure_latency(lambda i: None, repeats=0)


def test_throughput_covers_the_data_in_batches():
    batches = []
    stats = measure_throughput(lambda a, b: batches.append((a, b)), 10, 4, min_s=0.0)
    assert batches == [(0, 4), (4, 8), (8, 10)]
    assert stats.samples == 10 and stats.batch_size == 4 and stats.throughput_per_s > 0
    with pytest.raises(ValueError, match="`samples` and `batch_size` must be >= 1"):
        measure_throughput(lambda a, b: None, 0, 4)


def test_peak_memory_sees_an_allocation():
    with PeakMemory() as peak:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        time.sleep(0.02)
    assert block.sum() > 0
    assert peak.peak_mb >= 48
    with pytest.raises(ValueError, match="`interval_s` must be > 0"):
        PeakMemory(interval_s=0)


def test_targets_list_what_is_missed():
    targets = Targets(
        max_metric_drop=0.02,
        min_size_reduction=4.0,
        min_speedup=1.5,
        min_energy_reduction=2.0,
        max_params=1000,
    )
    assert (
        targets.missed(
            metric_drop=0.01, size_reduction=4.0, speedup=2.0, energy_reduction=3.0, params=1000
        )
        == []
    )
    assert targets.missed(
        metric_drop=0.05, size_reduction=2.0, speedup=1.0, energy_reduction=None, params=5000
    ) == [
        "metric_drop 0.05 > 0.02",
        "size_reduction 2 < 4",
        "speedup 1 < 1.5",
        "energy_reduction unknown (energy unavailable)",
        "params 5000 > 1000",
    ]
    assert Targets(max_metric_drop=None).missed(metric_drop=float("nan")) == []
    assert not Targets().metric_ok(float("nan"))
    assert Targets().to_dict()["min_speedup"] is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_metric_drop": -0.1}, "`max_metric_drop` must be >= 0"),
        ({"min_size_reduction": 0}, "`min_size_reduction` must be a factor > 0"),
        ({"min_speedup": -2}, "`min_speedup` must be a factor > 0"),
        ({"max_params": 0}, "`max_params` must be >= 1"),
    ],
)
def test_targets_reject_bad_bounds(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Targets(**kwargs)
