"""Input plumbing specific to the cache and the Distiller: packing, batches, fingerprints.

Inputs are arrays (or a dict/tuple structure of arrays, first axis the samples) or a
``tf.data.Dataset`` of ``x`` or ``(x, y[, sample_weight])`` batches, as Keras ``fit``
accepts them; splitting elements and counting samples are the engine-neutral ones of
:mod:`tf_green._engine.data`. A *fingerprint* is one float32 per sample, a fixed weighted
sum of its input values: cheap to compute, and different for reordered or different data,
so a cache can check that it is paired with the data it was computed on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from tf_green._engine.data import count_samples, is_dataset, split_element

__all__ = [
    "INDICES",
    "INPUTS",
    "LOGITS",
    "VALUES",
    "count_samples",
    "fingerprint",
    "fingerprint_arrays",
    "input_batches",
    "is_packed",
    "num_samples",
    "sample_input_shape",
    "unpack",
    "x_of",
]

# Keys of the inputs a Distiller trains on when a cache supplies the teacher's outputs.
INPUTS = "tf_green_inputs"
LOGITS = "tf_green_teacher_logits"
VALUES = "tf_green_teacher_values"
INDICES = "tf_green_teacher_indices"


def unpack(x: Any) -> tuple[Any, dict | None]:
    """Split packed inputs into ``(inputs, cached teacher outputs)``; ``(x, None)`` if plain."""
    if isinstance(x, dict) and INPUTS in x:
        return x[INPUTS], {k: x[k] for k in (LOGITS, VALUES, INDICES) if k in x}
    return x, None


def is_packed(x: Any) -> bool:
    """Whether ``x`` is a dataset already paired with cached teacher outputs."""
    if not is_dataset(x):
        return False
    first = split_element(x.element_spec)[0]
    return isinstance(first, dict) and INPUTS in first


def x_of(element: Any) -> Any:
    """Return the ``x`` part of a dataset element (``x`` or ``(x, y[, sample_weight])``)."""
    return split_element(element)[0]


# Samples of arrays or of a (batched) dataset: the one count of tf_green._engine.data. The
# second name is kept for the cache modules that import it.
num_samples = count_samples


def input_batches(x: Any, batch_size: int) -> Iterator[Any]:
    """Yield ``x`` batches: slices of arrays, or the ``x`` part of each dataset element."""
    if is_dataset(x):
        for element in x:
            yield x_of(element)
        return
    count = count_samples(x)
    for start in range(0, count, batch_size):
        yield tf.nest.map_structure(lambda a, s=start: a[s : s + batch_size], x)


def sample_input_shape(x: Any) -> Any:
    """The batched input shape ``(None, ...)`` of arrays or a dataset (structure of shapes).

    Dimensions a dataset leaves unknown are read from its first batch.
    """
    if is_dataset(x):
        spec = x_of(x.element_spec)
        shapes = tf.nest.map_structure(lambda s: s.shape, spec)
        if any(d is None for s in tf.nest.flatten(shapes) for d in s.as_list()[1:]):
            first = x_of(next(iter(x)))
            shapes = tf.nest.map_structure(lambda a: tf.TensorShape(a.shape), first)
    else:
        shapes = tf.nest.map_structure(lambda a: tf.TensorShape(np.shape(a)), x)
    shapes = tf.nest.map_structure(
        lambda s: tf.TensorShape([None, *s.as_list()[1:]]), shapes, expand_composites=False
    )
    return shapes[0] if isinstance(shapes, (list, tuple)) and len(shapes) == 1 else shapes


def fingerprint(x: Any) -> tf.Tensor:
    """One float32 per sample: a fixed weighted sum of all its input values.

    Args:
        x: A batch (tensor or structure of tensors), first axis the samples.

    Returns:
        float32 tensor ``(batch,)``.

    Example:
        >>> fingerprint(tf.ones((2, 3))).shape.as_list()
        [2]
    """
    total = None
    for leaf in tf.nest.flatten(x):
        leaf = tf.convert_to_tensor(leaf)
        flat = tf.reshape(tf.cast(leaf, tf.float32), [tf.shape(leaf)[0], -1])
        positions = tf.cast(tf.range(tf.shape(flat)[1]), tf.float32)
        weights = 1.0 + tf.sin(positions * 0.7071 + 0.5)
        value = tf.reduce_sum(flat * weights, axis=1)
        total = value if total is None else total + value
    return total


def fingerprint_arrays(x: Any, batch_size: int = 4096) -> np.ndarray:
    """The :func:`fingerprint` of every sample of an array structure, as numpy."""
    parts = [fingerprint(batch).numpy() for batch in input_batches(x, batch_size)]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)
