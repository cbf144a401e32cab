"""The one place tf_green imports Keras.

tf_green's first engine is Keras 2 (the ``tf_keras`` package) with the TensorFlow Model
Optimization Toolkit (TFMOT), which works only with Keras 2. Every other module imports
``keras``, ``tf`` and the engine helpers from here, so a Keras 3 engine can later be added
behind the same public names.

``TF_USE_LEGACY_KERAS=1`` is set (unless the caller already chose a value) before
TensorFlow is imported, which is what importing TFMOT does anyway: ``tf.keras`` then
refers to ``tf_keras`` too, so models built with ``tf.keras`` work with tf_green.

Example:
    >>> from tf_green._keras import keras, is_tf_keras_model
    >>> model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    >>> is_tf_keras_model(model)
    True
"""

from __future__ import annotations

import os
import sys
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf
import tf_keras as keras

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

# Checked by running it: a Keras 3 config does not rebuild in tf_keras (`batch_shape` and other
# Keras 3 keys are unknown there), but weights copy over in order to the same architecture.
KERAS3_REBUILD_ADVICE = (
    "Rebuild the same architecture with `import tf_keras as keras` (or "
    "`tf_green._keras.keras`) and copy the weights over in order: "
    "`new.set_weights(old.get_weights())` with both models in one process, or "
    "`old.save_weights('m.weights.h5')` in Keras 3 then `new.load_weights('m.weights.h5')`."
)

_KERAS3_HINT = (
    "tf_green's engine is Keras 2 (tf_keras) with TFMOT, which cannot handle Keras 3 models. "
    + KERAS3_REBUILD_ADVICE
)


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

    Keras 3 is not imported by this check: if nobody imported it, ``obj`` cannot be one.

    Args:
        obj: Any object.

    Returns:
        True if ``obj`` is an instance of Keras 3's ``keras.Model``.

    Example:
        >>> is_keras3_model(keras.Sequential())
        False
    """
    keras3 = sys.modules.get("keras")
    if keras3 is None or keras3 is keras:
        return False
    model_cls = getattr(keras3, "Model", None)
    version = str(getattr(keras3, "__version__", "0"))
    return model_cls is not None and version.startswith("3") and isinstance(obj, model_cls)


def require_tf_keras_model(obj: Any, argument: str = "model") -> keras.Model:
    """Return ``obj`` if it is a tf_keras model; otherwise raise a clear error.

    Args:
        obj: The object to check.
        argument: The name of the argument it came from, used in the message.

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
    if is_tf_keras_model(obj):
        return obj
    if is_keras3_model(obj):
        raise TypeError(f"`{argument}` is a Keras 3 model. {_KERAS3_HINT}")
    raise TypeError(
        f"`{argument}` must be a tf_keras model (tf_keras.Model), got {type(obj).__name__}. "
        "Build or load it with `import tf_keras as keras`."
    )
