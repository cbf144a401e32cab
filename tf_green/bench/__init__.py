"""Bench: profile a baseline and its variants side by side, energy included.

* :func:`profile` / :class:`Profile`: accuracy (or macro-F1, perplexity), size, FLOPs, latency,
  throughput, memory, measured and analytic energy of one model or .tflite artifact.
* :class:`Bench`: many variants against a baseline and :class:`Targets`; energy to solution,
  break-even of the compression energy, markdown/CSV/plot/report.
* :class:`EnergyMeter`: the same energy meter around any work (``with EnergyMeter() as m:``).

Example:
    >>> from tf_green.bench import EnergyMeter, FakePowerSource
    >>> with EnergyMeter(FakePowerSource(2.0, clock=iter([0.0, 3.0]).__next__)) as meter:
    ...     pass
    >>> meter.energy_j
    6.0
"""

from tf_green.bench.analytic import ENERGY_CONSTANTS, AnalyticEnergy, analytic_energy
from tf_green.bench.bench import Bench
from tf_green.bench.codecarbon_source import CodeCarbonSource
from tf_green.bench.energy import ESTIMATE_CAVEAT, EnergyMeter
from tf_green.bench.metrics import Metric
from tf_green.bench.power import EnergyReading, EnergyUnavailableError, FakePowerSource, PowerSource
from tf_green.bench.profile import Profile, profile
from tf_green.bench.targets import Targets

__all__ = [
    "ENERGY_CONSTANTS",
    "ESTIMATE_CAVEAT",
    "AnalyticEnergy",
    "Bench",
    "CodeCarbonSource",
    "EnergyMeter",
    "EnergyReading",
    "EnergyUnavailableError",
    "FakePowerSource",
    "Metric",
    "PowerSource",
    "Profile",
    "Targets",
    "analytic_energy",
    "profile",
]
