"""The trade-off figure: metric against size, the meter's energy and the analytic energy.

Built on a bare ``matplotlib.figure.Figure`` (no pyplot, no global state, no display needed).
Three panels: size (raw, memory-mapped bytes filled; gzip download bytes hollow, beside them),
the meter's energy (its axis says "estimated" or "measured" and the attribution), and the
analytic model's energy, always shown. The baseline is drawn as a large star; the Pareto front
(variants no other variant beats on both cost and metric) is joined by a dashed line and ringed.
A variant whose energy is below resolution is not given a figure: it is drawn as a hollow "<"
at its resolution floor (or listed in the panel when the floor is 0) and never enters the front.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"name": ["a", "b"], "metric_value": [0.9, 0.8],
    ...                    "size_bytes": [100, 10], "energy_j_per_1k": [2.0, 1.0],
    ...                    "analytic_energy_j_per_1k": [0.2, 0.1]})
    >>> fig = plot_tradeoff(df, metric="accuracy", higher_is_better=True, baseline="a")
    >>> len(fig.axes)
    3
"""

from __future__ import annotations

import math
import os
import pathlib
import tempfile

import pandas as pd
from matplotlib.figure import Figure

from tf_green.bench.report import energy_label

__all__ = ["pareto_front", "plot_tradeoff"]


def pareto_front(costs: list[float], values: list[float], higher_is_better: bool) -> list[int]:
    """Indices of the points no other point dominates (lower or equal cost, better or equal metric).

    Args:
        costs: Cost of each point (lower is better).
        values: Metric of each point.
        higher_is_better: Direction of the metric.

    Returns:
        Indices on the front, sorted by cost.

    Example:
        >>> pareto_front([1, 2, 3], [0.5, 0.9, 0.8], higher_is_better=True)
        [0, 1]
    """
    sign = 1.0 if higher_is_better else -1.0
    points = [
        (c, sign * v, i)
        for i, (c, v) in enumerate(zip(costs, values, strict=True))
        if not (_missing(c) or _missing(v))
    ]
    front = []
    for c, v, i in points:
        dominated = any(
            (c2 <= c and v2 >= v) and (c2 < c or v2 > v) for c2, v2, j in points if j != i
        )
        if not dominated:
            front.append((c, i))
    return [i for _, i in sorted(front)]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _floats(series) -> list[float]:
    return [float(v) if not _missing(v) else math.nan for v in series]


def _points(ax, names, costs, values, base, *, hollow=False, marker="o", label=None) -> None:
    for index, (name, c, v) in enumerate(zip(names, costs, values, strict=True)):
        if math.isnan(c) or math.isnan(v):
            continue
        is_base = name == base
        color = "tab:red" if is_base else ("tab:gray" if hollow else "tab:blue")
        ax.scatter(
            [c],
            [v],
            s=220 if is_base and not hollow else 60,
            marker="*" if is_base and not hollow else marker,
            facecolors="none" if hollow else color,
            edgecolors=color,
            zorder=3,
            label=label if label else ("baseline" if is_base else None),
        )
        label = None
        if not hollow:
            offset = (6, 4) if index % 2 == 0 else (6, -11)  # neighbours' labels do not overlap
            ax.annotate(name, (c, v), textcoords="offset points", xytext=offset, fontsize=8)


def _front(ax, costs, values, higher: bool) -> None:
    front = pareto_front(costs, values, higher)
    if front:
        ax.plot(
            [costs[i] for i in front],
            [values[i] for i in front],
            linestyle="--",
            color="tab:green",
            marker="o",
            markersize=14,
            markerfacecolor="none",
            zorder=2,
            label="Pareto front",
        )


def _finish(ax, costs, label: str, metric: str, higher: bool) -> None:
    positive = [c for c in costs if not math.isnan(c)]
    if positive and min(positive) > 0:
        ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel(f"{metric} ({'higher' if higher else 'lower'} is better)")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=8, loc="best")


def _panel(ax, frame: pd.DataFrame, cost: str, label: str, metric: str, higher: bool, base: str):
    costs, values = _floats(frame[cost]), _floats(frame["metric_value"])
    _points(ax, list(frame["name"]), costs, values, base)
    _front(ax, costs, values, higher)
    _finish(ax, costs, label, metric, higher)


def _size_panel(ax, frame: pd.DataFrame, metric: str, higher: bool, base: str) -> None:
    names, values = list(frame["name"]), _floats(frame["metric_value"])
    raw = _floats(frame["size_bytes"])
    _points(ax, names, raw, values, base)
    gzip = _floats(frame["gzip_bytes"]) if "gzip_bytes" in frame else [math.nan] * len(raw)
    _points(ax, names, gzip, values, base, hollow=True, marker="^", label="gzip (download)")
    _front(ax, raw, values, higher)
    label = "size (bytes)\nfilled: raw (memory-mapped); hollow: gzip (download)"
    _finish(ax, [c for c in raw + gzip if not math.isnan(c)] or raw, label, metric, higher)


