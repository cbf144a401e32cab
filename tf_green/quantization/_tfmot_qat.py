"""The tf_keras engine of :func:`tf_green.quantization.qat`/``quantize``: QAT with TFMOT, PQAT.

Imported by :mod:`tf_green.quantization.qat` when a tf_keras model arrives.

:func:`qat` wraps a trained model for quantization-aware training: each supported layer
gets fake-quantization of its weights and outputs, so fine-tuning learns weights that
survive INT8 rounding. With ``preserve_sparsity=True`` it uses TFMOT's prune-preserving
scheme (PQAT): the weights' zero pattern is frozen, so a pruned model stays sparse.
:func:`quantize` is the one-call version: wrap, fine-tune, return the trained model, ready
for ``to_tflite(model, quantization="int8")``.

Supported layers (TFMOT 0.8's default 8-bit registry): ``Dense``, ``Conv2D``,
``DepthwiseConv2D``, ``Conv2DTranspose``, ``Activation`` (relu, relu6, swish, gelu, linear,
softmax, sigmoid, tanh), ``ReLU``, ``LeakyReLU``, ``Softmax``, ``Add``, ``Concatenate``,
``Flatten``, ``Reshape``, ``Permute``, ``Dropout`` and spatial dropouts, ``MaxPooling2D``,
``AveragePooling1D/2D``, ``GlobalAveragePooling1D/2D/3D``, ``GlobalMaxPooling1D/2D/3D``,
``UpSampling2D``, ``ZeroPadding1D/2D``, ``Cropping1D/2D/3D``, ``ActivityRegularization``,
and ``BatchNormalization`` right after a convolution (folded into it). Not supported:
``LayerNormalization``, ``MultiHeadAttention``, ``Embedding``, recurrent layers, ``Lambda``
and TF-op layers (``x + 1`` in a functional model), custom layers. Such models get a
ValueError naming the layer; post-training quantization
(``to_tflite(quantization="int8")``) is the alternative.
PQAT preserves sparsity in ``Dense``, ``Conv2D`` and ``DepthwiseConv2D`` kernels.

Example:
    >>> from tf_green import models
    >>> wrapped = qat(models.mlp())  # the tf_keras reference MLP
    >>> [layer.name for layer in wrapped.layers][:3]
    ['features', 'quantize_layer', 'quant_dense1']
"""

from __future__ import annotations

import re
from typing import Any

from tf_green._engine.models import compile_like, is_compiled, is_graph_model, strip_pruning
from tf_green._input_checks import (
    StopOnNonFiniteLoss,
    batch_if_unbatched,
    check_finite,
    check_labels,
    data_errors,
)
from tf_green._keras import keras, require_tf_keras_model
from tf_green.quantization import _data, _wrappers

__all__ = ["qat", "quantize"]

_UNSUPPORTED = re.compile(r"Layer (\S+):<class '([^']+)'> is not supported")
_SPARSE_KERNEL_FRACTION = 0.5


