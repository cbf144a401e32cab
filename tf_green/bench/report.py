"""Write bench results: markdown tables, CSV, and a report folder, all atomically.

Every file is written to a temporary file in its destination folder and moved into place with
``os.replace``, so an interrupted write never leaves a half-written file.

Example:
    >>> import pandas as pd
    >>> print(markdown_table(pd.DataFrame({"name": ["a"], "size_bytes": [1024]}), ["name",
    ...       "size_bytes"]))
    | name | size_bytes |
    |---|---:|
    | a | 1024 |
"""

from __future__ import annotations

import math
import os
import pathlib
import tempfile
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tf_green.bench.analytic import constants_markdown
from tf_green.bench.energy import ESTIMATE_CAVEAT
from tf_green.bench.resolution import below_resolution_text
from tf_green.bench.targets import Targets

__all__ = [
    "ENERGY_COLUMNS",
    "SUMMARY_COLUMNS",
    "atomic_write_text",
    "energy_label",
    "format_value",
    "labelled",
    "markdown_table",
    "report_markdown",
    "summary_markdown",
]

# Columns whose figures come from the energy meter: written out with "measured_" or
# "estimated_" in front, so no table or CSV shows an estimate under a neutral name.
ENERGY_COLUMNS = (
    "energy_j_per_1k",
    "energy_j_per_1k_min",
    "energy_j_per_1k_max",
    "energy_spread_j_per_1k",
    "energy_uncertainty_j_per_1k",
    "energy_resolution_j_per_1k",
    "energy_idle_w",
    "energy_reduction",
    "co2_g_per_1k",
    "energy_j",
    "co2_g",
    "saved_j_per_1k",
)

# The key columns of a bench summary table, in order.
SUMMARY_COLUMNS = (
    "name",
    "kind",
    "metric_value",
    "metric_drop",
    "size_bytes",
    "gzip_bytes",
    "sparsity",
    "flops_per_sample",
    "latency_ms_p50",
    "throughput_per_s",
    "memory_bytes",
    "peak_memory_mb",
    "energy_j_per_1k",
    "analytic_energy_j_per_1k",
    "size_reduction",
    "gzip_reduction",
    "speedup",
    "energy_reduction",
    "meets_targets",
    "targets_missed",
)


def atomic_write_text(path: str | os.PathLike, text: str) -> pathlib.Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``.

    Args:
        path: Destination file; its folder must exist.
        text: Content (UTF-8).

    Returns:
        The path.

    Raises:
        ValueError: If the folder does not exist.

    Example:
        >>> atomic_write_text("/no/such/folder/x.md", "hi")
        Traceback (most recent call last):
        ...
        ValueError: `path` folder '/no/such/folder' does not exist; create it first.
    """
    target = pathlib.Path(path)
    if not target.parent.is_dir():
        raise ValueError(f"`path` folder {str(target.parent)!r} does not exist; create it first.")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    return target


def format_value(value: object) -> str:
    """Format one cell for a markdown table (4 significant digits, blanks for missing).

    Args:
        value: The cell.

    Returns:
        Its text.

    Example:
        >>> format_value(0.123456), format_value(None), format_value(1234567.0)
        ('0.1235', 'n/a', '1.235e+06')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isinf(value):
            return "never" if value > 0 else "-inf"
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def energy_label(frame: pd.DataFrame) -> str:
    """What the energy figures of a results table are: "measured", "estimated" or "mixed".

    Args:
        frame: Results with an ``energy_basis`` column (or ``energy_method``).

    Returns:
        The label, or "" when no row has an energy figure source.

    Example:
        >>> energy_label(pd.DataFrame({"energy_basis": ["estimated", "none"]}))
        'estimated'
    """
    if "energy_basis" in frame.columns:
        bases = {str(b) for b in frame["energy_basis"]}
    elif "energy_method" in frame.columns:
        bases = {str(m).split(":", 1)[0].split(" ", 1)[0] for m in frame["energy_method"]}
        bases = {"measured" if b == "fake" else b for b in bases}
    else:
        return ""
    bases &= {"measured", "estimated"}
    return bases.pop() if len(bases) == 1 else ("mixed" if bases else "")


