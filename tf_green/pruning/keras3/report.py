"""``sparsity_report`` for Keras 3 models: zeros per weight tensor, m:n check, a total row.

Same columns as the tf_keras engine's report (:mod:`tf_green.pruning.report`).

Example:
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    >>> sparsity_report(m)[["layer", "weight", "params"]].values.tolist()
    [['d', 'kernel', 8], ['d', 'bias', 2], ['total', '', 10]]
"""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np
import pandas as pd

from tf_green.pruning.keras3._models import check_model
from tf_green.pruning.keras3.engine import get_state
from tf_green.pruning.keras3.selection import iter_layers, select_weights
from tf_green.pruning.report_table import COLUMNS, report_frame, weight_row
from tf_green.pruning.schedule_math import parse_structure

__all__ = ["COLUMNS", "sparsity_report"]


def sparsity_report(model: Any, structure: str | tuple[int, int] = "2:4") -> pd.DataFrame:
    """One row per weight tensor with its zeros and sparsity, plus a ``total`` row.

    Every tracked layer is visited (nested layers and subclassed models included); each
    weight is listed once, under the layer that owns it (an LSTM's kernels under its
    cell). ``prunable`` is True for the weights pruned by default (or, on a model from
    :func:`wrap`, for the weights that have masks).

    Args:
        model: A built Keras 3 model.
        structure: The ``"m:n"`` pattern to check in ``mn_satisfied``.

    Returns:
        A DataFrame with columns ``layer``, ``weight``, ``shape``, ``params``, ``zeros``,
        ``sparsity``, ``prunable``, ``mn_pattern``, ``mn_satisfied`` (None for
        non-prunable tensors; on the total row, whether every prunable tensor holds it).

    Raises:
        TypeError: If ``model`` is not a Keras 3 model.
        ValueError: If ``structure`` is not a valid ``"m:n"``.

    Example:
        >>> tg.sparsity_report(pruned).query("prunable == True")   # doctest: +SKIP
    """
    model = check_model(model)
    m_by_n = parse_structure(structure)
    state = get_state(model)
    if state is not None:
        sync = getattr(model, "jax_state_sync", None)
        if sync is not None:
            sync()
        prunable = {id(entry.variable) for entry in state.entries}
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                prunable = {id(w) for s in select_weights(model, None) for w in s.weights}
            except ValueError:  # nothing prunable
                prunable = set()
    rows, seen = [], set()
    layers = list(iter_layers(model))
    owners = [(layer, _own(layer)) for layer in reversed([model, *layers])]  # deepest first
    listed: dict[int, tuple[Any, Any]] = {}
    for layer, own in owners:
        for weight in own:
            listed.setdefault(id(weight), (layer, weight))
    for weight in model.weights:
        if id(weight) in seen or id(weight) not in listed:
            continue
        seen.add(id(weight))
        layer, _ = listed[id(weight)]
        value = np.asarray(keras.ops.convert_to_numpy(weight))
        rows.append(weight_row(layer.name, weight.name, value, id(weight) in prunable, m_by_n))
    return report_frame(rows, m_by_n)


def _own(layer: Any) -> list:
    inner = {id(w) for child in getattr(layer, "_layers", []) for w in child.weights}
    return [w for w in layer.weights if id(w) not in inner]
