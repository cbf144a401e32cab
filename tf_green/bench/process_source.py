"""Per-process energy: this process's CPU seconds x the power of one busy core.

On a shared machine, whole-machine power minus idle power is not the model's energy: other
people's load fills both the inference and the idle window, and their difference is noise (a
report once showed an INT8 model 141,360x "more efficient" than its parent, whose latency was
42x higher). :class:`ProcessCpuSource` attributes energy to this process only::

    energy_j = CPU seconds of this process in the window x watts_per_core
    watts_per_core = CodeCarbon's CPU TDP (x sockets) / logical CPUs

CPU seconds come from ``time.process_time`` (every thread of the process, user + system, at
the kernel's nanosecond accounting), so another process's load does not enter the figure. The
power per core is the same power model CodeCarbon uses (its TDP table; its own
``tracking_mode="process"`` computes the CPU part the same way: TDP x process CPU share). It is
an **estimate**, labelled so: it is linear in CPU time, counts no RAM or uncore power, and a
core busy-waiting is charged like a core computing.

Example:
    >>> ticks = iter([0.0, 0.5]).__next__
    >>> source = ProcessCpuSource(watts_per_core=4.0, cpu_clock=ticks, clock=iter([0, 1]).__next__)
    >>> source.start("inference"); reading = source.stop()
    >>> reading.energy_j, reading.method
    (2.0, 'estimated: process CPU time x 4 W per busy core (given)')
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from tf_green.bench.power import J_PER_KWH, EnergyReading, EnergyUnavailableError

__all__ = ["ProcessCpuSource", "codecarbon_watts_per_core"]

_CACHE: dict[str, tuple[float, str]] = {}


def codecarbon_watts_per_core() -> tuple[float, str]:
    """Power of one busy logical CPU from CodeCarbon's TDP table, and where it came from.

    Looked up once per process (CodeCarbon's CPU detection), without starting a tracker.

    Returns:
        ``(watts_per_core, source_text)``.

    Raises:
        EnergyUnavailableError: If CodeCarbon cannot be imported or finds no TDP.

    Example:
        >>> watts, text = codecarbon_watts_per_core()  # doctest: +SKIP
        >>> text  # doctest: +SKIP
        'CodeCarbon TDP 8 W / 2 cores'
    """
    if "codecarbon" in _CACHE:
        return _CACHE["codecarbon"]
    try:  # importing codecarbon installs its console handler: import first, then silence it
        from codecarbon.core import cpu
        from codecarbon.core.util import count_cpus, count_physical_cpus
    except Exception as error:
        raise EnergyUnavailableError(f"codecarbon cannot be imported ({error})") from error
    logger = logging.getLogger("codecarbon")
    saved = (logger.level, list(logger.handlers), logger.propagate)
    logger.handlers, logger.propagate = [logging.NullHandler()], False
    try:
        tdp = cpu.TDP()
        sockets, cores = max(int(count_physical_cpus() or 1), 1), max(int(count_cpus() or 1), 1)
    except Exception as error:  # ImportError, or a detection failure
        raise EnergyUnavailableError(f"codecarbon cannot give a CPU TDP ({error})") from error
    finally:
        logger.setLevel(saved[0])
        logger.handlers, logger.propagate = saved[1], saved[2]
    if not tdp.tdp:
        raise EnergyUnavailableError("CodeCarbon found no TDP for this CPU; give watts_per_core.")
    total = float(tdp.tdp) * sockets
    _CACHE["codecarbon"] = (total / cores, f"CodeCarbon TDP {total:g} W / {cores} cores")
    return _CACHE["codecarbon"]


def _carbon_intensity(country_iso_code: str) -> float | None:
    try:
        from codecarbon.input import DataSource

        mix = DataSource().get_global_energy_mix_data()
        return float(mix[country_iso_code]["carbon_intensity"])
    except Exception:  # unknown country or no codecarbon: no CO2 figure, never a made-up one
        return None


class ProcessCpuSource:
    """Energy of this process only: its CPU seconds x the power of one busy core.

    Args:
        watts_per_core: Power of one busy logical CPU, W; default CodeCarbon's TDP / cores.
        country_iso_code: Grid for CO2 (CodeCarbon's carbon intensity), default "USA".
        carbon_intensity_g_per_kwh: Force a carbon intensity instead.
        cpu_clock: CPU-seconds function (default ``time.process_time``); inject one in tests.
        clock: Wall-clock function (default ``time.perf_counter``).

    Raises:
        ValueError: If ``watts_per_core`` is not > 0.

    Example:
        >>> source = ProcessCpuSource(watts_per_core=2.5)
        >>> source.start(); _ = sum(range(10**5)); source.stop().method
        'estimated: process CPU time x 2.5 W per busy core (given)'
    """

    attribution = "process"

    def __init__(
        self,
        watts_per_core: float | None = None,
        *,
        country_iso_code: str = "USA",
        carbon_intensity_g_per_kwh: float | None = None,
        cpu_clock: Callable[[], float] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if watts_per_core is not None and not float(watts_per_core) > 0:
            raise ValueError(f"`watts_per_core` must be > 0, got {watts_per_core!r}.")
        self.watts_per_core = None if watts_per_core is None else float(watts_per_core)
        self.country_iso_code = country_iso_code
        self.carbon_intensity_g_per_kwh = carbon_intensity_g_per_kwh
        self.cpu_clock = cpu_clock or time.process_time
        self.clock = clock or time.perf_counter
        self._power: tuple[float, str] | None = None
        self._intensity: float | None = carbon_intensity_g_per_kwh
        self._started: tuple[float, float] | None = None

    def _resolve_power(self) -> tuple[float, str]:
        if self._power is None:
            if self.watts_per_core is not None:
                self._power = (self.watts_per_core, "given")
            else:
                self._power = codecarbon_watts_per_core()
                if self._intensity is None:
                    self._intensity = _carbon_intensity(self.country_iso_code)
        return self._power

    def start(self, label: str = "work") -> None:
        """Begin a window: read the process's CPU seconds."""
        self._resolve_power()
        self._started = (float(self.cpu_clock()), float(self.clock()))

    def stop(self) -> EnergyReading:
        """End the window: CPU seconds spent in it x watts per core."""
        if self._started is None:
            raise EnergyUnavailableError("ProcessCpuSource.stop() called before start().")
        cpu0, wall0 = self._started
        self._started = None
        cpu_s = max(float(self.cpu_clock()) - cpu0, 0.0)
        duration = float(self.clock()) - wall0
        watts, where = self._resolve_power()
        energy = cpu_s * watts
        co2 = None if self._intensity is None else energy / J_PER_KWH * self._intensity
        method = f"estimated: process CPU time x {watts:g} W per busy core ({where})"
        details: dict[str, Any] = {"cpu_s": cpu_s, "watts_per_core": watts}
        return EnergyReading(energy, duration, method, co2, details)

    def resolution_j(self, reading: EnergyReading) -> float:
        """The meter's quantum for one window: one tick of the CPU clock x watts per core.

        Args:
            reading: The window's reading.

        Returns:
            Joules.

        Example:
            >>> ProcessCpuSource(1.0).resolution_j(EnergyReading(1.0, 1.0, "x")) < 1e-3
            True
        """
        tick = time.get_clock_info("process_time").resolution
        return max(tick, 1e-6) * float(reading.details.get("watts_per_core", 0.0))
