"""Pair training data with a teacher cache's outputs, batch by batch, without materialising it.

:meth:`TeacherCache.zip <tf_green.distillation.TeacherCache.zip>` calls these. The cached
outputs (in memory, or streamed from disk shards) are zipped with the data sample by sample,
in data order, so a dataset that reads files streams through: nothing but a bounded shuffle
buffer (at most :data:`SHUFFLE_BUFFER_BYTES`, and at most 10,000 samples) is held. Each
batch checks its inputs' fingerprints against the cached ones (vectorised, once per batch),
so data in another order fails at the first batch instead of training on wrong targets.

Example:
    >>> shuffle_buffer(50, 1024)
    50
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from tf_green._engine.data import split_element
from tf_green.distillation._inputs import INDICES, INPUTS, LOGITS, VALUES, fingerprint

__all__ = ["SHUFFLE_BUFFER_BYTES", "pack_batches", "shuffle_buffer", "zip_in_memory"]

SHUFFLE_BUFFER_BYTES = 64 * 2**20
"""Most bytes of samples a cache-paired shuffle buffer holds: 64 MiB."""

_MAX_SHUFFLE_SAMPLES = 10_000

_ORDER_MESSAGE = (
    "the dataset is not in the order `teacher_outputs` was computed in (an input differs "
    "from the cached one): cache and train on the same unshuffled dataset"
)


def shuffle_buffer(count: int, sample_bytes: int | None) -> int:
    """Shuffle buffer size, in samples: all of them if they fit, else a bounded window.

    Args:
        count: Samples in the data.
        sample_bytes: Bytes one sample (inputs, labels and cached outputs) holds, or None
            when unknown (then at most 10,000 samples).

    Returns:
        ``min(count, 10_000, SHUFFLE_BUFFER_BYTES // sample_bytes)``, at least 1.

    Example:
        >>> shuffle_buffer(10**6, 2**20)  # 1 MiB samples: a 64-sample window
        64
    """
    cap = _MAX_SHUFFLE_SAMPLES
    if sample_bytes:
        cap = min(cap, SHUFFLE_BUFFER_BYTES // int(sample_bytes))
    return max(1, min(int(count), cap))


def spec_bytes(spec: Any) -> int | None:
    """Bytes of one element of ``spec`` (a structure of ``TensorSpec``), None if not fixed.

    Example:
        >>> spec_bytes(tf.TensorSpec((8, 8), tf.float32))
        256
    """
    total = 0
    for leaf in tf.nest.flatten(spec):
        dims = leaf.shape.as_list() if leaf.shape.rank is not None else None
        if dims is None or any(d is None for d in dims):
            return None
        total += math.prod(dims) * leaf.dtype.size
    return total


def _targets_only(target: dict) -> dict:
    return {k: v for k, v in target.items() if k in (LOGITS, VALUES, INDICES)}


def pack_batches(
    pairs: tf.data.Dataset,
    count: int,
    batch_size: int,
    shuffle: bool,
    seed: int | None,
    sample_bytes: int | None,
) -> tf.data.Dataset:
    """Shuffle, batch and pack ``(element, targets, fingerprint)`` sample triples.

    Args:
        pairs: Per-sample ``(element, cached outputs dict, cached fingerprint)``, where
            ``element`` is ``x`` or ``(x, y[, sample_weight])``.
        count: Number of samples.
        batch_size: Batch size.
        shuffle: Shuffle the samples (with their cached outputs) every epoch.
        seed: Shuffle seed.
        sample_bytes: Bytes per sample, to bound the shuffle buffer (see
            :func:`shuffle_buffer`).

    Returns:
        Batches ``({inputs, teacher outputs}, y[, sample_weight])``, their number stated
        (``fit`` knows its steps even for data read from files); each batch asserts that
        its inputs' fingerprints match the cached ones (``InvalidArgumentError`` otherwise).

    Example:
        >>> x = np.ones((4, 2), np.float32)
        >>> pairs = tf.data.Dataset.from_tensor_slices(
        ...     (x, {LOGITS: np.zeros((4, 3), np.float32)}, fingerprint(x).numpy()))
        >>> len(list(pack_batches(pairs, 4, 2, False, None, None)))
        2
    """
    if shuffle:
        buffer = shuffle_buffer(count, sample_bytes)
        pairs = pairs.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)

    def pack(element, target, expected):
        x, y, sample_weight = split_element(element)
        check = tf.debugging.assert_near(
            fingerprint(x), expected, rtol=1e-4, atol=1e-3, message=_ORDER_MESSAGE
        )
        with tf.control_dependencies([check]):
            x = tf.nest.map_structure(tf.identity, x)
        packed = {INPUTS: x, **_targets_only(target)}
        return (packed, *(v for v in (y, sample_weight) if v is not None))

    batches = pairs.batch(batch_size).map(pack, num_parallel_calls=tf.data.AUTOTUNE)
    if int(batches.cardinality()) == int(tf.data.UNKNOWN_CARDINALITY):  # data read from files
        batches = batches.apply(tf.data.experimental.assert_cardinality(-(-count // batch_size)))
    return batches.prefetch(tf.data.AUTOTUNE)


def zip_in_memory(
    data: tuple, targets: dict[str, np.ndarray], count: int, batch_size: int, shuffle, seed
) -> tf.data.Dataset:
    """Batches of in-memory arrays and in-memory cached outputs, gathered by index.

    Args:
        data: ``({INPUTS: x}, y[, sample_weight])`` arrays (first axis the samples).
        targets: The cached outputs, keyed by the packed-input names.
        count: Number of samples.
        batch_size: Batch size.
        shuffle: Shuffle the samples every epoch (a full permutation).
        seed: Shuffle seed.

    Returns:
        Batches ``({inputs, teacher outputs}, y[, sample_weight])``.

    Example:
        >>> data = ({INPUTS: np.zeros((3, 2))},)
        >>> len(list(zip_in_memory(data, {LOGITS: np.zeros((3, 4))}, 3, 2, False, None)))
        2
    """
    data = ({**data[0], **targets}, *data[1:])
    indices = tf.data.Dataset.range(count)
    if shuffle:
        indices = indices.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    indices = indices.batch(batch_size)
    whole = tf.data.Dataset.from_tensors(data).repeat()
    batches = tf.data.Dataset.zip((indices, whole)).map(
        lambda i, d: tf.nest.map_structure(lambda a: tf.gather(a, i), d),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return batches.prefetch(tf.data.AUTOTUNE)