def qat(
    model: keras.Model,
    *,
    preserve_sparsity: bool = False,
) -> keras.Model:
    """Wrap a trained model for quantization-aware training (TFMOT ``quantize_model``).

    The returned model is a new model with copied weights; ``model`` is not changed. Pruning
    wrappers are stripped first. If ``model`` is compiled, the result is compiled with the
    same loss and metrics and a fresh optimizer of the same configuration (fit-style);
    otherwise it is returned uncompiled.

    Args:
        model: A trained Sequential or functional tf_keras model whose layers TFMOT supports
            (see the module docstring).
        preserve_sparsity: Use the prune-preserving scheme (PQAT), so the zeros of a pruned
            model stay zero through fine-tuning and in the INT8 export.

    Returns:
        The QAT model. Fine-tune it with ``fit`` (a few epochs, small learning rate), then
        ``to_tflite(qat_model, quantization="int8")``. To reload a saved QAT model, open it
        under ``tfmot.quantization.keras.quantize_scope()``.

    Raises:
        TypeError: If ``model`` is not a tf_keras model, or is a subclassed model.
        ValueError: If ``model`` is not built, is already a QAT model, or has a layer TFMOT
            cannot quantize (named in the message, with the alternatives).

    Example:
        >>> from tf_green import models
        >>> model = models.cnn(width=8)
        >>> model.compile("adam", "sparse_categorical_crossentropy")
        >>> qat(model, preserve_sparsity=True).optimizer is not model.optimizer
        True
    """
    model = require_tf_keras_model(model, call="tg.quantization.qat")
    if not is_graph_model(model):
        raise TypeError(
            f"`model` is a subclassed model ({type(model).__name__}); TFMOT quantization-aware "
            "training needs a Sequential or functional model. Rebuild it functionally, or use "
            "post-training quantization: to_tflite(model, quantization='int8', "
            "representative_data=x)."
        )
    if not model.built or not model.inputs:
        raise ValueError(
            "`model` is not built; give its first layer an input_shape or call "
            "`model.build(input_shape)` before qat()."
        )
    if _wrappers.has_qat_wrappers(model):
        raise ValueError("`model` is already prepared for quantization-aware training.")
    source = strip_pruning(model) if _wrappers.has_pruning_wrappers(model) else model
    quantized = _quantize_model(source, preserve_sparsity)
    if is_compiled(model):
        compile_like(quantized, model)
    return quantized


def _quantize_model(model: keras.Model, preserve_sparsity: bool) -> keras.Model:
    import tensorflow_model_optimization as tfmot

    qk = tfmot.quantization.keras
    try:
        if preserve_sparsity:
            scheme = tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
            return qk.quantize_apply(qk.quantize_annotate_model(model), scheme)
        return qk.quantize_model(model)
    except (RuntimeError, ValueError, TypeError, KeyError) as error:
        raise ValueError(_explain(error)) from error


def _explain(error: Exception) -> str:
    message = str(error)
    match = _UNSUPPORTED.search(message)
    if match:
        name, cls = match.group(1), match.group(2).rsplit(".", 1)[-1]
        return (
            f"layer {name!r} ({cls}) is not supported by TFMOT quantization-aware training. "
            "Supported layers are listed in tf_green.quantization.qat's documentation (Dense, "
            "Conv2D, DepthwiseConv2D, pooling, Add, Concatenate, ReLU ...). Replace the layer, "
            "or use post-training quantization: to_tflite(model, quantization='int8', "
            "representative_data=x) (or 'dynamic')."
        )
    return (
        f"TFMOT could not prepare `model` for quantization-aware training: {message} Use "
        "post-training quantization instead: to_tflite(model, quantization='int8', "
        "representative_data=x)."
    )


