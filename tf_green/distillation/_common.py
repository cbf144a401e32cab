"""Engine-neutral argument checks of distillation, shared by the tf_keras and Keras 3 engines.

Nothing here imports a Keras: models are read duck-typed (``count_params``, ``weights``).

* :func:`check_fraction`, :func:`check_non_negative`, :func:`check_temperature`: numbers.
* :func:`check_same_shape`: teacher and student output shapes.
* :func:`warn_if_swapped`: the swapped-pair warning (see its docstring for the tests).
* :func:`teacher_and_student`: ``(teacher, student)`` from a call's positional/keyword args.

Example:
    >>> check_temperature(4)
    4.0
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from tf_green.distillation.teacher_cache import TeacherCache

__all__ = [
    "check_cache",
    "check_fraction",
    "check_non_negative",
    "check_same_shape",
    "check_temperature",
    "looks_untrained",
    "teacher_and_student",
    "warn_if_swapped",
]


def check_fraction(value: Any, argument: str) -> float:
    """Return ``value`` as a float if it is a number in [0, 1]; else a ValueError naming it.

    Example:
        >>> check_fraction(1, "alpha")
        1.0
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"`{argument}` must be a number in [0, 1], got {value!r}.")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(
            f"`{argument}` must be in [0, 1] (the weight of the hard-label loss; "
            f"1 - {argument} weighs the distillation loss), got {value!r}."
        )
    return float(value)


def check_non_negative(value: Any, argument: str) -> float:
    """Return ``value`` as a float if it is a finite number >= 0; else a ValueError naming it.

    Example:
        >>> check_non_negative(0, "feature_weight")
        0.0
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0.0:
        raise ValueError(f"`{argument}` must be a number >= 0, got {value!r}.")
    if math.isinf(value):
        raise ValueError(f"`{argument}` must be finite, got {value!r}.")
    return float(value)


def check_temperature(temperature: Any) -> float:
    """Return ``temperature`` as a float if it is finite and > 0.

    Args:
        temperature: The softmax temperature.

    Returns:
        ``float(temperature)``.

    Raises:
        ValueError: If ``temperature`` is not a finite number > 0.

    Example:
        >>> check_temperature(4)
        4.0
    """
    try:
        if isinstance(temperature, (str, bytes, bool)):
            raise TypeError
        value = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(f"`temperature` must be a number > 0, got {temperature!r}.") from None
    if not value > 0.0 or value == float("inf"):
        raise ValueError(
            f"`temperature` must be a finite number > 0, got {temperature!r}. Typical values "
            "are 1 to 10; see the distillation guide for choosing it."
        )
    return value


def check_same_shape(a: Sequence, b: Sequence, what: str) -> None:
    """Raise a ValueError naming ``what`` if two shapes differ where both are known.

    Example:
        >>> check_same_shape((None, 10), (5, 10), "outputs")
    """
    if len(a) != len(b) or any(
        s is not None and t is not None and s != t for s, t in zip(a, b, strict=True)
    ):
        raise ValueError(
            f"{what} differ: {tuple(a)} vs {tuple(b)} (batch axis excluded). Teacher and "
            "student must output logits of the same shape (same classes or vocabulary)."
        )


def check_cache(cache: Any, student_shape: Any, pairs: Sequence) -> None:
    """Check a teacher-output cache against the student and feature pairs.

    Example:
        >>> check_cache(None, (10,), [])

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


def teacher_and_student(args: tuple, kwargs: dict, call: str) -> tuple[Any, Any]:
    """``(teacher, student)`` of a call ``call(teacher, student, ...)``, positional or keyword.

    Raises:
        TypeError: If either is missing.

    Example:
        >>> teacher_and_student((1,), {"student": 2}, "tg.distill")
        (1, 2)
    """
    names = ("teacher", "student")
    found = dict(zip(names, args[:2], strict=False))
    for name in names:
        if name in kwargs:
            if name in found:
                raise TypeError(f"{call}() got two values for `{name}`.")
            found[name] = kwargs[name]
    missing = [n for n in names if n not in found]
    if missing:
        raise TypeError(
            f"{call}() needs `teacher` and `student` ({call}(teacher, student, ...)); "
            f"missing: {', '.join(missing)}."
        )
    return found["teacher"], found["student"]


def _count_params(model: Any) -> int | None:
    try:
        return int(model.count_params())
    except (ValueError, AttributeError, RuntimeError):
        return None  # not built


def looks_untrained(model: Any) -> bool | None:
    """Whether ``model`` looks freshly initialized: every bias (and BN beta) is exactly 0.

    Keras initializes biases (and BatchNorm's ``beta``) to zeros, and any optimizer step
    with a non-zero gradient moves them, so a trained model has non-zero biases; reading
    them costs nothing and needs no data. Models without biases give None (unknown).

    Returns:
        True if all biases are zero, False if one is not, None if the model has none
        (or is not built).

    Example:
        >>> import keras
        >>> looks_untrained(keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)]))
        True
    """
    biases = [
        w for w in getattr(model, "weights", []) if w.name.split("/")[-1].split(":")[0]
        in ("bias", "beta")
    ]  # fmt: skip
    if not biases:
        return None
    return all(not np.any(np.asarray(w)) for w in biases)


def warn_if_swapped(teacher: Any, student: Any, call: str = "Distiller") -> None:
    """Warn (``UserWarning``) when ``teacher`` and ``student`` look swapped.

    Two cheap tests, no data needed:

    * the teacher has fewer parameters than the student;
    * the teacher looks untrained (:func:`looks_untrained`: all its biases are exactly 0)
      while the student does not (a trained student beside a fresh teacher).

    Example:
        >>> import keras
        >>> small = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
        >>> big = keras.Sequential([keras.Input((2,)), keras.layers.Dense(30),
        ...                         keras.layers.Dense(3)])
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_if_swapped(small, big)
        >>> "swapped" in str(caught[0].message)
        True
    """
    order = f"{call} takes (teacher, student)"
    teacher_params, student_params = _count_params(teacher), _count_params(student)
    known = teacher_params is not None and student_params is not None
    if known and teacher_params < student_params:
        warnings.warn(
            f"the teacher {teacher.name!r} has fewer parameters ({teacher_params:,}) than "
            f"the student {student.name!r} ({student_params:,}): are they swapped? "
            f"{order}, teacher first.",
            UserWarning,
            stacklevel=3,
        )
        return
    if looks_untrained(teacher) and looks_untrained(student) is False:
        warnings.warn(
            f"the teacher {teacher.name!r} looks untrained (all its biases are 0) while the "
            f"student {student.name!r} is trained: are they swapped? {order}, teacher first.",
            UserWarning,
            stacklevel=3,
        )
