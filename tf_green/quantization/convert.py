"""Export a Keras model to a TFLite/LiteRT flatbuffer: float32, float16, dynamic or full INT8.

:func:`to_tflite` is one entry for both engines. Here: the argument checks, the engine
dispatch (:func:`tf_green._engine.engine_of`), the checks on the converted flatbuffer (an
"int8" export runs on integer builtin kernels only; Flex ops only when asked for) and the
atomic write. The conversion itself is the engine's: :mod:`._tf_keras_export` (tf_keras +
TFMOT, imported when a tf_keras model arrives) or :mod:`.keras3.export` (Keras 3, TensorFlow
and JAX backends; imports no tf_keras). Modes the converter does not make itself
(``"int16x8"``, ``"int4"``: :mod:`._ai_edge`) start from the engine's float export.

Example:
    >>> from tf_green import models
    >>> content = to_tflite(models.mlp(), quantization="dynamic")
    >>> content[4:8]
    b'TFL3'
"""

from __future__ import annotations

import functools
import importlib
import os
import warnings
from typing import Any

from tf_green._engine import engine_of, require_keras3_backend, tf_keras_engine
from tf_green.quantization import _tflite_converter
from tf_green.quantization._files import check_path, write_atomically

__all__ = ["QUANTIZATIONS", "REPRESENTATIVE_SAMPLES", "to_tflite"]

# Made by the converter itself, on either engine.
CONVERTER_QUANTIZATIONS = (None, "float32", "float16", "dynamic", "int8")
# Made by ai-edge-quantizer from the engine's float export (tf_green.quantization._ai_edge).
POST_CONVERSION_QUANTIZATIONS = ("int16x8", "int4")
QUANTIZATIONS = CONVERTER_QUANTIZATIONS + POST_CONVERSION_QUANTIZATIONS
REPRESENTATIVE_SAMPLES = 300

# The module that converts a model of each engine (imported on first use).
_EXPORTERS = {
    "tf_keras": "tf_green.quantization._tf_keras_export",
    "keras3": "tf_green.quantization.keras3.export",
}
_POST_CONVERSION = "tf_green.quantization._ai_edge"


