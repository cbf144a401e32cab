"""Energy to solution and break-even, computed from a bench's results table.

Example:
    >>> import pandas as pd
    >>> results = pd.DataFrame({"name": ["base", "small"], "is_baseline": [True, False],
    ...     "metric_drop": [0.0, 0.01], "energy_j_per_1k": [3.0, 1.0],
    ...     "analytic_energy_j_per_1k": [0.3, 0.1], "co2_g_per_1k": [None, None]})
    >>> break_even(results, 20.0)["break_even_inferences"].tolist()
    [10000.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from tf_green.bench.targets import Targets

__all__ = ["break_even", "energy_to_solution"]


def _num(value: Any) -> float:
    """``value`` as a float, NaN for None or anything not numeric."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _energy_reason(row: Any) -> str | None:
    """Why a row has no energy figure to compute with (None if it has one)."""
    status = str(getattr(row, "energy_status", "") or "")
    if status.startswith("below resolution"):
        return status
    if math.isnan(_num(getattr(row, "energy_j_per_1k", None))):
        return status or "no energy figure"
    return None


def energy_to_solution(results: pd.DataFrame, targets: Targets, requests: int) -> pd.DataFrame:
    """Energy to serve ``requests`` inferences, for variants that meet the metric target.

    Args:
        results: A bench's results (``name``, ``metric_drop``, ``energy_j_per_1k``,
            ``analytic_energy_j_per_1k``, ``co2_g_per_1k``).
        targets: Where ``max_metric_drop`` comes from.
        requests: Number of requests, >= 1.

    Returns:
        One row per variant: ``requests``, ``energy_j`` (the meter's figure, net of idle),
        ``energy_j_per_1k``, ``analytic_energy_j``, ``co2_g`` and ``status`` ("attained",
        "attained; energy below resolution (< F J/1k)" with the meter's columns left empty,
        or "not attained: <why>" with all energy columns left empty).

    Raises:
        ValueError: If ``requests`` < 1.

    Example:
        >>> frame = pd.DataFrame({"name": ["a"], "metric_drop": [0.5], "energy_j_per_1k": [1.0],
        ...     "analytic_energy_j_per_1k": [0.1], "co2_g_per_1k": [None]})
        >>> energy_to_solution(frame, Targets(), 10)["status"].iloc[0]
        'not attained: metric_drop 0.5 > 0.02'
    """
    requests = int(requests)
    if requests < 1:
        raise ValueError(f"`requests` must be >= 1, got {requests}.")
    rows = []
    for row in results.itertuples():
        attained = targets.metric_ok(row.metric_drop)
        scale = requests / 1000.0 if attained else math.nan
        status = "attained"
        if not attained:
            status = (
                f"not attained: metric_drop {_num(row.metric_drop):.4g} > "
                f"{targets.max_metric_drop:g}"
            )
        reason = _energy_reason(row)
        metered = math.nan if reason is not None else scale
        if attained and reason is not None:
            status = f"attained; energy {reason}"
        rows.append(
            {
                "name": row.name,
                "requests": requests,
                "energy_j": _num(row.energy_j_per_1k) * metered,
                "energy_j_per_1k": _num(row.energy_j_per_1k) if metered == scale else math.nan,
                "analytic_energy_j": _num(row.analytic_energy_j_per_1k) * scale,
                "co2_g": _num(row.co2_g_per_1k) * metered,
                "status": status,
            }
        )
    return pd.DataFrame(rows)


def break_even(
    results: pd.DataFrame,
    compression_energy_j: float | Mapping[str, float],
    *,
    basis: str = "measured",
) -> pd.DataFrame:
    """Inferences after which a variant's energy savings repay the energy spent making it.

    ``break_even_inferences = compression_energy_j / (baseline J per inference - variant J per
    inference)``; infinite when the variant saves nothing, NaN when energy is unknown or either
    figure is below resolution (``status`` says which). The ``basis`` column says what the
    meter's figures are ("measured", "estimated") rather than the argument's name.

    Args:
        results: A bench's results (``name``, ``is_baseline`` and the energy columns).
        compression_energy_j: Energy spent producing the variants (e.g. measured with
            :class:`~tf_green.bench.energy.EnergyMeter` around prune/distill): one figure for
            all, or a mapping from variant name to joules.
        basis: "measured" (net measured J per 1k) or "analytic".

    Returns:
        One row per non-baseline variant: ``basis``, ``compression_energy_j``,
        ``saved_j_per_1k``, ``break_even_inferences``, ``status``.

    Raises:
        ValueError: On an unknown basis or variant name, or a negative energy.

    Example:
        >>> frame = pd.DataFrame({"name": ["b", "v"], "is_baseline": [True, False],
        ...     "energy_j_per_1k": [1.0, 2.0], "analytic_energy_j_per_1k": [1.0, 0.5]})
        >>> break_even(frame, 5.0)["break_even_inferences"].tolist()
        [inf]
    """
    if basis not in ("measured", "analytic"):
        raise ValueError(f"`basis` must be 'measured' or 'analytic', got {basis!r}.")
    column = "energy_j_per_1k" if basis == "measured" else "analytic_energy_j_per_1k"
    names = [str(n) for n in results.loc[~results["is_baseline"], "name"]]
    if isinstance(compression_energy_j, Mapping):
        unknown = sorted(set(compression_energy_j) - set(names))
        if unknown:
            raise ValueError(
                f"`compression_energy_j` names {unknown} that are not non-baseline variants "
                f"({names})."
            )
        costs = {n: compression_energy_j.get(n) for n in names}
    else:
        costs = dict.fromkeys(names, compression_energy_j)
    base_row = next(results.loc[results["is_baseline"]].itertuples())
    base = _num(getattr(base_row, column))
    shown_basis = basis
    if basis == "measured" and "energy_basis" in results.columns:
        kinds = sorted(set(results["energy_basis"]) - {"none"})
        shown_basis = " and ".join(kinds) or "none"
    rows = []
    for name, cost in costs.items():
        if cost is not None and not float(cost) >= 0:
            raise ValueError(f"`compression_energy_j` for {name!r} must be >= 0, got {cost}.")
        row = next(results.loc[results["name"] == name].itertuples())
        saved = base - _num(getattr(row, column))
        why = None
        if basis == "measured":
            base_why, row_why = _energy_reason(base_row), _energy_reason(row)
            why = f"baseline {base_why}" if base_why else row_why
        status = why or ("no compression energy given" if cost is None else "computed")
        if why is not None:
            saved = math.nan
        if cost is None or math.isnan(saved):
            inferences = math.nan
        elif saved <= 0:
            inferences = math.inf
        else:
            inferences = float(cost) / (saved / 1000.0)
        rows.append(
            {
                "name": name,
                "basis": shown_basis,
                "compression_energy_j": math.nan if cost is None else float(cost),
                "saved_j_per_1k": saved,
                "break_even_inferences": inferences,
                "status": status,
            }
        )
    return pd.DataFrame(rows)
