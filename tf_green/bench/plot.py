"""The trade-off figure: metric against size and against energy, Pareto front marked.

Built on a bare ``matplotlib.figure.Figure`` (no pyplot, no global state, no display needed).
The baseline is drawn as a large star; the Pareto front (variants no other variant beats on both
cost and metric) is joined by a dashed line and ringed.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"name": ["a", "b"], "metric_value": [0.9, 0.8],
    ...                    "size_bytes": [100, 10], "energy_j_per_1k": [2.0, 1.0],
    ...                    "analytic_energy_j_per_1k": [0.2, 0.1]})
    >>> fig = plot_tradeoff(df, metric="accuracy", higher_is_better=True, baseline="a")
    >>> len(fig.axes)
    2
"""

from __future__ import annotations

import math
import os
import pathlib
import tempfile

import pandas as pd
from matplotlib.figure import Figure

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


def _panel(ax, frame: pd.DataFrame, cost: str, label: str, metric: str, higher: bool, base: str):
    costs = [float(c) if not _missing(c) else math.nan for c in frame[cost]]
    values = [float(v) if not _missing(v) else math.nan for v in frame["metric_value"]]
    names = list(frame["name"])
    for index, (name, c, v) in enumerate(zip(names, costs, values, strict=True)):
        if math.isnan(c) or math.isnan(v):
            continue
        is_base = name == base
        ax.scatter(
            [c],
            [v],
            s=220 if is_base else 60,
            marker="*" if is_base else "o",
            color="tab:red" if is_base else "tab:blue",
            zorder=3,
            label="baseline" if is_base else None,
        )
        offset = (6, 4) if index % 2 == 0 else (6, -11)  # neighbours' labels do not overlap
        ax.annotate(name, (c, v), textcoords="offset points", xytext=offset, fontsize=8)
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
    positive = [c for c in costs if not math.isnan(c)]
    if positive and min(positive) > 0:
        ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel(f"{metric} ({'higher' if higher else 'lower'} is better)")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=8, loc="best")


def plot_tradeoff(
    results: pd.DataFrame,
    *,
    metric: str,
    higher_is_better: bool,
    baseline: str | None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Draw metric vs size and metric vs energy for every variant.

    The energy panel uses measured ``energy_j_per_1k`` when every variant has it, else the
    analytic model's figure (the axis label says which).

    Args:
        results: One row per variant with ``name``, ``metric_value``, ``size_bytes``,
            ``energy_j_per_1k`` and ``analytic_energy_j_per_1k``.
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
        >>> fig.axes[0].get_xlabel()
        'size (bytes)'
    """
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    left, right = figure.subplots(1, 2)
    _panel(left, results, "size_bytes", "size (bytes)", metric, higher_is_better, baseline)
    measured = results.get("energy_j_per_1k")
    use_measured = measured is not None and len(results) and measured.notna().all()
    if use_measured:
        column, label = "energy_j_per_1k", "measured energy (J per 1,000 inferences, net of idle)"
    else:
        column, label = "analytic_energy_j_per_1k", "analytic energy (J per 1,000 inferences)"
    _panel(right, results, column, label, metric, higher_is_better, baseline)
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
