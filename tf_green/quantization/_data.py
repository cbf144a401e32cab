"""Turn the data users pass (numpy arrays or ``tf.data.Dataset``) into checked numpy inputs.

Shared by the converter's representative data and :class:`TFLiteModel`'s predict/evaluate.
Conventions follow Keras ``fit``: a dataset yields ``x``, ``(x, y)`` or ``(x, y, weights)``;
for several inputs ``x`` is a list/tuple of arrays (in the model's input order) or a dict
keyed by input name.

Example:
    >>> import numpy as np
    >>> from tf_green._keras import tf
    >>> ds = tf.data.Dataset.from_tensor_slices((np.zeros((5, 3)), np.arange(5))).batch(2)
    >>> xs, y = dataset_to_arrays(ds, ranks=[2])
    >>> xs[0].shape, y.tolist()
    ((5, 3), [0, 1, 2, 3, 4])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from tf_green._keras import tf


def is_dataset(obj: Any) -> bool:
    """Tell whether ``obj`` is a ``tf.data.Dataset``."""
    return isinstance(obj, tf.data.Dataset)


def _split_element(element: Any, num_inputs: int) -> tuple[Any, Any]:
    """Split one dataset element into (x, y), following Keras ``fit`` conventions."""
    if isinstance(element, dict):
        return element, None
    if isinstance(element, (tuple, list)):
        if num_inputs > 1 and len(element) == num_inputs and not _is_nested(element[0]):
            return element, None
        if 1 <= len(element) <= 3:
            return element[0], element[1] if len(element) > 1 else None
        raise ValueError(
            f"dataset elements have {len(element)} components; expected x, (x, y) or "
            "(x, y, sample_weight)."
        )
    return element, None


def _is_nested(obj: Any) -> bool:
    return isinstance(obj, (tuple, list, dict))


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
    out = []
    for array in arrays:
        try:
            array = np.asarray(array)
        except (TypeError, ValueError) as error:
            raise TypeError(f"`{argument}` is not array-like: {error}") from None
        if array.dtype == object:
            raise TypeError(
                f"`{argument}` has dtype object (ragged or mixed data); pass numeric arrays."
            )
        out.append(array)
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
    dataset: tf.data.Dataset, ranks: Sequence[int], limit: int | None = None
) -> tuple[list[np.ndarray] | dict[str, np.ndarray], np.ndarray | None]:
    """Collect a dataset's inputs (and targets, if present) into numpy arrays.

    Args:
        dataset: Batched or unbatched dataset of ``x``, ``(x, y)`` or ``(x, y, w)``.
        ranks: The rank of each model input, batch axis included; elements of rank one
            less are taken as unbatched samples.
        limit: Stop after at least this many samples (None: the whole dataset).

    Returns:
        ``(xs, y)``: a list of input arrays (or a dict if the dataset yields dicts) and the
        targets, or None when the dataset has none.

    Raises:
        ValueError: If the dataset is empty.
    """
    num_inputs = len(ranks)
    x_parts: list[Any] = []
    y_parts: list[np.ndarray] = []
    count = 0
    batched = None
    for element in dataset:
        x, y = _split_element(element, num_inputs)
        x = tf.nest.map_structure(np.asarray, x)
        first = tf.nest.flatten(x)[0]
        if batched is None:
            batched = first.ndim >= ranks[0]
        if not batched:
            x = tf.nest.map_structure(lambda a: a[np.newaxis], x)
            y = None if y is None else np.asarray(y)[np.newaxis]
        x_parts.append(x)
        if y is not None:
            y_parts.append(np.asarray(y))
        count += len(first) if batched else 1
        if limit is not None and count >= limit:
            break
    if not x_parts:
        raise ValueError("the dataset is empty; pass at least one sample.")
    xs = tf.nest.map_structure(lambda *parts: np.concatenate(parts), *x_parts)
    if isinstance(xs, (tuple, list)) and num_inputs == 1:
        xs = xs[0]
    if not isinstance(xs, (dict, list, tuple)):
        xs = [xs]
    y = np.concatenate(y_parts) if y_parts and len(y_parts) == len(x_parts) else None
    if limit is not None:
        xs = tf.nest.map_structure(lambda a: a[:limit], xs)
        y = None if y is None else y[:limit]
    return (dict(xs) if isinstance(xs, dict) else list(xs)), y


def iter_samples(arrays: Sequence[np.ndarray], limit: int) -> Iterator[list[np.ndarray]]:
    """Yield ``[input_1[i:i+1], input_2[i:i+1], ...]`` for the first ``limit`` samples."""
    n = min(limit, len(arrays[0]))
    for i in range(n):
        yield [a[i : i + 1] for a in arrays]
