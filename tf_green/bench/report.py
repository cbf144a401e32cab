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
from tf_green.bench.targets import Targets

__all__ = [
    "SUMMARY_COLUMNS",
    "atomic_write_text",
    "format_value",
    "markdown_table",
    "report_markdown",
]

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
        markdown_table(solution, list(solution.columns)),
        "",
    ]
    if break_even is not None:
        parts += [
            "## Break-even",
            "",
            "Inferences after which a variant's saved energy per inference repays the energy "
            "spent making it (training, pruning, distillation, conversion; same meter).",
            "",
            markdown_table(break_even, list(break_even.columns)),
            "",
        ]
    parts += [
        "## How the figures were measured",
        "",
        f"- Energy: {'; '.join(methods)}; net of idle power, median of the repeats.",
        f"- FLOPs: {'; '.join(sorted(set(results['flops_method'])))}.",
        f"- Memory: {results['memory_method'].iloc[0]}.",
        f"- Latency: batch {results['latency_batch_size'].iloc[0]}, p50/p95 over all timed "
        f"calls; throughput at batch {results['throughput_batch_size'].iloc[0]}.",
        "",
    ]
    if any(m.startswith("estimated") for m in methods):
        parts += [f"**Caveat.** {ESTIMATE_CAVEAT}", ""]
    parts += ["## Analytic energy model constants", "", constants_markdown(), ""]
    return "\n".join(parts)
