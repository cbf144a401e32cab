"""Distillation for Keras 3 models (``import keras``), on the TensorFlow and JAX backends.

Built on ``keras.distillation`` (Keras 3.12+): :class:`Distiller` subclasses
``keras.distillation.Distiller`` and its losses subclass ``LogitsDistillation`` and
``FeatureDistillation``, adding tf_green's semantics (see
:mod:`tf_green.distillation.keras3.distiller`). Imports neither tf_keras nor TFMOT; the
teacher cache (:func:`tf_green.distillation.cache_teacher`) is shared with the tf_keras
engine.

* :class:`Distiller`: ``Distiller(teacher, student, *, alpha, temperature, ...)``.
* :func:`distill`: the one-call version, returning the compiled, trained student.

Example:
    >>> from tf_green.distillation import keras3
    >>> student = keras3.distill(teacher, student, x, y, epochs=2)  # doctest: +SKIP
"""

from tf_green.distillation.keras3.api import distill
from tf_green.distillation.keras3.distiller import Distiller
from tf_green.distillation.keras3.losses import FeatureDistillation, LogitsDistillation

__all__ = ["Distiller", "FeatureDistillation", "LogitsDistillation", "distill"]
