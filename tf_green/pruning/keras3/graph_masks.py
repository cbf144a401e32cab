"""The masks of :mod:`tf_green.pruning.keras3.masks`, computed on the device by backend ops.

The mask updates of a pruning ``fit`` ran in numpy: read the weights back to the host, choose
the kept entries, assign mask and weights. On the TensorFlow backend that cost about 20 ms
per update inside ``fit`` (benchmarks/RESULTS.md). Here the magnitude masks are computed by
one compiled function (``tf.function`` with XLA on TensorFlow, ``jax.jit`` on JAX) in
``keras.ops``, on the weights' tensor where it lives: the weights never leave the device,
and the kept count is a traced argument, so one compiled function per weight shape serves
every step, sparsity and layer (a few ms for a 295k-entry kernel on a CPU). m:n masks are set
once per training (at step 1), so they run as plain (eager) backend ops.

The results are identical to the numpy reference, entry for entry:

* Magnitude mask: exactly ``keep`` entries, the largest ``|w|``; of tied magnitudes the first
  in memory order; a NaN weight counts as the smallest magnitude (pruned first). The
  ``keep``-th largest magnitude is found by a two-pass radix select on the bit patterns of
  ``|w|`` (for non-negative float32 values the int32 bit pattern has the same order as the
  value; a NaN is given the key below ``+0.0``): a histogram of the top 16 bits, then one of
  the low 16 bits within the chosen bin, O(n) with no sort. Entries above the threshold are
  kept, then the first tied entries in memory order up to ``keep`` (a cumulative sum, run
  only when there are more ties than places).
* m:n mask: in each group of ``n`` consecutive weights along the input axis, an entry's rank
  is the number of entries larger than it plus the number of equal ones before it (a NaN is
  the smallest); the ``n - m`` of rank below ``n - m`` are kept: the stable descending order
  of :func:`tf_green.pruning.keras3.masks.mn_mask`.

Which path a weight takes (:func:`on_device`, used by :mod:`tf_green.pruning.keras3.engine`):

* float32 weights with at least :data:`MIN_SIZE` (65,536) entries: here, on the device. The
  compiled function costs about 1 s of CPU per new weight shape, once per process (both
  backends' XLA on this machine), and then a few ms per update instead of 10-30 ms.
* Smaller float32 weights: the numpy path, so a model does not pay a compile for each small
  weight size. (In the digits benchmark the two small kernels' numpy updates still cost a few
  ms per update inside ``fit``; a lower threshold would trade that for ~1 s of compiling per
  size, once per process.)
* Any other dtype (float16/bfloat16/float64 variables; Keras 3 layers, mixed precision
  included, keep float32 variables): the numpy path, where the float32 bit-pattern keys
  would not hold the values exactly.

Example:
    >>> import numpy as np
    >>> keras.ops.convert_to_numpy(magnitude_mask(np.array([0.1, -3.0, 2.0, 0.5], "f"), 2))
    array([0., 1., 1., 0.], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf
from keras import ops

__all__ = ["MIN_SIZE", "magnitude_mask", "mn_mask", "on_device"]

#: Weights with fewer entries keep the numpy path: each new weight size costs one compile
#: (about 1 s of CPU, once per process), which a small weight's updates rarely pay back.
MIN_SIZE = 1 << 16

_BITS = 16  # radix width: two passes cover the 31 bits of a non-negative int32 key
_BINS = 1 << _BITS
_ROWS = 256
_COMPILED: dict[str, Callable[..., Any]] = {}


def on_device(dtype: Any, size: int) -> bool:
    """Whether a weight gets its masks from this module: float32 with >= ``MIN_SIZE`` entries.

    Args:
        dtype: The weight's dtype.
        size: Its number of entries.

    Example:
        >>> on_device("float32", 294_912), on_device("float32", 1_152)
        (True, False)
        >>> on_device("float64", 294_912)
        False
    """
    return keras.backend.standardize_dtype(dtype) == "float32" and size >= MIN_SIZE


def _keys(values: Any) -> Any:
    """int32 keys ordered like ``|values|``, a NaN below +0.0; all in [0, 2**31)."""
    magnitude = ops.abs(values)
    bits = _bitcast_int32(magnitude) + 1  # |x| <= inf: bits <= 0x7F800000, +1 fits
    return ops.where(ops.isnan(magnitude), ops.zeros_like(bits), bits)


def _tensor(weights: Any) -> Any:
    """A backend tensor of ``weights`` (on TensorFlow, a variable's value read once)."""
    if keras.backend.backend() == "tensorflow":
        return tf.convert_to_tensor(weights)
    return ops.convert_to_tensor(weights)


def _bitcast_int32(values: Any) -> Any:
    """The int32 bit patterns of float32 ``values`` (``ops.view`` needs a static TF shape)."""
    if keras.backend.backend() == "tensorflow":
        return tf.bitcast(values, tf.int32)
    return ops.view(values, "int32")


def _suffix_sums(counts: Any) -> Any:
    """``out[i] = sum(counts[i:])`` of a short vector, as a masked sum (cumsum compiles slowly)."""
    index = ops.arange(ops.shape(counts)[0])
    upper = ops.expand_dims(index, 0) >= ops.expand_dims(index, 1)  # [i, j]: j >= i
    return ops.sum(ops.where(upper, ops.expand_dims(counts, 0), 0), axis=1)


def _last_bin_reaching(histogram: Any, count: Any) -> Any:
    """The largest bin ``b`` with at least ``count`` keys in bins ``>= b`` (``count >= 1``).

    Two levels of 256: the row of 256 bins first, then the bin within it.
    """
    rows = ops.reshape(histogram, (_ROWS, _BINS // _ROWS))
    row_totals = ops.sum(rows, axis=1)
    row_suffix = _suffix_sums(row_totals)  # non-increasing
    row = ops.sum(ops.cast(row_suffix >= count, "int32")) - 1
    after_row = ops.take(row_suffix, row) - ops.take(row_totals, row)
    in_row = _suffix_sums(ops.take(rows, row, axis=0))
    column = ops.sum(ops.cast(in_row >= count - after_row, "int32")) - 1
    return row * (_BINS // _ROWS) + column


def _kth_largest(key: Any, count: Any) -> Any:
    """The ``count``-th largest of int32 ``key`` in [0, 2**31): a two-pass radix select."""
    high = ops.right_shift(key, _BITS)
    high_histogram = ops.segment_sum(ops.ones_like(key), high, num_segments=_BINS)
    top = _last_bin_reaching(high_histogram, count)
    above = ops.sum(ops.cast(high > top, "int32"))
    low = ops.bitwise_and(key, _BINS - 1)
    in_top = ops.cast(high == top, "int32")
    low_histogram = ops.segment_sum(in_top, low, num_segments=_BINS)
    return top * _BINS + _last_bin_reaching(low_histogram, count - above)


def _magnitude_mask(flat: Any, keep: Any) -> Any:
    key = _keys(flat)
    keep = ops.cast(keep, "int32")
    threshold = _kth_largest(key, keep)
    greater = key > threshold
    tied = key == threshold
    places = keep - ops.sum(ops.cast(greater, "int32"))  # in [1, number tied]

    def first_tied() -> Any:
        # The first `places` tied entries in memory order: the largest `places` of
        # (size - index) over the tied entries (distinct keys; the others get 0).
        size = ops.shape(key)[0]
        order = ops.where(tied, size - ops.arange(size, dtype="int32"), 0)
        return ops.logical_or(greater, order >= _kth_largest(order, places))

    kept = ops.cond(
        ops.sum(ops.cast(tied, "int32")) == places, lambda: key >= threshold, first_tied
    )
    return ops.cast(kept, flat.dtype)


def _mn_mask(weights: Any, m: int, n: int) -> Any:
    moved = ops.moveaxis(weights, -2, -1)  # (..., out, in): groups run along the input axis
    groups = ops.reshape(moved, (-1, n))
    magnitude = ops.abs(groups)
    magnitude = ops.where(ops.isnan(magnitude), -ops.ones_like(magnitude), magnitude)
    mine = ops.expand_dims(magnitude, 2)  # [g, i, 1]
    other = ops.expand_dims(magnitude, 1)  # [g, 1, j]
    before = ops.expand_dims(ops.arange(n), 1) > ops.expand_dims(ops.arange(n), 0)  # j < i
    beats = ops.logical_or(other > mine, ops.logical_and(other == mine, before))
    rank = ops.sum(ops.cast(beats, "int32"), axis=2)
    mask = ops.cast(rank < n - m, weights.dtype)
    return ops.moveaxis(ops.reshape(mask, ops.shape(moved)), -1, -2)


def _compiled_magnitude_mask() -> Callable[..., Any]:
    """``_magnitude_mask`` compiled for this backend, built once per process.

    TensorFlow: a ``tf.function`` with XLA (``jit_compile``; without it the ~20 separate
    kernels cost 5x more) and a ``[None]`` signature: one trace, compiled per shape. JAX:
    ``jax.jit``, compiled per shape. ``keep`` is traced in both, so a new sparsity does
    not recompile.
    """
    backend = keras.backend.backend()
    if backend not in _COMPILED:
        if backend == "tensorflow":
            signature = [tf.TensorSpec([None], tf.float32), tf.TensorSpec([], tf.int32)]
            _COMPILED[backend] = tf.function(
                _magnitude_mask, input_signature=signature, autograph=False, jit_compile=True
            )
        else:
            import jax  # only on the JAX backend (jax is an optional dependency)

            _COMPILED[backend] = jax.jit(_magnitude_mask)
    return _COMPILED[backend]


def magnitude_mask(weights: Any, keep: int) -> Any:
    """A 0/1 float32 mask keeping the ``keep`` largest-magnitude entries, on the device.

    The same mask as ``masks.magnitude_mask(w, s)`` when ``keep == kept_count(w.size, s)``
    (ties in memory order, NaN pruned first).

    Args:
        weights: A float32 tensor or variable value (any shape, at least one entry).
        keep: How many entries to keep, in ``[1, size]``.

    Returns:
        A backend tensor of ``weights``' shape.

    Example:
        >>> mask = magnitude_mask(keras.ops.ones((2, 3)), 2)
        >>> keras.ops.convert_to_numpy(mask).tolist()
        [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    weights = _tensor(weights)
    shape = ops.shape(weights)
    flat = ops.reshape(weights, (-1,))
    mask = _compiled_magnitude_mask()(flat, ops.convert_to_tensor(int(keep), "int32"))
    return ops.reshape(mask, shape)


def mn_mask(weights: Any, m_by_n: tuple[int, int]) -> Any:
    """A 0/1 mask with ``m`` zeros (the smallest magnitudes) in every group of ``n``, on device.

    The same mask as :func:`tf_green.pruning.keras3.masks.mn_mask`; check the shape with
    :func:`tf_green.pruning.keras3.masks.mn_problem` first.

    Args:
        weights: A rank-2 or rank-4 float32 kernel whose input axis is a multiple of ``n``.
        m_by_n: ``(m, n)``.

    Returns:
        A backend tensor of ``weights``' shape and dtype.

    Example:
        >>> w = keras.ops.convert_to_tensor([[1.0], [-4.0], [2.0], [0.5]])
        >>> keras.ops.convert_to_numpy(mn_mask(w, (2, 4))).ravel().tolist()
        [0.0, 1.0, 1.0, 0.0]
    """
    m, n = (int(v) for v in m_by_n)
    return _mn_mask(_tensor(weights), m, n)