def labelled(frame: pd.DataFrame, label: str | None = None) -> pd.DataFrame:
    """A copy whose energy columns say what they are: ``estimated_energy_j_per_1k`` ...

    Args:
        frame: Results, energy-to-solution or break-even table.
        label: "measured", "estimated" or "mixed"; default :func:`energy_label` of ``frame``.

    Returns:
        The renamed copy (unchanged names when there is no label).

    Example:
        >>> frame = pd.DataFrame({"energy_basis": ["estimated"], "energy_j_per_1k": [1.0]})
        >>> list(labelled(frame).columns)
        ['energy_basis', 'estimated_energy_j_per_1k']
    """
    label = energy_label(frame) if label is None else label
    if not label:
        return frame.copy()
    return frame.rename(columns={c: f"{label}_{c}" for c in ENERGY_COLUMNS if c in frame})


def _energy_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Energy per 1k as text: "1.23 ± 0.05", "< 0.2 J/1k" below resolution, "n/a" if none."""
    shown = frame.copy()
    if "energy_j_per_1k" not in shown.columns:
        return shown
    cells = []
    for row in shown.itertuples():
        value = getattr(row, "energy_j_per_1k", None)
        status = str(getattr(row, "energy_status", ""))
        spread = getattr(row, "energy_uncertainty_j_per_1k", None)
        if status.startswith("below resolution"):
            cells.append(below_resolution_text(getattr(row, "energy_resolution_j_per_1k", None)))
        elif value is None or pd.isna(value):
            cells.append("n/a")
        elif spread is None or pd.isna(spread):
            cells.append(f"{float(value):.4g}")
        else:
            cells.append(f"{float(value):.4g} ± {float(spread):.2g}")
    shown["energy_j_per_1k"] = cells
    return shown


def summary_markdown(frame: pd.DataFrame, columns: Sequence[str] = SUMMARY_COLUMNS) -> str:
    """The summary table of bench results, energy labelled and shown with its uncertainty.

    Args:
        frame: A bench's results.
        columns: Columns to show (unlabelled names).

    Returns:
        Markdown.

    Example:
        >>> frame = pd.DataFrame({"name": ["a"], "energy_basis": ["estimated"],
        ...     "energy_j_per_1k": [None], "energy_status": ["below resolution (< 0.2 J/1k)"],
        ...     "energy_resolution_j_per_1k": [0.2]})
        >>> print(summary_markdown(frame, ["name", "energy_j_per_1k"]))
        | name | estimated_energy_j_per_1k |
        |---|---|
        | a | < 0.2 J/1k |
    """
    label = energy_label(frame)
    names = [f"{label}_{c}" if label and c in ENERGY_COLUMNS else c for c in columns]
    return markdown_table(labelled(_energy_cells(frame), label), names)


def markdown_table(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """Render selected columns of ``frame`` as a markdown table (numbers right-aligned).

    Args:
        frame: The data.
        columns: Columns to show, in order; missing ones are skipped.

    Returns:
        The table.

    Example:
        >>> markdown_table(pd.DataFrame({"x": [1.5]}), ["x", "y"]).splitlines()[0]
        '| x |'
    """
    shown = [c for c in columns if c in frame.columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in shown]
    lines = [
        "| " + " | ".join(shown) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(format_value(row[c]) for c in shown) + " |")
    return "\n".join(lines)


def report_markdown(
    results: pd.DataFrame,
    *,
    summary: str,
    solution: pd.DataFrame,
    metric: str,
    targets: Targets,
    break_even: pd.DataFrame | None = None,
) -> str:
    """The text of ``report.md``: summary, energy to solution, methods, caveats, constants.

    Args:
        results: The bench's full results.
        summary: The summary table (markdown).
        solution: The energy-to-solution table.
        metric: Metric name.
        targets: The targets.
        break_even: The break-even table, if the compression energy is known.

    Returns:
        Markdown.

    Example:
        >>> frame = pd.DataFrame({"energy_method": ["estimated: x"], "flops_method": ["per op"],
        ...     "memory_method": ["rss"], "latency_batch_size": [1], "throughput_batch_size": [64],
        ...     "samples": [10]})
        >>> "Caveat" in report_markdown(frame, summary="", solution=pd.DataFrame(),
        ...                            metric="accuracy", targets=Targets())
        True
    """
    methods = sorted(set(results["energy_method"]))
    label = energy_label(results)
    bounds = ", ".join(f"{k}={v}" for k, v in targets.to_dict().items() if v is not None)
    samples = int(results["samples"].iloc[0])
    parts = [
        "# tf_green bench report",
        "",
        f"Metric: **{metric}** on {samples} samples. Targets: {bounds or 'none'}.",
        "",
        summary,
        "",
        "![trade-off](tradeoff.png)",
        "",
        f"## Energy to solution ({samples} requests)",
        "",
        markdown_table(labelled(solution, label), list(labelled(solution, label).columns)),
        "",
    ]
    if break_even is not None:
        parts += [
            "## Break-even",
            "",
            "Inferences after which a variant's saved energy per inference repays the energy "
            "spent making it (training, pruning, distillation, conversion; same meter).",
            "",
            markdown_table(labelled(break_even, label), list(labelled(break_even, label).columns)),
            "",
        ]
    parts += [
        "## How the figures were measured",
        "",
        _energy_line(results, methods, label),
        f"- FLOPs: {'; '.join(sorted(set(results['flops_method'])))}.",
        _memory_line(results),
        f"- Latency: batch {results['latency_batch_size'].iloc[0]}, p50/p95 over all timed "
        f"calls; throughput at batch {results['throughput_batch_size'].iloc[0]}.",
        "",
    ]
    if any(m.startswith("estimated") for m in methods):
        parts += [f"**Caveat.** {ESTIMATE_CAVEAT}", ""]
    parts += ["## Analytic energy model constants", "", constants_markdown(), ""]
    return "\n".join(parts)


def _energy_line(results: pd.DataFrame, methods: list[str], label: str) -> str:
    attribution = sorted(set(results.get("energy_attribution", pd.Series(dtype=str))) - {"none"})
    below = []
    if "energy_status" in results.columns:
        below = [str(n) for n, s in zip(results["name"], results["energy_status"], strict=True)
                 if str(s).startswith("below resolution")]  # fmt: skip
    what = f"{label or 'no'} energy" + (
        f", {' and '.join(attribution)} attribution" if attribution else ""
    )
    line = (
        f"- Energy ({what}): {'; '.join(methods)}; net of idle power, median of the repeats. "
        f"Each figure is shown ± its standard error; a figure at or under its resolution "
        "floor (a 95% Student-t band of the standard error of the repeats or of the idle "
        "power, plus the meter's quantum) is shown as '< F J/1k' and gives no ratio, energy "
        "to solution or break-even. The analytic model's figure is always beside it."
    )
    if below:
        line += f" Below resolution: {', '.join(below)}."
    return line


def _memory_line(results: pd.DataFrame) -> str:
    rss = "; ".join(sorted(set(results["memory_method"])))
    if "memory_bytes_method" not in results.columns:
        return f"- Memory: {rss}."
    graph = "; ".join(sorted(set(results["memory_bytes_method"])))
    return (
        f"- Memory: `memory_bytes` = model bytes + activation bytes at batch 1 ({graph}). "
        f"`peak_memory_mb` (measured RSS delta, only where above 1 MiB): {rss}."
    )
