"""CodeCarbon as a power source: whole-machine energy from its offline tracker.

:class:`CodeCarbonSource` runs CodeCarbon's ``OfflineEmissionsTracker`` in machine mode for each
window: no network (offline tracker, no API, no Electricity Maps token, no HTTP endpoint), **no
files** (no output method, so no emissions.csv; CodeCarbon 3's lock file in the temp folder is
not taken: ``allow_multiple_runs=True``), and its logger quiet (its warnings are kept, and explain
a failure). CO2 uses CodeCarbon's carbon intensity for ``country_iso_code`` (default ``"USA"``:
369 gCO2e/kWh in CodeCarbon 3.3's data) unless ``carbon_intensity_g_per_kwh`` forces one.

``method`` is read from the hardware objects CodeCarbon set up (:func:`codecarbon_method`):
"measured: RAPL" (NVML, Power Gadget, powermetrics ...) when every CPU/GPU figure comes from an
energy counter, else "estimated: CodeCarbon cpu_load (TDP x load) + RAM model" and the like. On
machines without RAPL (this project's CI and development machines) the figures are CodeCarbon
**estimates**: CPU power = TDP x (0.1 + 0.9 x load^3) from its TDP table, plus a RAM power model
that depends only on installed memory.

Example:
    >>> source = CodeCarbonSource(country_iso_code="FRA")
    >>> source.start("work"); reading = source.stop()  # doctest: +SKIP
    >>> reading.method  # doctest: +SKIP
    'estimated: CodeCarbon cpu_load (TDP x load) + RAM model'
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from tf_green.bench.power import J_PER_KWH, EnergyReading, EnergyUnavailableError

__all__ = ["DEFAULT_COUNTRY", "CodeCarbonSource", "codecarbon_method"]

DEFAULT_COUNTRY = "USA"

_CPU_COUNTERS = {
    "intel_rapl": "RAPL",
    "windows_emi": "Windows EMI (RAPL)",
    "intel_power_gadget": "Intel Power Gadget",
    "apple_powermetrics": "powermetrics",
}


def codecarbon_method(hardware: list) -> tuple[str, dict[str, Any]]:
    """Say how CodeCarbon gets energy, from the hardware objects a tracker set up.

    Args:
        hardware: The tracker's hardware list (CodeCarbon ``CPU``, ``GPU``, ``RAM`` ... objects).

    Returns:
        ``(method, details)``: "measured: <counters>" when every CPU/GPU figure comes from an
        energy counter (the RAM model is then named in ``details`` only: it is constant, so it
        cancels when idle power is subtracted), else "estimated: <models>".

    Example:
        >>> class CPU:
        ...     _mode, _tdp = "cpu_load", 8
        >>> class RAM:
        ...     _force_ram_power = None
        >>> codecarbon_method([RAM(), CPU()])[0]
        'estimated: CodeCarbon cpu_load (TDP x load) + RAM model'
    """
    measured: list[str] = []
    estimated: list[str] = []
    details: dict[str, Any] = {}
    ram = None
    for item in hardware:
        kind = type(item).__name__
        if kind == "CPU":
            mode = str(getattr(item, "_mode", "unknown"))
            details["cpu_mode"] = mode
            if mode in _CPU_COUNTERS:
                measured.append(_CPU_COUNTERS[mode])
            elif mode == "cpu_load":
                estimated.append("CodeCarbon cpu_load (TDP x load)")
                details["cpu_tdp_w"] = getattr(item, "_tdp", None)
                details["cpu_power_model"] = "TDP x (0.1 + 0.9 x load^3), whole machine"
            elif mode == "constant":
                estimated.append("CodeCarbon constant (50% of TDP)")
                details["cpu_tdp_w"] = getattr(item, "_tdp", None)
            else:
                estimated.append(f"CodeCarbon CPU mode {mode!r}")
        elif kind == "GPU":
            devices = type(getattr(item, "devices", None)).__module__ or ""
            measured.append("AMD SMI" if "amd" in devices.lower() else "NVML")
        elif kind == "RAM":
            forced = getattr(item, "_force_ram_power", None)
            ram = "RAM model" if forced is None else f"RAM constant {forced:g} W"
            details["ram"] = ram
        elif kind == "AppleSiliconChip":
            measured.append("powermetrics")
        elif kind == "Raspberry":
            measured.append("Raspberry Pi PMIC")
    if not measured and not estimated:
        return "estimated: CodeCarbon (no CPU/GPU tracked)" + (f" + {ram}" if ram else ""), details
    if estimated:
        parts = estimated + ([ram] if ram else [])
        method = "estimated: " + " + ".join(parts)
        if measured:
            method += "; measured: " + " + ".join(measured)
        return method, details
    return "measured: " + " + ".join(dict.fromkeys(measured)), details


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def reason(self) -> str:
        for record in reversed(self.records):
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                return f"{type(error).__name__}: {error}"
        messages = [r.getMessage() for r in self.records]
        messages = [m for m in messages if "Multiple instances" not in m]
        return messages[-1] if messages else "no reason logged"


class _QuietLog:
    """Route CodeCarbon's log to a capture handler (not the console) for one window."""

    def __init__(self) -> None:
        self.capture = _Capture()
        self._saved: tuple[int, list] | None = None

    def enter(self) -> None:
        logger = logging.getLogger("codecarbon")
        self._saved = (logger.level, list(logger.handlers))
        logger.setLevel(logging.ERROR)  # its constructor logs before applying log_level
        logger.handlers = [self.capture]

    def settle(self) -> None:
        """Undo what the tracker's constructor did to the logger (console handler, level)."""
        logger = logging.getLogger("codecarbon")
        logger.handlers = [self.capture]
        logger.setLevel(logging.WARNING)

    def exit(self) -> None:
        if self._saved is not None:
            logger = logging.getLogger("codecarbon")
            logger.setLevel(self._saved[0])
            logger.handlers = self._saved[1]
            self._saved = None