def to_tflite(
    model: Any,
    path: str | os.PathLike | None = None,
    *,
    quantization: str | None = None,
    representative_data: Any = None,
    int8_io: bool = False,
    sparse: bool = False,
    representative_samples: int = REPRESENTATIVE_SAMPLES,
    allow_flex: bool = False,
) -> bytes:
    """Convert a Keras model to TFLite bytes, optionally quantized, and write it atomically.

    Both engines: a tf_keras model (TFMOT) or a Keras 3 model on the TensorFlow or JAX
    backend (see :mod:`tf_green.quantization.keras3.export`: Keras 3 models go through
    ``keras.export.ExportArchive`` and a SavedModel, jax2tf on JAX). The export holds
    builtin TFLite ops only: a model that needs TensorFlow (Flex) ops is refused with a
    ValueError naming them, unless ``allow_flex=True`` (unlike Keras' own
    ``export(format="litert")``, which turns Flex on by default).

    tf_keras pruning wrappers (``prune_low_magnitude``) are stripped first. A model prepared for
    quantization-aware training (:func:`tf_green.quantization.qat`) keeps its wrappers: the
    converter turns their learned ranges into the INT8 model's quantization parameters, so
    such a model exports with ``quantization="int8"`` only, and needs no representative data.
    The caller's model is never changed.

    Quantization modes:

    * ``None`` / ``"float32"``: float32 weights and kernels.
    * ``"float16"``: float16 weights, dequantized at load; float kernels. About half the size.
    * ``"dynamic"``: int8 weights, float activations (dynamic-range quantization); ~1/4 size.
    * ``"int8"``: full integer: int8 weights and activations, calibrated on
      ``representative_data``; builtin INT8 kernels only (checked after conversion).
    * ``"int16x8"`` / ``"int4"``: made by ai-edge-quantizer from the float export (16-bit
      activations; INT4 weights, with lookup tables such as token and position embeddings
      stored int8 per row), see :mod:`tf_green.quantization._ai_edge`.

    ``sparse=True`` adds ``Optimize.EXPERIMENTAL_SPARSITY``: tensors that are sparse enough
    (pruned to high sparsity, e.g. 80-90%) are stored in a compressed sparse encoding, which
    shrinks the raw file a device maps into memory. It does nothing on dense models, and the
    sparse encoding compresses worse with zip/xz than runs of zeros, so a zipped download
    can grow. LiteRT 2.3's XNNPACK delegate cannot run sparse INT8 or dynamic-range tensors;
    :class:`tf_green.quantization.TFLiteModel` then falls back to the builtin kernels (slower).

    Models users build themselves:

    * Recurrent models (LSTM/GRU/SimpleRNN layers) are exported at batch 1 (a warning says
      so): the converter cannot express their loops with a dynamic batch axis.
      :class:`~tf_green.quantization.TFLiteModel` runs such a model on any number of
      samples, one at a time. For ``"int8"``, GRU/SimpleRNN layers with a fixed sequence
      length are unrolled in a copy of the model, and calibration runs in a child process
      (see :mod:`tf_green.quantization._calibrate`): TensorFlow's calibrator can crash with a
      segmentation fault on recurrent graphs, which would kill the caller's process (a
      notebook kernel); a crash becomes a ``RuntimeError`` instead. The child costs a
      TensorFlow import (5-10 s), so other models calibrate in process.
    * Subclassed models are traced on the inputs of their first call (after ``fit`` or
      ``model(x)``); a subclassed model only built with ``model.build`` is traced on the
      shapes of ``representative_data``.
    * Keras 3 recurrent models are exported at batch 1 too, and calibrate in process.

    Args:
        model: A tf_keras or Keras 3 model (Sequential, functional or subclassed).
        path: If given, the file to write; ``~`` is expanded. Checked before converting: its
            folder must exist and accept a new file (a temporary file is created there and
            removed). Written via a temporary file in the same folder and ``os.replace``,
            so a failure leaves no partial file.
        quantization: One of None, ``"float32"``, ``"float16"``, ``"dynamic"``, ``"int8"``.
        representative_data: For ``"int8"``: samples like the model's inputs, as an array
            (or a list/dict of arrays for several inputs) or a ``tf.data.Dataset`` of ``x``
            or ``(x, y)`` elements, batched or not. Typically a few hundred training
            samples. Ignored by the other modes and by QAT models.
        int8_io: With ``"int8"``, make the model's inputs and outputs int8 too (callers
            quantize inputs with the input's scale/zero point;
            :class:`~tf_green.quantization.TFLiteModel` does it for you).
        sparse: Ask the converter to encode sparse tensors (see above).
        representative_samples: How many samples of ``representative_data`` to calibrate
            on, >= 1.
        allow_flex: Let the converter keep TensorFlow ops it has no builtin kernel for, as
            Flex ops (``SELECT_TF_OPS``; a warning names them). A device then needs the Flex
            delegate linked into the app, and ``ai_edge_litert`` cannot run the file. Off by
            default: such a model raises a ValueError naming the ops. The JAX backend exports
            StableHLO, which has no Flex fallback.

    Returns:
        The flatbuffer bytes (also written to ``path`` when given).

    Raises:
        TypeError: If ``model`` is not a Keras model, or ``representative_data`` has a
            dtype the model's input cannot take.
        ValueError: On an unknown ``quantization``, ``"int8"`` without representative data,
            representative data of the wrong shape, ``int8_io`` without ``"int8"``, a QAT
            model with a non-INT8 mode, a ``path`` whose folder is missing or not writable,
            a model with ops the builtin INT8 set cannot express (the error names them
            and suggests ``"dynamic"``), or TensorFlow ops with no builtin kernel without
            ``allow_flex=True`` (named), or a Keras 3 backend other than TensorFlow or JAX.
        OSError: If writing ``path`` fails (no partial file is left).
        RuntimeError: If INT8 calibration of a recurrent model crashed TensorFlow's
            calibrator (in the child process; the error suggests ``"dynamic"``).

    Example:
        >>> import numpy as np
        >>> from tf_green import models
        >>> x = np.random.default_rng(0).random((50, 64), dtype=np.float32)
        >>> content = to_tflite(models.mlp(), quantization="int8", representative_data=x)
        >>> from tf_green.quantization import TFLiteModel
        >>> TFLiteModel(content).precision
        'int8'
    """
    engine = engine_of(model)
    quantization = _check_quantization(quantization)
    if not isinstance(allow_flex, bool):
        raise TypeError(f"`allow_flex` must be True or False, got {allow_flex!r}.")
    if quantization in POST_CONVERSION_QUANTIZATIONS:
        # The engine's float export, then ai-edge-quantizer (its own checks and write).
        convert_float = functools.partial(to_tflite, allow_flex=allow_flex)
        return importlib.import_module(_POST_CONVERSION).to_tflite(
            convert_float,
            model,
            path,
            quantization=quantization,
            representative_data=representative_data,
            int8_io=int8_io,
            sparse=sparse,
            representative_samples=representative_samples,
        )
    if int8_io and quantization != "int8":
        raise ValueError(
            f"`int8_io=True` needs quantization='int8' (got {quantization!r}): only a full "
            "integer model can have int8 inputs and outputs."
        )
    if (
        isinstance(representative_samples, bool)
        or not isinstance(representative_samples, int)
        or representative_samples < 1
    ):
        raise ValueError(
            f"`representative_samples` must be an int >= 1, got {representative_samples!r}."
        )
    target = check_path(path) if path is not None else None
    if engine == "keras3":
        require_keras3_backend()
    else:
        tf_keras_engine()  # first: it keeps tf.keras and TF_USE_LEGACY_KERAS as they are
    content = importlib.import_module(_EXPORTERS[engine]).convert(
        model,
        quantization=quantization,
        representative_data=representative_data,
        int8_io=int8_io,
        sparse=sparse,
        representative_samples=representative_samples,
        allow_flex=allow_flex,
    )
    _check_content(content, quantization, allow_flex)
    if target is not None:
        write_atomically(target, content)
    return content


def _check_content(content: bytes, quantization: str | None, allow_flex: bool) -> None:
    """The checks on every converted flatbuffer, whichever engine made it."""
    if quantization == "int8":
        _tflite_converter.check_integer_only(content)
    flex = _tflite_converter.flex_ops(content)
    if flex and not allow_flex:  # the converter was told builtins only: never expected
        raise ValueError(
            f"the export holds TensorFlow (Flex) ops {', '.join(flex)} although allow_flex is "
            "False; please report this. Pass allow_flex=True to accept them."
        )
    if flex:
        warnings.warn(
            f"to_tflite: the export uses TensorFlow (Flex) ops {', '.join(flex)} "
            "(allow_flex=True): a device needs the Flex delegate linked into the app to run "
            "it, and ai_edge_litert's interpreter cannot.",
            UserWarning,
            stacklevel=3,
        )


def _check_quantization(quantization: Any) -> str | None:
    if quantization not in QUANTIZATIONS:
        valid = ", ".join(repr(q) for q in QUANTIZATIONS)
        raise ValueError(f"unknown `quantization` {quantization!r}; valid values: {valid}.")
    return None if quantization == "float32" else quantization
