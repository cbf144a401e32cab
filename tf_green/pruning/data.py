"""Check fit-style training data and count its steps per epoch (pruning schedules need it).

Accepted like ``Model.fit``: arrays (numpy, lists, tensors, or dicts of them for
multi-input models) with ``y``, or a ``tf.data.Dataset`` of ``(x, y)`` batches (``y``
None). Errors name the argument and say how to fix it. Given the model (and its loss),
the data is also checked with :mod:`tf_green._input_checks`: NaN/inf values are refused
(arrays up front, datasets batch by batch as training consumes them), class-id labels are
checked against the loss (one-hot rows become ids for a sparse loss), and a dataset of
single samples is batched with ``batch_size``.

Example:
    >>> import numpy as np
    >>> inspect_data(np.zeros((100, 3)), np.zeros(100), batch_size=32).steps_per_epoch
    4
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tf_green._input_checks import batch_if_unbatched, check_finite, check_labels, has_targets
from tf_green._keras import keras, tf

__all__ = ["FitData", "count_samples", "inspect_data", "inspect_validation"]


@dataclass(frozen=True)
class FitData:
    """Training data checked and measured.

    Attributes:
        x: Inputs (arrays or a dataset), as given.
        y: Targets for array inputs; None for datasets.
        steps_per_epoch: Batches ``fit`` runs per epoch.
        num_samples: Samples per epoch for arrays; None for datasets.
    """

    x: Any
    y: Any
    steps_per_epoch: int
    num_samples: int | None


def count_samples(x: Any, argument: str = "x") -> int:
    """Number of samples in array-like (or dict-of-array) inputs.

    Args:
        x: Arrays, lists, tensors, or a dict/list of them (multi-input models).
        argument: The argument it came from, used in messages.

    Returns:
        The length of the first axis.

    Raises:
        TypeError: If ``x`` is not array-like (e.g. a generator).
        ValueError: If the parts of ``x`` have different lengths.

    Example:
        >>> count_samples({"a": np.zeros((5, 2)), "b": np.zeros(5)})
        5
    """
    parts = list(x.values()) if isinstance(x, Mapping) else [x]
    lengths = set()
    for part in parts:
        if isinstance(part, (np.ndarray, tf.Tensor)) or hasattr(part, "__array__"):
            shape = np.shape(part)
            if not shape:
                raise ValueError(f"`{argument}` must have a sample axis; got a scalar.")
            lengths.add(int(shape[0]))
        elif isinstance(part, (list, tuple)):
            lengths.add(len(part))
        else:
            raise TypeError(
                f"`{argument}` must be numpy arrays (or tensors, lists, a dict of arrays) or "
                f"a tf.data.Dataset, got {type(part).__name__}. Wrap generators with "
                "tf.data.Dataset.from_generator(...)."
            )
    if len(lengths) > 1:
        raise ValueError(f"the inputs in `{argument}` have different lengths: {sorted(lengths)}.")
    return lengths.pop()


def inspect_data(
    x: Any,
    y: Any = None,
    *,
    batch_size: int = 32,
    steps_per_epoch: int | None = None,
    model: keras.Model | None = None,
    loss: Any = None,
) -> FitData:
    """Check training data like ``Model.fit`` would and count its steps per epoch.

    Args:
        x: Arrays (with ``y``) or a ``tf.data.Dataset`` yielding ``(x, y)`` batches.
        y: Targets for array inputs; must be None for a dataset.
        batch_size: Batch size for arrays, >= 1.
        steps_per_epoch: Batches per epoch, required for an infinite dataset (as in fit);
            for finite data it caps the epoch.
        model: The model the data trains (optional): a dataset of single samples is then
            batched with ``batch_size``, a dataset without targets is refused, and array
            labels are checked against ``loss`` and the model's output.
        loss: The loss training uses (for the label checks); None skips them.

    Returns:
        The checked data; ``x``/``y`` as ``fit`` should get them (a dataset batched and
        wrapped in its finite check, one-hot labels as ids for a sparse loss).

    Raises:
        TypeError: If ``x`` is of an unsupported type.
        ValueError: On missing or empty data, ``y`` with a dataset, mismatched lengths,
            an infinite dataset without ``steps_per_epoch``, a bad ``batch_size``, NaN or
            inf values (argument and index named), labels the loss cannot take, or a
            dataset without targets.

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices((np.zeros((10, 2)), np.zeros(10)))
        >>> inspect_data(ds.batch(4)).steps_per_epoch
        3
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be an integer >= 1, got {batch_size!r}.")
    if steps_per_epoch is not None and (
        isinstance(steps_per_epoch, bool)
        or not isinstance(steps_per_epoch, int)
        or steps_per_epoch < 1
    ):
        raise ValueError(
            f"`steps_per_epoch` must be None or an integer >= 1, got {steps_per_epoch!r}."
        )
    if x is None:
        raise ValueError(
            "`x` is required: pass training data (arrays with `y`, or a tf.data.Dataset of "
            "(x, y) batches) to fine-tune the pruned model."
        )
    if isinstance(x, tf.data.Dataset):
        if y is not None:
            raise ValueError(
                "`y` must be None when `x` is a tf.data.Dataset: the dataset yields (x, y)."
            )
        if model is not None:
            x = batch_if_unbatched(x, model, batch_size, "x")
            if not has_targets(x):
                raise ValueError(
                    "`x` is a tf.data.Dataset of inputs only, but fine-tuning needs targets: "
                    "yield (x, y) pairs, e.g. tf.data.Dataset.zip((inputs, labels)), or pass "
                    "arrays `x` and `y`."
                )
        batches = _dataset_batches(x, steps_per_epoch)
        steps = min(batches, steps_per_epoch) if steps_per_epoch else batches
        return FitData(check_finite(x, "x"), None, steps, None)
    num = count_samples(x, "x")
    if num == 0:
        raise ValueError("`x` is empty (0 samples); pass the training data to fine-tune on.")
    if y is None:
        raise ValueError(
            "`y` is required with array inputs `x` (or pass a tf.data.Dataset of (x, y))."
        )
    num_y = count_samples(y, "y")
    if num_y != num:
        raise ValueError(f"`x` has {num} samples but `y` has {num_y}; they must match.")
    check_finite(x, "x")
    check_finite(y, "y")
    if model is not None:
        y = check_labels(y, loss, _output_shape(model), "y")
    steps = math.ceil(num / batch_size)
    return FitData(x, y, min(steps, steps_per_epoch) if steps_per_epoch else steps, num)


