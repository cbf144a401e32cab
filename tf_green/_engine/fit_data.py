"""Training and validation data checked as ``Model.fit`` takes them, on either engine.

:func:`check_fit_data` counts the batches one epoch runs (pruning schedules need it) and
the samples, refuses missing, empty, mismatched or NaN/inf data and labels the loss cannot
take, and batches a dataset of single samples; :func:`check_validation_data` does the
same for ``validation_data``. Engine-neutral: the model is read duck-typed. A dataset is
never materialised: it is counted by one pass that keeps nothing (its count is then stated
on it, see :func:`with_cardinality`) and checked batch by batch as
training reads it, so datasets that read files larger than memory stream through.

Example:
    >>> import numpy as np
    >>> check_fit_data(np.zeros((10, 3)), np.zeros(10), batch_size=4).num_samples
    10
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from tf_green._engine.checks import check_finite, check_labels
from tf_green._engine.data import (
    _dataset_batches,
    batch_if_unbatched,
    count_samples,
    has_targets,
    is_dataset,
    output_shape,
)

__all__ = ["FitData", "check_fit_data", "check_validation_data", "with_cardinality"]


@dataclass(frozen=True)
class FitData:
    """Training data checked and counted by :func:`check_fit_data`.

    Attributes:
        x: Inputs as ``fit`` should get them (a dataset batched and wrapped in its check).
        y: Targets for array inputs (one-hot as ids for a sparse loss); None for datasets.
        steps_per_epoch: Batches ``fit`` runs per epoch.
        num_samples: Samples per epoch for arrays; None for datasets.

    Example:
        >>> FitData(None, None, 3, 90).steps_per_epoch
        3
    """

    x: Any
    y: Any
    steps_per_epoch: int
    num_samples: int | None


def _positive_int(value: Any, name: str, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        allowed = "None or an integer >= 1" if optional else "an integer >= 1"
        raise ValueError(f"`{name}` must be {allowed}, got {value!r}.")


def check_fit_data(
    x: Any,
    y: Any = None,
    *,
    batch_size: int = 32,
    steps_per_epoch: int | None = None,
    model: Any = None,
    loss: Any = None,
) -> FitData:
    """Check training data as ``Model.fit`` would take it, and count its batches per epoch.

    Args:
        x: Arrays (with ``y``; a list or dict of arrays for several inputs) or a
            ``tf.data.Dataset`` yielding ``(x, y[, sample_weight])``, batched or not.
        y: Targets for array inputs; must be None for a dataset.
        batch_size: Batch size for arrays and a dataset of single samples, >= 1.
        steps_per_epoch: Batches per epoch, required for an infinite dataset (as in fit);
            for finite data it caps the epoch.
        model: The model the data trains (tf_keras or Keras 3, read duck-typed; optional):
            a dataset of single samples is then batched, a dataset without targets is
            refused, and array labels are checked against ``loss`` and its output.
        loss: The loss training uses (for the label checks); None skips them.

    Returns:
        The checked data (see :class:`FitData`).

    Raises:
        TypeError: If ``x`` is of an unsupported type.
        ValueError: On missing or empty data, ``y`` with a dataset, mismatched lengths,
            an infinite dataset without ``steps_per_epoch``, a bad ``batch_size``, NaN or
            inf values (argument and index named), labels the loss cannot take, or a
            dataset without targets.

    Example:
        >>> check_fit_data(np.zeros((100, 3)), np.zeros(100), batch_size=32).steps_per_epoch
        4
    """
    _positive_int(batch_size, "batch_size")
    _positive_int(steps_per_epoch, "steps_per_epoch", optional=True)
    if x is None:
        raise ValueError(
            "`x` is required: pass training data (arrays with `y`, or a tf.data.Dataset of "
            "(x, y) batches)."
        )
    if is_dataset(x):
        if y is not None:
            raise ValueError(
                "`y` must be None when `x` is a tf.data.Dataset: the dataset yields (x, y)."
            )
        if model is not None:
            x = batch_if_unbatched(x, model, batch_size, "x")
            if not has_targets(x):
                raise ValueError(
                    "`x` is a tf.data.Dataset of inputs only, but training needs targets: "
                    "yield (x, y) pairs, e.g. tf.data.Dataset.zip((inputs, labels)), or pass "
                    "arrays `x` and `y`."
                )
        batches = _dataset_batches(x, steps_per_epoch, "x")
        if int(x.cardinality()) != int(tf.data.INFINITE_CARDINALITY):
            x = with_cardinality(x, batches)  # counted once (streamed); fit reads it
        steps = min(batches, steps_per_epoch) if steps_per_epoch else batches
        return FitData(check_finite(x, "x"), None, steps, None)
    num = count_samples(x, argument="x")
    if num == 0:
        raise ValueError("`x` is empty (0 samples); pass the training data.")
    if y is None:
        raise ValueError(
            "`y` is required with array inputs `x` (or pass a tf.data.Dataset of (x, y))."
        )
    num_y = count_samples(y, argument="y")
    if num_y != num:
        raise ValueError(f"`x` has {num} samples but `y` has {num_y}; they must match.")
    check_finite(x, "x")
    check_finite(y, "y")
    if model is not None:
        y = check_labels(y, loss, output_shape(model), "y")
    steps = math.ceil(num / batch_size)
    return FitData(x, y, min(steps, steps_per_epoch) if steps_per_epoch else steps, num)


def check_validation_data(
    validation_data: Any, *, model: Any = None, loss: Any = None, batch_size: int = 32
) -> Any:
    """Check ``validation_data`` (a dataset, or an ``(x, y[, w])`` tuple) as ``fit`` takes it.

    Args:
        validation_data: None, a ``tf.data.Dataset``, or ``(x, y)``/``(x, y, weights)``.
        model: The model it evaluates (optional): a dataset of single samples is then
            batched, and labels are checked against ``loss`` as in :func:`check_fit_data`.
        loss: The loss training uses (for the label checks).
        batch_size: Batch size for a dataset of single samples.

    Returns:
        The validation data as ``fit`` should get it (a dataset wrapped in its NaN/inf
        check, a tuple with one-hot labels as ids for a sparse loss).

    Raises:
        TypeError: If it has another type.
        ValueError: If it is empty, its parts have different lengths, it holds NaN or
            inf, or its labels do not fit the loss.

    Example:
        >>> check_validation_data((np.zeros((3, 2)), np.zeros(3)))[1].shape
        (3,)
    """
    if validation_data is None:
        return None
    if is_dataset(validation_data):
        if model is not None:
            validation_data = batch_if_unbatched(
                validation_data, model, batch_size, "validation_data"
            )
        batches = _dataset_batches(validation_data, None, "validation_data", allow_infinite=True)
        if int(validation_data.cardinality()) != int(tf.data.INFINITE_CARDINALITY):
            validation_data = with_cardinality(validation_data, batches)
        return check_finite(validation_data, "validation_data")
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise TypeError(
            "`validation_data` must be a tf.data.Dataset or a tuple (x_val, y_val), got "
            f"{type(validation_data).__name__}."
        )
    lengths = {count_samples(part, argument="validation_data") for part in validation_data}
    if lengths == {0}:
        raise ValueError("`validation_data` is empty (0 samples).")
    if len(lengths) > 1:
        raise ValueError(
            f"the parts of `validation_data` have different lengths: {sorted(lengths)}."
        )
    parts = list(validation_data)
    for index, part in enumerate(parts):
        check_finite(part, f"validation_data[{index}]")
    if model is not None:
        parts[1] = check_labels(parts[1], loss, output_shape(model), "validation_data[1]")
    return tuple(parts)


def with_cardinality(dataset: tf.data.Dataset, batches: int) -> tf.data.Dataset:
    """``dataset`` with its counted number of elements stated, if tf.data did not know it.

    A dataset that reads files (``from_generator``, TFRecord) has an unknown cardinality,
    so every count would read it again; once counted (one pass, nothing kept), stating it
    lets ``fit`` and later counts use it, and a pass that yields another number of
    elements then fails with an ``InvalidArgumentError`` instead of training a schedule
    planned for another length.

    Example:
        >>> ds = tf.data.Dataset.range(6).filter(lambda i: i < 4)
        >>> int(with_cardinality(ds, 4).cardinality())
        4
    """
    if int(dataset.cardinality()) != int(tf.data.UNKNOWN_CARDINALITY):
        return dataset
    return dataset.apply(tf.data.experimental.assert_cardinality(int(batches)))
