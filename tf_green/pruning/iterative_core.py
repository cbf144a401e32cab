"""The engine-neutral part of iterative pruning: argument checks, the search loop, the result.

Both engines' ``iterative`` (tf_keras: :mod:`tf_green.pruning.iterative_pruning`; Keras 3:
:mod:`tf_green.pruning.keras3.iterative`) check the model and data their way, then hand
:func:`search` a ``prune_step`` (their engine's ``prune``) and an ``achieved`` function.
Each step starts from the previous step's pruned model and ramps its sparsity from the
previous target to the next, then measures ``metric`` on the validation data; the
sparsest model within ``max_accuracy_drop`` of the unpruned baseline is kept, and the
first step that breaks the budget ends the search. No Keras import: models are used
through ``evaluate`` only.

Example:
    >>> check_iterative_arguments((0.5, 0.8), max_accuracy_drop=0.01, epochs_per_step=2,
    ...                           validation_data=([0.0], [0]))
    [0.5, 0.8]
"""

from __future__ import annotations

import itertools
import numbers
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tf_green.pruning.schedule_math import check_sparsity

__all__ = [
    "HISTORY_COLUMNS",
    "IterativeResult",
    "check_iterative_arguments",
    "evaluate_metric",
    "search",
]

HISTORY_COLUMNS = ["step", "sparsity", "achieved_sparsity", "metric", "drop", "kept"]


@dataclass
class IterativeResult:
    """The outcome of ``iterative`` (either engine).

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


def check_iterative_arguments(
    sparsities: Sequence[float],
    *,
    max_accuracy_drop: Any,
    epochs_per_step: Any,
    validation_data: Any,
) -> list[float]:
    """Check ``iterative``'s engine-neutral arguments; return the target sparsities.

    Args:
        sparsities: Strictly increasing targets in (0, 1).
        max_accuracy_drop: A number >= 0.
        epochs_per_step: An integer >= 2.
        validation_data: Anything but None (the engine checks its content).

    Returns:
        The sparsities as floats.

    Raises:
        TypeError: If ``sparsities`` is not a sequence.
        ValueError: On an empty, out-of-range or non-increasing ``sparsities``, a negative
            ``max_accuracy_drop``, ``epochs_per_step`` < 2, or missing ``validation_data``.

    Example:
        >>> check_iterative_arguments((0.5,), max_accuracy_drop=-1, epochs_per_step=2,
        ...                           validation_data=None)
        Traceback (most recent call last):
        ...
        ValueError: `max_accuracy_drop` must be a number >= 0, got -1.
    """
    if isinstance(sparsities, (str, bytes)) or not isinstance(sparsities, Sequence):
        raise TypeError(f"`sparsities` must be a sequence of numbers, got {sparsities!r}.")
    if not sparsities:
        raise ValueError("`sparsities` is empty; pass rising targets such as (0.5, 0.8, 0.9).")
    values = [check_sparsity(s, "sparsities") for s in sparsities]
    if values[0] <= 0 or any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(
            f"`sparsities` must be strictly increasing values in (0, 1), got {list(sparsities)}."
        )
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
    return values


def evaluate_metric(model: Any, data: Any, metric: str, batch_size: int) -> float:
    """``metric`` of ``model`` on ``data`` (an ``(x, y)`` tuple or a dataset).

    Raises:
        ValueError: If the model does not compute ``metric``, naming the ones it does.

    Example:
        >>> evaluate_metric(model, (x_val, y_val), "accuracy", 32)   # doctest: +SKIP
        0.97
    """
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


def search(
    model: Any,
    best: Any,
    *,
    targets: list[float],
    prune_step: Callable[[Any, float, float], Any],
    achieved: Callable[[Any], float],
    validation_data: Any,
    metric: str,
    max_accuracy_drop: float,
    batch_size: int,
) -> IterativeResult:
    """Run the steps; return the sparsest model within the budget and the history.

    Args:
        model: The caller's model (the first step prunes it; it is not changed).
        best: A compiled, unpruned copy of ``model``: the baseline and the fallback.
        targets: The checked sparsities.
        prune_step: ``(current, target, initial_sparsity) -> pruned`` (the engine's prune).
        achieved: ``pruned -> zeros over the pruned tensors``.
        validation_data: The checked validation data.
        metric: The metric to compare.
        max_accuracy_drop: The budget.
        batch_size: Batch size for array validation data.

    Returns:
        The :class:`IterativeResult`.

    Example:
        >>> search(model, best, targets=[0.5], prune_step=step, achieved=zeros,
        ...        validation_data=(xv, yv), metric="accuracy", max_accuracy_drop=0.01,
        ...        batch_size=32).sparsity                        # doctest: +SKIP
        0.5
    """
    baseline = evaluate_metric(best, validation_data, metric, batch_size)
    lower_is_better = "loss" in metric or "error" in metric
    rows, kept_sparsity, current = [], 0.0, model
    for step, target in enumerate(targets, start=1):
        pruned = prune_step(current, target, kept_sparsity)
        value = evaluate_metric(pruned, validation_data, metric, batch_size)
        drop = value - baseline if lower_is_better else baseline - value
        kept = drop <= max_accuracy_drop + 1e-12
        rows.append([step, target, float(achieved(pruned)), value, drop, kept])
        if not kept:
            break
        best, kept_sparsity, current = pruned, target, pruned
    if kept_sparsity == 0.0:
        warnings.warn(
            f"No sparsity stayed within max_accuracy_drop={max_accuracy_drop} of the baseline "
            f"{metric} ({baseline:.4f}); returning an unpruned copy. Try lower sparsities, "
            "more epochs_per_step, or a larger budget.",
            stacklevel=3,
        )
    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    history.attrs["metric"] = metric
    return IterativeResult(best, history, baseline, metric, kept_sparsity)
