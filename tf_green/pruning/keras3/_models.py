"""Keras 3 model helpers of the pruning engine: check a model; copy and compile like another.

Copying is :mod:`tf_green._engine.models`'s; compiling is :mod:`tf_green.pruning.compiling`'s
(both engine-neutral, shared with the tf_keras engine).

Example:
    >>> import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> copy_model(m).layers[0] is m.layers[0]
    False
"""

from __future__ import annotations

from typing import Any

import keras

from tf_green._engine.models import copy_model as engine_copy_model
from tf_green.pruning.compiling import compile_like

__all__ = ["check_model", "compile_like", "copy_model"]

copy_model = engine_copy_model


def check_model(model: Any, argument: str = "model") -> Any:
    """Return ``model`` if it is a built Keras 3 model; else raise a clear error.

    Args:
        model: The object to check.
        argument: The argument it came from, used in messages.

    Returns:
        ``model``.

    Raises:
        TypeError: If it is not a Keras 3 ``keras.Model`` (e.g. a tf_keras model).
        ValueError: If it is not built.

    Example:
        >>> check_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])).built
        True
    """
    if not isinstance(model, keras.Model):
        kind = type(model).__module__.split(".")[0]
        hint = (
            " It is a tf_keras model: use tf_green.prune / tf_green.pruning (they dispatch "
            "on the model's engine)."
            if kind == "tf_keras"
            else ""
        )
        raise TypeError(
            f"`{argument}` must be a Keras 3 keras.Model, got {type(model).__name__}.{hint}"
        )
    if not model.built:
        raise ValueError(
            f"`{argument}` ({model.name!r}) is not built; start it with keras.Input(...) or "
            "call it on a batch first (model(x[:1]))."
        )
    return model
