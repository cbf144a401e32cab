"""Checks of a run's data against its models, made before any step trains.

Labels out of range, inputs of the wrong shape and one-hot labels otherwise surface as long
TensorFlow errors in the middle of training, after earlier steps have spent minutes. These
checks raise a ``ValueError`` naming the step, the model and the fix instead.

Example:
    >>> import numpy as np
    >>> from tf_green import models
    >>> data = ((np.zeros((4, 64)), np.array([0, 1, 2, 12])), (np.zeros((2, 64)), np.zeros(2)))
    >>> check_model(models.mlp(), "model", "step 1, 'load'", data)
    Traceback (most recent call last):
    ...
    ValueError: recipe step 1, 'load': model 'model' has 10 output units, but the labels go up to 12; its classes are 0..9. Pass labels in that range (or a model with more outputs).
"""  # noqa: E501

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_data", "check_model", "check_same_outputs"]


def _shape(shape: Any) -> tuple:
    return tuple(None if d is None or d < 0 else int(d) for d in shape)


def _fits(expected: tuple, actual: tuple) -> bool:
    return len(expected) == len(actual) and all(
        e is None or e == a for e, a in zip(expected, actual, strict=True)
    )


def check_data(data: tuple) -> None:
    """Check that the labels are integer class ids (what every step trains with).

    Args:
        data: ``((x_train, y_train), (x_val, y_val))``.

    Raises:
        ValueError: On a length mismatch, non-integer or negative labels.

    Example:
        >>> check_data(((np.zeros((2, 3)), np.array([0, 1])), (np.zeros((1, 3)), np.ones(1))))
    """
    for split, (x, y) in zip(("train", "val"), data, strict=True):
        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y):
            raise ValueError(
                f"data: x_{split} has {len(x)} samples but y_{split} has {len(y)}; pass one "
                "label per sample."
            )
        if not len(y):
            raise ValueError(f"data: the {split} split is empty.")
        if not np.issubdtype(y.dtype, np.number) or not np.all(np.isfinite(y)):
            raise ValueError(f"data: y_{split} must hold numbers (class ids), got {y.dtype}.")
        if not np.array_equal(y, np.round(y)):
            raise ValueError(
                f"data: y_{split} holds non-integer values (e.g. {y[y != np.round(y)][0]!r}); "
                "tf-green trains with integer class ids (sparse labels)."
                + (" For one-hot labels pass y.argmax(-1)." if y.ndim == 2 else "")
            )
        if y.ndim == 2 and y.shape[1] > 1 and np.all((y == 0) | (y == 1)) and np.all(y.sum(1) == 1):
            raise ValueError(
                f"data: y_{split} looks one-hot (shape {y.shape}, one 1 per row); tf-green "
                "trains with integer class ids (sparse losses): pass y.argmax(-1) instead."
            )
        if y.min() < 0:
            raise ValueError(
                f"data: y_{split} has negative labels (min {y.min()!r}); class ids start at 0."
            )


def check_model(model: Any, name: str, where: str, data: tuple) -> None:
    """Check that ``model`` takes the data's inputs and predicts its labels.

    Args:
        model: A Keras model the run loaded.
        name: Its name in the recipe.
        where: The step, for messages (``"step 1 (line 2), 'load'"``).
        data: ``((x_train, y_train), (x_val, y_val))``, labels already checked.

    Raises:
        ValueError: If the input shape differs, the labels look one-hot, or a label is not
            below the number of output units.

    Example:
        >>> from tf_green import models
        >>> x = np.zeros((4, 64), np.float32)
        >>> check_model(models.mlp(), "m", "step 1", ((x, np.arange(4)), (x, np.arange(4))))
    """
    if isinstance(model.input_shape, list) or isinstance(model.output_shape, list):
        return  # several inputs or outputs: leave the checks to the library
    prefix = f"recipe {where}: model {name!r}"
    inputs, outputs = _shape(model.input_shape[1:]), _shape(model.output_shape[1:])
    units = outputs[-1] if outputs else None
    for split, (x, y) in zip(("train", "val"), data, strict=True):
        x, y = np.asarray(x), np.asarray(y)
        if not _fits(inputs, x.shape[1:]):
            shown = tuple("None" if d is None else d for d in inputs)
            raise ValueError(
                f"{prefix} takes samples of shape {shown}, but x_{split} has samples of shape "
                f"{tuple(x.shape[1:])}; pass data of the shape the model was built for "
                "(or reshape it, e.g. x.reshape(len(x), *shape))."
            )
        labels = _shape(y.shape[1:])
        if labels == outputs and units and units > 1 and labels != outputs[:-1]:
            raise ValueError(
                f"{prefix}: y_{split} has labels of shape {tuple(y.shape[1:])} per sample, like "
                "one-hot vectors, but tf-green trains with integer class ids (sparse losses); "
                "pass y.argmax(-1) instead."
            )
        if not _fits(outputs[:-1], labels):
            raise ValueError(
                f"{prefix} predicts outputs of shape {outputs} per sample, so it needs labels of "
                f"shape {outputs[:-1]}, but y_{split} has labels of shape {labels}."
            )
        top = int(np.max(y))
        if units is not None and top >= units:
            raise ValueError(
                f"{prefix} has {units} output units, but the labels go up to {top}; its classes "
                f"are 0..{units - 1}. Pass labels in that range (or a model with more outputs)."
            )


def check_same_outputs(teacher: Any, student: Any, where: str) -> None:
    """Check that a student predicts as many classes as its teacher.

    Args:
        teacher: The teacher.
        student: The student.
        where: The step, for messages.

    Raises:
        ValueError: If the output units differ.

    Example:
        >>> from tf_green import models
        >>> check_same_outputs(models.mlp(), models.mlp(), "step 3")
    """
    t, s = teacher.output_shape, student.output_shape
    if isinstance(t, list) or isinstance(s, list):
        return
    if t[-1] != s[-1]:
        raise ValueError(
            f"recipe {where}: the student {student.name!r} has {s[-1]} output units but the "
            f"teacher {teacher.name!r} has {t[-1]}; distillation matches them class by class."
        )
