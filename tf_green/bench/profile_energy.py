"""The energy stage of :func:`~tf_green.bench.profile.profile`: source, window plan, fields.

* **Attribution.** ``energy_attribution="process"`` (the default) uses
  :class:`~tf_green.bench.process_source.ProcessCpuSource`: this process's CPU seconds x the
  power of one busy core from CodeCarbon's TDP table. ``"machine"`` uses
  :class:`~tf_green.bench.codecarbon_source.CodeCarbonSource` in machine mode: whole-machine
  power (RAPL/NVML where readable, else CodeCarbon's load model) minus idle power. Process is the
  default because on a shared machine (CI, a laptop with a browser, several people's tests) the
  idle window and the inference window contain different amounts of other people's load, so
  their difference is noise that can even be negative; this process's CPU time is not touched
  by that load. Where no one else runs and RAPL/NVML is readable, ``"machine"`` gives a
  measured figure that includes what the CPU-time model leaves out (RAM, uncore, turbo).
* **Window plan.** The inference windows run a fixed number of calls, chosen from the measured
  latency so that each window lasts ``energy_window_s`` (:func:`plan_calls`); a figure below
  resolution is measured again with 4x longer windows within ``energy_budget_s``.

Example:
    >>> plan_calls(latency_ms=0.03, window_s=3.0)
    100000
    >>> energy_fields(None)["energy_status"]
    'not measured (energy=False)'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from tf_green.bench.codecarbon_source import DEFAULT_COUNTRY, CodeCarbonSource
from tf_green.bench.inference_energy import InferenceEnergy, measure_inference_energy
from tf_green.bench.power import PowerSource
from tf_green.bench.process_source import ProcessCpuSource

__all__ = ["ATTRIBUTIONS", "default_source", "energy_fields", "measure_energy", "plan_calls"]

ATTRIBUTIONS = ("process", "machine")
NOT_MEASURED = "not measured (energy=False)"


def default_source(
    attribution: str = "process",
    country_iso_code: str = DEFAULT_COUNTRY,
    carbon_intensity_g_per_kwh: float | None = None,
) -> PowerSource:
    """The power source for an attribution: per-process CPU time, or CodeCarbon machine mode.

    Args:
        attribution: "process" or "machine".
        country_iso_code: Grid for CO2.
        carbon_intensity_g_per_kwh: Force a carbon intensity.

    Returns:
        A :class:`ProcessCpuSource` or a :class:`CodeCarbonSource`.

    Raises:
        ValueError: On an unknown attribution.

    Example:
        >>> type(default_source("machine")).__name__
        'CodeCarbonSource'
    """
    if attribution not in ATTRIBUTIONS:
        raise ValueError(
            f"`energy_attribution` must be one of {list(ATTRIBUTIONS)}, got {attribution!r}."
        )
    if attribution == "process":
        return ProcessCpuSource(
            country_iso_code=country_iso_code,
            carbon_intensity_g_per_kwh=carbon_intensity_g_per_kwh,
        )
    return CodeCarbonSource(country_iso_code, carbon_intensity_g_per_kwh=carbon_intensity_g_per_kwh)


def plan_calls(latency_ms: float, window_s: float) -> int:
    """Calls per inference window so that a window lasts about ``window_s`` at this latency.

    Args:
        latency_ms: Median latency of one call, ms.
        window_s: Wanted window length, s.

    Returns:
        The number of calls, >= 1.

    Example:
        >>> plan_calls(250.0, 3.0)
        12
    """
    if not latency_ms > 0 or math.isinf(latency_ms):
        return 1
    return max(1, math.ceil(window_s * 1000.0 / latency_ms))


def measure_energy(
    run_one: Callable[[], int],
    *,
    latency_ms: float,
    source: PowerSource | None,
    attribution: str,
    window_s: float,
    repeats: int,
    budget_s: float | None,
    country_iso_code: str = DEFAULT_COUNTRY,
    carbon_intensity_g_per_kwh: float | None = None,
) -> InferenceEnergy:
    """Measure the energy of ``run_one`` calls with the window planned from ``latency_ms``.

    Args:
        run_one: Runs one call and returns how many inferences it made.
        latency_ms: Median latency of one call, ms.
        source: A power source, or None for :func:`default_source` of ``attribution``.
        attribution: "process" or "machine" (used when ``source`` is None).
        window_s: Wanted inference window, s.
        repeats: Window pairs, >= 1.
        budget_s: Seconds the measurement may take in all (None: one round).
        country_iso_code: Grid for CO2 with the default source.
        carbon_intensity_g_per_kwh: Force a carbon intensity with the default source.

    Returns:
        The :class:`~tf_green.bench.inference_energy.InferenceEnergy`.

    Raises:
        ValueError: On an unknown attribution or a budget shorter than one round.

    Example:
        >>> from tf_green.bench.power import FakePowerSource
        >>> measure_energy(lambda: 1, latency_ms=1.0, source=FakePowerSource(1.0),
        ...     attribution="machine", window_s=0.01, repeats=1, budget_s=None).status
        'below resolution (no net energy)'
    """
    if source is None:
        source = default_source(attribution, country_iso_code, carbon_intensity_g_per_kwh)
    elif attribution not in ATTRIBUTIONS:
        raise ValueError(
            f"`energy_attribution` must be one of {list(ATTRIBUTIONS)}, got {attribution!r}."
        )
    if budget_s is not None and budget_s < 2 * repeats * window_s:
        raise ValueError(
            f"`energy_budget_s` ({budget_s:g} s) is shorter than one round of windows "
            f"(2 x repeats x energy_window_s = {2 * repeats * window_s:g} s); raise it, or lower "
            "`repeats` or `energy_window_s`."
        )
    return measure_inference_energy(
        run_one,
        source=source,
        window_s=window_s,
        repeats=repeats,
        calls_per_window=plan_calls(latency_ms, window_s),
        budget_s=budget_s,
    )


def energy_fields(measured: InferenceEnergy | None) -> dict[str, Any]:
    """The energy fields of a :class:`~tf_green.bench.profile.Profile`.

    Args:
        measured: The measurement, or None when energy was not measured.

    Returns:
        Field name to value.

    Example:
        >>> sorted(energy_fields(None))[:3]
        ['co2_g_per_1k', 'energy_attribution', 'energy_basis']
    """
    if measured is None:
        return {
            "energy_j_per_1k": None,
            "energy_j_per_1k_min": None,
            "energy_j_per_1k_max": None,
            "energy_spread_j_per_1k": None,
            "energy_uncertainty_j_per_1k": None,
            "energy_resolution_j_per_1k": None,
            "energy_idle_w": None,
            "energy_method": NOT_MEASURED,
            "energy_basis": "none",
            "energy_attribution": "none",
            "energy_status": NOT_MEASURED,
            "energy_window_s": None,
            "energy_calls_per_window": None,
            "co2_g_per_1k": None,
        }
    return {
        "energy_j_per_1k": measured.j_per_1k,
        "energy_j_per_1k_min": measured.j_per_1k_min,
        "energy_j_per_1k_max": measured.j_per_1k_max,
        "energy_spread_j_per_1k": measured.spread_j_per_1k,
        "energy_uncertainty_j_per_1k": measured.uncertainty_j_per_1k,
        "energy_resolution_j_per_1k": measured.resolution_j_per_1k,
        "energy_idle_w": measured.idle_w,
        "energy_method": measured.method,
        "energy_basis": measured.basis,
        "energy_attribution": measured.attribution,
        "energy_status": measured.status,
        "energy_window_s": measured.window_s or None,
        "energy_calls_per_window": measured.calls_per_window or None,
        "co2_g_per_1k": measured.co2_g_per_1k,
    }
