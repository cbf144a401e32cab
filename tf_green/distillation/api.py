"""``distill()``: the one-call distillation, returning the compiled, trained student.

Example:
    >>> from tf_green import datasets, models
    >>> (x, y), (x_val, y_val) = datasets.digits()
    >>> teacher = models.cnn(width=8)  # normally a trained model
    >>> student = distill(teacher, models.cnn(width=2), x, y, epochs=1)
    >>> sorted(student.history.history)
    ['accuracy', 'distillation_loss', 'loss', 'student_loss']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tf_green._engine.models import copy_model
from tf_green._input_checks import (
    StopOnNonFiniteLoss,
    batch_if_unbatched,
    check_finite,
    data_errors,
)
from tf_green._keras import keras, require_tf_keras_model, tf
from tf_green.distillation._labels import check_label_array
from tf_green.distillation._regression import fit_regression, infer_task
from tf_green.distillation.cache import cache_teacher
from tf_green.distillation.distiller import Distiller
from tf_green.distillation.teacher_cache import TeacherCache

__all__ = ["distill"]


def _clone(student: keras.Model) -> keras.Model:
    try:
        clone = copy_model(student)
        if not getattr(clone, "_is_graph_network", False):  # subclassed, or not built
            raise TypeError("not a functional or Sequential model")
    except (ValueError, TypeError, NotImplementedError) as error:
        raise TypeError(
            f"distill() trains a copy of `student` so the caller's model is unchanged, and "
            f"{student.name!r} cannot be cloned with its weights (subclassed models cannot). "
            "Train it in place with Distiller(teacher, student) instead."
        ) from error
    return clone


def _student_loss(loss: Any, y: Any, output_rank: int, classes: int | None) -> Any:
    if loss is not None:
        return loss
    if y is not None and not isinstance(y, tf.data.Dataset):
        shape = np.shape(y)
        if len(shape) == output_rank and shape[-1] == classes and classes != 1:
            return keras.losses.CategoricalCrossentropy(from_logits=True)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _check_data(student: keras.Model, data: Any, batch_size: int, argument: str) -> Any:
    """Batch a dataset of single samples and add its NaN/inf check; check arrays now."""
    if isinstance(data, tf.data.Dataset):
        return check_finite(batch_if_unbatched(data, student, batch_size, argument), argument)
    if argument == "validation_data" and isinstance(data, (tuple, list)):
        return tuple(check_finite(p, f"validation_data[{i}]") for i, p in enumerate(data))
    return check_finite(data, argument)


def distill(
    teacher: keras.Model,
    student: keras.Model,
    x: Any,
    y: Any = None,
    *,
    epochs: int = 10,
    alpha: float = 0.1,
    temperature: float = 4.0,
    validation_data: Any = None,
    batch_size: int = 32,
    optimizer: Any = None,
    loss: Any = None,
    metrics: Sequence[Any] | None = ("accuracy",),
    feature_pairs: Sequence[Sequence[str]] | None = None,
    feature_weight: float = 1.0,
    cache: bool | TeacherCache = True,
    sample_weight: Any = None,
    callbacks: Sequence[keras.callbacks.Callback] | None = None,
    shuffle: bool = True,
    verbose: int | str = 0,
    task: str = "auto",
) -> keras.Model:
    """Distill ``teacher`` into a copy of ``student`` and return it trained and compiled.

    Neither argument is changed: the student is cloned (weights included, so a pre-trained
    student is fine-tuned) and the teacher's ``trainable`` flag is restored afterwards.
    Partial labels: ``y == -1`` marks a sample without a label, which learns from the
    teacher only (a transfer set); ``y=None`` (or a dataset of inputs only) is pure
    distillation.

    Regression models (``task="regression"``, chosen automatically for a teacher compiled
    with a squared/absolute/Huber error, or an uncompiled one whose output is one linear
    unit) are distilled with a squared error to the teacher's outputs instead of the
    softened class distribution: the student trains with the MSE to
    ``alpha * y + (1 - alpha) * teacher(x)``, which has the same gradients as
    ``alpha * MSE(y, s) + (1 - alpha) * MSE(teacher(x), s)``
    (:func:`~tf_green.distillation.losses.blend_targets`); ``temperature`` is not used,
    ``"accuracy"`` is replaced by ``"mae"`` in the metrics, and ``returned.history``
    logs ``loss`` (to the blended target) and the metrics.

    Data checks: NaN/inf in ``x``, ``y``, ``sample_weight`` or ``validation_data`` arrays
    are refused before the teacher runs (the argument and the first bad index named); a
    dataset is checked batch by batch as training consumes it. A dataset of single
    samples is batched with ``batch_size``. If the loss still becomes NaN or inf,
    training stops with :class:`tf_green._input_checks.NonFiniteLossError`.

    Args:
        teacher: The trained teacher (tf_keras, outputs logits).
        student: The student architecture (tf_keras, outputs logits of the same shape).
        x: Training inputs: arrays or a ``tf.data.Dataset`` of ``(x, y[, sample_weight])``.
        y: Labels for array inputs: class ids (``-1`` = no label) or one-hot rows; None
            for pure distillation.
        epochs: Training epochs.
        alpha: Weight of the hard-label loss in [0, 1]; ``1 - alpha`` weighs distillation.
        temperature: Softmax temperature > 0.
        validation_data: Passed to ``fit`` (evaluated with the live teacher).
        batch_size: Batch size for array inputs.
        optimizer: Optimizer or its name; default ``Adam(1e-3)``.
        loss: Student's hard-label loss; default cross-entropy on logits (sparse or
            one-hot from the labels' shape).
        metrics: Metrics of the student (labelled samples only).
        feature_pairs: ``[(teacher_layer, student_layer), ...]`` for feature distillation
            (uses the live teacher).
        feature_weight: Weight of the feature loss.
        cache: True: for array inputs without ``feature_pairs``, run the teacher once and
            reuse its logits every epoch (:func:`cache_teacher`); datasets use the live
            teacher, since they may augment. False: always the live teacher. A
            :class:`TeacherCache`: use it.
        sample_weight: Per-sample weights for array inputs.
        callbacks: Keras callbacks.
        shuffle: Shuffle the training samples each epoch.
        verbose: Keras verbosity.
        task: ``"auto"`` (from the teacher, see above), ``"classification"`` (logits,
            KL distillation) or ``"regression"`` (squared error to the teacher's outputs).

    Returns:
        The trained copy of ``student``, compiled with the training optimizer, ``loss`` and
        ``metrics``; ``returned.history`` is the distillation ``History``.

    Raises:
        TypeError: If a model is not a tf_keras model (Keras 3 included) or the student
            cannot be cloned (subclassed: use :class:`Distiller`).
        ValueError: On bad ``alpha``, ``temperature``, ``task``, output shapes, feature
            pairs, labels outside the classes, NaN/inf in the data, a one-unit classifier,
            or a cache that does not match ``x``; raised before training (a dataset's
            NaN/inf at its batch). ``NonFiniteLossError`` (a ValueError) if the loss
            becomes NaN or inf; nothing is returned then.

    Example:
        >>> from tf_green import models
        >>> x = np.random.default_rng(0).random((8, 64), dtype=np.float32)
        >>> y = np.array([0, 1, 2, 3, -1, -1, -1, -1])  # half the labels missing
        >>> s = distill(models.mlp(hidden=(16,)), models.mlp(hidden=(4,)), x, y, epochs=1)
        >>> s.optimizer is not None
        True
    """
    teacher = require_tf_keras_model(teacher, "teacher", call="tg.distill")
    student = require_tf_keras_model(student, "student", call="tg.distill")
    if not isinstance(cache, (bool, TeacherCache)):
        raise TypeError(f"`cache` must be True, False or a TeacherCache, got {cache!r}.")
    try:
        output_shape = tuple(student.output_shape)
    except (AttributeError, RuntimeError, ValueError, TypeError):
        output_shape = None  # subclassed: _clone() says what to do
    classes = output_shape[-1] if output_shape else None
    task = infer_task(teacher, task)
    x = _check_data(student, x, batch_size, "x")
    y = check_finite(y, "y")
    sample_weight = check_finite(sample_weight, "sample_weight")
    validation_data = _check_data(student, validation_data, batch_size, "validation_data")
    fit_callbacks = [StopOnNonFiniteLoss(), *(callbacks or [])]
    if task == "regression":
        return _distill_regression(
            teacher, student, x, y, cache=cache, feature_pairs=feature_pairs, alpha=alpha,
            epochs=epochs, batch_size=batch_size, optimizer=optimizer, loss=loss,
            metrics=metrics, validation_data=validation_data, sample_weight=sample_weight,
            callbacks=fit_callbacks, shuffle=shuffle, verbose=verbose,
        )  # fmt: skip
    check_label_array(y, classes)
    was_trainable = teacher.trainable
    own_cache = None
    try:
        copy = _clone(student)
        distiller = Distiller(
            teacher,
            copy,
            alpha=alpha,
            temperature=temperature,
            feature_pairs=feature_pairs,
            feature_weight=feature_weight,
        )
        if isinstance(cache, TeacherCache):
            distiller.teacher_outputs = cache
        elif cache and feature_pairs is None and not isinstance(x, tf.data.Dataset):
            own_cache = distiller.teacher_outputs = cache_teacher(
                teacher, x, batch_size=max(batch_size, 256)
            )
        optimizer = optimizer if optimizer is not None else keras.optimizers.Adam(1e-3)
        student_loss = _student_loss(loss, y, len(output_shape or (0, 0)), classes)
        distiller.compile(optimizer=optimizer, loss=student_loss, metrics=list(metrics or []))
        with data_errors():
            history = distiller.fit(
                x,
                y,
                batch_size=batch_size,
                epochs=epochs,
                verbose=verbose,
                callbacks=fit_callbacks,
                validation_data=validation_data,
                shuffle=shuffle,
                sample_weight=sample_weight,
            )
    finally:
        teacher.trainable = was_trainable
        if own_cache is not None:
            own_cache.close()  # a cache over its memory budget: delete its temporary shards
    copy.compile(optimizer=distiller.optimizer, loss=student_loss, metrics=list(metrics or []))
    copy.history = history
    return copy


def _distill_regression(
    teacher: keras.Model,
    student: keras.Model,
    x: Any,
    y: Any,
    *,
    cache: bool | TeacherCache,
    feature_pairs: Any,
    **fit_args: Any,
) -> keras.Model:
    if feature_pairs is not None:
        raise ValueError(
            "`feature_pairs` are not supported with task='regression'; regression "
            "distillation matches the teacher's outputs only."
        )
    if isinstance(cache, TeacherCache):
        raise ValueError(
            "`cache` is a TeacherCache of classifier logits; regression distillation runs "
            "the teacher once over array inputs itself: pass cache=True."
        )
    try:
        teacher_shape, student_shape = teacher.output_shape, student.output_shape
    except (AttributeError, RuntimeError, ValueError):
        teacher_shape = student_shape = None
    if teacher_shape is not None and tuple(teacher_shape[1:]) != tuple(student_shape[1:]):
        raise ValueError(
            f"teacher and student output shapes differ: {tuple(teacher_shape[1:])} vs "
            f"{tuple(student_shape[1:])} (batch axis excluded); the student must predict the "
            "same values as the teacher."
        )
    copy = _clone(student)
    with data_errors():
        copy.history = fit_regression(teacher, copy, x, y, **fit_args)
    return copy
