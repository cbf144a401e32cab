"""The tf_keras engine: Keras 2 (the ``tf_keras`` package) with TFMOT.

Only tf_keras-side modules import this (a public call imports them when a tf_keras model
arrives; see :mod:`tf_green._engine`). Users get the same module publicly as
``tf_green.engine.tf_keras()``.

Importing it leaves the user's choice of Keras alone: ``TF_USE_LEGACY_KERAS`` keeps its
value and ``tf.keras`` stays what the environment says (Keras 3 unless the user set
``TF_USE_LEGACY_KERAS=1``). TFMOT sets that variable when imported and routes ``tf.keras``
to tf_keras if nobody resolved it yet, so ``tf.keras`` (and its ``tf.losses`` ... aliases)
is resolved first and the variable is restored after. TFMOT itself uses tf_keras either way.

Example:
    >>> from tf_green._keras import keras, is_tf_keras_model
    >>> model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    >>> is_tf_keras_model(model)
    True
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from typing import Any

import tensorflow as tf
import tf_keras as keras

from tf_green._engine import KERAS3_REBUILD_ADVICE, engine_of, require_tf_keras

__all__ = [
    "ENGINE",
    "KERAS3_REBUILD_ADVICE",
    "is_keras3_model",
    "is_tf_keras_model",
    "keras",
    "require_tf_keras_model",
    "tf",
]

ENGINE = "tf_keras"

_KERAS3_HINT = (
    "tf_green's tf_keras engine uses TFMOT, which cannot handle Keras 3 models. "
    + KERAS3_REBUILD_ADVICE
)

# TensorFlow's lazy Keras aliases; each picks tf_keras or Keras 3 on first use, for good.
_TF_KERAS_ALIASES = ("keras", "losses", "metrics", "optimizers", "initializers")


@contextlib.contextmanager
def _legacy_keras_variable_kept() -> Iterator[None]:
    """Restore ``TF_USE_LEGACY_KERAS`` (set or unset) after the block."""
    saved = os.environ.get("TF_USE_LEGACY_KERAS")
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TF_USE_LEGACY_KERAS", None)
        else:
            os.environ["TF_USE_LEGACY_KERAS"] = saved


def _import_tfmot() -> Any:
    """Import TFMOT without letting it change ``TF_USE_LEGACY_KERAS`` or ``tf.keras``."""
    for alias in _TF_KERAS_ALIASES:  # resolve them under the user's environment, now
        getattr(getattr(tf, alias), "__name__", None)
    with _legacy_keras_variable_kept():
        return importlib.import_module("tensorflow_model_optimization")


tfmot = _import_tfmot()


def is_tf_keras_model(obj: Any) -> bool:
    """Tell whether ``obj`` is a Keras 2 (``tf_keras``) model.

    Args:
        obj: Any object.

    Returns:
        True if ``obj`` is an instance of ``tf_keras.Model``.

    Example:
        >>> is_tf_keras_model(keras.Sequential())
        True
    """
    return isinstance(obj, keras.Model)


def is_keras3_model(obj: Any) -> bool:
    """Tell whether ``obj`` is a Keras 3 model (the ``keras`` package, version 3).

    Keras 3 is not imported by this check (see :func:`tf_green._engine.engine_of`).

    Args:
        obj: Any object.

    Returns:
        True if ``obj`` is an instance of Keras 3's ``keras.Model``.

    Example:
        >>> is_keras3_model(keras.Sequential())
        False
    """
    try:
        return engine_of(obj) == "keras3"
    except TypeError:
        return False


def require_tf_keras_model(obj: Any, argument: str = "model", call: str | None = None) -> Any:
    """Return ``obj`` if it is a tf_keras model; otherwise raise a clear error.

    The error is :func:`tf_green._engine.require_tf_keras`'s, the one place for it.

    Args:
        obj: The object to check.
        argument: The name of the argument it came from, used in the message.
        call: The public call (``"tg.distill"`` ...), named in the message.

    Returns:
        ``obj``, unchanged.

    Raises:
        TypeError: If ``obj`` is a Keras 3 model (with how to build a tf_keras one) or not a
            Keras model at all.

    Example:
        >>> model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
        >>> require_tf_keras_model(model) is model
        True
    """
    return require_tf_keras(obj, argument, call)
