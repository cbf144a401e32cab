"""Knowledge distillation: train a small student to match a large teacher's soft targets.

* :class:`Distiller`: ``Distiller(teacher, student, ...)``, a Keras model with
  temperature-scaled KL, optional feature (FitNets) losses, partial labels (``-1`` = no
  label) and a cached teacher.
* :func:`distill`: the one-call version, returning the compiled, trained student.
* :func:`cache_teacher` / :class:`TeacherCache`: run the teacher once for fixed data.
* :mod:`~tf_green.distillation.losses`: the loss functions (tf_keras engine).

Engines: each call works on the engine of the models it is given
(:func:`tf_green._engine.engine_of`). tf_keras models go to the tf_keras engine
(``tf_green.distillation.distiller`` / ``api``, imported then); Keras 3 models (TensorFlow
or JAX backend) go to :mod:`tf_green.distillation.keras3`, built on ``keras.distillation``,
which imports neither tf_keras nor TFMOT. Teacher and student must be of one engine. The
cache (:func:`cache_teacher`, :class:`TeacherCache`) is engine-neutral and serves both.

``Distiller`` is a dispatching class: ``Distiller(teacher, student, ...)`` returns the
engine's Distiller (``tf_green.distillation.distiller.Distiller`` for tf_keras,
``tf_green.distillation.keras3.Distiller`` for Keras 3, each a subclass of its Keras's
``Model``), and ``isinstance(d, Distiller)`` is True for both. Subclass the engine's class,
not this one.

Partial labels: the label ``-1`` (:data:`UNLABELED`; a row of ``-1`` for one-hot labels)
marks a sample without a label. It learns from the teacher only, so a few labelled
samples plus many unlabelled inputs form a transfer set: ``distill(teacher, student, x,
y_with_minus_ones)``. ``y=None`` is pure distillation.

Choosing ``temperature`` (T) and ``alpha``: start from the defaults (T=4, alpha=0.1) and
run a short validation sweep on your data (T in {2, 4, 8}, alpha in {0.1, 0.5}). The loss
multiplies the KL term by T**2, so the soft-target gradients keep their scale for every
T, and T mainly sets how much of the teacher's ranking of the wrong classes the student
sees. A low alpha puts the weight on the teacher, which a transfer set with few labels
needs; with plentiful clean labels alpha=0.5 does as well. On the digits benchmark
(``benchmarks/distillation.py``, section ``distillation`` of ``benchmarks/RESULTS.md``) all
nine settings of that sweep land within 0.7 points of each other, above the scratch
student, with all labels and with 10% of them; the budget (epochs x learning rate) mattered
more than T or alpha.

Deployment: train with the Distiller, then save ``distiller.student`` alone.

Example:
    >>> from tf_green import distillation, models
    >>> d = distillation.Distiller(models.cnn(width=4), models.cnn(width=2), temperature=4.0)
    >>> d.temperature, isinstance(d, distillation.Distiller)
    (4.0, True)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

from tf_green._engine import Engine, engine_of, require_keras3_backend, tf_keras_engine
from tf_green._engine.lazy import package_getattr
from tf_green.distillation._common import teacher_and_student
from tf_green.distillation._labels import UNLABELED
from tf_green.distillation.cache import cache_teacher
from tf_green.distillation.teacher_cache import CacheInfo, TeacherCache
from tf_green.distillation.tune import TuneResult, tune

__all__ = [
    "UNLABELED",
    "CacheInfo",
    "DistillationLoss",
    "Distiller",
    "TeacherCache",
    "TuneResult",
    "cache_teacher",
    "distill",
    "engine_of_pair",
    "losses",
    "tune",
]

# The implementation of each dispatched name, per engine: name -> (module, attribute).
_TF_KERAS = {
    "Distiller": ("tf_green.distillation.distiller", "Distiller"),
    "distill": ("tf_green.distillation.api", "distill"),
}
_KERAS3 = {
    "Distiller": ("tf_green.distillation.keras3", "Distiller"),
    "distill": ("tf_green.distillation.keras3", "distill"),
}

# Submodules that import no tf_keras/TFMOT (the others load the tf_keras engine first).
_ENGINE_NEUTRAL = (
    "_common", "_inputs", "_labels", "_regression", "_storage", "cache", "keras3",
    "teacher_cache", "tune", "tune_arms", "tune_data",
)  # fmt: skip

# tf_keras-only names, loaded on first access (PEP 562).
_LAZY = {
    "DistillationLoss": "tf_green.distillation.losses",
}


def engine_of_pair(teacher: Any, student: Any, call: str = "tg.distill") -> Engine:
    """The engine of a teacher/student pair; both must be of the same one.

    Args:
        teacher: The teacher model.
        student: The student model.
        call: The public call, for the message.

    Returns:
        ``"tf_keras"`` or ``"keras3"``.

    Raises:
        TypeError: If either is not a Keras model, or one is tf_keras and the other Keras 3.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
        >>> engine_of_pair(m, m)
        'keras3'
    """
    teacher_engine = engine_of(teacher, "teacher")
    student_engine = engine_of(student, "student")
    if teacher_engine != student_engine:
        names = {"keras3": "a Keras 3 model", "tf_keras": "a tf_keras model"}
        raise TypeError(
            f"{call}: `teacher` is {names[teacher_engine]} and `student` is "
            f"{names[student_engine]}; both must be of one engine. Build the student with the "
            "teacher's Keras (`import keras` for Keras 3, `tf_green.engine.tf_keras()` for "
            "tf_keras), or rebuild one and copy its weights with "
            "`new.set_weights(old.get_weights())`."
        )
    if teacher_engine == "keras3":
        require_keras3_backend("teacher")
    return teacher_engine


def implementation(name: str, engine: Engine) -> Any:
    """The class or function that implements ``name`` for models of ``engine``.

    Args:
        name: ``"Distiller"`` or ``"distill"``.
        engine: ``"tf_keras"`` or ``"keras3"``.

    Returns:
        The engine's object of that name.

    Example:
        >>> implementation("distill", "tf_keras").__module__
        'tf_green.distillation.api'
    """
    if engine == "tf_keras":
        tf_keras_engine()  # first: it keeps tf.keras and TF_USE_LEGACY_KERAS as they are
        module, attribute = _TF_KERAS[name]
    else:
        module, attribute = _KERAS3[name]
    return getattr(importlib.import_module(module), attribute)


def _loaded_classes() -> list[type]:
    """The engines' Distiller classes already imported (an object's class is loaded)."""
    classes = []
    for module, attribute in (_TF_KERAS["Distiller"], _KERAS3["Distiller"]):
        loaded = sys.modules.get(module)
        if loaded is not None and hasattr(loaded, attribute):
            classes.append(getattr(loaded, attribute))
    return classes


class _DistillerMeta(type):
    """Make ``isinstance(d, Distiller)`` true for both engines' Distillers."""

    def __instancecheck__(cls, instance: Any) -> bool:
        return any(isinstance(instance, c) for c in _loaded_classes())

    def __subclasscheck__(cls, subclass: type) -> bool:
        return subclass is cls or any(issubclass(subclass, c) for c in _loaded_classes())


