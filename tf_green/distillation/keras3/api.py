"""``distill()`` for Keras 3: the one-call distillation, returning the trained student.

The same signature and semantics as the tf_keras engine's
:func:`tf_green.distillation.api.distill`, on the TensorFlow and JAX backends.

Example:
    >>> import keras, numpy as np
    >>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16),
    ...                             keras.layers.Dense(3)])
    >>> student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> trained = distill(teacher, student, np.zeros((8, 4)), np.zeros(8, "int32"), epochs=1)
    >>> sorted(trained.history.history)
    ['accuracy', 'distillation_loss', 'loss', 'student_loss']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from tf_green._engine.checks import check_finite, data_errors
from tf_green._engine.data import batch_if_unbatched, is_dataset
from tf_green._engine.models import copy_model
from tf_green.distillation._common import check_temperature
from tf_green.distillation._labels import check_label_array
from tf_green.distillation._regression import fit_regression, infer_task
from tf_green.distillation.cache import cache_teacher
from tf_green.distillation.keras3.distiller import Distiller
from tf_green.distillation.keras3.fit_support import output_shape as _output_shape
from tf_green.distillation.keras3.fit_support import require_keras3 as _require_keras3
from tf_green.distillation.teacher_cache import TeacherCache
from tf_green.pruning.keras3.fit_callbacks import StopOnNonFiniteLoss

__all__ = ["distill"]


def _student_loss(loss: Any, y: Any, output_rank: int, classes: int | None) -> Any:
    if loss is not None:
        return loss
    if y is not None and not is_dataset(y):
        shape = np.shape(y)
        if len(shape) == output_rank and shape[-1] == classes and classes != 1:
            return keras.losses.CategoricalCrossentropy(from_logits=True)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _check_data(student: Any, data: Any, batch_size: int, argument: str) -> Any:
    """Batch a dataset of single samples and add its NaN/inf check; check arrays now."""
    if is_dataset(data):
        return check_finite(batch_if_unbatched(data, student, batch_size, argument), argument)
    if argument == "validation_data" and isinstance(data, (tuple, list)):
        return tuple(check_finite(p, f"validation_data[{i}]") for i, p in enumerate(data))
    return check_finite(data, argument)


def _fresh_optimizer(optimizer: Any) -> Any:
    """An optimizer of the same class and config, without state (for the returned student)."""
    return type(optimizer).from_config(optimizer.get_config())


def distill(
    teacher: Any,
    student: Any,
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
    callbacks: Sequence[Any] | None = None,
    shuffle: bool = True,
    verbose: int | str = 0,
    task: str = "auto",
) -> Any:
    """Distill a Keras 3 ``teacher`` into a copy of ``student``; return it trained, compiled.

    Neither model is changed: the student is copied (weights included) and the teacher's
    ``trainable`` flag is restored. Arguments, checks and results are those of the tf_keras
    engine's :func:`tf_green.distillation.api.distill` (partial labels ``-1``, ``y=None``
    for pure distillation, the teacher cache for arrays, feature pairs, sample weights,
    regression teachers with ``task``). The returned student is compiled with ``loss``,
    ``metrics`` and an optimizer of the training optimizer's configuration (fresh state).

    Args:
        teacher: The trained Keras 3 teacher (outputs logits).
        student: The Keras 3 student architecture (same output shape).
        x: Training inputs: arrays or a ``tf.data.Dataset`` of ``(x, y[, sample_weight])``.
        y: Labels for array inputs (``-1`` = no label), or None.
        epochs: Training epochs.
        alpha: Weight of the hard-label loss in [0, 1].
        temperature: Softmax temperature > 0.
        validation_data: Passed to ``fit`` (live teacher).
        batch_size: Batch size for array inputs.
        optimizer: Optimizer or its name; default ``Adam(1e-3)``.
        loss: Student's hard-label loss; default cross-entropy on logits.
        metrics: Metrics of the student (labelled samples only).
        feature_pairs: ``[(teacher_layer, student_layer), ...]`` (live teacher).
        feature_weight: Weight of the feature loss.
        cache: True: run the teacher once over array inputs (without ``feature_pairs``);
            False: live teacher; a :class:`TeacherCache`: use it.
        sample_weight: Per-sample (or per-token) weights for array inputs.
        callbacks: Keras callbacks.
        shuffle: Shuffle the samples each epoch.
        verbose: Keras verbosity.
        task: ``"auto"``, ``"classification"`` or ``"regression"``.

    Returns:
        The trained copy of ``student``; ``returned.history`` is the ``History``.

    Raises:
        TypeError: If a model is not a Keras 3 model, or the student cannot be copied.
        ValueError: As the tf_keras ``distill`` (bad arguments, labels, NaN/inf data, a
            mismatched cache); ``NonFiniteLossError`` if the loss becomes NaN or inf.

    Example:
        >>> distill(teacher, student, x, y, epochs=2)  # doctest: +SKIP
    """
    teacher = _require_keras3(teacher, "teacher")
    student = _require_keras3(student, "student")
    if not isinstance(cache, (bool, TeacherCache)):
        raise TypeError(f"`cache` must be True, False or a TeacherCache, got {cache!r}.")
    check_temperature(temperature)
    output_shape = _output_shape(student, "student")
    classes = output_shape[-1] if output_shape else None
    task = infer_task(teacher, task)
    x = _check_data(student, x, batch_size, "x")
    y = check_finite(y, "y")
    sample_weight = check_finite(sample_weight, "sample_weight")
    validation_data = _check_data(student, validation_data, batch_size, "validation_data")
    fit_callbacks = [StopOnNonFiniteLoss(), *(callbacks or [])]
    copy = copy_model(student)
    if task == "regression":
        if feature_pairs is not None or isinstance(cache, TeacherCache):
            raise ValueError(
                "task='regression' matches the teacher's outputs only: `feature_pairs` and a "
                "TeacherCache of classifier logits do not apply (pass cache=True)."
            )
        with data_errors():
            copy.history = fit_regression(
                teacher, copy, x, y, alpha=alpha, epochs=epochs, batch_size=batch_size,
                optimizer=optimizer, loss=loss, metrics=metrics,
                validation_data=validation_data, sample_weight=sample_weight,
                callbacks=fit_callbacks, shuffle=shuffle, verbose=verbose,
            )  # fmt: skip
        return copy
    check_label_array(y, classes)
    was_trainable = teacher.trainable
    student_loss = _student_loss(loss, y, len(output_shape) + 1 if output_shape else 2, classes)
    own_cache = None
    try:
        distiller = Distiller(
            teacher, copy, alpha=alpha, temperature=temperature,
            feature_pairs=feature_pairs, feature_weight=feature_weight,
        )  # fmt: skip
        if isinstance(cache, TeacherCache):
            distiller.teacher_outputs = cache
        elif cache and feature_pairs is None and not is_dataset(x):
            own_cache = distiller.teacher_outputs = cache_teacher(
                teacher, x, batch_size=max(batch_size, 256)
            )
        optimizer = optimizer if optimizer is not None else keras.optimizers.Adam(1e-3)
        distiller.compile(optimizer=optimizer, loss=student_loss, metrics=list(metrics or []))
        with data_errors():
            history = distiller.fit(
                x, y, batch_size=None if is_dataset(x) else batch_size, epochs=epochs,
                verbose=verbose, callbacks=fit_callbacks, validation_data=validation_data,
                shuffle=shuffle, sample_weight=sample_weight,
            )  # fmt: skip
    finally:
        teacher.trainable = was_trainable
        if own_cache is not None:
            own_cache.close()  # a cache over its memory budget: delete its temporary shards
    copy.compile(
        optimizer=_fresh_optimizer(distiller.optimizer), loss=student_loss,
        metrics=list(metrics or []),
    )  # fmt: skip
    copy.history = history
    return copy
