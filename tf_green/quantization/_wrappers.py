"""Find and strip TFMOT wrappers (pruning, quantization-aware training) in a Keras model.

TFMOT is imported lazily, so importing tf_green stays fast.

Example:
    >>> from tf_green._keras import keras
    >>> model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    >>> has_pruning_wrappers(model), has_qat_wrappers(model)
    (False, False)
"""

from __future__ import annotations

from tf_green._engine import models
from tf_green._keras import keras


def _layers(model: keras.Model) -> list:
    """Every layer of ``model``, nested models' layers included."""
    return [m for m in model.submodules if isinstance(m, keras.layers.Layer)]


def has_pruning_wrappers(model: keras.Model) -> bool:
    """Tell whether ``model`` has TFMOT pruning wrappers (``prune_low_magnitude`` layers).

    Args:
        model: A tf_keras model.

    Returns:
        True if any layer, nested ones included, is a ``PruneLowMagnitude`` wrapper.
    """
    from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

    return any(isinstance(layer, pruning_wrapper.PruneLowMagnitude) for layer in _layers(model))


def has_qat_wrappers(model: keras.Model) -> bool:
    """Tell whether ``model`` was prepared for quantization-aware training by TFMOT.

    Args:
        model: A tf_keras model.

    Returns:
        True if any layer is a TFMOT ``QuantizeWrapper`` or ``QuantizeLayer``.
    """
    from tensorflow_model_optimization.python.core.quantization.keras import (
        quantize_layer,
        quantize_wrapper,
    )

    kinds = (quantize_wrapper.QuantizeWrapper, quantize_layer.QuantizeLayer)
    return any(isinstance(layer, kinds) for layer in _layers(model))


def strip_pruning(model: keras.Model) -> keras.Model:
    """Return ``model`` without pruning wrappers (a new model), or ``model`` if it has none.

    The one mask-applying strip, :func:`tf_green._engine.models.strip_pruning`.

    Args:
        model: A tf_keras model.

    Returns:
        An independent model whose pruned layers are plain Keras layers, masks applied.
    """
    if not has_pruning_wrappers(model):
        return model
    return models.strip_pruning(model)


def kernel_sparsity(model: keras.Model) -> float:
    """Fraction of exact zeros among the kernels of ``model``'s Dense/Conv layers.

    Pruning wrappers and QAT wrappers are looked through: the wrapped layer's kernel is
    counted, once.

    Args:
        model: A tf_keras model.

    Returns:
        Zeros / values over all ``kernel`` and ``depthwise_kernel`` weights; 0.0 if none.
    """
    zeros = total = 0
    seen: set[int] = set()
    for weight in model.weights:
        leaf = weight.name.split("/")[-1].split(":")[0]
        if leaf not in ("kernel", "depthwise_kernel") or id(weight) in seen:
            continue
        seen.add(id(weight))
        values = weight.numpy()
        zeros += int((values == 0).sum())
        total += int(values.size)
    return zeros / total if total else 0.0
