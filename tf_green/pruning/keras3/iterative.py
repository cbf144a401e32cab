"""Iterative pruning of Keras 3 models: prune -> fine-tune -> evaluate at rising sparsities.

The same procedure and result as the tf_keras engine's :mod:`tf_green.pruning.iterative_pruning`:
each step starts from the previous step's pruned model and ramps its sparsity from the
previous target to the next, then measures ``metric`` on the validation data; the
sparsest model within ``max_accuracy_drop`` of the unpruned baseline is kept, and the
first step that breaks the budget ends the search.

Example:
    >>> result = iterative(model, x, y, validation_data=(x_val, y_val))   # doctest: +SKIP
    >>> result.history[["sparsity", "metric", "drop", "kept"]]            # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from tf_green._engine.fit_data import check_validation_data
from tf_green.pruning.arguments import LayerSelector
from tf_green.pruning.iterative_core import (
    HISTORY_COLUMNS,
    IterativeResult,
    check_iterative_arguments,
    search,
)
from tf_green.pruning.keras3._models import check_model, compile_like, copy_model
from tf_green.pruning.keras3.engine import require_backend
from tf_green.pruning.keras3.prune import prune
from tf_green.pruning.keras3.selection import select_weights

__all__ = ["HISTORY_COLUMNS", "IterativeResult", "iterative"]


def iterative(
    model: Any,
    x: Any,
    y: Any = None,
    *,
    validation_data: Any,
    sparsities: Sequence[float] = (0.5, 0.7, 0.8, 0.9),
    epochs_per_step: int = 2,
    max_accuracy_drop: float = 0.01,
    metric: str = "accuracy",
    batch_size: int = 32,
    layers: LayerSelector = None,
    optimizer: Any = None,
    loss: Any = None,
    metrics: Any = None,
    verbose: str | int = 0,
) -> IterativeResult:
    """Prune a Keras 3 model step by step; keep the sparsest model within the budget.

    Args:
        model: A trained, built Keras 3 model (not changed).
        x: Training inputs (arrays with ``y``, or a ``tf.data.Dataset``).
        y: Training targets for array ``x``.
        validation_data: ``(x_val, y_val)`` or a dataset, to measure ``metric``.
        sparsities: Increasing target sparsities in (0, 1), one per step.
        epochs_per_step: Fine-tuning epochs per step (>= 2: polynomial ramp + recovery).
        max_accuracy_drop: Largest allowed drop of ``metric`` from the unpruned baseline,
            in the metric's units (0.01 = one point of accuracy).
        metric: A metric the model is compiled with (or ``"loss"``); names containing
            ``loss`` or ``error`` count as lower-is-better.
        batch_size: Batch size for array inputs.
        layers: Which layers to prune (as in :func:`tf_green.pruning.keras3.prune`).
        optimizer: Fine-tuning optimizer; defaults to a fresh copy of ``model``'s.
        loss: Loss; defaults to ``model``'s.
        metrics: Metrics; default to ``model``'s (must include ``metric``).
        verbose: Passed to ``fit``.

    Returns:
        An :class:`IterativeResult`.

    Raises:
        ValueError: On empty or non-increasing ``sparsities``, a sparsity outside (0, 1),
            a negative ``max_accuracy_drop``, a ``metric`` the model does not compute,
            missing ``validation_data``, and every error of ``prune``.
        TypeError: For a non-Keras-3 model.

    Example:
        >>> result = iterative(model, x, y, validation_data=(xv, yv),
        ...                    sparsities=(0.5, 0.8, 0.9))            # doctest: +SKIP
    """
    require_backend()
    model = check_model(model)
    targets = check_iterative_arguments(
        sparsities,
        max_accuracy_drop=max_accuracy_drop,
        epochs_per_step=epochs_per_step,
        validation_data=validation_data,
    )
    validation_data = check_validation_data(
        validation_data,
        model=model,
        loss=loss if loss is not None else getattr(model, "loss", None),
        batch_size=batch_size,
    )
    if isinstance(optimizer, keras.optimizers.Optimizer):  # a fresh one for every step
        optimizer = keras.optimizers.serialize(optimizer)

    select_weights(model, layers)  # refuse a bad `layers` before anything trains
    best = copy_model(model)
    compile_like(best, model, optimizer=optimizer, loss=loss, metrics=metrics, required=True)

    def prune_step(current: Any, target: float, initial: float) -> Any:
        return prune(
            current,
            x,
            y,
            target_sparsity=target,
            initial_sparsity=initial,
            epochs=epochs_per_step,
            batch_size=batch_size,
            layers=layers,
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            verbose=verbose,
        )

    return search(
        model,
        best,
        targets=targets,
        prune_step=prune_step,
        achieved=lambda pruned: _achieved(pruned, layers),
        validation_data=validation_data,
        metric=metric,
        max_accuracy_drop=max_accuracy_drop,
        batch_size=batch_size,
    )


def _achieved(model: Any, layers: LayerSelector) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weights = [w for s in select_weights(model, layers) for w in s.weights]
    values = [keras.ops.convert_to_numpy(w) for w in weights]
    size = sum(v.size for v in values)
    return float(sum(v.size - np.count_nonzero(v) for v in values) / max(1, size))
