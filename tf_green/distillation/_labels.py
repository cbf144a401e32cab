"""Labels for distillation: the ``-1`` sentinel of partial labels, range checks, masks.

A transfer set mixes labelled and unlabelled samples. tf_green marks a missing label with
the sentinel :data:`UNLABELED` (``-1``):

* integer labels, shape ``(batch,)`` or ``(batch, time)`` (or with a trailing axis of 1):
  ``y == -1`` marks a sample (or a token) without a label;
* one-hot or probability labels, the shape of the logits: a row filled with ``-1``.

Unlabelled samples get a zero weight in the hard-label (student) loss and the metrics, so
they contribute only to the distillation loss. This module has no model code and imports no
Keras (both engines use it; the Keras 3 engine has its own ``split_labels`` in ``keras.ops``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

__all__ = ["UNLABELED", "check_label_array", "expand_to", "per_sample", "split_labels"]

UNLABELED = -1
"""The sentinel label of a sample without a label (it contributes only to distillation)."""


def _is_dense(y_rank: int, y_last: int | None, logits_rank: int, classes: int | None) -> bool:
    return y_rank == logits_rank and y_last is not None and y_last == classes and classes != 1


def check_label_array(y: Any, num_classes: int | None, argument: str = "y") -> None:
    """Check host-side labels (numpy-like) before anything trains.

    Args:
        y: Integer labels, or one-hot/probability rows (the shape of the logits).
        num_classes: Size of the logits' last axis; ``None`` skips the range check.
        argument: Name of the argument, for the message.

    Raises:
        ValueError: If an integer label is outside ``[0, num_classes)`` and is not the
            sentinel ``-1``, or if labels are not numbers.

    Example:
        >>> check_label_array(np.array([0, 2, -1]), num_classes=3)
    """
    if y is None or num_classes is None or isinstance(y, (tf.data.Dataset, dict, list, tuple)):
        return
    array = np.asarray(y)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"`{argument}` must hold numbers, got dtype {array.dtype}.")
    if array.ndim >= 2 and array.shape[-1] == num_classes and num_classes != 1:
        return  # one-hot or probabilities: nothing to range-check
    if array.dtype.kind == "f" and not np.all(np.equal(np.mod(array, 1), 0)):
        raise ValueError(
            f"`{argument}` holds non-integer values but its last axis ({array.shape[-1:]}) "
            f"is not the {num_classes} classes of the logits; pass class ids or one-hot rows."
        )
    bad = (array != UNLABELED) & ((array < 0) | (array >= num_classes))
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"`{argument}` has label {array[index].item()!r} at index {index}, outside the logits' "
            f"{num_classes} classes. Labels must be class ids 0..{num_classes - 1}, or "
            f"{UNLABELED} for a sample without a label."
        )


def split_labels(
    y: tf.Tensor, logits: tf.Tensor, check_range: bool = True
) -> tuple[tf.Tensor, tf.Tensor]:
    """Replace sentinel labels by a valid class and return the mask of labelled positions.

    Args:
        y: Integer labels ``(batch[, time])`` (optionally with a trailing axis of 1) or
            one-hot/probability rows with the shape of ``logits``.
        logits: The student's logits ``(batch[, time], classes)``.
        check_range: Add a graph check that integer labels are in ``[-1, classes)``; it
            fails the step, before any update, with an ``InvalidArgumentError``.

    Returns:
        ``(y_clean, mask)``: ``y`` with sentinels replaced by 0 (integer) or a zero row
        (one-hot), same shape and dtype as ``y``; and a float32 mask of shape
        ``logits.shape[:-1]``, 1.0 where there is a label.

    Raises:
        ValueError: If the rank of ``y`` fits neither integer nor one-hot labels.

    Example:
        >>> y, mask = split_labels(tf.constant([1, -1]), tf.zeros((2, 3)))
        >>> y.numpy().tolist(), mask.numpy().tolist()
        ([1, 0], [1.0, 0.0])
    """
    logits_rank = logits.shape.rank
    classes = logits.shape[-1]
    y_rank = y.shape.rank
    if _is_dense(y_rank, y.shape[-1], logits_rank, classes):
        labelled = tf.reduce_any(tf.not_equal(y, tf.cast(UNLABELED, y.dtype)), axis=-1)
        y_clean = tf.where(labelled[..., tf.newaxis], y, tf.zeros_like(y))
        return y_clean, tf.cast(labelled, tf.float32)
    if y_rank == logits_rank and y.shape[-1] == 1:
        ids = tf.squeeze(y, axis=-1)
    elif y_rank == logits_rank - 1:
        ids = y
    else:
        raise ValueError(
            f"labels of shape {y.shape} fit neither integer labels {logits.shape[:-1]} nor "
            f"one-hot labels {logits.shape} for logits of shape {logits.shape}."
        )
    labelled = tf.not_equal(ids, tf.cast(UNLABELED, ids.dtype))
    if check_range and classes is not None:
        message = (
            f"labels `y` must be class ids in [0, {classes}) or {UNLABELED} (no label); "
            "found a label outside that range"
        )
        checks = [
            tf.debugging.assert_greater_equal(ids, tf.cast(UNLABELED, ids.dtype), message),
            tf.debugging.assert_less(ids, tf.cast(classes, ids.dtype), message),
        ]
        with tf.control_dependencies(checks):
            labelled = tf.identity(labelled)
    y_clean = tf.where(tf.reshape(labelled, tf.shape(y)), y, tf.zeros_like(y))
    return y_clean, tf.cast(labelled, tf.float32)


def per_sample(values: tf.Tensor) -> tf.Tensor:
    """Mean over every axis but the first: one value per sample."""
    rank = values.shape.rank
    return tf.reduce_mean(values, axis=list(range(1, rank))) if rank > 1 else values


def expand_to(weights: tf.Tensor, rank: int) -> tf.Tensor:
    """Cast weights to float32 and add trailing axes up to ``rank``."""
    weights = tf.cast(weights, tf.float32)
    while weights.shape.rank < rank:
        weights = weights[..., tf.newaxis]
    return weights
