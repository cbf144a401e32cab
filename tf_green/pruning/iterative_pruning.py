"""Iterative pruning: prune -> fine-tune -> evaluate at rising sparsities, within a budget.

Each step starts from the previous step's pruned model and raises its sparsity (TFMOT's
polynomial schedule from the previous sparsity to the next), then measures the metric on
the validation data. The sparsest model whose metric stays within ``max_accuracy_drop``
of the unpruned baseline is kept; the first step that breaks the budget ends the search.

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

import pandas as pd

from tf_green._keras import keras
from tf_green.pruning.api import check_graph_model, compile_like, copy_model
from tf_green.pruning.data import inspect_validation
from tf_green.pruning.finetune import prune
from tf_green.pruning.report import sparsity_report
from tf_green.pruning.schedules import check_sparsity
from tf_green.pruning.selection import LayerSelector, select_layers

__all__ = ["IterativeResult", "iterative"]

HISTORY_COLUMNS = ["step", "sparsity", "achieved_sparsity", "metric", "drop", "kept"]


@dataclass
class IterativeResult:
    """The outcome of :func:`iterative`.

    Attributes:
        model: The sparsest model within the budget (stripped, compiled); an unpruned
            copy of the input if no step stayed within it.
        history: One row per step: ``step``, target ``sparsity``, ``achieved_sparsity``
            (zeros over the pruned tensors), ``metric`` (its value), ``drop`` (baseline
            minus metric, or metric minus baseline for a loss), ``kept``.
        baseline_metric: The metric of the unpruned model on the validation data.
        metric: The metric's name.
        sparsity: The target sparsity of ``model`` (0.0 if no step was kept).

    Example:
        >>> IterativeResult(model=None, history=pd.DataFrame(), baseline_metric=0.9,
        ...                 metric="accuracy").sparsity
        0.0
    """

    model: keras.Model
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
    model: keras.Model,
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
    """Prune step by step to rising sparsities; keep the sparsest model within the budget.

    Args:
        model: A trained, built Sequential or functional tf_keras model (not changed).
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
        layers: Which layers to prune (as in :func:`tf_green.prune`).
        optimizer: Fine-tuning optimizer; defaults to a fresh copy of ``model``'s.
        loss: Loss; defaults to ``model``'s.
        metrics: Metrics; default to ``model``'s (must include ``metric``).
        verbose: Passed to ``fit``.

    Returns:
        An :class:`IterativeResult`.

    Raises:
        ValueError: On empty or non-increasing ``sparsities``, a sparsity outside (0, 1),
            a negative ``max_accuracy_drop``, a ``metric`` the model does not compute, and
            every error of :func:`tf_green.prune`.
        TypeError: For a Keras 3 or subclassed model.

    Example:
        >>> result = iterative(model, x, y, validation_data=(xv, yv),
        ...                    sparsities=(0.5, 0.8, 0.9))            # doctest: +SKIP
        >>> result.sparsity, result.history.kept.tolist()              # doctest: +SKIP
    """
    model = check_graph_model(model)
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
    validation_data = inspect_validation(
        validation_data,
        model=model,
        loss=loss if loss is not None else getattr(model, "loss", None),
        batch_size=batch_size,
    )
    if validation_data is None:
        raise ValueError("`validation_data` is required: it measures the metric at each step.")
    if isinstance(optimizer, keras.optimizers.Optimizer):  # a fresh one for every step
        optimizer = keras.optimizers.serialize(optimizer)

    selected = list(select_layers(model, layers))
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
        report = sparsity_report(pruned)
        pruned_rows = report[report["layer"].isin(selected) & (report["prunable"] == True)]  # noqa: E712
        achieved = pruned_rows["zeros"].sum() / max(1, pruned_rows["params"].sum())
        rows.append([step, target, float(achieved), value, drop, kept])
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


def _evaluate(model: keras.Model, data: Any, metric: str, batch_size: int) -> float:
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
