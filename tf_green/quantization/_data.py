"""Turn the data users pass (numpy arrays or ``tf.data.Dataset``) into one array per input.

Shared by the converter's representative data and :class:`TFLiteModel`'s predict/evaluate.
Reading a dataset is :mod:`tf_green._engine.data_read`'s (Keras ``fit`` conventions: a
dataset yields ``x``, ``(x, y)`` or ``(x, y, weights)``, batched or not); what is specific
here is matching arrays to a model's (or a TFLite signature's) inputs by position or by
name, and feeding the converter one sample at a time. For several inputs ``x`` is a
list/tuple of arrays (in the model's input order) or a dict keyed by input name, and a
dataset may yield a tuple of one tensor per input (data without targets).

Example:
    >>> import numpy as np
    >>> import tensorflow as tf
    >>> ds = tf.data.Dataset.from_tensor_slices((np.zeros((5, 3)), np.arange(5))).batch(2)
    >>> xs, y = dataset_to_arrays(ds, ranks=[2])
    >>> xs[0].shape, y.tolist()
    ((5, 3), [0, 1, 2, 3, 4])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tf_green._engine.data import is_dataset, to_numpy
from tf_green._engine.data_read import read_dataset

__all__ = ["as_input_list", "dataset_to_arrays", "is_dataset", "iter_samples"]


def as_input_list(x: Any, names: Sequence[str], argument: str = "x") -> list[np.ndarray]:
    """Return one numpy array per model input from an array, a list or a dict.

    Args:
        x: An array (single-input models), a list/tuple of arrays or a dict by input name.
        names: The model's input names, in order.
        argument: The argument name used in error messages.

    Returns:
        The arrays, in ``names`` order.

    Raises:
        ValueError: On a wrong number of arrays, a missing name, or different lengths.
        TypeError: If ``x`` is not array-like.
    """
    if isinstance(x, dict):
        missing = [n for n in names if _match(n, x) is None]
        if missing:
            raise ValueError(
                f"`{argument}` is a dict with keys {sorted(x)} but the model's inputs are "
                f"{list(names)}; missing {missing}."
            )
        arrays = [x[_match(n, x)] for n in names]
    elif isinstance(x, (list, tuple)) and len(names) > 1:
        if len(x) != len(names):
            raise ValueError(
                f"`{argument}` has {len(x)} arrays but the model has {len(names)} inputs "
                f"{list(names)}; pass one array per input."
            )
        arrays = list(x)
    else:
        if len(names) > 1:
            raise ValueError(
                f"the model has {len(names)} inputs {list(names)}: pass `{argument}` as a "
                "list of arrays (in that order) or a dict keyed by input name."
            )
        arrays = [x]
    out = [to_numpy(array, argument) for array in arrays]
    lengths = {len(a) if a.ndim else 0 for a in out}
    if len(lengths) > 1:
        raise ValueError(f"the arrays of `{argument}` have different lengths {sorted(lengths)}.")
    return out


def _match(name: str, mapping: dict) -> str | None:
    """Find ``name`` among ``mapping``'s keys, exactly or as TFLite mangles it."""
    if name in mapping:
        return name
    for key in mapping:
        if name.startswith(f"serving_default_{key}:") or name == f"{key}:0":
            return key
    return None


def dataset_to_arrays(
    dataset: tf.data.Dataset,
    ranks: Sequence[int],
    limit: int | None = None,
    argument: str = "x",
) -> tuple[list[np.ndarray] | dict[str, np.ndarray], np.ndarray | None]:
    """Collect a dataset's inputs (and targets, if present) into numpy arrays.

    Args:
        dataset: Batched or unbatched dataset of ``x``, ``(x, y)`` or ``(x, y, w)``; for a
            multi-input model also a tuple of one tensor per input.
        ranks: The rank of each model input, batch axis included; elements of rank one
            less are taken as unbatched samples.
        limit: Keep this many samples at most (None: the whole dataset).
        argument: The argument name, used in messages.

    Returns:
        ``(xs, y)``: a list of input arrays (or a dict if the dataset yields dicts) and the
        targets, or None when the dataset has none.

    Raises:
        ValueError: If the dataset is empty, its elements have more than 3 parts, or their
            ranks fit neither batches nor samples of the model.
    """
    xs, y, _ = read_dataset(dataset, list(ranks), limit=limit, tuple_is_x=True, argument=argument)
    if isinstance(xs, list) and len(ranks) == 1:
        xs = xs[0]
    if not isinstance(xs, (dict, list)):
        xs = [xs]
    return xs, y


def iter_samples(arrays: Sequence[np.ndarray], limit: int) -> Iterator[list[np.ndarray]]:
    """Yield ``[input_1[i:i+1], input_2[i:i+1], ...]`` for the first ``limit`` samples."""
    n = min(limit, len(arrays[0]))
    for i in range(n):
        yield [a[i : i + 1] for a in arrays]
