"""Latency at the serving batch size and throughput at a larger batch.

Latency: ``repeats`` runs of ``calls`` timed calls each (after ``warmup`` untimed calls), one
batch of ``batch_size`` samples per call, cycling through the data. Every call includes moving
the batch in and the result out (``.numpy()``), so asynchronous runtimes are timed to the end.
p50 and p95 are over all timed calls; ``latency_cv`` is the coefficient of variation of the
per-run p50s (how repeatable the figure is).

Throughput: passes over the data in batches of ``batch_size`` until at least ``min_s`` seconds
have run (and at least one full pass), samples per second.

Example:
    >>> stats = measure_latency(lambda i: sum(range(1000)), repeats=2, calls=10, warmup=1)
    >>> stats.calls, len(stats.repeat_p50_ms)
    (20, 2)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["LatencyStats", "ThroughputStats", "measure_latency", "measure_throughput"]


@dataclass(frozen=True)
class LatencyStats:
    """Latency of single calls.

    Attributes:
        latency_ms_p50: Median call time, ms.
        latency_ms_p95: 95th percentile call time, ms.
        latency_cv: Coefficient of variation (std / mean) of the per-run p50s.
        repeat_p50_ms: The p50 of each run, ms.
        calls: Timed calls in all runs.
        total_s: Time spent inside the timed and warm-up calls, seconds.

    Example:
        >>> measure_latency(lambda i: None, repeats=2, calls=3).calls
        6
    """

    latency_ms_p50: float
    latency_ms_p95: float
    latency_cv: float
    repeat_p50_ms: tuple[float, ...]
    calls: int
    total_s: float


@dataclass(frozen=True)
class ThroughputStats:
    """Samples per second at a batch size.

    Attributes:
        throughput_per_s: Samples per second.
        batch_size: Samples per call.
        samples: Samples processed.
        total_s: Seconds spent.

    Example:
        >>> ThroughputStats(1000.0, 64, 640, 0.64).throughput_per_s
        1000.0
    """

    throughput_per_s: float
    batch_size: int
    samples: int
    total_s: float


def _auto_calls(call: Callable[[int], object], min_run_s: float, max_calls: int) -> int:
    start = time.perf_counter()
    call(0)
    elapsed = max(time.perf_counter() - start, 1e-6)
    return int(min(max_calls, max(20, math.ceil(min_run_s / elapsed))))


def measure_latency(
    call: Callable[[int], object],
    *,
    repeats: int = 5,
    calls: int | None = None,
    warmup: int = 5,
    min_run_s: float = 0.25,
    max_calls: int = 2000,
) -> LatencyStats:
    """Time ``call(i)`` (one inference on batch ``i``) in repeated runs.

    Args:
        call: Runs batch ``i`` (the caller maps ``i`` to its data) and returns when done.
        repeats: Number of runs, >= 1.
        calls: Timed calls per run; None picks enough for each run to last about ``min_run_s``
            (between 20 and ``max_calls``).
        warmup: Untimed calls before the first run.
        min_run_s: Target length of a run when ``calls`` is None, seconds.
        max_calls: Upper bound of the automatic ``calls``.

    Returns:
        The latency statistics.

    Raises:
        ValueError: If ``repeats`` or ``calls`` is < 1.

    Example:
        >>> measure_latency(lambda i: None, repeats=1, calls=5).calls
        5
    """
    if repeats < 1 or (calls is not None and calls < 1):
        raise ValueError(f"`repeats` and `calls` must be >= 1, got {repeats} and {calls}.")
    begin = time.perf_counter()
    for i in range(warmup):
        call(i)
    per_run = calls if calls is not None else _auto_calls(call, min_run_s, max_calls)
    times: list[np.ndarray] = []
    index = warmup
    for _ in range(repeats):
        run = np.empty(per_run)
        for j in range(per_run):
            start = time.perf_counter()
            call(index)
            run[j] = time.perf_counter() - start
            index += 1
        times.append(run * 1000.0)
    total = time.perf_counter() - begin
    all_ms = np.concatenate(times)
    p50s = np.array([np.median(t) for t in times])
    cv = float(np.std(p50s) / np.mean(p50s)) if len(p50s) > 1 and np.mean(p50s) > 0 else 0.0
    return LatencyStats(
        latency_ms_p50=float(np.percentile(all_ms, 50)),
        latency_ms_p95=float(np.percentile(all_ms, 95)),
        latency_cv=cv,
        repeat_p50_ms=tuple(float(p) for p in p50s),
        calls=int(all_ms.size),
        total_s=total,
    )


def measure_throughput(
    run_batch: Callable[[int, int], object],
    samples: int,
    batch_size: int,
    *,
    min_s: float = 0.25,
) -> ThroughputStats:
    """Measure samples per second over passes of the data.

    Args:
        run_batch: ``run_batch(start, stop)`` runs the samples ``start:stop``.
        samples: Number of samples in the data.
        batch_size: Samples per call, >= 1.
        min_s: Keep making passes until this many seconds have run.

    Returns:
        The throughput.

    Raises:
        ValueError: If ``samples`` or ``batch_size`` is < 1.

    Example:
        >>> measure_throughput(lambda a, b: None, samples=10, batch_size=4, min_s=0).samples
        10
    """
    if samples < 1 or batch_size < 1:
        raise ValueError(f"`samples` and `batch_size` must be >= 1, got {samples}, {batch_size}.")
    done = 0
    start = time.perf_counter()
    while True:
        for first in range(0, samples, batch_size):
            last = min(first + batch_size, samples)
            run_batch(first, last)
            done += last - first
        elapsed = time.perf_counter() - start
        if elapsed >= min_s:
            break
    rate = done / elapsed if elapsed > 0 else float("inf")
    return ThroughputStats(rate, batch_size, done, elapsed)
