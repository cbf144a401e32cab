"""The one input normaliser: the data a caller gives, read the way Keras ``fit`` reads it.

Engine-neutral (numpy, and ``tensorflow`` for ``tf.data`` only; no Keras): what it needs
from a model (its input ranks, its output shape) is read duck-typed from ``model.inputs``,
``model.input_shape`` and ``model.output_shape``, or passed as plain values, so the same
functions serve tf_keras and Keras 3 models.

Accepted, as ``fit`` accepts them:

* ``x`` as an array (numpy, tensor, nested list of numbers), or for several inputs a list/
  tuple of arrays (model input order) or a dict of arrays keyed by input name;
* a ``tf.data.Dataset`` of ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``
  elements, batched or not. Batched or not is read from the model's input ranks (an
  element of the input's rank is a batch, one rank less a sample); without them, scalar
  targets mean samples, a batch axis of unknown size (``.batch(n)``) means batches, and
  otherwise it is undecided (callers read it as batched, like Keras).

Reading a dataset into arrays (the converter's and the bench's need) is in
:mod:`tf_green._engine.data_read`. Counting has one meaning each: :func:`count_samples` is
the number of samples (never batches), :func:`count_batches` the number of batches one epoch
of ``fit`` runs. Counting streams: a dataset's cardinality is used when tf.data knows it
(and, with fixed batches, the samples too); otherwise the dataset is iterated once, batch
by batch, keeping nothing but the count, so data larger than memory (a dataset that reads
``.npy`` shards or TFRecord files) is never held (``fit_data.with_cardinality`` then states
the count so it is not read again).

Example:
    >>> import numpy as np
    >>> ds = tf.data.Dataset.from_tensor_slices((np.zeros((10, 3)), np.arange(10)))
    >>> count_samples(ds.batch(4)), count_batches(ds.batch(4)), count_samples(ds)
    (10, 3, 10)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

__all__ = [
    "batch_if_unbatched",
    "count_batches",
    "count_samples",
    "has_targets",
    "input_ranks",
    "is_batched",
    "is_dataset",
    "output_shape",
    "split_element",
    "to_numpy",
]


def is_dataset(obj: Any) -> bool:
    """Whether ``obj`` is a ``tf.data.Dataset``.

    Example:
        >>> is_dataset(tf.data.Dataset.range(2)), is_dataset([1, 2])
        (True, False)
    """
    return isinstance(obj, tf.data.Dataset)


def split_element(element: Any, num_inputs: int = 1, argument: str = "x") -> tuple[Any, Any, Any]:
    """``(x, y, sample_weight)`` of one dataset element (or element spec), as ``fit`` reads it.

    A tuple (or list) of 1-3 parts is ``(x[, y[, sample_weight]])``; anything else is ``x``.
    With ``num_inputs`` > 1, a tuple of exactly that many parts whose first is not itself a
    structure is the ``x`` of a multi-input model (data without targets, e.g. the
    converter's representative data); ``fit`` itself would read it as ``(x, y)``.

    Raises:
        ValueError: For a tuple of more than 3 parts.

    Example:
        >>> split_element((1, 2)), split_element((1, 2), num_inputs=2)
        ((1, 2, None), ((1, 2), None, None))
    """
    if isinstance(element, list):
        element = tuple(element)
    if not isinstance(element, tuple):
        return element, None, None
    if num_inputs > 1 and len(element) == num_inputs and not _is_structure(element[0]):
        return element, None, None
    if not 1 <= len(element) <= 3:
        raise ValueError(
            f"`{argument}`: dataset elements have {len(element)} components; expected x, (x,), "
            "(x, y) or (x, y, sample_weight)."
        )
    return (*element, *(None,) * (3 - len(element)))


def _is_structure(obj: Any) -> bool:
    return isinstance(obj, (tuple, list, Mapping))


def has_targets(dataset: tf.data.Dataset) -> bool:
    """Whether a dataset's elements carry targets, as ``fit`` reads them: ``(x, y[, w])``.

    Example:
        >>> has_targets(tf.data.Dataset.from_tensor_slices(np.zeros((2, 3))))
        False
    """
    spec = dataset.element_spec
    return isinstance(spec, tuple) and len(spec) >= 2


def _rank(shape: Any) -> int | None:
    if isinstance(shape, tf.TensorShape):
        return shape.rank
    try:
        return len(tuple(shape))
    except TypeError:
        return None


def _safe(model: Any, name: str) -> Any:
    try:
        return getattr(model, name)
    except (AttributeError, RuntimeError, ValueError):
        return None


def input_ranks(model: Any) -> list[int] | None:
    """The ranks (batch axis included) of a model's inputs, read duck-typed; None if unknown.

    Args:
        model: A tf_keras or Keras 3 model (``inputs`` or ``input_shape`` read), a sequence
            of ranks (returned as a list), or None.

    Example:
        >>> input_ranks([2, 4])
        [2, 4]
    """
    if model is None:
        return None
    if isinstance(model, Sequence) and all(isinstance(r, int) for r in model):
        return list(model) or None
    inputs = _safe(model, "inputs")
    if inputs:
        items = list(inputs.values()) if isinstance(inputs, Mapping) else inputs
        shapes = [t.shape for t in (items if isinstance(items, (list, tuple)) else [items])]
    else:
        shape = _safe(model, "input_shape")
        if isinstance(shape, Mapping):
            shapes = list(shape.values())
        elif isinstance(shape, list) or (
            isinstance(shape, tuple) and shape and _is_structure(shape[0])
        ):
            shapes = list(shape)
        else:
            shapes = [] if shape is None else [shape]
    ranks = [_rank(s) for s in shapes]
    return None if not ranks or None in ranks else ranks


def output_shape(model: Any) -> tuple | None:
    """A model's output shape (a tuple, batch axis first), read duck-typed; None if unknown.

    Example:
        >>> output_shape(object()) is None
        True
    """
    shape = _safe(model, "output_shape")
    return tuple(shape) if isinstance(shape, tuple) else None


def _model_name(model: Any) -> str:
    name = _safe(model, "name")
    return f"the model {name!r}" if isinstance(name, str) else "the model"


def _compare(leaf_ranks: list[int], ranks: list[int]) -> bool | None:
    """True: batches; False: samples; None: neither, for these input ranks."""
    if len(leaf_ranks) == len(ranks) > 1:  # match as a multiset: dict leaves are sorted by key
        if sorted(leaf_ranks) == sorted(ranks):
            return True
        return False if sorted(r + 1 for r in leaf_ranks) == sorted(ranks) else None
    if leaf_ranks[0] == ranks[0]:
        return True
    return False if leaf_ranks[0] == ranks[0] - 1 else None


def _decide(x: Any, y: Any, model: Any, argument: str, shape_of: Any) -> bool | None:
    leaves = tf.nest.flatten(x)
    if not leaves:
        return None
    shapes = [shape_of(leaf) for leaf in leaves]
    leaf_ranks = [_rank(s) for s in shapes]
    ranks = input_ranks(model)
    if ranks and None not in leaf_ranks:
        decided = _compare(leaf_ranks, ranks)
        if decided is None:
            raise ValueError(
                f"`{argument}` yields inputs of rank {leaf_ranks[0]} ({tuple(shapes[0])}) but "
                f"{_model_name(model)} takes rank {ranks[0]} (batch axis first); yield batches "
                "of that shape, or single samples (they are batched with batch_size)."
            )
        return decided
    y_leaves = tf.nest.flatten(y) if y is not None else []
    if y_leaves and _rank(shape_of(y_leaves[0])) == 0:
        return False  # scalar targets: one sample per element
    if leaf_ranks[0] and next(iter(shapes[0])) is None:
        return True  # `.batch(n)` leaves the batch size unknown
    return None


def is_batched(dataset: tf.data.Dataset, model: Any = None, argument: str = "x") -> bool | None:
    """Whether a dataset yields batches (True), single samples (False), or cannot tell (None).

    Read from its element spec: with the model's input ranks (a model or the ranks), an
    element of that rank is a batch and one of a rank less a sample; otherwise scalar
    targets mean samples and a batch axis of unknown size (``.batch(n)``) means batches.

    Raises:
        ValueError: If the inputs' ranks fit neither batches nor samples of the model.

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices(np.zeros((5, 3)))
        >>> is_batched(ds, [2]), is_batched(ds.batch(2)), is_batched(ds)
        (False, True, None)
    """
    x, y, _ = split_element(dataset.element_spec, argument=argument)
    return _decide(x, y, model, argument, lambda spec: spec.shape)


def batch_if_unbatched(
    dataset: tf.data.Dataset, model: Any, batch_size: int, argument: str = "x"
) -> tf.data.Dataset:
    """Batch a dataset of single samples with ``batch_size``, as ``fit`` batches arrays.

    Args:
        dataset: The dataset.
        model: The model it feeds (its input ranks are read), or the ranks.
        batch_size: Batch size for an unbatched dataset.
        argument: The argument name, used in messages.

    Returns:
        ``dataset``, or ``dataset.batch(batch_size)`` if it yields single samples.

    Raises:
        ValueError: If the inputs' ranks fit neither batches nor samples of the model.

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices(np.zeros((5, 3)))
        >>> batch_if_unbatched(ds, [2], 2).element_spec.shape.as_list()
        [None, 3]
    """
    if is_batched(dataset, model, argument) is False:
        return dataset.batch(batch_size)
    return dataset


def to_numpy(value: Any, argument: str = "x") -> np.ndarray:
    """One array as numpy (numpy arrays, tensors, nested lists of numbers).

    Raises:
        TypeError: If ``value`` is not array-like, or holds objects (ragged or mixed data).

    Example:
        >>> to_numpy([[1, 2]]).shape
        (1, 2)
    """
    if isinstance(value, np.ndarray):
        array = value
    elif isinstance(value, (list, tuple, tf.Tensor)) or hasattr(value, "__array__"):
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as error:
            raise TypeError(f"`{argument}` is not array-like: {error}") from None
    else:
        raise TypeError(
            f"`{argument}` must be a numpy array (or a tensor or list; a list or dict of arrays "
            f"for several inputs) or a tf.data.Dataset, got {type(value).__name__}. Wrap "
            "generators with tf.data.Dataset.from_generator(...)."
        )
    if array.dtype == object:
        raise TypeError(
            f"`{argument}` has dtype object (ragged or mixed data); pass numeric arrays."
        )
    return array


def _is_array(obj: Any) -> bool:
    return isinstance(obj, (np.ndarray, tf.Tensor)) or (
        hasattr(obj, "__array__") and not isinstance(obj, (list, tuple)) and np.ndim(obj) > 0
    )


def _array_leaves(x: Any) -> list[Any]:
    """The arrays of an input structure: a dict's values, a list of arrays, or ``x`` itself."""
    if isinstance(x, Mapping):
        return [leaf for value in x.values() for leaf in _array_leaves(value)]
    if (
        isinstance(x, (list, tuple))
        and x
        and all(_is_array(v) or _is_structure(v) for v in x)
        and any(_is_array(v) or isinstance(v, Mapping) for v in x)  # not a nested number list
    ):
        return [leaf for value in x for leaf in _array_leaves(value)]
    return [x]


def count_samples(data: Any, model: Any = None, argument: str = "x") -> int:
    """The number of samples (never batches) in arrays or a finite dataset.

    Args:
        data: An array, a list/dict of arrays (several inputs), or a ``tf.data.Dataset``
            (batched or not: see :func:`is_batched`; undecided is read as batched).
        model: The model it feeds, or its input ranks, to tell batches from samples.
        argument: The argument it came from, used in messages.

    Returns:
        The length of the arrays' first axis, or the samples a dataset yields in one pass
        (datasets of unknown size are iterated once).

    Raises:
        TypeError: If ``data`` is not array-like (e.g. a generator).
        ValueError: For a scalar, parts of different lengths, or an infinite dataset.

    Example:
        >>> count_samples({"a": np.zeros((5, 2)), "b": np.zeros(5)})
        5
    """
    if is_dataset(data):
        return _dataset_samples(data, model, argument)
    lengths = set()
    for leaf in _array_leaves(data):
        if isinstance(leaf, (list, tuple)):
            lengths.add(len(leaf))
            continue
        shape = tuple(leaf.shape if hasattr(leaf, "shape") else np.shape(to_numpy(leaf, argument)))
        if not shape:
            raise ValueError(f"`{argument}` must have a sample axis; got a scalar.")
        lengths.add(int(shape[0]))
    if len(lengths) > 1:
        raise ValueError(f"the inputs in `{argument}` have different lengths: {sorted(lengths)}.")
    return lengths.pop()


def _dataset_samples(dataset: tf.data.Dataset, model: Any, argument: str) -> int:
    cardinality = int(dataset.cardinality())
    if cardinality == int(tf.data.INFINITE_CARDINALITY):
        raise ValueError(
            f"`{argument}` is an infinite dataset (repeat()), so it has no sample count: pass a "
            "finite one, e.g. with .take(n)."
        )
    x_spec = tf.nest.flatten(split_element(dataset.element_spec, argument=argument)[0])
    if is_batched(dataset, model, argument) is False or not x_spec or x_spec[0].shape.rank == 0:
        if cardinality >= 0:
            return cardinality
        return int(dataset.reduce(np.int64(0), lambda count, _: count + 1))

    batch = x_spec[0].shape[0] if x_spec and x_spec[0].shape.rank else None
    if cardinality >= 0 and batch is not None:  # fixed batches (drop_remainder): no pass
        return cardinality * int(batch)

    def add(count: tf.Tensor, element: Any) -> tf.Tensor:
        first = tf.nest.flatten(split_element(element)[0])[0]
        return count + tf.cast(tf.shape(first)[0], tf.int64)

    return int(dataset.reduce(np.int64(0), add))


def count_batches(
    data: Any,
    batch_size: int | None = None,
    *,
    steps_per_epoch: int | None = None,
    model: Any = None,
    argument: str = "x",
) -> int:
    """The number of batches one epoch of ``fit`` runs on ``data``.

    Args:
        data: Arrays (batched with ``batch_size``) or a ``tf.data.Dataset`` (its batches; a
            dataset of single samples, as told by ``model``, is batched with ``batch_size``).
        batch_size: Batch size for arrays and unbatched datasets.
        steps_per_epoch: Caps the epoch, as in ``fit``; required for an infinite dataset.
        model: The model it feeds, or its input ranks (see :func:`is_batched`).
        argument: The argument name, used in messages.

    Raises:
        ValueError: For an empty or infinite dataset without ``steps_per_epoch``, or a
            missing ``batch_size``.

    Example:
        >>> x = np.zeros((10, 2))
        >>> count_batches(x, 4), count_batches(x, 4, steps_per_epoch=2)
        (3, 2)
    """
    if is_dataset(data) and is_batched(data, model, argument) is not False:
        batches = _dataset_batches(data, steps_per_epoch, argument)
    else:
        if batch_size is None:
            raise ValueError(f"`batch_size` is needed to count the batches of `{argument}`.")
        batches = math.ceil(count_samples(data, model, argument) / batch_size)
    return min(batches, steps_per_epoch) if steps_per_epoch else batches


def _dataset_batches(
    dataset: tf.data.Dataset,
    steps_per_epoch: int | None,
    argument: str = "x",
    allow_infinite: bool = False,
) -> int:
    cardinality = int(dataset.cardinality())
    if cardinality == int(tf.data.INFINITE_CARDINALITY):
        if steps_per_epoch or allow_infinite:
            return steps_per_epoch or 1
        raise ValueError(
            f"`{argument}` is an infinite dataset: pass steps_per_epoch=..., or make it finite "
            "with .take(n), so the number of training steps is known."
        )
    if cardinality == int(tf.data.UNKNOWN_CARDINALITY):
        cardinality = int(dataset.reduce(np.int64(0), lambda count, _: count + 1))
    if cardinality == 0:
        raise ValueError(f"`{argument}` is an empty dataset (0 batches).")
    return cardinality
