"""Measure the energy of any piece of work: ``with EnergyMeter() as m: work()``.

Then ``m.energy_j``, ``m.duration_s``, ``m.method``, ``m.co2_g``. The meter reads a power source:
by default a :class:`~tf_green.bench.codecarbon_source.CodeCarbonSource` (whole machine,
offline, no files written; on machines without RAPL its figures are estimates, see
:data:`ESTIMATE_CAVEAT`), or a :class:`~tf_green.bench.power.FakePowerSource` for exact tests.
If the source cannot measure (CodeCarbon missing or failing), the meter does not raise: the work
runs, ``m.available`` is False, ``m.energy_j`` is None and ``m.reason`` says why.

Example:
    >>> meter = EnergyMeter(FakePowerSource(watts=10.0, clock=iter([0.0, 2.0]).__next__))
    >>> with meter:
    ...     pass
    >>> meter.energy_j, meter.duration_s, meter.method
    (20.0, 2.0, 'fake: 10 W constant')
"""

from __future__ import annotations

import time

from tf_green.bench.codecarbon_source import DEFAULT_COUNTRY, CodeCarbonSource, codecarbon_method
from tf_green.bench.power import (
    EnergyReading,
    EnergyUnavailableError,
    FakePowerSource,
    PowerSource,
)

__all__ = [
    "DEFAULT_COUNTRY",
    "ESTIMATE_CAVEAT",
    "CodeCarbonSource",
    "EnergyMeter",
    "EnergyReading",
    "EnergyUnavailableError",
    "FakePowerSource",
    "PowerSource",
    "codecarbon_method",
]

ESTIMATE_CAVEAT = (
    "Energy marked 'estimated' is not from a power meter: per process it is this process's CPU "
    "seconds x CodeCarbon's TDP per core; for the whole machine it is CodeCarbon's model (CPU "
    "TDP x load + a RAM power model). On a machine without RAPL/NVML its differences between "
    "variants follow CPU time and load, not measured watts."
)


class EnergyMeter:
    """Measure the energy of the work inside a ``with`` block.

    Args:
        source: Where the energy comes from; default a new :class:`CodeCarbonSource`.
        country_iso_code: Grid for CO2 when the default source is used (default "USA").
        carbon_intensity_g_per_kwh: Force a carbon intensity when the default source is used.
        label: Names the window for the source (a :class:`FakePowerSource` may key power on it).

    Example:
        >>> with EnergyMeter(FakePowerSource(5.0)) as meter:
        ...     _ = sum(range(1000))
        >>> meter.available, meter.energy_j == 5.0 * meter.duration_s
        (True, True)
    """

    def __init__(
        self,
        source: PowerSource | None = None,
        *,
        country_iso_code: str = DEFAULT_COUNTRY,
        carbon_intensity_g_per_kwh: float | None = None,
        label: str = "work",
    ) -> None:
        if source is not None and not isinstance(source, PowerSource):
            raise TypeError(
                f"`source` must have start(label) and stop() methods (a PowerSource), "
                f"got {type(source).__name__}."
            )
        self.source = source or CodeCarbonSource(
            country_iso_code, carbon_intensity_g_per_kwh=carbon_intensity_g_per_kwh
        )
        self.label = label
        self.reading: EnergyReading | None = None
        self.reason: str | None = None
        self._started_at: float | None = None
        self._wall_s: float | None = None
        self._running = False

    def start(self) -> EnergyMeter:
        """Begin measuring (what ``with`` calls).

        Returns:
            The meter.

        Raises:
            RuntimeError: If it is already running.

        Example:
            >>> meter = EnergyMeter(FakePowerSource(1.0)).start()
            >>> meter.stop().method
            'fake: 1 W constant'
        """
        if self._running:
            raise RuntimeError("this EnergyMeter is already running; use one meter per window.")
        self.reading, self.reason, self._wall_s = None, None, None
        try:
            self.source.start(self.label)
        except EnergyUnavailableError as error:
            self.reason = str(error)
        self._running = True
        self._started_at = time.perf_counter()
        return self

    def stop(self) -> EnergyReading | None:
        """Stop measuring (what leaving ``with`` calls).

        Returns:
            The reading, or None if energy is unavailable (see :attr:`reason`).

        Raises:
            RuntimeError: If the meter was not started.

        Example:
            >>> EnergyMeter(FakePowerSource(1.0, unavailable_reason="x")).start().stop() is None
            True
        """
        if not self._running:
            raise RuntimeError("EnergyMeter.stop() called before start().")
        self._wall_s = time.perf_counter() - (self._started_at or 0.0)
        self._running = False
        if self.reason is None:
            try:
                self.reading = self.source.stop()
            except EnergyUnavailableError as error:
                self.reason = str(error)
        return self.reading

    def __enter__(self) -> EnergyMeter:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def available(self) -> bool:
        """True if the last window has an energy reading."""
        return self.reading is not None

    @property
    def energy_j(self) -> float | None:
        """Energy of the last window, joules (None if unavailable)."""
        return None if self.reading is None else self.reading.energy_j

    @property
    def duration_s(self) -> float | None:
        """Length of the last window, seconds (the source's clock, else wall time)."""
        return self._wall_s if self.reading is None else self.reading.duration_s

    @property
    def power_w(self) -> float | None:
        """Mean power over the last window, watts (None if unavailable)."""
        return None if self.reading is None else self.reading.power_w

    @property
    def co2_g(self) -> float | None:
        """Emissions of the last window, grams CO2e (None if unknown)."""
        return None if self.reading is None else self.reading.co2_g

    @property
    def method(self) -> str:
        """How the energy was obtained, or "unavailable: <reason>"."""
        if self.reading is not None:
            return self.reading.method
        return f"unavailable: {self.reason}" if self.reason else "not measured yet"