def _output_shape(model: keras.Model) -> Any:
    try:
        shape = model.output_shape
    except (AttributeError, RuntimeError, ValueError):
        return None
    return tuple(shape) if isinstance(shape, tuple) else None


def inspect_validation(
    validation_data: Any,
    *,
    model: keras.Model | None = None,
    loss: Any = None,
    batch_size: int = 32,
) -> Any:
    """Check ``validation_data`` (a dataset, or an ``(x, y)`` tuple) is usable and not empty.

    Args:
        validation_data: None, a ``tf.data.Dataset``, or ``(x, y)``/``(x, y, weights)``.
        model: The model it evaluates (optional): a dataset of single samples is then
            batched, and labels are checked against ``loss`` as in :func:`inspect_data`.
        loss: The loss training uses (for the label checks).
        batch_size: Batch size for a dataset of single samples.

    Returns:
        The validation data as ``fit`` should get it (NaN/inf checked, see
        :func:`inspect_data`).

    Raises:
        TypeError: If it has another type.
        ValueError: If it is empty, its parts have different lengths, it holds NaN or
            inf, or its labels do not fit the loss.

    Example:
        >>> inspect_validation((np.zeros((3, 2)), np.zeros(3)))[1].shape
        (3,)
    """
    if validation_data is None:
        return None
    if isinstance(validation_data, tf.data.Dataset):
        if model is not None:
            validation_data = batch_if_unbatched(
                validation_data, model, batch_size, "validation_data"
            )
        _dataset_batches(validation_data, None, "validation_data", allow_infinite=True)
        return check_finite(validation_data, "validation_data")
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise TypeError(
            "`validation_data` must be a tf.data.Dataset or a tuple (x_val, y_val), got "
            f"{type(validation_data).__name__}."
        )
    lengths = {count_samples(part, "validation_data") for part in validation_data}
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
        parts[1] = check_labels(parts[1], loss, _output_shape(model), "validation_data[1]")
    return tuple(parts)


def _dataset_batches(
    ds: tf.data.Dataset,
    steps_per_epoch: int | None,
    argument: str = "x",
    allow_infinite: bool = False,
) -> int:
    cardinality = int(ds.cardinality())
    if cardinality == int(tf.data.INFINITE_CARDINALITY):
        if steps_per_epoch or allow_infinite:
            return steps_per_epoch or 1
        raise ValueError(
            f"`{argument}` is an infinite dataset: pass steps_per_epoch=..., or make it finite "
            "with .take(n), so the pruning schedule knows how many steps training runs."
        )
    if cardinality == int(tf.data.UNKNOWN_CARDINALITY):
        cardinality = int(ds.reduce(np.int64(0), lambda count, _: count + 1))
    if cardinality == 0:
        raise ValueError(f"`{argument}` is an empty dataset (0 batches).")
    return cardinality
