"""The short before/after table a run ends with: metric, sparsity and size of each model.

It reuses the bench's own pieces (:func:`tf_green.bench.variants.as_variant` to run a Keras
model or a .tflite file, its ``size()`` figures, and the bench metrics), and skips latency and
energy so that it takes seconds: a student distilled to chance accuracy shows as such at the
end of ``tf-green distill`` instead of passing for a success.

Example:
    >>> import numpy as np
    >>> from tf_green import models
    >>> x, y = np.zeros((8, 64), np.float32), np.zeros(8, np.int64)
    >>> table = summarize({"m": models.mlp()}, {}, {"m": None}, x, y, "accuracy")
    >>> list(table.columns)
    ['name', 'kind', 'from', 'accuracy', 'sparsity', 'params', 'size_kb', 'gzip_kb']
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from tf_green.bench.metrics import resolve_metric
from tf_green.bench.variants import as_variant

__all__ = ["MAX_SAMPLES", "format_summary", "from_bench_table", "summarize"]

#: Validation samples the metric is computed on (the first ones), to keep the table quick.
MAX_SAMPLES = 2000


def summarize(
    models: Mapping[str, Any],
    tflite: Mapping[str, pathlib.Path],
    parents: Mapping[str, str | None],
    x: np.ndarray,
    y: np.ndarray,
    metric: str,
) -> pd.DataFrame:
    """One row per model or .tflite file: metric on validation data, sparsity and size.

    Args:
        models: Keras models by name, in the order they were made.
        tflite: .tflite files by name.
        parents: The name each was made from (None for trained or loaded ones).
        x: Validation inputs (the first :data:`MAX_SAMPLES` are used).
        y: Validation labels.
        metric: ``"accuracy"``, ``"macro_f1"`` or ``"perplexity"``.

    Returns:
        Columns name, kind, from, <metric>, sparsity, params, size_kb, gzip_kb.

    Raises:
        ValueError: If a model does not take ``x``.

    Example:
        >>> summarize({}, {}, {}, np.zeros((1, 2)), np.zeros(1), "accuracy").empty
        True
    """
    scorer = resolve_metric(metric)
    x, y = x[:MAX_SAMPLES], y[:MAX_SAMPLES]
    rows = []
    for name, model in [*models.items(), *tflite.items()]:
        variant = as_variant(str(model) if isinstance(model, pathlib.Path) else model, name)
        outputs = variant.predict(variant.check_input(x), 256)
        size = variant.size()
        rows.append(
            {
                "name": name,
                "kind": variant.kind,
                "from": parents.get(name) or "",
                scorer.name: float(scorer.fn(y, outputs)),
                "sparsity": size.sparsity,
                "params": size.params,
                "size_kb": size.size_bytes / 1024,
                "gzip_kb": size.gzip_bytes / 1024,
            }
        )
    columns = ["name", "kind", "from", scorer.name, "sparsity", "params", "size_kb", "gzip_kb"]
    return pd.DataFrame(rows, columns=columns)


def from_bench_table(table: pd.DataFrame, parents: Mapping[str, str | None]) -> pd.DataFrame:
    """The same table from a bench's results (no second measurement).

    Args:
        table: :class:`tf_green.bench.Bench` results.
        parents: The name each variant was made from.

    Returns:
        Columns name, kind, from, <metric>, sparsity, params, size_kb, gzip_kb.

    Example:
        >>> bench = pd.DataFrame({"name": ["m"], "kind": ["keras"], "metric": ["accuracy"],
        ...     "metric_value": [0.9], "sparsity": [0.0], "params": [10], "size_bytes": [2048],
        ...     "gzip_bytes": [1024]})
        >>> from_bench_table(bench, {})["size_kb"].tolist()
        [2.0]
    """
    metric = str(table["metric"].iloc[0]) if len(table) else "metric"
    return pd.DataFrame(
        {
            "name": table["name"],
            "kind": table["kind"],
            "from": [parents.get(n) or "" for n in table["name"]],
            metric: table["metric_value"],
            "sparsity": table["sparsity"],
            "params": table["params"],
            "size_kb": table["size_bytes"] / 1024,
            "gzip_kb": table["gzip_bytes"] / 1024,
        }
    )


def format_summary(table: pd.DataFrame, samples: int) -> str:
    """Render the table for a terminal, with a line saying what was measured.

    Args:
        table: From :func:`summarize` or :func:`from_bench_table`.
        samples: Validation samples the metric used.

    Returns:
        The text.

    Example:
        >>> print(format_summary(pd.DataFrame({"name": ["m"], "sparsity": [0.5]}), 10))
        summary (metric on 10 validation samples; size of the weights / .tflite file):
        name sparsity
           m    50.0%
    """
    shown = table.copy()
    if "sparsity" in shown:
        shown["sparsity"] = [f"{v:.1%}" for v in shown["sparsity"]]
    for column in ("size_kb", "gzip_kb"):
        if column in shown:
            shown[column] = [f"{v:.1f}" for v in shown[column]]
    text = shown.to_string(index=False, float_format=lambda v: f"{v:.4f}")
    head = f"summary (metric on {samples} validation samples; size of the weights / .tflite file):"
    return f"{head}\n{text}"
