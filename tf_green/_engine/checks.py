"""Engine-neutral checks of training data: finite values, labels, the loss's kind.

Shared by every transform (``prune``, ``distill``, ``quantize``) on both engines (tf_keras
and Keras 3): nothing here imports a Keras; models and losses are read duck-typed.

* :func:`check_finite`: arrays (or dicts/lists of them) are scanned once, up front, in
  chunks (about 0.1 ms for the 1,437 digits of 8x8x1); a ``tf.data.Dataset`` is checked
  *as it is consumed*: each batch passes a graph assertion, so no extra pass over a
  pipeline that may be slow or huge, and a bad batch stops training at that batch. Wrap
  the ``fit`` call in :func:`data_errors` to turn that assertion into a ``ValueError``.
* :func:`check_labels`: class-id labels against the model's loss and output (one-hot
  rows are converted to ids for a sparse loss, after checking each row is one-hot).
* :class:`NonFiniteLossError`: what each engine's ``StopOnNonFiniteLoss`` callback raises
  when the loss becomes NaN or inf.

Example:
    >>> import numpy as np
    >>> x = np.zeros((4, 3), np.float32)
    >>> x[2, 1] = np.nan
    >>> check_finite(x, "x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `x` has a non-finite value (nan) at index (2, 1); ...
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import tensorflow as tf

__all__ = [
    "NonFiniteLossError",
    "check_finite",
    "check_labels",
    "data_errors",
    "loss_kind",
]

_CHUNK_ELEMENTS = 1 << 22  # values scanned at a time: bounds the temporary mask to 4 MB
_TAG, _END = "<<tf_green>>", "<</tf_green>>"
_PARTS = ("x", "y", "sample_weight")
_FIX = "clean or drop those samples (e.g. np.nan_to_num, or a mask) before training."


def _leaves(data: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from _leaves(value, f"{path}[{key!r}]")
    elif isinstance(data, (list, tuple)) and any(
        isinstance(v, (Mapping, list, tuple)) or np.ndim(v) > 0 for v in data
    ):
        for index, value in enumerate(data):
            yield from _leaves(value, f"{path}[{index}]")
    elif data is not None:
        yield path, data


def check_finite(data: Any, argument: str = "x") -> Any:
    """Refuse NaN and inf values in training data, naming the argument and the first index.

    Arrays, tensors, and dicts/lists/tuples of them are checked now, once (integer and
    non-numeric arrays are skipped). A ``tf.data.Dataset`` is checked as it is consumed:
    the returned dataset asserts every floating-point component of each element is
    finite, so use the returned value, and run ``fit`` inside :func:`data_errors`.

    Args:
        data: Arrays or a structure of them, a ``tf.data.Dataset``, or None.
        argument: The argument it came from, used in messages.

    Returns:
        ``data`` unchanged, or for a dataset the same dataset with the check mapped on.

    Raises:
        ValueError: If an array holds NaN or inf: names ``argument`` (with the dict key
            or list position) and the index of the first bad value.

    Example:
        >>> check_finite({"a": np.ones((2, 2)), "b": np.arange(2)}, "x")["b"].tolist()
        [0, 1]
    """
    if isinstance(data, tf.data.Dataset):
        return _finite_dataset(data, argument)
    for path, leaf in _leaves(data, argument):
        array = np.asarray(leaf)
        if array.dtype.kind not in "fc" or array.size == 0:
            continue
        if array.ndim == 0:
            array = array.reshape(1)
        rows = max(1, _CHUNK_ELEMENTS // max(1, array.size // len(array)))
        for start in range(0, len(array), rows):
            finite = np.isfinite(array[start : start + rows])
            if not finite.all():
                index = tuple(int(i) for i in np.argwhere(~finite)[0])
                index = (index[0] + start, *index[1:])
                raise ValueError(
                    f"`{path}` has a non-finite value ({array[index].item()}) at index {index}; "
                    f"training on it makes every weight NaN. {_FIX[0].upper()}{_FIX[1:]}"
                )
    return data


def _finite_dataset(dataset: tf.data.Dataset, argument: str) -> tf.data.Dataset:
    def check(batch_index, element):
        parts = element if isinstance(element, tuple) else (element,)
        asserts = []
        for part_name, part in zip(_PARTS, parts, strict=False):
            for leaf in tf.nest.flatten(part):
                if not leaf.dtype.is_floating:
                    continue
                finite = tf.math.is_finite(leaf)
                if leaf.shape.rank == 0:
                    finite = finite[tf.newaxis]
                per_sample = tf.reshape(finite, [tf.shape(finite)[0], -1])
                sample = tf.argmin(tf.cast(tf.reduce_all(per_sample, axis=1), tf.int32))
                message = tf.strings.format(
                    f"{_TAG}`{argument}` (a tf.data.Dataset) yields a non-finite value (NaN "
                    f"or inf) in its {part_name} at batch {{}}, sample {{}} of the batch "
                    f"(counting from 0); training on it makes every weight NaN. {_FIX}{_END}",
                    (batch_index, sample),
                )
                asserts.append(tf.debugging.Assert(tf.reduce_all(finite), [message]))
        with tf.control_dependencies(asserts):
            return tf.nest.map_structure(tf.identity, element)

    return dataset.enumerate().map(check)


@contextlib.contextmanager
def data_errors() -> Iterator[None]:
    """Turn the dataset checks' graph assertions raised inside it into ``ValueError``.

    Example:
        >>> with data_errors():
        ...     pass
    """
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        found = re.search(re.escape(_TAG) + "(.*?)" + re.escape(_END), str(error), re.S)
        if found is None:
            raise
        raise ValueError(found.group(1)) from None


def _loss_name(loss: Any) -> str:
    if isinstance(loss, str):
        name = loss
    elif type(loss).__name__ == "LossFunctionWrapper":  # either engine's wrapped function
        name = getattr(getattr(loss, "fn", None), "__name__", "") or "LossFunctionWrapper"
    else:  # a function has its name; a Loss instance (either engine) its class name
        name = getattr(loss, "__name__", None) or type(loss).__name__
    return name.lower().replace("_", "")


_REGRESSION = {"mse", "mae", "mape", "msle", "logcosh", "huber", "huberloss", "cosinesimilarity"}


def loss_kind(loss: Any) -> str | None:
    """Classify a Keras loss: ``"sparse"``, ``"categorical"``, ``"binary"``, ``"regression"``.

    Args:
        loss: A loss name, a ``Loss`` instance of either engine, or a loss function (or None).

    Returns:
        The kind, or None when unknown (a custom loss, several losses, None).

    Example:
        >>> loss_kind("sparse_categorical_crossentropy"), loss_kind("huber")
        ('sparse', 'regression')
    """
    if loss is None or isinstance(loss, (list, tuple, dict)):
        return None
    name = _loss_name(loss)
    if "sparsecategorical" in name:
        return "sparse"
    if "categorical" in name:
        return "categorical"
    if "binary" in name or "hinge" in name:
        return "binary"
    if "meansquared" in name or "meanabsolute" in name or name in _REGRESSION:
        return "regression"
    return None


def check_labels(y: Any, loss: Any, output_shape: Any, argument: str = "y") -> Any:
    """Check array labels against a classification loss; convert one-hot for a sparse loss.

    With a sparse loss (``SparseCategoricalCrossentropy``) labels must be class ids: whole
    numbers in ``[0, classes)``. One-hot rows (the shape of the output) are accepted and
    turned into ids with ``argmax``, after checking every row is exactly one-hot - what
    ``CategoricalCrossentropy`` would compute on them; soft labels (probabilities) need
    ``loss=keras.losses.CategoricalCrossentropy(...)``. With a categorical loss the labels
    must be rows of the output's shape. Other losses, datasets, and several outputs are
    returned unchecked.

    Args:
        y: Labels (array-like), or None.
        loss: The loss the model trains with.
        output_shape: The model's output shape, batch axis included, e.g. ``(None, 10)``.
        argument: The argument name, used in messages.

    Returns:
        ``y``, or the class ids of one-hot ``y`` for a sparse loss.

    Raises:
        ValueError: For non-numeric or non-integer ids, ids outside ``[0, classes)``,
            rows that are not one-hot, or ids given to a categorical loss: names the
            argument, the value, its index and the number of classes.

    Example:
        >>> check_labels(np.eye(3)[[2, 0]], "sparse_categorical_crossentropy", (None, 3))
        array([2, 0])
    """
    kind = loss_kind(loss)
    if (
        y is None
        or kind not in ("sparse", "categorical")
        or isinstance(y, (tf.data.Dataset, Mapping))
        or not isinstance(output_shape, tuple)
        or not output_shape
        or isinstance(output_shape[0], tuple)
    ):
        return y
    classes, rank = output_shape[-1], len(output_shape)
    array = np.asarray(y)
    if array.dtype.kind not in "iufb":
        raise ValueError(f"`{argument}` must hold numbers (class ids), got dtype {array.dtype}.")
    if classes is None or classes < 2:
        return y
    one_hot_shape = array.ndim == rank and array.shape[-1] == classes
    name = type(loss).__name__ if not isinstance(loss, str) else repr(loss)
    if kind == "categorical":
        if not one_hot_shape:
            raise ValueError(
                f"`{argument}` has shape {array.shape}, class ids, but the loss {name} needs "
                f"one-hot rows of the {classes} outputs. Pass "
                "loss=keras.losses.SparseCategoricalCrossentropy(...) (same from_logits), or "
                f"one-hot labels: keras.utils.to_categorical({argument}, {classes})."
            )
        return y
    if one_hot_shape:
        is_one = array == 1
        rows_ok = np.all((array == 0) | is_one, axis=-1) & (is_one.sum(axis=-1) == 1)
        if not rows_ok.all():
            index = tuple(int(i) for i in np.argwhere(~rows_ok)[0])
            raise ValueError(
                f"`{argument}` row {index} is not one-hot ({np.round(array[index], 4).tolist()}): "
                f"the loss {name} takes class ids, or exactly one-hot rows, which tf_green "
                "turns into ids. For soft labels (probabilities) pass "
                "loss=keras.losses.CategoricalCrossentropy(...) with the same from_logits."
            )
        return np.argmax(array, axis=-1)
    if array.dtype.kind == "f":
        fraction = array != np.round(array)
        if fraction.any():
            index = tuple(int(i) for i in np.argwhere(fraction)[0])
            raise ValueError(
                f"`{argument}` has the non-integer label {array[index].item()!r} at index "
                f"{index}; the loss {name} needs class ids 0..{classes - 1} (a float label "
                "would be truncated). Pass integer class ids."
            )
    bad = (array < 0) | (array >= classes)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"`{argument}` has label {array[index].item()!r} at index {index}, outside the "
            f"model's {classes} classes: labels must be class ids 0..{classes - 1}."
        )
    return y


class NonFiniteLossError(ValueError):
    """Training stopped because the loss became NaN or inf (``StopOnNonFiniteLoss`` raises it).

    Each engine has its own ``StopOnNonFiniteLoss`` callback (a callback is a Keras class);
    both raise this one error, so callers catch it without knowing the engine.

    Example:
        >>> issubclass(NonFiniteLossError, ValueError)
        True
    """