def _join_in_flight(schedulers: list, timeout_s: float = 5.0) -> None:
    """Wait for scheduler callbacks that were already running when the tracker stopped.

    CodeCarbon's ``PeriodicScheduler.stop`` cancels the next timer but not a callback in flight,
    which would otherwise log (and measure) after the window is over.
    """
    runs = {s._run for s in schedulers if s is not None and hasattr(s, "_run")}
    for thread in threading.enumerate():
        function = getattr(thread, "function", None)
        in_flight = isinstance(thread, threading.Timer) and function in runs
        if in_flight and thread is not threading.current_thread():
            thread.join(timeout_s)


class CodeCarbonSource:
    """Whole-machine energy from CodeCarbon's offline tracker.

    Args:
        country_iso_code: ISO 3166-1 alpha-3 code of the grid, for CO2 (default "USA").
        carbon_intensity_g_per_kwh: Force a carbon intensity instead of the country's.
        tracking_mode: "machine" (default: whole machine, what idle subtraction expects) or
            "process".
        measure_power_secs: CodeCarbon's periodic measurement interval, seconds (default 15, its
            own default). Windows shorter than that are measured once at their end, from the
            power samples CodeCarbon takes every second (or the RAPL counters).

    Raises:
        ValueError: On a bad tracking mode or a non-positive interval.

    Example:
        >>> with EnergyMeter(CodeCarbonSource(country_iso_code="FRA")) as m:  # doctest: +SKIP
        ...     sum(range(10**7))
    """

    def __init__(
        self,
        country_iso_code: str = DEFAULT_COUNTRY,
        *,
        carbon_intensity_g_per_kwh: float | None = None,
        tracking_mode: str = "machine",
        measure_power_secs: float = 15.0,
    ) -> None:
        if tracking_mode not in ("machine", "process"):
            raise ValueError(
                f"`tracking_mode` must be 'machine' or 'process', got {tracking_mode!r}."
            )
        if measure_power_secs <= 0:
            raise ValueError(f"`measure_power_secs` must be > 0, got {measure_power_secs}.")
        self.country_iso_code = country_iso_code
        self.carbon_intensity_g_per_kwh = carbon_intensity_g_per_kwh
        self.tracking_mode = tracking_mode
        self.measure_power_secs = measure_power_secs
        self._tracker: Any = None
        self._quiet: _QuietLog | None = None

    @property
    def attribution(self) -> str:
        """What the energy covers: "machine" (everybody's load) or "process"."""
        return self.tracking_mode

    def resolution_j(self, reading: EnergyReading) -> float:
        """The meter's quantum for one window, J.

        CPU load comes from ``/proc/stat`` in ticks of 10 ms per CPU; a RAPL counter resolves
        microjoules. The quantum is one 10 ms tick of the window's mean power (0.1 mJ with
        RAPL): small next to the idle noise of a shared machine, which the repeats measure.

        Args:
            reading: The window's reading.

        Returns:
            Joules.

        Example:
            >>> CodeCarbonSource().resolution_j(EnergyReading(20.0, 2.0, "estimated: x"))
            0.1
        """
        if str(reading.method).startswith("measured"):
            return 1e-4
        return 0.01 * reading.power_w

    def start(self, label: str = "work") -> None:
        """Start a tracker for one window (CodeCarbon's log stays quiet until :meth:`stop`)."""
        try:
            from codecarbon import OfflineEmissionsTracker
        except Exception as error:  # ImportError, or a broken install
            raise EnergyUnavailableError(f"codecarbon cannot be imported ({error})") from error
        kwargs: dict[str, Any] = {
            "country_iso_code": self.country_iso_code,
            "output_methods": [],
            "emissions_endpoint": None,
            "electricitymaps_api_token": None,
            "log_level": "error",
            "allow_multiple_runs": True,
            "tracking_mode": self.tracking_mode,
            "measure_power_secs": self.measure_power_secs,
        }
        if self.carbon_intensity_g_per_kwh is not None:
            kwargs["force_carbon_intensity_g_co2e_kwh"] = self.carbon_intensity_g_per_kwh
        quiet = _QuietLog()
        quiet.enter()
        try:
            tracker = OfflineEmissionsTracker(**kwargs)
            quiet.settle()
            tracker.start()
            if getattr(tracker, "_start_time", None) is None:
                raise EnergyUnavailableError(f"CodeCarbon did not start: {quiet.capture.reason()}")
        except EnergyUnavailableError:
            quiet.exit()
            raise
        except Exception as error:
            quiet.exit()
            raise EnergyUnavailableError(f"CodeCarbon failed to start: {error}") from error
        self._tracker, self._quiet = tracker, quiet

    def stop(self) -> EnergyReading:
        """Stop the window's tracker and read its energy."""
        tracker, quiet = self._tracker, self._quiet
        self._tracker = self._quiet = None
        if tracker is None or quiet is None:
            raise EnergyUnavailableError("the CodeCarbon window was not started.")
        schedulers = [getattr(tracker, n, None) for n in ("_scheduler", "_scheduler_monitor_power")]
        try:
            tracker.stop()
            _join_in_flight(schedulers)
        except Exception as error:
            raise EnergyUnavailableError(f"CodeCarbon failed to stop: {error}") from error
        finally:
            quiet.exit()
        data = getattr(tracker, "final_emissions_data", None)
        if data is None or data.energy_consumed is None:
            raise EnergyUnavailableError(f"CodeCarbon returned no data: {quiet.capture.reason()}")
        method, details = codecarbon_method(list(getattr(tracker, "_hardware", [])))
        details.update(
            country_iso_code=data.country_iso_code,
            cpu_model=data.cpu_model,
            codecarbon_cpu_power_w=data.cpu_power,
            codecarbon_ram_power_w=data.ram_power,
        )
        energy = float(data.energy_consumed) * J_PER_KWH
        co2 = float(data.emissions) * 1000.0 if data.emissions is not None else None
        return EnergyReading(energy, float(data.duration), method, co2, details)
