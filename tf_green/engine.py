"""Which Keras tf_green works with, and the public way to get it.

tf_green takes models of two engines: Keras 3 (the ``keras`` package; pruning today) and
Keras 2 (``tf_keras``, with TFMOT; every call). Each public call looks at the model it is
given. Importing tf_green does not change which Keras ``tf.keras`` is.

* :func:`tf_keras`: the tf_keras module, ready for tf_green (tf_green's classes registered,
  TFMOT loaded), for building models the tf_keras engine takes:
  ``keras = tg.engine.tf_keras()``. ``import tf_keras as keras`` gives the same module.
* :func:`engine_of` / :func:`keras_of`: which engine a model belongs to, and its Keras.

Example:
    >>> import tf_green as tg
    >>> keras = tg.engine.tf_keras()
    >>> tg.engine.engine_of(keras.Sequential())
    'tf_keras'
"""

from __future__ import annotations

import importlib
from typing import Any

from tf_green._engine import engine_of, keras_of, tf_keras_engine

__all__ = [
    "engine_of",
    "keras_of",
    "register_keras3_classes",
    "register_tf_keras_classes",
    "tf_keras",
]

# The tf_keras-side modules that register Keras classes (register_keras_serializable).
_REGISTERING_MODULES = (
    "tf_green.distillation.distiller",
    "tf_green.distillation.losses",
    "tf_green._models_tf_keras",
    "tf_green.pruning.sparsity_callbacks",
    "tf_green.pruning.wrapper",
)

# The Keras 3 modules that register Keras classes; they import Keras 3 only.
_KERAS3_REGISTERING_MODULES = (
    "tf_green._models_keras3",
    "tf_green.distillation.keras3.distiller",
    "tf_green.distillation.keras3.losses",
)


def tf_keras() -> Any:
    """The ``tf_keras`` module (Keras 2), with tf_green's tf_keras classes registered.

    Use it to build and load models for the calls that take tf_keras models (distill,
    to_tflite, quantize, Bench/profile, generate) in place of the private
    ``tf_green._keras``. It imports tf_keras and TFMOT, and changes neither
    ``TF_USE_LEGACY_KERAS`` nor what ``tf.keras`` is.

    Returns:
        The ``tf_keras`` module.

    Example:
        >>> keras = tf_keras()
        >>> keras.__name__
        'tf_keras'
    """
    register_tf_keras_classes()
    return tf_keras_engine().keras


def register_tf_keras_classes() -> None:
    """Import the tf_keras-side modules that register tf_green's Keras classes.

    After it, ``tf_keras.models.load_model`` reads files that use ``Distiller``,
    ``PositionEmbedding``, the pruning wrapper ... without ``custom_objects``. Done at
    ``import tf_green`` when tf_keras is already imported, and by :func:`tf_keras`.

    Example:
        >>> register_tf_keras_classes()
        >>> import tf_keras
        >>> tf_keras.saving.get_registered_object("tf_green>Distiller").__name__
        'Distiller'
    """
    tf_keras_engine()  # first: it keeps tf.keras and TF_USE_LEGACY_KERAS as they are
    for name in _REGISTERING_MODULES:
        importlib.import_module(name)


def register_keras3_classes() -> None:
    """Import the Keras 3 modules that register tf_green's Keras 3 classes.

    After it, ``keras.saving.load_model`` reads ``.keras`` files that use tf_green's
    ``PositionEmbedding`` or ``Distiller`` without ``custom_objects``. Done at
    ``import tf_green`` when Keras 3 is already imported, and by
    :func:`tf_green.loading.load_model`. It never imports tf_keras.

    Example:
        >>> register_keras3_classes()
        >>> import keras
        >>> keras.saving.get_registered_object("tf_green>PositionEmbedding").__name__
        'PositionEmbedding'
    """
    for name in _KERAS3_REGISTERING_MODULES:
        importlib.import_module(name)
