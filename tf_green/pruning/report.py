"""``sparsity_report``: zeros per weight tensor, for wrapped and stripped models alike.

Example:
    >>> from tf_green import models
    >>> report = sparsity_report(models.mlp(hidden=(4,)))
    >>> report[["layer", "weight"]].values.tolist()[:2], report.params.tolist()
    ([['dense1', 'kernel'], ['dense1', 'bias']], [256, 4, 40, 10, 310])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tf_green._keras import keras, require_tf_keras_model
from tf_green.pruning.schedules import parse_structure
from tf_green.pruning.selection import iter_layers, prunable_weights
from tf_green.pruning.wrapper import is_pruning_wrapper

__all__ = ["COLUMNS", "mn_satisfied", "sparsity_report"]

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


def sparsity_report(model: keras.Model, structure: str | tuple[int, int] = "2:4") -> pd.DataFrame:
    """One row per weight tensor with its zeros and sparsity, plus a ``total`` row.

    Works on models from :func:`tf_green.prune` / :func:`tf_green.pruning.strip` and on
    wrapped models from :func:`tf_green.pruning.wrap` (rows are named by the inner
    layer, and the wrappers' masks, thresholds and step counters are left out), so the
    two reports of one model line up. Values are read as stored: on a wrapped model the
    masks are applied to the weights at the end of each training epoch.

    Args:
        model: A tf_keras model (nested models are descended into).
        structure: The ``"m:n"`` pattern to check in ``mn_satisfied``.

    Returns:
        A DataFrame with columns ``layer``, ``weight``, ``shape`` (tuple), ``params``,
        ``zeros``, ``sparsity`` (zeros / params), ``prunable`` (TFMOT prunes this tensor),
        ``mn_pattern`` and ``mn_satisfied`` (True/False for prunable tensors, None for the
        others; on the total row, whether every prunable tensor satisfies it). The last
        row, ``layer == "total"``, sums all tensors; for the pruned tensors only, use
        ``report[report.prunable == True]``.

    Raises:
        TypeError: If ``model`` is not a tf_keras model.
        ValueError: If ``structure`` is not a valid ``"m:n"``.

    Example:
        >>> import tf_green as tg
        >>> tg.sparsity_report(pruned).query("prunable == True")   # doctest: +SKIP
    """
    model = require_tf_keras_model(model)
    m_by_n = parse_structure(structure)
    pattern = f"{m_by_n[0]}:{m_by_n[1]}"
    rows = []
    for layer in iter_layers(model):
        inner = layer.layer if is_pruning_wrapper(layer) else layer
        prunable = {id(w) for w in (prunable_weights(layer) or [])}
        for weight in inner.weights:
            value = np.asarray(weight.numpy())
            is_prunable = id(weight) in prunable
            zeros = int(value.size - np.count_nonzero(value))
            rows.append(
                {
                    "layer": inner.name,
                    "weight": _short_name(weight.name, (inner.name, layer.name)),
                    "shape": tuple(value.shape),
                    "params": int(value.size),
                    "zeros": zeros,
                    "sparsity": zeros / value.size if value.size else 0.0,
                    "prunable": is_prunable,
                    "mn_pattern": pattern,
                    "mn_satisfied": mn_satisfied(value, m_by_n) if is_prunable else None,
                }
            )
    params = sum(row["params"] for row in rows)
    zeros = sum(row["zeros"] for row in rows)
    checks = [row["mn_satisfied"] for row in rows if row["mn_satisfied"] is not None]
    rows.append(
        {
            "layer": "total",
            "weight": "",
            "shape": (),
            "params": params,
            "zeros": zeros,
            "sparsity": zeros / params if params else 0.0,
            "prunable": None,
            "mn_pattern": pattern,
            "mn_satisfied": all(checks) if checks else None,
        }
    )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["prunable"] = frame["prunable"].astype(object)
    frame["mn_satisfied"] = frame["mn_satisfied"].astype(object)
    return frame


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


def _short_name(name: str, prefixes: tuple[str, ...]) -> str:
    name = name.split(":")[0]
    for prefix in prefixes:
        if name.startswith(prefix + "/"):
            return name[len(prefix) + 1 :]
    return name.rsplit("/", 1)[-1]
