"""``sparsity_report``: zeros per weight tensor, for wrapped and stripped models alike.

Example:
    >>> from tf_green import models
    >>> report = sparsity_report(models.mlp(hidden=(4,)))
    >>> report[["layer", "weight"]].values.tolist()[:2], report.params.tolist()
    ([['dense1', 'kernel'], ['dense1', 'bias']], [256, 4, 40, 10, 310])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tf_green._keras import require_tf_keras_model
from tf_green.pruning.report_table import COLUMNS, mn_satisfied, report_frame, weight_row
from tf_green.pruning.schedules import parse_structure
from tf_green.pruning.selection import iter_layers, prunable_weights
from tf_green.pruning.wrapper import is_pruning_wrapper

__all__ = ["COLUMNS", "mn_satisfied", "sparsity_report"]


def sparsity_report(model: Any, structure: str | tuple[int, int] = "2:4") -> pd.DataFrame:
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
    rows = []
    for layer in iter_layers(model):
        inner = layer.layer if is_pruning_wrapper(layer) else layer
        prunable = {id(w) for w in (prunable_weights(layer) or [])}
        for weight in inner.weights:
            name = _short_name(weight.name, (inner.name, layer.name))
            value = np.asarray(weight.numpy())
            rows.append(weight_row(inner.name, name, value, id(weight) in prunable, m_by_n))
    return report_frame(rows, m_by_n)


def _short_name(name: str, prefixes: tuple[str, ...]) -> str:
    name = name.split(":")[0]
    for prefix in prefixes:
        if name.startswith(prefix + "/"):
            return name[len(prefix) + 1 :]
    return name.rsplit("/", 1)[-1]
