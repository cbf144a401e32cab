"""Training data of the Keras 3 pruning engine: checked and counted (steps per epoch).

Private until the engine-neutral ``tf_green._engine.data`` normaliser is in place. Accepts
what ``Model.fit`` accepts for pruning: arrays (or a dict/list of arrays) with ``y``, or a
batched ``tf.data.Dataset`` of ``(x, y)`` (detected without importing TensorFlow).

Example:
    >>> import numpy as np
    >>> fit_data(np.zeros((100, 3)), np.zeros(100), batch_size=32).steps_per_epoch
    4
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FitData", "fit_data", "is_dataset", "validation"]

_INFINITE, _UNKNOWN = -1, -2


@dataclass(frozen=True)
class FitData:
    """Training data checked and measured.

    Attributes:
        x: Inputs (arrays or a dataset), as ``fit`` gets them.
        y: Targets for arrays; None for a dataset.
        steps_per_epoch: Batches ``fit`` runs per epoch.
        num_samples: Samples per epoch for arrays; None for a dataset.
    """

    x: Any
    y: Any
    steps_per_epoch: int
    num_samples: int | None


def is_dataset(obj: Any) -> bool:
    """Whether ``obj`` is a ``tf.data.Dataset`` (duck-typed, TensorFlow not imported).

    Example:
        >>> is_dataset(np.zeros(3))
        False
    """
    return type(obj).__module__.startswith("tensorflow") and hasattr(obj, "cardinality")


def _leaves(x: Any) -> list:
    if isinstance(x, Mapping):
        return [leaf for value in x.values() for leaf in _leaves(value)]
    if isinstance(x, (list, tuple)) and x and not np.isscalar(x[0]):
        return [leaf for value in x for leaf in _leaves(value)]
    return [x]


def _count(x: Any, argument: str) -> int:
    lengths = set()
    for leaf in _leaves(x):
        if not hasattr(leaf, "shape") and not isinstance(leaf, (list, tuple)):
            raise TypeError(
                f"`{argument}` must be numpy arrays (or a dict/list of arrays) or a "
                f"tf.data.Dataset, got {type(leaf).__name__}."
            )
        shape = np.shape(leaf)
        if not shape:
            raise ValueError(f"`{argument}` must have a sample axis; got a scalar.")
        lengths.add(int(shape[0]))
    if len(lengths) > 1:
        raise ValueError(f"the inputs in `{argument}` have different lengths: {sorted(lengths)}.")
    return lengths.pop()


def _check_finite(x: Any, argument: str) -> None:
    for leaf in _leaves(x):
        values = np.asarray(leaf)
        if values.dtype.kind in "fc" and not np.all(np.isfinite(values)):
            index = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
            raise ValueError(
                f"`{argument}` has a non-finite value ({values[index]}) at index {index}; "
                "clean or impute the data before pruning."
            )


def _batches(dataset: Any, steps_per_epoch: int | None, argument: str) -> int:
    cardinality = int(dataset.cardinality())
    if cardinality == _INFINITE:
        if steps_per_epoch:
            return steps_per_epoch
        raise ValueError(
            f"`{argument}` is an infinite dataset: pass steps_per_epoch=..., or make it finite "
            "with .take(n), so the pruning schedule knows how many steps training runs."
        )
    if cardinality == _UNKNOWN:
        cardinality = sum(1 for _ in dataset)
    if cardinality == 0:
        raise ValueError(f"`{argument}` is an empty dataset (0 batches).")
    return cardinality


def fit_data(
    x: Any, y: Any = None, *, batch_size: int = 32, steps_per_epoch: int | None = None
) -> FitData:
    """Check training data like ``Model.fit`` would and count its steps per epoch.

    Args:
        x: Arrays (with ``y``) or a batched ``tf.data.Dataset`` of ``(x, y)``.
        y: Targets for arrays; None for a dataset.
        batch_size: Batch size for arrays, >= 1.
        steps_per_epoch: Batches per epoch (needed for an infinite dataset; caps others).

    Returns:
        The checked data.

    Raises:
        TypeError: For an unsupported type.
        ValueError: On missing, empty or non-finite data, ``y`` with a dataset,
            mismatched lengths, an infinite dataset without ``steps_per_epoch``, or a bad
            ``batch_size``/``steps_per_epoch``.

    Example:
        >>> fit_data(np.zeros((10, 2)), np.zeros(10), batch_size=4).steps_per_epoch
        3
    """
    for name, value, optional in (
        ("batch_size", batch_size, False),
        ("steps_per_epoch", steps_per_epoch, True),
    ):
        if optional and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")
    if x is None:
        raise ValueError(
            "`x` is required: pass training data (arrays with `y`, or a tf.data.Dataset of "
            "(x, y) batches) to fine-tune the pruned model."
        )
    if is_dataset(x):
        if y is not None:
            raise ValueError(
                "`y` must be None when `x` is a tf.data.Dataset: the dataset yields (x, y)."
            )
        batches = _batches(x, steps_per_epoch, "x")
        return FitData(x, None, min(batches, steps_per_epoch or batches), None)
    num = _count(x, "x")
    if num == 0:
        raise ValueError("`x` is empty (0 samples); pass the training data to fine-tune on.")
    if y is None:
        raise ValueError(
            "`y` is required with array inputs `x` (or pass a tf.data.Dataset of (x, y))."
        )
    if _count(y, "y") != num:
        raise ValueError(f"`x` has {num} samples but `y` has {_count(y, 'y')}; they must match.")
    _check_finite(x, "x")
    _check_finite(y, "y")
    steps = math.ceil(num / batch_size)
    return FitData(x, y, min(steps, steps_per_epoch or steps), num)


def validation(validation_data: Any) -> Any:
    """Check ``validation_data``: None, a dataset, or ``(x, y)``/``(x, y, weights)``.

    Args:
        validation_data: The validation data.

    Returns:
        It, unchanged.

    Raises:
        TypeError: For another type.
        ValueError: For empty or non-finite arrays, or parts of different lengths.

    Example:
        >>> validation((np.zeros((3, 2)), np.zeros(3)))[1].shape
        (3,)
    """
    if validation_data is None or is_dataset(validation_data):
        return validation_data
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise TypeError(
            "`validation_data` must be a tf.data.Dataset or a tuple (x_val, y_val), got "
            f"{type(validation_data).__name__}."
        )
    lengths = {_count(part, "validation_data") for part in validation_data}
    if lengths == {0}:
        raise ValueError("`validation_data` is empty (0 samples).")
    if len(lengths) > 1:
        raise ValueError(f"the parts of `validation_data` have different lengths: {lengths}.")
    for index, part in enumerate(validation_data):
        _check_finite(part, f"validation_data[{index}]")
    return tuple(validation_data)