def quantize(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    epochs: int = 1,
    preserve_sparsity: bool | None = None,
    batch_size: int | None = 32,
    validation_data: Any = None,
    callbacks: list | None = None,
    optimizer: Any = None,
    loss: Any = None,
    metrics: Any = None,
    verbose: int = 0,
) -> keras.Model:
    """Quantization-aware fine-tuning in one call: wrap with :func:`qat`, fit, return.

    Args:
        model: A trained Sequential or functional tf_keras model (not changed).
        x: Training inputs (array) or a ``tf.data.Dataset`` of ``(x, y)`` batches.
        y: Targets for array ``x``; None for a dataset.
        epochs: Fine-tuning epochs, >= 1 (1-3 is usual).
        preserve_sparsity: PQAT on/off. None (default) turns it on when ``model`` has
            pruning wrappers or any Dense/Conv kernel is at least 50% exact zeros.
        batch_size: Batch size for array inputs (ignored for datasets).
        validation_data: Passed to ``fit``.
        callbacks: Passed to ``fit``.
        optimizer: Optimizer for fine-tuning; default: a fresh copy of ``model``'s.
            Required if ``model`` is not compiled.
        loss: Loss; default: ``model``'s. Required if ``model`` is not compiled.
        metrics: Metrics; default: ``model``'s.
        verbose: ``fit`` verbosity.

    Returns:
        The fine-tuned, compiled QAT model, ready for ``to_tflite(..., quantization="int8")``.

    Raises:
        TypeError: As :func:`qat`.
        ValueError: As :func:`qat`; also if ``epochs`` < 1, ``y`` is missing for array
            inputs or given with a dataset, ``model`` is not compiled and no ``loss`` is
            given, the data holds NaN/inf (arrays: before training, naming the argument and
            index; a dataset: at the batch that holds it), or labels do not fit a sparse
            loss (one-hot rows are turned into ids, as in :func:`tf_green.prune`).
            ``NonFiniteLossError`` (a ValueError) if the loss becomes NaN or inf while
            fine-tuning; nothing is returned then.

    Example:
        >>> import numpy as np
        >>> from tf_green import models
        >>> model = models.mlp()
        >>> model.compile("adam", "sparse_categorical_crossentropy")
        >>> x, y = np.random.rand(32, 64).astype("float32"), np.zeros(32, "int64")
        >>> quantize(model, x, y, epochs=1).count_params() > model.count_params()
        True
    """
    model = require_tf_keras_model(model, call="tg.quantize")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"`epochs` must be an int >= 1, got {epochs!r}.")
    if _data.is_dataset(x):
        if y is not None:
            raise ValueError("`y` must be None when `x` is a tf.data.Dataset (it yields y).")
    elif y is None:
        raise ValueError("`y` is missing: pass targets for array `x`, or a dataset of (x, y).")
    if not is_compiled(model) and (loss is None or optimizer is None):
        missing = "loss" if loss is None else "optimizer"
        raise ValueError(
            f"`model` is not compiled, so there is no {missing} to fine-tune with: compile it, "
            "or pass loss=... and optimizer=... (and optionally metrics=...)."
        )
    x, y, validation_data = _check_data(model, x, y, validation_data, loss, batch_size or 32)
    if preserve_sparsity is None:
        preserve_sparsity = (
            _wrappers.has_pruning_wrappers(model)
            or _max_kernel_sparsity(model) >= _SPARSE_KERNEL_FRACTION
        )
    wrapped = qat(model, preserve_sparsity=bool(preserve_sparsity))
    compile_like(wrapped, model, optimizer=optimizer, loss=loss, metrics=metrics)
    with data_errors():
        wrapped.fit(
            x,
            y,
            epochs=epochs,
            batch_size=None if _data.is_dataset(x) else batch_size,
            validation_data=validation_data,
            callbacks=[StopOnNonFiniteLoss(), *(callbacks or [])],
            verbose=verbose,
        )
    return wrapped


def _check_data(
    model: keras.Model, x: Any, y: Any, validation_data: Any, loss: Any, batch_size: int
) -> tuple[Any, Any, Any]:
    """NaN/inf and label checks (see :mod:`tf_green._input_checks`); datasets get batched."""
    train_loss = loss if loss is not None else getattr(model, "loss", None)
    output_shape = model.output_shape if isinstance(model.output_shape, tuple) else None
    if _data.is_dataset(x):
        x = check_finite(batch_if_unbatched(x, model, batch_size, "x"), "x")
    else:
        check_finite(x, "x")
        y = check_labels(check_finite(y, "y"), train_loss, output_shape, "y")
    if _data.is_dataset(validation_data):
        validation_data = batch_if_unbatched(validation_data, model, batch_size, "validation_data")
        validation_data = check_finite(validation_data, "validation_data")
    elif isinstance(validation_data, (tuple, list)):
        parts = [check_finite(p, f"validation_data[{i}]") for i, p in enumerate(validation_data)]
        if len(parts) > 1:
            parts[1] = check_labels(parts[1], train_loss, output_shape, "validation_data[1]")
        validation_data = tuple(parts)
    return x, y, validation_data


def _max_kernel_sparsity(model: keras.Model) -> float:
    """The highest fraction of exact zeros in any single Dense/Conv kernel of ``model``."""
    best = 0.0
    for weight in model.weights:
        leaf = weight.name.split("/")[-1].split(":")[0]
        if leaf in ("kernel", "depthwise_kernel"):
            values = weight.numpy()
            best = max(best, float((values == 0).mean()) if values.size else 0.0)
    return best
