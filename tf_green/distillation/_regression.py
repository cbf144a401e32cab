"""Regression distillation for ``distill()``: the student matches the teacher's outputs.

A regression model's output is not a class distribution, so the temperature-scaled KL of
classifier distillation does not apply (over one output unit it is always 0). The standard
choice is a squared error to the teacher's outputs, mixed with the labels' loss:
``alpha * MSE(y, s) + (1 - alpha) * MSE(t, s)``, which trains exactly like the MSE to the
blended target ``alpha * y + (1 - alpha) * t`` (:func:`~tf_green.distillation.losses.
blend_targets`). Arrays run the teacher once; a ``tf.data.Dataset`` runs it on every batch,
so augmentation is fine.

Engine-neutral: the models are read duck-typed and the Keras module is the teacher's own
(:func:`tf_green._engine.keras_of`), so both engines share it; on Keras 3's JAX backend a
``tf.data.Dataset`` cannot run the teacher inside its pipeline and is refused.

Example:
    >>> import keras
    >>> teacher = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> teacher.compile("adam", "mse")
    >>> infer_task(teacher)
    'regression'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tf_green._engine import engine_of, keras3_backend, keras_of
from tf_green._engine.checks import check_finite, loss_kind

__all__ = ["TASKS", "blend_targets", "fit_regression", "infer_task"]

TASKS = ("auto", "classification", "regression")


def _units(model: Any) -> int | None:
    try:
        shape = model.output_shape
    except (AttributeError, RuntimeError, ValueError):
        return None
    return shape[-1] if isinstance(shape, tuple) else None


def infer_task(teacher: Any, task: str = "auto") -> str:
    """``"regression"`` or ``"classification"``: what kind of outputs the teacher has.

    ``"auto"`` reads the teacher's compiled loss (a squared/absolute/Huber/log-cosh error
    means regression; a cross-entropy or hinge means classification); an uncompiled
    teacher whose last layer is one linear unit is a regression model; anything else is
    taken as a classifier that outputs logits.

    Args:
        teacher: The teacher model.
        task: ``"auto"``, ``"classification"`` or ``"regression"``.

    Returns:
        The task.

    Raises:
        ValueError: For another ``task``, or a classifier with a single output unit
            (distillation needs the logits of at least two classes).

    Example:
        >>> from tf_green import models
        >>> infer_task(models.mlp())
        'classification'
    """
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {TASKS}, got {task!r}.")
    kind = loss_kind(getattr(teacher, "loss", None))
    units = _units(teacher)
    if task == "auto":
        if kind == "regression":
            task = "regression"
        elif kind is None and units == 1:
            activation = getattr(teacher.layers[-1], "activation", None) if teacher.layers else None
            linear = activation is None or getattr(activation, "__name__", "") == "linear"
            task = "regression" if linear else "classification"
        else:
            task = "classification"
    if task == "classification" and units == 1:
        raise ValueError(
            f"the teacher {teacher.name!r} has one output unit, but classifier distillation "
            "matches the softened class distribution of at least two logits (over one unit "
            "it is always 0). For a regression model pass task='regression'; for a binary "
            "classifier give teacher and student two output logits."
        )
    return task


def _metrics(metrics: Sequence[Any] | None) -> list:
    kept = [m for m in (metrics or []) if m not in ("accuracy", "acc")]
    return kept or (["mae"] if metrics else [])


def fit_regression(
    teacher: Any,
    student: Any,
    x: Any,
    y: Any,
    *,
    alpha: float,
    epochs: int,
    batch_size: int,
    optimizer: Any,
    loss: Any,
    metrics: Sequence[Any] | None,
    validation_data: Any,
    sample_weight: Any,
    callbacks: list,
    shuffle: bool,
    verbose: Any,
) -> Any:
    """Train ``student`` (in place) on the blended regression target; see the module doc.

    ``loss`` defaults to the mean squared error (for which the blend is exact); the
    metric ``"accuracy"`` is meaningless for regression and is replaced by ``"mae"``.

    Returns:
        The Keras ``History`` (``loss`` is the error to the blended target; ``val_loss``
        the error to the validation labels).

    Raises:
        ValueError: If labels do not have one value per teacher output, or the teacher's
            outputs on ``x`` are not finite.

    Example:
        >>> history = fit_regression(teacher, student, x, y, alpha=0.5, epochs=5,
        ...     batch_size=32, optimizer="adam", loss=None, metrics=None,
        ...     validation_data=None, sample_weight=None, callbacks=[], shuffle=True,
        ...     verbose=0)  # doctest: +SKIP
    """
    units = _units(teacher)
    keras = keras_of(student, "student")
    if isinstance(x, tf.data.Dataset):
        if engine_of(teacher, "teacher") == "keras3" and keras3_backend() != "tensorflow":
            raise ValueError(
                "regression distillation from a tf.data.Dataset runs the teacher inside the "
                f"pipeline, which Keras 3's {keras3_backend()!r} backend cannot do; pass arrays "
                "(the teacher then runs once), or use the TensorFlow backend."
            )

        def blend(*element):
            if len(element) == 1:
                return element[0], teacher(element[0], training=False)
            inputs, labels, *weights = element
            outputs = teacher(inputs, training=False)
            return (inputs, blend_targets(labels, outputs, alpha), *weights)

        data, y = x.map(blend), None
    else:
        outputs = teacher.predict(x, batch_size=max(batch_size, 256), verbose=0)
        check_finite(outputs, "teacher(x)")
        if y is not None:
            labels = np.asarray(y, np.float32)
            if labels.size != outputs.size:
                raise ValueError(
                    f"`y` has shape {labels.shape} but the teacher outputs {outputs.shape} "
                    f"({units} value(s) per sample); regression labels need one value per "
                    "output (partial labels are not supported: pass y=None for pure "
                    "distillation)."
                )
        data, y = x, blend_targets(y, outputs, alpha)
    student.compile(
        optimizer=optimizer if optimizer is not None else keras.optimizers.Adam(1e-3),
        loss=loss if loss is not None else "mse",
        metrics=_metrics(metrics),
    )
    return student.fit(
        data,
        y,
        batch_size=None if isinstance(data, tf.data.Dataset) else batch_size,
        epochs=epochs,
        verbose=verbose,
        callbacks=callbacks,
        validation_data=validation_data,
        shuffle=shuffle,
        sample_weight=sample_weight,
    )


def blend_targets(labels: Any, teacher_outputs: Any, alpha: float) -> Any:
    """The regression-distillation target ``alpha * labels + (1 - alpha) * teacher_outputs``.

    For a regression model the student matches the teacher's outputs with a squared error
    (there is no class distribution to soften, so no temperature). The distillation
    objective ``alpha * (s - y)**2 + (1 - alpha) * (s - t)**2`` equals
    ``(s - (alpha * y + (1 - alpha) * t))**2 + alpha * (1 - alpha) * (y - t)**2``, whose
    second term does not depend on the student: training the student with the mean
    squared error to this blended target gives exactly the same gradients. With no labels
    the target is the teacher's output.

    Args:
        labels: Targets, shape of ``teacher_outputs`` (or without its trailing axis of 1),
            or None for pure distillation.
        teacher_outputs: The teacher's outputs (numpy or tensors), ``(batch, ...)``.
        alpha: Weight in [0, 1] of the labels.

    Returns:
        The blended target, float32, shaped like ``teacher_outputs``.

    Example:
        >>> import numpy as np
        >>> blend_targets(np.array([1.0, 3.0]), np.array([[0.0], [1.0]]), 0.5).tolist()
        [[0.5], [2.0]]
    """
    teacher = tf.cast(teacher_outputs, tf.float32)
    if labels is None:
        return teacher if isinstance(teacher_outputs, tf.Tensor) else teacher.numpy()
    labels = tf.reshape(tf.cast(labels, tf.float32), tf.shape(teacher))
    blended = alpha * labels + (1.0 - alpha) * teacher
    return blended if isinstance(teacher_outputs, tf.Tensor) else blended.numpy()
