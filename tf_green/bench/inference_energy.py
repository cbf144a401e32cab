"""Net energy per 1,000 inferences: measured windows of inference minus idle power.

Each repeat runs inferences for one window (``calls_per_window`` calls, chosen by the caller from
the measured latency so that every repeat does the same work, or ``window_s`` seconds), then
keeps the machine idle for an equal window. The idle power of that repeat, times the inference
window's length, is subtracted from the inference window's energy::

    net_j = E_inference - (E_idle / t_idle) x t_inference
    j_per_1k = 1000 x net_j / inferences

The figure is the median over repeats, with its uncertainty and resolution floor
(:mod:`tf_green.bench.resolution`). A median at or under the floor (negative ones included) is
**below resolution**: ``j_per_1k`` is None and ``status`` says ``"below resolution (< F
J/1k)"``. If a time ``budget_s`` is given, a figure below resolution is measured again with
windows 4x longer while the next round fits in the budget (wall-clock seconds; never for an
exact meter, whose floor is 0: there a longer window changes nothing).

Which energy enters depends on the source: a whole-machine source (CodeCarbon in machine mode,
RAPL) sees everybody's load; a per-process source
(:class:`~tf_green.bench.process_source.ProcessCpuSource`) sees this process's CPU time only.

Example:
    >>> from tf_green.bench.power import FakePowerSource
    >>> source = FakePowerSource({"inference": 30.0, "idle": 20.0})
    >>> result = measure_inference_energy(lambda: 10, source=source, window_s=0.01, repeats=2)
    >>> round(result.idle_w, 6), result.attribution, result.basis
    (20.0, 'machine', 'measured')
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from tf_green.bench.energy import EnergyMeter, PowerSource
from tf_green.bench.power import EnergyReading
from tf_green.bench.resolution import energy_basis, resolve_energy

__all__ = ["GROWTH", "InferenceEnergy", "measure_inference_energy"]

GROWTH = 4  # a figure below resolution is measured again with windows this many times longer


@dataclass(frozen=True)
class InferenceEnergy:
    """Measured (or estimated) net energy of inference, with its resolution.

    Attributes:
        j_per_1k: Median net joules per 1,000 inferences; None if unavailable or below
            resolution.
        j_per_1k_min: Smallest per-repeat figure (None unless resolved).
        j_per_1k_max: Largest per-repeat figure (None unless resolved).
        idle_w: Median idle power, watts.
        co2_g_per_1k: Grams CO2e per 1,000 inferences (None unless resolved and the source
            knows the carbon intensity).
        method: How the energy was obtained, or "unavailable: <reason>".
        inferences: Inferences run in all windows.
        inference_s: Seconds of inference windows.
        idle_s: Seconds of idle windows.
        repeats_j_per_1k: The per-repeat net figures of the last round (may be negative).
        uncertainty_j_per_1k: Standard error of the figure (spread of the repeats, idle noise).
        resolution_j_per_1k: The floor under which a figure is noise.
        status: "resolved...", "below resolution (< F J/1k)", or "unavailable: <reason>".
        attribution: "process" or "machine": what the source's energy covers.
        window_s: Length of the last round's inference windows, s.
        calls_per_window: Calls per inference window in the last round (0: timed windows).

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
    uncertainty_j_per_1k: float | None = None
    resolution_j_per_1k: float | None = None
    status: str = "resolved"
    attribution: str = "machine"
    window_s: float = 0.0
    calls_per_window: int = 0

    @property
    def available(self) -> bool:
        """True if the source measured (the figure may still be below resolution)."""
        return not self.method.startswith("unavailable")

    @property
    def resolved(self) -> bool:
        """True if there is a figure above its resolution floor."""
        return self.j_per_1k is not None

    @property
    def basis(self) -> str:
        """What the figure is: "measured", "estimated" or "none" (see ``energy_basis``)."""
        return energy_basis(self.method)

    @property
    def spread_j_per_1k(self) -> float | None:
        """Max minus min over repeats, J per 1,000 inferences (None unless resolved)."""
        if self.j_per_1k_min is None or self.j_per_1k_max is None:
            return None
        return self.j_per_1k_max - self.j_per_1k_min


def _quantum(source: PowerSource, reading: EnergyReading | None) -> float:
    resolution = getattr(source, "resolution_j", None)
    if reading is None or not callable(resolution):
        return 0.0
    return float(resolution(reading))


