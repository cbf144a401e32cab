"""``tg.quantize`` and ``tg.quantization.qat`` for both engines: dispatch on the model.

* tf_keras models: TFMOT quantization-aware training (:mod:`._tfmot_qat`, imported then):
  :func:`qat` wraps a model for QAT (PQAT for pruned ones), :func:`quantize` wraps,
  fine-tunes and returns the QAT model, ready for ``to_tflite(model, quantization="int8")``.
* Keras 3 models: :func:`quantize` is Keras' own post-training weight quantization,
  ``model.quantize("int8"|"int4")``, on a copy, returning ``(quantized_model, report)``
  (:mod:`tf_green.quantization.keras3.quantize`). Quantization-aware training stays a
  tf_keras feature: TFMOT needs Keras 2, and Keras 3 has no fake-quant training API; on a
  Keras 3 model :func:`qat` (and :func:`quantize` with fine-tuning arguments) raise a
  TypeError that says what to use instead.

This module imports neither tf_keras nor TFMOT.

Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> quantized, report = quantize(model, mode="int8")
    >>> report.quantized.tolist()
    [True]
"""

from __future__ import annotations

import importlib
from typing import Any

from tf_green._engine import engine_of, require_keras3_backend, tf_keras_engine

__all__ = ["QAT_KERAS3_ADVICE", "qat", "quantize"]

_TF_KERAS = "tf_green.quantization._tfmot_qat"
_KERAS3 = "tf_green.quantization.keras3.quantize"

QAT_KERAS3_ADVICE = (
    "Quantization-aware training is a tf_keras feature in tf_green (it uses TFMOT, which "
    "needs Keras 2; Keras 3 has no fake-quantization training API). For a Keras 3 model use "
    "post-training quantization: tg.to_tflite(model, quantization='int8', "
    "representative_data=x_train[:300]) for a full-integer LiteRT file, or "
    "tg.quantize(model, mode='int8') (Keras' own int8/int4 weight quantization); or rebuild "
    "the model in tf_keras (`keras = tf_green.engine.tf_keras()`) and copy the weights over "
    "to train it with QAT."
)


def qat(model: Any, *, preserve_sparsity: bool = False) -> Any:
    """Wrap a trained tf_keras model for quantization-aware training (TFMOT ``quantize_model``).

    See :func:`tf_green.quantization._tfmot_qat.qat`: a new model with copied weights
    (``model`` unchanged), pruning wrappers stripped, compiled like ``model`` if it was.

    Args:
        model: A trained Sequential or functional tf_keras model whose layers TFMOT supports.
        preserve_sparsity: Use the prune-preserving scheme (PQAT).

    Returns:
        The QAT model; fine-tune it with ``fit``, then ``to_tflite(qat_model,
        quantization="int8")``.

    Raises:
        TypeError: For a Keras 3 model (QAT is a tf_keras feature; the message names the
            alternatives), a subclassed model, or anything that is not a Keras model.
        ValueError: As :func:`tf_green.quantization._tfmot_qat.qat`.

    Example:
        >>> from tf_green import models
        >>> [layer.name for layer in qat(models.mlp()).layers][:3]
        ['features', 'quantize_layer', 'quant_dense1']
    """
    if engine_of(model) == "keras3":
        raise TypeError(
            f"`model` is a Keras 3 model; tg.quantization.qat does not apply to it. "
            f"{QAT_KERAS3_ADVICE}"
        )
    tf_keras_engine()
    return importlib.import_module(_TF_KERAS).qat(model, preserve_sparsity=preserve_sparsity)


def quantize(model: Any, *args: Any, **kwargs: Any) -> Any:
    """Quantize a model, the way its engine can: QAT fine-tuning (tf_keras) or Keras' own (3).

    * tf_keras: :func:`tf_green.quantization._tfmot_qat.quantize` (``quantize(model, x,
      y=None, *, epochs=1, preserve_sparsity=None, batch_size=32, validation_data=None,
      callbacks=None, optimizer=None, loss=None, metrics=None, verbose=0)``): wrap with
      :func:`qat`, fine-tune, return the compiled QAT model.
    * Keras 3: :func:`tf_green.quantization.keras3.quantize.quantize` (``quantize(model,
      x=None, *, mode="int8")``): ``model.quantize(mode)`` on a copy; returns
      ``(quantized_model, report)``, the report a DataFrame with a row per layer that has
      weights (quantized or not, and why not). With ``x``, the report's ``attrs`` hold the
      largest output difference and the top-1 agreement with the float model on ``x``.
      QAT arguments (``y``, ``epochs``, ``optimizer`` ...) raise a TypeError there.

    Args:
        model: A tf_keras or Keras 3 model; not changed.
        *args: The engine's positional arguments after ``model``.
        **kwargs: The engine's keyword arguments.

    Returns:
        tf_keras: the fine-tuned QAT model. Keras 3: ``(quantized_model, report)``.

    Raises:
        TypeError: If ``model`` is not a Keras model, or as the engine's ``quantize``.
        ValueError: As the engine's ``quantize``.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> quantize(model, mode="int4")[0].layers[0].quantization_mode
        'int4'
    """
    if engine_of(model) == "keras3":
        require_keras3_backend()
        return importlib.import_module(_KERAS3).quantize(model, *args, **kwargs)
    tf_keras_engine()
    return importlib.import_module(_TF_KERAS).quantize(model, *args, **kwargs)