def _below(frame: pd.DataFrame) -> list[bool]:
    if "energy_status" not in frame:
        return [False] * len(frame)
    return [str(s).startswith("below resolution") for s in frame["energy_status"]]


def _energy_panel(ax, frame: pd.DataFrame, metric: str, higher: bool, base: str) -> None:
    names, values = list(frame["name"]), _floats(frame["metric_value"])
    costs = _floats(frame["energy_j_per_1k"]) if "energy_j_per_1k" in frame else []
    costs = costs or [math.nan] * len(names)
    below = _below(frame)
    resolved = [math.nan if b else c for c, b in zip(costs, below, strict=True)]
    _points(ax, names, resolved, values, base)
    _front(ax, resolved, values, higher)
    floors = (
        _floats(frame["energy_resolution_j_per_1k"])
        if "energy_resolution_j_per_1k" in frame
        else [math.nan] * len(names)
    )
    at_floor = [f if b and f > 0 else math.nan for f, b in zip(floors, below, strict=True)]
    _points(ax, names, at_floor, values, base, hollow=True, marker="<",
            label="below resolution (drawn at its floor)")  # fmt: skip
    unplaced = [n for n, f, b in zip(names, at_floor, below, strict=True) if b and math.isnan(f)]
    if unplaced:
        ax.text(0.02, 0.02, "no net energy: " + ", ".join(unplaced), transform=ax.transAxes,
                fontsize=8, color="tab:gray")  # fmt: skip
    if all(math.isnan(c) for c in resolved + at_floor):
        ax.text(0.5, 0.5, "no energy figure above resolution", transform=ax.transAxes,
                ha="center", fontsize=9, color="tab:gray")  # fmt: skip
    kind = energy_label(frame) or "no"
    attribution = sorted(set(frame.get("energy_attribution", pd.Series(dtype=str))) - {"none"})
    where = f"{' and '.join(attribution)} attribution, " if attribution else ""
    label = f"{kind} energy, J per 1,000 inferences\n({where}net of idle)"
    _finish(ax, [c for c in resolved + at_floor if not math.isnan(c)], label, metric, higher)


def plot_tradeoff(
    results: pd.DataFrame,
    *,
    metric: str,
    higher_is_better: bool,
    baseline: str | None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Draw metric vs size (raw and gzip), vs the meter's energy and vs the analytic energy.

    The meter's energy panel places only resolved figures; a figure below resolution is drawn
    hollow at its floor (never at a made-up value) and stays out of the Pareto front. Its axis
    says whether the figures are "estimated" or "measured".

    Args:
        results: One row per variant with ``name``, ``metric_value``, ``size_bytes``,
            ``gzip_bytes``, ``energy_j_per_1k`` (with ``energy_status``,
            ``energy_resolution_j_per_1k``, ``energy_basis``) and ``analytic_energy_j_per_1k``.
        metric: Metric name for the axis.
        higher_is_better: Direction of the metric.
        baseline: Name of the baseline row, highlighted.
        path: If given, save the PNG there (atomically: temporary file + ``os.replace``).

    Returns:
        The figure.

    Example:
        >>> fig = plot_tradeoff(pd.DataFrame(columns=["name", "metric_value", "size_bytes",
        ...     "energy_j_per_1k", "analytic_energy_j_per_1k"]), metric="accuracy",
        ...     higher_is_better=True, baseline=None)
        >>> fig.axes[0].get_xlabel().splitlines()[0]
        'size (bytes)'
    """
    figure = Figure(figsize=(15, 4.5), layout="constrained")
    size_ax, energy_ax, analytic_ax = figure.subplots(1, 3)
    _size_panel(size_ax, results, metric, higher_is_better, baseline)
    _energy_panel(energy_ax, results, metric, higher_is_better, baseline)
    _panel(
        analytic_ax,
        results,
        "analytic_energy_j_per_1k",
        "analytic energy, J per 1,000 inferences\n(model: MACs x pJ + DRAM reads)",
        metric,
        higher_is_better,
        baseline,
    )
    figure.suptitle(f"{metric} vs size and energy")
    if path is not None:
        target = pathlib.Path(path)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                figure.savefig(handle, format="png", dpi=120)
            os.replace(tmp, target)
        except BaseException:
            pathlib.Path(tmp).unlink(missing_ok=True)
            raise
    return figure
