"""Power sources: what an :class:`~tf_green.bench.energy.EnergyMeter` reads energy from.

A power source has ``start(label)`` and ``stop() -> EnergyReading``; it raises
:class:`EnergyUnavailableError` when it cannot measure. :class:`FakePowerSource` gives exact,
hardware-free energy (constant watts per window label, an injectable clock), so measurement
logic can be tested exactly; :class:`~tf_green.bench.codecarbon_source.CodeCarbonSource` reads
CodeCarbon.

Example:
    >>> source = FakePowerSource(10.0, clock=iter([0.0, 2.0]).__next__)
    >>> source.start("work"); source.stop().energy_j
    20.0
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "J_PER_KWH",
    "EnergyReading",
    "EnergyUnavailableError",
    "FakePowerSource",
    "PowerSource",
]

J_PER_KWH = 3.6e6


class EnergyUnavailableError(RuntimeError):
    """Raised by a power source that cannot measure; the meter turns it into a reason.

    Example:
        >>> FakePowerSource(1.0, unavailable_reason="no meter").start()
        Traceback (most recent call last):
        ...
        tf_green.bench.power.EnergyUnavailableError: no meter
    """


@dataclass(frozen=True)
class EnergyReading:
    """The energy of one measured window.

    Attributes:
        energy_j: Energy of the window, joules.
        duration_s: Length of the window, seconds.
        method: How the energy was obtained (see module docstring).
        co2_g: Emissions of that energy, grams CO2e, if the source knows the carbon intensity.
        details: Source-specific facts (TDP used, RAM model ...).

    Example:
        >>> EnergyReading(10.0, 2.0, "fake").power_w
        5.0
    """

    energy_j: float
    duration_s: float
    method: str
    co2_g: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def power_w(self) -> float:
        """Mean power over the window, watts."""
        return self.energy_j / self.duration_s if self.duration_s > 0 else 0.0


@runtime_checkable
class PowerSource(Protocol):
    """What :class:`EnergyMeter` needs: start a window, stop it and read its energy.

    Example:
        >>> isinstance(FakePowerSource(1.0), PowerSource)
        True
    """

    def start(self, label: str = "work") -> None:
        """Begin a window; ``label`` names what runs in it ("idle", "inference" ...)."""

    def stop(self) -> EnergyReading:
        """End the window and return its reading; raise :class:`EnergyUnavailableError` if none."""


class FakePowerSource:
    """A power source with known watts, for tests and dry runs.

    Args:
        watts: Constant power, or a mapping from window label to power (e.g.
            ``{"idle": 20.0, "inference": 35.0}``).
        clock: Time function in seconds (default ``time.perf_counter``); inject one to make
            durations exact.
        carbon_intensity_g_per_kwh: If given, readings carry ``co2_g``.
        unavailable_reason: If given, every window fails with this reason (to test the
            unavailable path).

    Raises:
        ValueError: If a power is negative.

    Example:
        >>> source = FakePowerSource({"idle": 1.0, "work": 3.0}, clock=iter([0, 1, 1, 3]).__next__)
        >>> source.start("idle"); source.stop().energy_j
        1.0
        >>> source.start("work"); source.stop().energy_j
        6.0
    """

    def __init__(
        self,
        watts: float | Mapping[str, float],
        *,
        clock: Callable[[], float] | None = None,
        carbon_intensity_g_per_kwh: float | None = None,
        unavailable_reason: str | None = None,
    ) -> None:
        values = watts.values() if isinstance(watts, Mapping) else [watts]
        if any(float(w) < 0 for w in values):
            raise ValueError(f"`watts` must be >= 0, got {watts!r}.")
        self.watts = dict(watts) if isinstance(watts, Mapping) else float(watts)
        self.clock = clock or time.perf_counter
        self.carbon_intensity_g_per_kwh = carbon_intensity_g_per_kwh
        self.unavailable_reason = unavailable_reason
        self._started: tuple[str, float] | None = None

    def _power(self, label: str) -> float:
        if isinstance(self.watts, dict):
            if label not in self.watts:
                raise ValueError(
                    f"FakePowerSource has no power for window label {label!r}; "
                    f"give one of {sorted(self.watts)} or a constant."
                )
            return float(self.watts[label])
        return self.watts

    def start(self, label: str = "work") -> None:
        """Begin a window."""
        if self.unavailable_reason is not None:
            raise EnergyUnavailableError(self.unavailable_reason)
        self._power(label)
        self._started = (label, float(self.clock()))

    def stop(self) -> EnergyReading:
        """End the window: energy = power of its label x its duration."""
        if self._started is None:
            raise EnergyUnavailableError("FakePowerSource.stop() called before start().")
        label, start = self._started
        self._started = None
        duration = float(self.clock()) - start
        power = self._power(label)
        energy = power * duration
        intensity = self.carbon_intensity_g_per_kwh
        co2 = None if intensity is None else energy / J_PER_KWH * intensity
        method = (
            f"fake: {power:g} W constant"
            if not isinstance(self.watts, dict)
            else f"fake: {power:g} W for {label!r} windows"
        )
        return EnergyReading(energy, duration, method, co2, {"label": label, "watts": power})