class Distiller(metaclass=_DistillerMeta):
    """Train a student on hard labels and a frozen teacher's softened logits, on its engine.

    ``Distiller(teacher, student, *, alpha=0.1, temperature=4.0, feature_pairs=None,
    feature_weight=1.0, teacher_outputs=None, name="distiller")`` returns the engine's
    Distiller: :class:`tf_green.distillation.distiller.Distiller` (a ``tf_keras.Model``)
    for tf_keras models, :class:`tf_green.distillation.keras3.Distiller` (a
    ``keras.distillation.Distiller``) for Keras 3 models. Both compute
    ``alpha * student_loss + (1 - alpha) * KL(teacher/T || student/T) * T**2`` (plus
    ``feature_weight * feature_loss``), with partial labels, sample weights, the teacher
    cache and feature pairs; see the engine classes for every argument. ``isinstance(d,
    Distiller)`` is True for both; subclass an engine's class, not this one.

    Argument order is ``(teacher, student)`` (as ``keras.distillation`` and :func:`distill`);
    a pair that looks swapped gets a ``UserWarning``.

    Raises:
        TypeError: If a model is not a Keras model, or teacher and student are of
            different engines.

    Example:
        >>> import keras
        >>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16),
        ...                             keras.layers.Dense(3)])
        >>> student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> d = Distiller(teacher=teacher, student=student, alpha=0.2)
        >>> isinstance(d, Distiller), isinstance(d, keras.Model)
        (True, True)
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        """Build the engine's Distiller from the models' engine."""
        teacher, student = teacher_and_student(args, kwargs, "tg.Distiller")
        engine = engine_of_pair(teacher, student, "tg.Distiller")
        return implementation("Distiller", engine)(*args, **kwargs)


def distill(*args: Any, **kwargs: Any) -> Any:
    """Distill ``teacher`` into a copy of ``student``; returns the compiled, trained copy.

    ``distill(teacher, student, x, y=None, *, epochs=10, alpha=0.1, temperature=4.0,
    validation_data=None, batch_size=32, optimizer=None, loss=None, metrics=("accuracy",),
    feature_pairs=None, feature_weight=1.0, cache=True, sample_weight=None, callbacks=None,
    shuffle=True, verbose=0, task="auto")`` on the models' engine:
    :func:`tf_green.distillation.api.distill` (tf_keras) or
    :func:`tf_green.distillation.keras3.distill` (Keras 3; the same signature). Neither
    model is changed.

    ``temperature="auto"`` picks T and alpha with :func:`tune` (a short sweep scored on a
    held-out split of the training data, the student trained without the teacher included,
    so it does not lose to it there) and returns its best student; ``alpha`` is one arm
    of the sweep and :func:`tune`'s options (``temperatures``, ``alphas``, ``holdout``...)
    may be passed too. It costs several fits (see :func:`tune`).

    Args:
        *args: ``teacher``, ``student``, then the engine's arguments.
        **kwargs: The engine's keyword arguments.

    Returns:
        The trained, compiled copy of ``student`` (its engine's model).

    Raises:
        TypeError: If a model is not a Keras model, teacher and student are of different
            engines, or as the engine's ``distill``.
        ValueError: As the engine's ``distill``.

    Example:
        >>> import keras, numpy as np
        >>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16),
        ...                             keras.layers.Dense(3)])
        >>> student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> x, y = np.zeros((8, 4), "float32"), np.array([0, 1, 2, -1] * 2)
        >>> trained = distill(teacher, student, x, y, epochs=1)
        >>> trained is student
        False
    """
    teacher, student = teacher_and_student(args, kwargs, "tg.distill")
    engine = engine_of_pair(teacher, student, "tg.distill")
    if isinstance(kwargs.get("temperature"), str) and kwargs["temperature"] == "auto":
        return tune(*args, **{k: v for k, v in kwargs.items() if k != "temperature"}).student
    return implementation("distill", engine)(*args, **kwargs)


__getattr__ = package_getattr(__name__, _LAZY, _ENGINE_NEUTRAL)


def __dir__() -> list[str]:
    """Every public name, loaded or not."""
    return sorted(set(globals()) | set(__all__))
