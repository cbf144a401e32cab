"""Compare bench profiles with their baseline: ratios, metric drop and the targets they meet.

Example:
    >>> _ratio(10, 4)
    2.5
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from tf_green.bench.metrics import Metric
from tf_green.bench.profile import Profile
from tf_green.bench.targets import Targets

__all__ = ["compare_profiles"]


def _ratio(numerator: Any, denominator: Any) -> float:
    try:
        a, b = float(numerator), float(denominator)
    except (TypeError, ValueError):
        return math.nan
    if math.isnan(a) or math.isnan(b) or b <= 0 or a <= 0:
        return math.nan
    return a / b


def compare_profiles(
    profiles: Mapping[str, Profile], base: str, metric: Metric, targets: Targets
) -> pd.DataFrame:
    """One row per profile with its ratios to the baseline and the targets it misses.

    Args:
        profiles: Profiles by variant name, in order.
        base: The baseline's name (a key of ``profiles``).
        metric: The bench metric (its direction decides ``metric_drop``).
        targets: The KPIs.

    Returns:
        The :class:`~tf_green.bench.profile.Profile` fields plus ``is_baseline``,
        ``metric_drop``, ``size_reduction``, ``gzip_reduction``, ``speedup``,
        ``energy_reduction``, ``analytic_energy_reduction``, ``meets_targets`` and
        ``targets_missed`` (ratios are NaN where a figure is missing).

    Example:
        >>> compare_profiles(bench.profiles, "baseline", bench.metric, Targets())  # doctest: +SKIP
    """
    frame = pd.DataFrame([p.to_dict() for p in profiles.values()])
    ref = profiles[base]
    frame.insert(1, "is_baseline", frame["name"] == base)
    drops = []
    for value in frame["metric_value"]:
        known = value is not None and ref.metric_value is not None and not pd.isna(value)
        drops.append(metric.drop(ref.metric_value, float(value)) if known else math.nan)
    frame["metric_drop"] = drops
    frame["size_reduction"] = [_ratio(ref.size_bytes, v) for v in frame["size_bytes"]]
    frame["gzip_reduction"] = [_ratio(ref.gzip_bytes, v) for v in frame["gzip_bytes"]]
    frame["speedup"] = [_ratio(ref.latency_ms_p50, v) for v in frame["latency_ms_p50"]]
    frame["energy_reduction"] = [_ratio(ref.energy_j_per_1k, v) for v in frame["energy_j_per_1k"]]
    frame["analytic_energy_reduction"] = [
        _ratio(ref.analytic_energy_j_per_1k, v) for v in frame["analytic_energy_j_per_1k"]
    ]
    missed = [
        targets.missed(
            metric_drop=row.metric_drop,
            size_reduction=row.size_reduction,
            speedup=row.speedup,
            energy_reduction=row.energy_reduction,
            params=row.params,
        )
        for row in frame.itertuples()
    ]
    frame["meets_targets"] = [not m for m in missed]
    frame["targets_missed"] = ["; ".join(m) for m in missed]
    return frame
