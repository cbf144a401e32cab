"""Argument checks and resolution for the Distiller; each error names its argument."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

from tf_green._keras import keras, tf
from tf_green.distillation.teacher_cache import TeacherCache

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


def check_fraction(value: Any, argument: str) -> float:
    """Return ``value`` as a float if it is a number in [0, 1]; else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"`{argument}` must be a number in [0, 1], got {value!r}.")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(
            f"`{argument}` must be in [0, 1] (the weight of the hard-label loss; "
            f"1 - {argument} weighs the distillation loss), got {value!r}."
        )
    return float(value)


def check_non_negative(value: Any, argument: str) -> float:
    """Return ``value`` as a float if it is a finite number >= 0; else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0.0:
        raise ValueError(f"`{argument}` must be a number >= 0, got {value!r}.")
    if math.isinf(value):
        raise ValueError(f"`{argument}` must be finite, got {value!r}.")
    return float(value)


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


def check_same_shape(a: Sequence, b: Sequence, what: str) -> None:
    """Raise a ValueError naming ``what`` if two shapes differ where both are known."""
    if len(a) != len(b) or any(
        s is not None and t is not None and s != t for s, t in zip(a, b, strict=True)
    ):
        raise ValueError(
            f"{what} differ: {tuple(a)} vs {tuple(b)} (batch axis excluded). Teacher and "
            "student must output logits of the same shape (same classes or vocabulary)."
        )


def check_cache(cache: Any, student_shape: Any, pairs: Sequence) -> None:
    """Check a teacher-output cache against the student and feature pairs.

    Raises:
        TypeError: If ``cache`` is not a :class:`TeacherCache`.
        ValueError: With ``feature_pairs``, or if its shape differs from the student's.
    """
    if cache is None:
        return
    if not isinstance(cache, TeacherCache):
        raise TypeError(
            "`teacher_outputs` must be a TeacherCache from "
            f"tf_green.distillation.cache_teacher(), got {type(cache).__name__}."
        )
    if pairs:
        raise ValueError(
            "`feature_pairs` need the live teacher's intermediate activations, but "
            "`teacher_outputs` caches logits only; drop one of them."
        )
    if student_shape is not None:
        check_same_shape(
            cache.sample_shape, student_shape, "cached teacher outputs and student outputs"
        )


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


def warn_if_swapped(student: keras.Model, teacher: keras.Model) -> None:
    """Warn when the student has more parameters than the teacher (swapped arguments?)."""
    try:
        student_params, teacher_params = student.count_params(), teacher.count_params()
    except ValueError:
        return
    if student_params > teacher_params:
        warnings.warn(
            f"the student {student.name!r} has more parameters ({student_params:,}) than the "
            f"teacher {teacher.name!r} ({teacher_params:,}): are they swapped? "
            "Distiller takes (student, teacher); distill() takes (teacher, student).",
            UserWarning,
            stacklevel=3,
        )