def _round(run, source, window_s, repeats, calls, attribution):
    """One round of ``repeats`` inference/idle window pairs; returns (result, seconds spent)."""
    nets, idle_powers, windows, counts, quanta, co2_per_j = [], [], [], [], [], []
    method = ""
    total, inference_s, idle_s = 0, 0.0, 0.0
    for _ in range(repeats):
        count = 0
        with EnergyMeter(source, label="inference") as busy:
            if calls:
                for _ in range(calls):
                    count += int(run())
            else:
                start = time.perf_counter()
                while time.perf_counter() - start < window_s:
                    count += int(run())
        total += count
        inference_s += busy.duration_s or 0.0
        if not busy.available:
            return _unavailable(busy.method, total, inference_s, idle_s, attribution)
        with EnergyMeter(source, label="idle") as idle:
            time.sleep(busy.duration_s)
        idle_s += idle.duration_s or 0.0
        if not idle.available:
            return _unavailable(idle.method, total, inference_s, idle_s, attribution)
        idle_w = idle.energy_j / idle.duration_s if idle.duration_s else 0.0
        nets.append(1000.0 * (busy.energy_j - idle_w * busy.duration_s) / max(count, 1))
        idle_powers.append(idle_w)
        windows.append(busy.duration_s)
        counts.append(count)
        quanta.append(_quantum(source, busy.reading) + _quantum(source, idle.reading))
        if busy.co2_g is not None and busy.energy_j:
            co2_per_j.append(busy.co2_g / busy.energy_j)
        method = busy.method
    figure = resolve_energy(
        nets, idle_w=idle_powers, window_s=windows, inferences=counts, quantum_j=max(quanta)
    )
    value = figure.j_per_1k
    co2 = value * statistics.median(co2_per_j) if co2_per_j and value is not None else None
    return InferenceEnergy(
        j_per_1k=value,
        j_per_1k_min=min(nets) if value is not None else None,
        j_per_1k_max=max(nets) if value is not None else None,
        idle_w=statistics.median(idle_powers),
        co2_g_per_1k=co2,
        method=method,
        inferences=total,
        inference_s=inference_s,
        idle_s=idle_s,
        repeats_j_per_1k=tuple(nets),
        uncertainty_j_per_1k=figure.uncertainty_j_per_1k,
        resolution_j_per_1k=figure.floor_j_per_1k,
        status=figure.status,
        attribution=attribution,
        window_s=statistics.fmean(windows),
        calls_per_window=int(calls or 0),
    )


def _unavailable(method, inferences, inference_s, idle_s, attribution):
    return InferenceEnergy(
        None, None, None, None, None, method, inferences, inference_s, idle_s,
        status=method, attribution=attribution,
    )  # fmt: skip


def measure_inference_energy(
    run: Callable[[], int],
    *,
    source: PowerSource,
    window_s: float = 3.0,
    repeats: int = 5,
    calls_per_window: int | None = None,
    budget_s: float | None = None,
) -> InferenceEnergy:
    """Measure the net energy of inference, idle power subtracted, with its resolution.

    Args:
        run: Runs one call of inference and returns how many inferences (samples) it made.
        source: The power source; its windows are labelled "inference" and "idle".
        window_s: Length of each inference window, seconds (> 0), when ``calls_per_window``
            is None.
        repeats: Number of inference/idle window pairs, >= 1.
        calls_per_window: Run exactly this many calls per inference window (the same work in
            every repeat); None: as many as fit in ``window_s``.
        budget_s: Wall-clock seconds the measurement may take in all (inference and idle); a
            figure below resolution is measured again with 4x longer windows while the next
            round fits. None: one round.

    Returns:
        The energy; if the source cannot measure, ``j_per_1k`` is None and ``method`` says
        why (the first failing window stops the measurement).

    Raises:
        ValueError: If ``window_s`` <= 0, ``repeats`` < 1, ``calls_per_window`` < 1 or
            ``budget_s`` <= 0.

    Example:
        >>> from tf_green.bench.power import FakePowerSource
        >>> source = FakePowerSource(5.0, unavailable_reason="no meter")
        >>> measure_inference_energy(lambda: 1, source=source, window_s=0.01, repeats=1).method
        'unavailable: no meter'
    """
    if window_s <= 0 or repeats < 1:
        raise ValueError(f"`window_s` must be > 0 and `repeats` >= 1, got {window_s}, {repeats}.")
    if calls_per_window is not None and int(calls_per_window) < 1:
        raise ValueError(f"`calls_per_window` must be >= 1, got {calls_per_window}.")
    if budget_s is not None and not budget_s > 0:
        raise ValueError(f"`budget_s` must be > 0 or None, got {budget_s}.")
    attribution = str(getattr(source, "attribution", "machine"))
    calls = None if calls_per_window is None else int(calls_per_window)
    totals = [0, 0.0, 0.0]
    began = time.perf_counter()  # the budget is the caller's wall-clock time
    while True:
        round_began = time.perf_counter()
        result = _round(run, source, window_s, int(repeats), calls, attribution)
        totals = [totals[0] + result.inferences, totals[1] + result.inference_s,
                  totals[2] + result.idle_s]  # fmt: skip
        now = time.perf_counter()
        if result.resolved or not result.available or budget_s is None:
            break
        if not result.resolution_j_per_1k:  # an exact meter: longer windows change nothing
            break
        if (now - began) + GROWTH * (now - round_began) > budget_s:
            break
        window_s *= GROWTH
        calls = None if calls is None else calls * GROWTH
    return _with_totals(result, *totals)


def _with_totals(result: InferenceEnergy, inferences: int, inference_s: float, idle_s: float):
    return replace(result, inferences=inferences, inference_s=inference_s, idle_s=idle_s)
