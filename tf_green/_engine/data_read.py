"""Read a ``tf.data.Dataset`` (or part of it) into numpy arrays, as ``fit`` would split it.

The converter's representative data, ``TFLiteModel.predict``/``evaluate`` and the bench need
arrays; batched or not is told as in :func:`tf_green._engine.data.is_batched` and, when the
spec cannot tell, from the first element. Engine-neutral like :mod:`tf_green._engine.data`.

Example:
    >>> import numpy as np
    >>> ds = tf.data.Dataset.from_tensor_slices((np.zeros((5, 3)), np.arange(5)))
    >>> x, y, w = read_dataset(ds)  # scalar targets: single samples
    >>> x.shape, y.shape, w
    ((5, 3), (5,), None)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tf_green._engine.data import _decide, input_ranks, split_element

__all__ = ["elements_batched", "join_elements", "read_dataset", "read_elements"]


def read_elements(
    dataset: tf.data.Dataset,
    model: Any = None,
    *,
    limit: int | None = None,
    tuple_is_x: bool = False,
    argument: str = "x",
) -> tuple[list[tuple[Any, Any, Any]], bool | None]:
    """Read a dataset's elements into numpy ``(x, y, sample_weight)`` triples.

    Args:
        dataset: A finite dataset of ``x``, ``(x, y)`` or ``(x, y, sample_weight)``.
        model: The model it feeds, or its input ranks (see
            :func:`~tf_green._engine.data.is_batched`).
        limit: Stop once at least this many samples are read (None: read all).
        tuple_is_x: Read a tuple of as many plain parts as the model has inputs as ``x``
            (data without targets; see :func:`split_element`).
        argument: The argument name, used in messages.

    Returns:
        ``(elements, batched)``: the triples, and True/False for batches/samples, or None
        when neither the spec nor the first element tells (callers may ask a model later).

    Raises:
        ValueError: For an empty dataset, elements of more than 3 parts, scalar inputs, or
            elements of which only some carry targets.

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices((np.zeros((5, 3)), np.arange(5)))
        >>> elements, batched = read_elements(ds.batch(2))
        >>> len(elements), batched
        (3, True)
    """
    ranks = input_ranks(model)
    num_inputs = len(ranks) if tuple_is_x and ranks else 1
    x_spec, y_spec, _ = split_element(dataset.element_spec, num_inputs, argument)
    batched = _decide(x_spec, y_spec, model, argument, lambda spec: spec.shape)
    elements: list[tuple[Any, Any, Any]] = []
    count = 0
    for element in dataset:
        x, y, w = split_element(element, num_inputs, argument)
        triple = tuple(
            None if p is None else tf.nest.map_structure(np.asarray, p) for p in (x, y, w)
        )
        if not elements and batched is None:
            batched = _decide(triple[0], triple[1], model, argument, np.shape)
            if batched is None and np.ndim(tf.nest.flatten(triple[0])[0]) == 0:
                raise ValueError(
                    f"`{argument}` is a dataset of scalar elements; give a batched dataset "
                    "(call `.batch(n)`) or samples with a feature axis, like Keras fit."
                )
        elements.append(triple)
        count += len(tf.nest.flatten(triple[0])[0]) if batched is not False else 1
        if limit is not None and count >= limit:
            break
    if not elements:
        raise ValueError(f"`{argument}`: the dataset is empty; give it at least one sample.")
    for part, name in ((1, "targets"), (2, "sample weights")):
        if len({e[part] is None for e in elements}) > 1:
            raise ValueError(f"`{argument}` is a dataset where only some elements have {name}.")
    return elements, batched


def elements_batched(
    elements: Sequence[tuple[Any, Any, Any]], model: Any = None, argument: str = "x"
) -> bool | None:
    """Whether :func:`read_elements`'s triples are batches, told from the first one and a model.

    For a dataset :func:`read_elements` left undecided, once a model (or its input ranks)
    is known: an element of the inputs' rank is a batch, one of a rank less a sample.

    Raises:
        ValueError: If the ranks fit neither batches nor samples of the model.

    Example:
        >>> elements_batched([(np.zeros(3), None, None)], [2])
        False
    """
    x, y, _ = elements[0]
    return _decide(x, y, model, argument, np.shape)


def join_elements(
    elements: Sequence[tuple[Any, Any, Any]], batched: bool | None, limit: int | None = None
) -> tuple[Any, Any, Any]:
    """Join :func:`read_elements`'s triples into ``(x, y, sample_weight)`` arrays.

    Batches are concatenated, samples stacked (``batched`` None is read as batches, like
    Keras); a tuple ``x`` becomes a list; ``limit`` keeps the first samples only.

    Example:
        >>> x, y, w = join_elements([(np.zeros(3), np.int64(1), None)] * 2, batched=False)
        >>> x.shape, y.tolist(), w
        ((2, 3), [1, 1], None)
    """
    join = np.stack if batched is False else np.concatenate

    def joined(part: int) -> Any:
        if elements[0][part] is None:
            return None
        value = tf.nest.map_structure(lambda *parts: join(parts), *[e[part] for e in elements])
        if limit is not None:
            value = tf.nest.map_structure(lambda a: a[:limit], value)
        return list(value) if isinstance(value, tuple) else value

    return joined(0), joined(1), joined(2)


def read_dataset(
    dataset: tf.data.Dataset,
    model: Any = None,
    *,
    limit: int | None = None,
    tuple_is_x: bool = False,
    argument: str = "x",
) -> tuple[Any, Any, Any]:
    """Read (up to ``limit`` samples of) a dataset into ``(x, y, sample_weight)`` arrays.

    ``x`` is an array, a list of arrays or a dict of arrays, as the dataset yields it; ``y``
    and ``sample_weight`` are None when the dataset has none. See :func:`read_elements`.

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices((np.zeros((5, 3)), np.arange(5)))
        >>> x, y, _ = read_dataset(ds.batch(2), limit=3)
        >>> x.shape, y.tolist()
        ((3, 3), [0, 1, 2])
    """
    elements, batched = read_elements(
        dataset, model, limit=limit, tuple_is_x=tuple_is_x, argument=argument
    )
    return join_elements(elements, batched, limit)
