"""Net energy per 1,000 inferences: measured windows of inference minus idle power.

Each repeat runs inferences for a window of ``window_s`` seconds (enough for the power source's
resolution: CodeCarbon samples power every second), then keeps the machine idle for an equal
window. The idle power of that repeat, times the inference window's length, is subtracted from
the inference window's energy, so what remains is the energy the inferences added::

    net_j = E_inference - (E_idle / t_idle) x t_inference
    j_per_1k = 1000 x net_j / inferences

The figure is the median over repeats, with the min and max. On a shared machine the idle
window also contains other people's load: spreads are then wide and a net figure can even be
negative; it is reported as measured.

Example:
    >>> from tf_green.bench.power import FakePowerSource
    >>> source = FakePowerSource({"inference": 30.0, "idle": 20.0})
    >>> result = measure_inference_energy(lambda: 10, source=source, window_s=0.01, repeats=2)
    >>> round(result.idle_w, 6), result.j_per_1k > 0
    (20.0, True)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from tf_green.bench.energy import EnergyMeter, PowerSource

__all__ = ["InferenceEnergy", "measure_inference_energy"]


@dataclass(frozen=True)
class InferenceEnergy:
    """Measured energy of inference.

    Attributes:
        j_per_1k: Median net joules per 1,000 inferences (None if unavailable).
        j_per_1k_min: Smallest per-repeat figure.
        j_per_1k_max: Largest per-repeat figure.
        idle_w: Median idle power, watts.
        co2_g_per_1k: Grams CO2e per 1,000 inferences (None if the source has no intensity).
        method: How the energy was obtained, or "unavailable: <reason>".
        inferences: Inferences run in all windows.
        inference_s: Seconds of inference windows.
        idle_s: Seconds of idle windows.
        repeats_j_per_1k: The per-repeat figures.

    Example:
        >>> InferenceEnergy(2.0, 1.0, 4.0, 20.0, None, "fake", 10, 1.0, 1.0).spread_j_per_1k
        3.0
    """

    j_per_1k: float | None
    j_per_1k_min: float | None
    j_per_1k_max: float | None
    idle_w: float | None
    co2_g_per_1k: float | None
    method: str
    inferences: int
    inference_s: float
    idle_s: float
    repeats_j_per_1k: tuple[float, ...] = ()

    @property
    def available(self) -> bool:
        """True if a figure was measured."""
        return self.j_per_1k is not None

    @property
    def spread_j_per_1k(self) -> float | None:
        """Max minus min over repeats, J per 1,000 inferences."""
        if self.j_per_1k_min is None or self.j_per_1k_max is None:
            return None
        return self.j_per_1k_max - self.j_per_1k_min


def _unavailable(method: str, inferences: int, inference_s: float, idle_s: float):
    return InferenceEnergy(None, None, None, None, None, method, inferences, inference_s, idle_s)


def measure_inference_energy(
    run: Callable[[], int],
    *,
    source: PowerSource,
    window_s: float = 3.0,
    repeats: int = 5,
) -> InferenceEnergy:
    """Measure the net energy of inference, idle power subtracted.

    Args:
        run: Runs one call of inference and returns how many inferences (samples) it made.
        source: The power source (e.g. :class:`~tf_green.bench.energy.CodeCarbonSource`); its
            windows are labelled "inference" and "idle".
        window_s: Length of each inference window, seconds (> 0).
        repeats: Number of inference/idle window pairs, >= 1.

    Returns:
        The energy; if the source cannot measure, ``j_per_1k`` is None and ``method`` says
        why (the first failing window stops the measurement).

    Raises:
        ValueError: If ``window_s`` <= 0 or ``repeats`` < 1.

    Example:
        >>> from tf_green.bench.power import FakePowerSource
        >>> source = FakePowerSource(5.0, unavailable_reason="no meter")
        >>> measure_inference_energy(lambda: 1, source=source, window_s=0.01, repeats=1).method
        'unavailable: no meter'
    """
    if window_s <= 0 or repeats < 1:
        raise ValueError(f"`window_s` must be > 0 and `repeats` >= 1, got {window_s}, {repeats}.")
    per_1k: list[float] = []
    idle_powers: list[float] = []
    co2_per_j: list[float] = []
    method = ""
    total_inferences, inference_s, idle_s = 0, 0.0, 0.0
    for _ in range(repeats):
        count = 0
        with EnergyMeter(source, label="inference") as busy:
            start = time.perf_counter()
            while time.perf_counter() - start < window_s:
                count += int(run())
        total_inferences += count
        inference_s += busy.duration_s or 0.0
        if not busy.available:
            return _unavailable(busy.method, total_inferences, inference_s, idle_s)
        with EnergyMeter(source, label="idle") as idle:
            time.sleep(busy.duration_s)
        idle_s += idle.duration_s or 0.0
        if not idle.available:
            return _unavailable(idle.method, total_inferences, inference_s, idle_s)
        idle_w = idle.energy_j / idle.duration_s if idle.duration_s else 0.0
        net_j = busy.energy_j - idle_w * busy.duration_s
        per_1k.append(1000.0 * net_j / max(count, 1))
        idle_powers.append(idle_w)
        if busy.co2_g is not None and busy.energy_j:
            co2_per_j.append(busy.co2_g / busy.energy_j)
        method = busy.method
    median = statistics.median(per_1k)
    co2 = median * statistics.median(co2_per_j) if co2_per_j else None
    return InferenceEnergy(
        j_per_1k=median,
        j_per_1k_min=min(per_1k),
        j_per_1k_max=max(per_1k),
        idle_w=statistics.median(idle_powers),
        co2_g_per_1k=co2,
        method=method,
        inferences=total_inferences,
        inference_s=inference_s,
        idle_s=idle_s,
        repeats_j_per_1k=tuple(per_1k),
    )
