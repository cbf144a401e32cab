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

import itertools
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import pandas as pd

from tf_green._engine.fit_data import check_validation_data
from tf_green.pruning.keras3._models import check_model, compile_like, copy_model
from tf_green.pruning.keras3.engine import require_backend
from tf_green.pruning.keras3.prune import prune
from tf_green.pruning.keras3.selection import LayerSelector, select_weights
from tf_green.pruning.schedule_math import check_sparsity

__all__ = ["IterativeResult", "iterative"]

HISTORY_COLUMNS = ["step", "sparsity", "achieved_sparsity", "metric", "drop", "kept"]


@dataclass
class IterativeResult:
    """The outcome of :func:`iterative`.

    Attributes:
        model: The sparsest model within the budget (stripped, compiled); an unpruned
            copy of the input if no step stayed within it.
        history: One row per step: ``step``, target ``sparsity``, ``achieved_sparsity``
            (zeros over the pruned tensors), ``metric``, ``drop``, ``kept``.
        baseline_metric: The metric of the unpruned model on the validation data.
        metric: The metric's name.
        sparsity: The target sparsity of ``model`` (0.0 if no step was kept).

    Example:
        >>> IterativeResult(None, pd.DataFrame(), 0.9, "accuracy").sparsity
        0.0
    """

    model: Any
    history: pd.DataFrame
    baseline_metric: float
    metric: str
    sparsity: float = 0.0

    def to_pandas(self) -> pd.DataFrame:
        """The step history as a DataFrame (a copy).

        Returns:
            The DataFrame.
        """
        return self.history.copy()


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
    targets = _check_sparsities(sparsities)
    if not isinstance(max_accuracy_drop, numbers.Real) or max_accuracy_drop < 0:
        raise ValueError(f"`max_accuracy_drop` must be a number >= 0, got {max_accuracy_drop!r}.")
    if isinstance(epochs_per_step, bool) or not isinstance(epochs_per_step, int):
        raise ValueError(f"`epochs_per_step` must be an integer >= 2, got {epochs_per_step!r}.")
    if epochs_per_step < 2:
        raise ValueError(
            f"`epochs_per_step`={epochs_per_step} is too few: each step ramps the sparsity "
            "for epochs_per_step - 1 epochs and recovers in the last; pass >= 2."
        )
    if validation_data is None:
        raise ValueError("`validation_data` is required: it measures the metric at each step.")
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
    baseline = _evaluate(best, validation_data, metric, batch_size)
    lower_is_better = "loss" in metric or "error" in metric
    rows, kept_sparsity, current = [], 0.0, model
    for step, target in enumerate(targets, start=1):
        pruned = prune(
            current,
            x,
            y,
            target_sparsity=target,
            initial_sparsity=kept_sparsity,
            epochs=epochs_per_step,
            batch_size=batch_size,
            layers=layers,
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            verbose=verbose,
        )
        value = _evaluate(pruned, validation_data, metric, batch_size)
        drop = value - baseline if lower_is_better else baseline - value
        kept = drop <= max_accuracy_drop + 1e-12
        rows.append([step, target, _achieved(pruned, layers), value, drop, kept])
        if not kept:
            break
        best, kept_sparsity, current = pruned, target, pruned
    if kept_sparsity == 0.0:
        warnings.warn(
            f"No sparsity stayed within max_accuracy_drop={max_accuracy_drop} of the baseline "
            f"{metric} ({baseline:.4f}); returning an unpruned copy. Try lower sparsities, "
            "more epochs_per_step, or a larger budget.",
            stacklevel=2,
        )
    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    history.attrs["metric"] = metric
    return IterativeResult(best, history, baseline, metric, kept_sparsity)


def _achieved(model: Any, layers: LayerSelector) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weights = [w for s in select_weights(model, layers) for w in s.weights]
    values = [keras.ops.convert_to_numpy(w) for w in weights]
    size = sum(v.size for v in values)
    return float(sum(v.size - np.count_nonzero(v) for v in values) / max(1, size))


def _check_sparsities(sparsities: Sequence[float]) -> list[float]:
    if isinstance(sparsities, (str, bytes)) or not isinstance(sparsities, Sequence):
        raise TypeError(f"`sparsities` must be a sequence of numbers, got {sparsities!r}.")
    if not sparsities:
        raise ValueError("`sparsities` is empty; pass rising targets such as (0.5, 0.8, 0.9).")
    values = [check_sparsity(s, "sparsities") for s in sparsities]
    if values[0] <= 0 or any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(
            f"`sparsities` must be strictly increasing values in (0, 1), got {list(sparsities)}."
        )
    return values


def _evaluate(model: Any, data: Any, metric: str, batch_size: int) -> float:
    if isinstance(data, (tuple, list)):
        results = model.evaluate(*data[:2], batch_size=batch_size, verbose=0, return_dict=True)
    else:
        results = model.evaluate(data, verbose=0, return_dict=True)
    if metric not in results:
        raise ValueError(
            f"`metric`={metric!r} is not computed by the model; it computes {sorted(results)}. "
            "Compile the model with it, pass metrics=[...], or choose one of these."
        )
    return float(results[metric])
