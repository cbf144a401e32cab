"""Argument checks and resolution for the tf_keras Distiller; each error names its argument.

The engine-neutral checks live in :mod:`tf_green.distillation._common` (re-exported here).
"""

from __future__ import annotations

from typing import Any

from tf_green._keras import keras, tf
from tf_green.distillation._common import (
    check_cache,
    check_fraction,
    check_non_negative,
    check_same_shape,
    warn_if_swapped,
)

__all__ = [
    "check_cache",
    "check_fraction",
    "check_non_negative",
    "check_same_shape",
    "default_loss",
    "output_shape",
    "resolve_loss",
    "warn_if_swapped",
]


def output_shape(model: keras.Model, role: str) -> tuple[int | None, ...] | None:
    """Per-sample output shape of a one-output model, or None if unknown (subclassed)."""
    try:
        shape = model.output_shape
    except (AttributeError, RuntimeError, ValueError):
        return None  # subclassed and not built: checked at the first step
    if isinstance(shape, list):
        if len(shape) != 1:
            raise ValueError(
                f"the {role} {model.name!r} has {len(shape)} outputs; the Distiller needs "
                "one logits output (batch, classes) or (batch, time, vocab)."
            )
        shape = shape[0]
    return tuple(shape[1:])


def default_loss(y: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Cross-entropy on logits, sparse or one-hot from the labels' shape (per position)."""
    if y.shape.rank == logits.shape.rank and y.shape[-1] == logits.shape[-1] != 1:
        return keras.losses.categorical_crossentropy(y, logits, from_logits=True)
    return keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)


def resolve_loss(loss: Any) -> Any:
    """Turn ``compile(loss=...)`` into ``fn(y_true, logits)`` returning unreduced values.

    Raises:
        TypeError: For several losses (a list or dict) or something that is not a loss.
    """
    if loss is None:
        return default_loss
    if isinstance(loss, (list, tuple, dict)):
        raise TypeError(
            f"`loss` must be one loss for the student's single logits output, got {loss!r}."
        )
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        return loss.call  # unreduced: the Distiller masks, weights and reduces itself
    if callable(loss):
        return loss
    raise TypeError(f"`loss` must be a Keras loss, a loss name or a callable, got {loss!r}.")
