"""Peak memory while a variant runs: the process's resident set, sampled in a thread.

``peak_memory_mb`` is the highest resident set size (RSS, from psutil) seen while the work
runs, minus the RSS just before it: the extra memory the work needed (buffers, the runtime's
arena, activations), sampled every ``interval_s``. It is a process-level measure, so it includes
whatever else the process allocates meanwhile, and allocators that keep freed memory make a
second run of the same work show less. The bench measures it on the first pass at the
throughput batch size, so every variant is measured the same way.

Its resolution is :data:`RSS_RESOLUTION_MB` (1 MiB): below that, a delta is allocator
bookkeeping (pages of 4 KiB, malloc arenas growing by 128 KiB to 1 MiB), not the model's memory,
and :func:`rss_figure` reports it as None, labelled so. What a deployment needs is counted
from the graph instead (:mod:`tf_green.bench.activation_memory`).

Example:
    >>> import numpy as np
    >>> with PeakMemory() as peak:
    ...     block = np.ones(20 * 2**20 // 8)
    >>> peak.peak_mb is None or peak.peak_mb >= 0
    True
"""

from __future__ import annotations

import threading

__all__ = ["MEMORY_METHOD", "RSS_RESOLUTION_MB", "PeakMemory", "rss_figure"]

MEMORY_METHOD = (
    "measured: peak RSS above the pre-run RSS (psutil, sampled every 2 ms), first batched pass"
)
RSS_RESOLUTION_MB = 1.0


def rss_figure(peak_mb: float | None) -> tuple[float | None, str]:
    """The measured RSS delta where it is above its resolution, and what it is.

    Args:
        peak_mb: :attr:`PeakMemory.peak_mb`.

    Returns:
        ``(peak_mb or None, method)``: None, with a method saying why, when psutil is missing
        or the delta is below :data:`RSS_RESOLUTION_MB`.

    Example:
        >>> rss_figure(0.0039)
        (None, 'below resolution (< 1 MiB): measured: peak RSS above the pre-run RSS (psutil, \
sampled every 2 ms), first batched pass')
        >>> rss_figure(12.5)[0]
        12.5
    """
    if peak_mb is None:
        return None, "unavailable: psutil is not installed"
    if peak_mb < RSS_RESOLUTION_MB:
        return None, f"below resolution (< {RSS_RESOLUTION_MB:g} MiB): {MEMORY_METHOD}"
    return float(peak_mb), MEMORY_METHOD


class PeakMemory:
    """Context manager that records the peak RSS increase of this process.

    Args:
        interval_s: Sampling interval, seconds.

    Attributes:
        peak_mb: Peak increase in MiB after the block (None if psutil is unavailable).

    Example:
        >>> with PeakMemory(interval_s=0.001) as peak:
        ...     pass
        >>> peak.peak_mb is None or peak.peak_mb >= 0.0
        True
    """

    def __init__(self, interval_s: float = 0.002) -> None:
        if interval_s <= 0:
            raise ValueError(f"`interval_s` must be > 0, got {interval_s}.")
        self.interval_s = interval_s
        self.peak_mb: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process = None
        self._baseline = 0
        self._peak = 0

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._peak = max(self._peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        try:
            import psutil
        except ImportError:
            return self
        self._process = psutil.Process()
        self._baseline = self._peak = self._process.memory_info().rss
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._sample, name="tf_green-peak-memory", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._process.memory_info().rss)
        self.peak_mb = max(self._peak - self._baseline, 0) / 2**20
        self._thread = None
