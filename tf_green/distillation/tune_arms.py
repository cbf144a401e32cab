"""The fits of :func:`tf_green.distillation.tune`: one distillation arm, the scratch arm, a score.

Engine-neutral: a distillation arm calls the public, dispatching
:func:`tf_green.distillation.distill`; the scratch arm copies the student with
:func:`tf_green._engine.models.copy_model` and fits it with the student's own Keras. Each
fit gets a fresh optimizer and starts after ``keras.utils.set_random_seed(seed)``.

Example:
    >>> arm_name((4.0, 0.1)), arm_name(None)
    ('T=4, alpha=0.1', 'scratch')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

import tf_green.distillation as _distillation
from tf_green._engine.models import copy_model
from tf_green.distillation.tune_data import take

__all__ = [
    "COLUMNS",
    "FitSettings",
    "accuracy",
    "arm_name",
    "distilled",
    "fresh_optimizer",
    "row",
    "scratch",
]

COLUMNS = (
    "arm", "stage", "temperature", "alpha", "holdout_accuracy", "epochs", "train_samples",
    "seconds",
)  # fmt: skip
"""The columns of ``TuneResult.table``."""


@dataclasses.dataclass(frozen=True)
class FitSettings:
    """What every fit of one tuning run shares.

    Example:
        >>> FitSettings(keras=None, seed=0, batch_size=32, optimizer=None, loss=None,
        ...             metrics=(), shuffle=True, verbose=0, classes=10).seed
        0
    """

    keras: Any
    seed: int
    batch_size: int
    optimizer: Any
    loss: Any
    metrics: Sequence[Any] | None
    shuffle: bool
    verbose: int | str
    classes: int


def arm_name(arm: tuple[float, float] | None) -> str:
    """``"scratch"`` for None, else ``"T=<T>, alpha=<alpha>"``.

    Example:
        >>> arm_name((2.0, 0.5))
        'T=2, alpha=0.5'
    """
    return "scratch" if arm is None else f"T={arm[0]:g}, alpha={arm[1]:g}"


def row(arm, stage: str, score: float, epochs: int, samples: int, seconds: float) -> dict:
    """One row of the table (see :data:`COLUMNS`).

    Example:
        >>> row(None, "full", 0.9, 10, 100, 1.5)["alpha"]
        1.0
    """
    return {
        "arm": arm_name(arm),
        "stage": stage,
        "temperature": float("nan") if arm is None else arm[0],
        "alpha": 1.0 if arm is None else arm[1],
        "holdout_accuracy": score,
        "epochs": int(epochs),
        "train_samples": int(samples),
        "seconds": float(seconds),
    }


def fresh_optimizer(keras: Any, optimizer: Any) -> Any:
    """A new optimizer for one fit: never the caller's instance, never shared state.

    Args:
        keras: The student's Keras module.
        optimizer: None (``Adam(1e-3)``), a name, a no-argument factory, or an optimizer
            instance (copied with ``from_config(get_config())``).

    Returns:
        An unbuilt optimizer.

    Raises:
        TypeError: If ``optimizer`` is none of those.

    Example:
        >>> import tf_keras
        >>> fresh_optimizer(tf_keras, "sgd").__class__.__name__
        'SGD'
    """
    if optimizer is None:
        return keras.optimizers.Adam(1e-3)
    if isinstance(optimizer, str):
        return keras.optimizers.get(optimizer)
    if hasattr(optimizer, "get_config"):
        return type(optimizer).from_config(optimizer.get_config())
    if callable(optimizer):
        return optimizer()
    raise TypeError(
        f"`optimizer` must be None, a name, an optimizer or a factory, got {optimizer!r}."
    )


def _student_loss(settings: FitSettings, y: Any) -> Any:
    if settings.loss is not None:
        return settings.loss
    losses = settings.keras.losses
    if np.ndim(y) == 2 and np.shape(y)[-1] == settings.classes:
        return losses.CategoricalCrossentropy(from_logits=True)
    return losses.SparseCategoricalCrossentropy(from_logits=True)


def distilled(
    teacher: Any,
    student: Any,
    x: Any,
    y: Any,
    sample_weight: Any,
    cache: Any,
    temperature: float,
    alpha: float,
    epochs: int,
    settings: FitSettings,
    task: str,
    **fit_extra: Any,
) -> Any:
    """One distillation arm: ``tg.distillation.distill`` on the cached teacher outputs.

    Example:
        >>> student = distilled(teacher, student, x, y, None, cache, 4.0, 0.1, 10,
        ...                     settings, "auto")  # doctest: +SKIP
    """
    settings.keras.utils.set_random_seed(settings.seed)
    return _distillation.distill(
        teacher,
        student,
        x,
        y,
        epochs=epochs,
        temperature=temperature,
        alpha=alpha,
        cache=cache,
        sample_weight=sample_weight,
        batch_size=settings.batch_size,
        optimizer=fresh_optimizer(settings.keras, settings.optimizer),
        loss=settings.loss,
        metrics=settings.metrics,
        shuffle=settings.shuffle,
        verbose=settings.verbose,
        task=task,
        **fit_extra,
    )


def scratch(
    student: Any,
    x: Any,
    y: Any,
    sample_weight: Any,
    ids: np.ndarray,
    epochs: int,
    settings: FitSettings,
    **fit_extra: Any,
) -> Any:
    """The scratch arm: a copy of ``student`` fitted on the labelled samples alone.

    Example:
        >>> model = scratch(student, x, y, None, ids, 10, settings)  # doctest: +SKIP
    """
    labelled = np.flatnonzero(ids >= 0)
    settings.keras.utils.set_random_seed(settings.seed)
    model = copy_model(student)
    labels = take(y, labelled)
    model.compile(
        optimizer=fresh_optimizer(settings.keras, settings.optimizer),
        loss=_student_loss(settings, labels),
        metrics=list(settings.metrics or []),
    )
    model.fit(
        take(x, labelled),
        labels,
        sample_weight=take(sample_weight, labelled),
        batch_size=settings.batch_size,
        epochs=epochs,
        shuffle=settings.shuffle,
        verbose=settings.verbose,
        **fit_extra,
    )
    return model


def accuracy(model: Any, x: Any, ids: np.ndarray, batch_size: int) -> float:
    """Held-out accuracy: the share of ``argmax(model(x)) == ids``.

    Example:
        >>> accuracy(model, x_holdout, ids_holdout, 32)  # doctest: +SKIP
        0.93
    """
    logits = np.asarray(model.predict(x, batch_size=max(batch_size, 256), verbose=0))
    return float(np.mean(np.argmax(logits.reshape(len(ids), -1), axis=-1) == ids))
