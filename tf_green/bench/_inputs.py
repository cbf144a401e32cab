"""Turn the data a caller gives the bench (numpy arrays or a batched tf.data.Dataset) into arrays.

The bench needs single samples (batch-1 latency) and repeatable passes over the same data, so a
dataset is read once into memory, the way ``model.evaluate`` would read it.

Example:
    >>> import numpy as np
    >>> x, y = as_arrays(np.zeros((4, 3)), np.arange(4))
    >>> x.shape, y.tolist()
    ((4, 3), [0, 1, 2, 3])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tf_green._keras import tf

__all__ = ["as_arrays"]


def _to_numpy(value: Any, argument: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, tf.Tensor):
        return value.numpy()
    if isinstance(value, (list, tuple)):
        return np.asarray(value)
    if hasattr(value, "__array__"):
        return np.asarray(value)
    raise TypeError(
        f"`{argument}` must be a numpy array or a batched tf.data.Dataset, "
        f"got {type(value).__name__}."
    )


def _read_dataset(dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray | None]:
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for element in dataset:
        if isinstance(element, (tuple, list)):
            if len(element) not in (1, 2, 3):
                raise ValueError(
                    "`x` is a dataset whose elements have "
                    f"{len(element)} parts; expected x, (x,), (x, y) or (x, y, sample_weight)."
                )
            xs.append(np.asarray(element[0]))
            if len(element) > 1:
                ys.append(np.asarray(element[1]))
        elif isinstance(element, dict):
            raise TypeError(
                "`x` is a dataset of dicts; the bench needs single-input models. "
                "Map it to (x, y) tuples first."
            )
        else:
            xs.append(np.asarray(element))
    if not xs:
        raise ValueError("`x` is an empty dataset; give it at least one batch.")
    if any(a.ndim == 0 for a in xs):
        raise ValueError("`x` must be a batched dataset (call `.batch(n)` on it), like Keras fit.")
    x = np.concatenate(xs, axis=0)
    y = np.concatenate(ys, axis=0) if ys else None
    return x, y


def as_arrays(x: Any, y: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Read ``x`` (and ``y``) into numpy arrays and check that they agree.

    Args:
        x: Inputs: a numpy array (first axis the samples) or a batched ``tf.data.Dataset``
            of ``x`` or ``(x, y)`` batches, as ``keras.Model.fit`` accepts.
        y: Targets, when ``x`` is an array (or a dataset of inputs only).

    Returns:
        ``(x, y)`` as arrays; ``y`` is None when no targets were given.

    Raises:
        ValueError: If ``x`` is empty, ``y`` is given twice (dataset of pairs and ``y``), or the
            numbers of samples differ.
        TypeError: If ``x`` or ``y`` is not array-like.

    Example:
        >>> import numpy as np
        >>> as_arrays(np.zeros((2, 2)))[1] is None
        True
    """
    if isinstance(x, tf.data.Dataset):
        x_arr, y_from_data = _read_dataset(x)
        if y_from_data is not None and y is not None:
            raise ValueError(
                "`y` was given but `x` is a dataset that already yields (x, y); pass y=None."
            )
        y_arr = y_from_data if y is None else _to_numpy(y, "y")
    else:
        x_arr = _to_numpy(x, "x")
        y_arr = None if y is None else _to_numpy(y, "y")
    if x_arr.ndim == 0 or len(x_arr) == 0:
        raise ValueError("`x` has no samples; give at least one.")
    if y_arr is not None and len(y_arr) != len(x_arr):
        raise ValueError(
            f"`x` has {len(x_arr)} samples but `y` has {len(y_arr)}; they must match "
            "(one target per input sample)."
        )
    return x_arr, y_arr
