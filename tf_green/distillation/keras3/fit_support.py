"""Support of the Keras 3 Distiller's ``fit``: model checks, dataset label checks, JAX state.

Example:
    >>> import keras
    >>> output_shape(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]), "student")
    (3,)
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tf_green._engine import engine_of
from tf_green._engine.data import split_element
from tf_green.distillation._labels import UNLABELED

__all__ = ["KeepJaxState", "check_dataset_labels", "output_shape", "require_keras3"]


def require_keras3(model: Any, argument: str) -> Any:
    """Return ``model`` if it is a Keras 3 model; a TypeError naming ``argument`` otherwise.

    Example:
        >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
        >>> require_keras3(m, "teacher") is m
        True
    """
    if engine_of(model, argument) != "keras3":
        raise TypeError(
            f"`{argument}` is a tf_keras model; tf_green.distillation.keras3.Distiller takes "
            "Keras 3 models. Use tg.Distiller (it picks the engine from the models)."
        )
    return model


def output_shape(model: Any, role: str) -> tuple | None:
    """The per-sample output shape of a one-output model; None if unknown (subclassed).

    Raises:
        ValueError: For a model with several outputs.

    Example:
        >>> output_shape(keras.Sequential([keras.Input((2,)), keras.layers.Dense(5)]), "s")
        (5,)
    """
    try:
        shape = model.output_shape
    except (AttributeError, RuntimeError, ValueError):
        return None  # subclassed: checked at the first step
    if isinstance(shape, list):
        if len(shape) != 1:
            raise ValueError(
                f"the {role} {model.name!r} has {len(shape)} outputs; the Distiller needs "
                "one logits output (batch, classes) or (batch, time, vocab)."
            )
        shape = shape[0]
    return tuple(shape[1:])


def check_dataset_labels(dataset: Any, classes: int, output_rank: int) -> Any:
    """Add a label-range check to a dataset, run as it is read (any backend)."""
    message = (
        f"labels `y` must be class ids in [0, {classes}) or {UNLABELED} (no label); found a "
        "label outside that range"
    )

    def check(*element):
        parts = element[0] if len(element) == 1 else element
        _, y, _ = split_element(parts)
        if y is None or (not y.dtype.is_integer and not y.dtype.is_floating):
            return element[0] if len(element) == 1 else element
        dense = len(y.shape) == output_rank + 1 and y.shape[-1] == classes and classes != 1
        if not dense:
            ids = tf.cast(y, tf.int64)
            checks = [
                tf.debugging.assert_greater_equal(ids, tf.constant(UNLABELED, tf.int64), message),
                tf.debugging.assert_less(ids, tf.constant(classes, tf.int64), message),
            ]
            with tf.control_dependencies(checks):
                element = tf.nest.map_structure(tf.identity, element)
        return element[0] if len(element) == 1 else element

    return dataset.map(check)


class KeepJaxState(keras.callbacks.Callback):
    """Keep the variables' values at each epoch start, to restore them after a failed ``fit``.

    Keras's JAX trainer detaches every variable's value at the first step of an epoch and
    reattaches it from the step's output; when the data raises at that step (a label
    check, a bad batch), nothing is reattached and the student is left without values.
    JAX arrays are immutable, so keeping references costs no copy.
    """

    def __init__(self) -> None:
        super().__init__()
        self.values: list | None = None

    @staticmethod
    def _variables(model: Any) -> list:
        optimizer = getattr(model, "optimizer", None)
        extra = list(optimizer.variables) if optimizer is not None else []
        return [*model.variables, *model.metrics_variables, *extra]

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Keep references to the current values."""
        self.values = [(v, v.value) for v in self._variables(self.model)]

    def restore(self, model: Any) -> None:
        """Give back its value to every variable left without one."""
        for variable, value in self.values or []:
            if getattr(variable, "_value", True) is None:
                variable.assign(value)
