"""Iterative pruning: prune -> fine-tune -> evaluate at rising sparsities, within a budget.

Each step starts from the previous step's pruned model and raises its sparsity (TFMOT's
polynomial schedule from the previous sparsity to the next), then measures the metric on
the validation data. The sparsest model whose metric stays within ``max_accuracy_drop``
of the unpruned baseline is kept; the first step that breaks the budget ends the search.
The search itself is engine-neutral (:mod:`tf_green.pruning.iterative_core`).

Example:
    >>> result = iterative(model, x, y, validation_data=(x_val, y_val))   # doctest: +SKIP
    >>> result.history[["sparsity", "metric", "drop", "kept"]]            # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tf_green._keras import keras
from tf_green.pruning.api import check_graph_model, compile_like, copy_model
from tf_green.pruning.arguments import LayerSelector
from tf_green.pruning.data import inspect_validation
from tf_green.pruning.finetune import prune
from tf_green.pruning.iterative_core import (
    HISTORY_COLUMNS,
    IterativeResult,
    check_iterative_arguments,
    search,
)
from tf_green.pruning.report import sparsity_report
from tf_green.pruning.selection import select_layers

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
    targets = check_iterative_arguments(
        sparsities,
        max_accuracy_drop=max_accuracy_drop,
        epochs_per_step=epochs_per_step,
        validation_data=validation_data,
    )
    validation_data = inspect_validation(
        validation_data,
        model=model,
        loss=loss if loss is not None else getattr(model, "loss", None),
        batch_size=batch_size,
    )
    if isinstance(optimizer, keras.optimizers.Optimizer):  # a fresh one for every step
        optimizer = keras.optimizers.serialize(optimizer)

    selected = list(select_layers(model, layers))
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

    def achieved(pruned: Any) -> float:
        report = sparsity_report(pruned)
        rows = report[report["layer"].isin(selected) & (report["prunable"] == True)]  # noqa: E712
        return rows["zeros"].sum() / max(1, rows["params"].sum())

    return search(
        model,
        best,
        targets=targets,
        prune_step=prune_step,
        achieved=achieved,
        validation_data=validation_data,
        metric=metric,
        max_accuracy_drop=max_accuracy_drop,
        batch_size=batch_size,
    )
