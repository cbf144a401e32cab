"""The sparsity report's table, engine-neutral: rows per weight tensor, a total row, m:n check.

Both engines' ``sparsity_report`` (tf_keras: :mod:`tf_green.pruning.report`; Keras 3:
:mod:`tf_green.pruning.keras3.report`) walk their model their own way and build the table
here, so the columns, the total row and the m:n check are the same. numpy and pandas only.

Example:
    >>> rows = [weight_row("d", "kernel", np.array([[0.0, 1.0]]), True, (2, 4))]
    >>> report_frame(rows, (2, 4))[["layer", "zeros", "params"]].values.tolist()
    [['d', 1, 2], ['total', 1, 2]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["COLUMNS", "mn_satisfied", "report_frame", "weight_row"]

COLUMNS = [
    "layer",
    "weight",
    "shape",
    "params",
    "zeros",
    "sparsity",
    "prunable",
    "mn_pattern",
    "mn_satisfied",
]


def mn_satisfied(weights: np.ndarray, m_by_n: tuple[int, int]) -> bool:
    """Whether every group of n consecutive input-channel weights has at least m zeros.

    The groups are TFMOT's (and TFLite's): along the input axis (``shape[-2]``) of a
    Dense kernel ``(in, out)`` or a convolution kernel ``(h, w, in, out)``. A tensor of
    another rank, or whose input axis is not a multiple of n, cannot satisfy it.

    Args:
        weights: The kernel values.
        m_by_n: ``(m, n)``.

    Returns:
        True if the pattern holds.

    Example:
        >>> mn_satisfied(np.array([[0.0], [1.0], [0.0], [2.0]]), (2, 4))
        True
    """
    m, n = m_by_n
    weights = np.asarray(weights)
    if weights.ndim not in (2, 4) or weights.shape[-2] % n:
        return False
    channels_last = np.moveaxis(weights, -2, -1)  # (..., out, in): groups along `in`
    groups = channels_last.reshape(-1, n)
    return bool(np.all(np.sum(groups == 0, axis=1) >= m))


def weight_row(
    layer: str, weight: str, value: np.ndarray, prunable: bool, m_by_n: tuple[int, int]
) -> dict[str, Any]:
    """One report row: a weight tensor's zeros, sparsity and m:n check.

    Args:
        layer: The layer's name.
        weight: The weight's short name (``"kernel"``).
        value: Its values.
        prunable: Whether the engine prunes it (only those get an m:n check).
        m_by_n: The pattern to check.

    Returns:
        The row, keyed by :data:`COLUMNS`.

    Example:
        >>> weight_row("d", "bias", np.zeros(2), False, (2, 4))["sparsity"]
        1.0
    """
    value = np.asarray(value)
    zeros = int(value.size - np.count_nonzero(value))
    return {
        "layer": layer,
        "weight": weight,
        "shape": tuple(value.shape),
        "params": int(value.size),
        "zeros": zeros,
        "sparsity": zeros / value.size if value.size else 0.0,
        "prunable": prunable,
        "mn_pattern": f"{m_by_n[0]}:{m_by_n[1]}",
        "mn_satisfied": mn_satisfied(value, m_by_n) if prunable else None,
    }


def report_frame(rows: list[dict[str, Any]], m_by_n: tuple[int, int]) -> pd.DataFrame:
    """The report DataFrame: ``rows`` and a ``total`` row (all tensors summed).

    Args:
        rows: Rows from :func:`weight_row`.
        m_by_n: The pattern checked (the total row's ``mn_satisfied`` is whether every
            prunable tensor satisfies it, None if there is none).

    Returns:
        The DataFrame with :data:`COLUMNS` (``prunable`` and ``mn_satisfied`` as objects,
        so None stays None).

    Example:
        >>> report_frame([], (2, 4)).layer.tolist()
        ['total']
    """
    params = sum(row["params"] for row in rows)
    zeros = sum(row["zeros"] for row in rows)
    checks = [row["mn_satisfied"] for row in rows if row["mn_satisfied"] is not None]
    total = {
        "layer": "total",
        "weight": "",
        "shape": (),
        "params": params,
        "zeros": zeros,
        "sparsity": zeros / params if params else 0.0,
        "prunable": None,
        "mn_pattern": f"{m_by_n[0]}:{m_by_n[1]}",
        "mn_satisfied": all(checks) if checks else None,
    }
    frame = pd.DataFrame([*rows, total], columns=COLUMNS)
    frame["prunable"] = frame["prunable"].astype(object)
    frame["mn_satisfied"] = frame["mn_satisfied"].astype(object)
    return frame
