"""The tf_keras engine of :func:`tf_green.quantization.to_tflite`: a tf_keras model to bytes.

Imported by :func:`~tf_green.quantization.to_tflite` when a tf_keras model arrives (it
imports tf_keras and TFMOT). Strips TFMOT pruning wrappers, keeps QAT wrappers (their ranges
become the INT8 parameters), converts with ``TFLiteConverter.from_keras_model`` (or a traced
concrete function for a subclassed model built without data), and exports recurrent models
at batch 1, calibrating their INT8 version in a child process (:mod:`._calibrate`).
The public checks, the post-conversion checks and the write are
:func:`~tf_green.quantization.to_tflite`'s, shared with the Keras 3 engine.

Example:
    >>> from tf_green import models
    >>> convert(models.mlp(), quantization="dynamic")[4:8]
    b'TFL3'
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tf_green._engine.models import strip_pruning
from tf_green._keras import keras, require_tf_keras_model, tf
from tf_green.quantization import _calibrate, _representative, _tflite_converter, _trace, _wrappers

__all__ = ["convert"]


def convert(
    model: keras.Model,
    *,
    quantization: str | None = None,
    representative_data: Any = None,
    int8_io: bool = False,
    sparse: bool = False,
    representative_samples: int = 300,
    allow_flex: bool = False,
) -> bytes:
    """Convert a tf_keras model to TFLite bytes (arguments checked by ``to_tflite``).

    Args:
        model: A tf_keras model (Sequential, functional or subclassed).
        quantization: None, ``"float16"``, ``"dynamic"`` or ``"int8"``.
        representative_data: Calibration samples for ``"int8"`` (not needed by QAT models).
        int8_io: int8 inputs and outputs (``"int8"`` only).
        sparse: Add ``Optimize.EXPERIMENTAL_SPARSITY``.
        representative_samples: How many samples to calibrate on.
        allow_flex: Allow TensorFlow (Flex) ops.

    Returns:
        The flatbuffer bytes.

    Raises:
        TypeError: If ``model`` is not a tf_keras model, or on a representative dtype that
            the input cannot take.
        ValueError: As :func:`tf_green.quantization.to_tflite`.
        RuntimeError: If INT8 calibration of a recurrent model crashed the calibrator.

    Example:
        >>> from tf_green import models
        >>> len(convert(models.mlp())) > 0
        True
    """
    model = require_tf_keras_model(model, call="tg.to_tflite")
    qat_model = _wrappers.has_qat_wrappers(model)
    if qat_model and quantization != "int8":
        raise ValueError(
            f"`model` is prepared for quantization-aware training (it has TFMOT quantize "
            f"wrappers); export it with quantization='int8', not {quantization!r}. To export "
            "a float model, convert the model you passed to `qat()`/`quantize()` instead."
        )
    calibrate = quantization == "int8" and not qat_model
    if calibrate and representative_data is None:
        raise ValueError(_representative.NO_REPRESENTATIVE_DATA)
    if _wrappers.has_pruning_wrappers(model):
        model = strip_pruning(model)  # the masks applied: TFMOT's strip keeps raw weights
    structure = _trace.signature(model, representative_data)
    specs = _trace.flat_specs(structure)
    arrays = None
    if calibrate:
        arrays = _representative.representative_arrays(
            specs, representative_data, representative_samples
        )
    settings = {"int8_io": int8_io, "sparse": sparse, "allow_flex": allow_flex}
    if _trace.has_recurrent_layers(model):
        return _convert_recurrent(
            model, structure, arrays, quantization, qat_model, representative_samples, settings
        )
    if model.inputs or model.save_spec() is not None:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    else:  # a subclassed model built without data: traced on the representative shapes
        function = _trace.concrete_function(model, structure)
        converter = tf.lite.TFLiteConverter.from_concrete_functions([function], model)
    generator = (
        _representative.generator(arrays, specs, representative_samples) if calibrate else None
    )
    _tflite_converter.configure(converter, quantization, generator, qat_model=qat_model, **settings)
    return _tflite_converter.convert(converter, quantization)


def _convert_recurrent(
    model: keras.Model,
    structure: Any,
    arrays: list[np.ndarray] | None,
    quantization: str | None,
    qat_model: bool,
    samples: int,
    settings: dict[str, bool],
) -> bytes:
    """Convert a model with LSTM/GRU/RNN layers at batch 1; calibrate INT8 in a subprocess."""
    fixed = _trace.with_batch(structure, 1)
    if fixed != structure:
        warnings.warn(
            "to_tflite: `model` has recurrent layers (LSTM/GRU/RNN), which TFLite cannot "
            "convert with a dynamic batch axis; exporting it at batch 1 (TFLiteModel.predict "
            "runs any number of samples, one at a time).",
            UserWarning,
            stacklevel=4,
        )
    batch = _trace.flat_specs(fixed)[0][1][0]
    if quantization == "int8" and not qat_model:
        source = _trace.unroll_recurrent(model) or model
        function = _trace.concrete_function(source, fixed)
        try:
            return _calibrate.convert_isolated(
                source.variables,
                function,
                arrays,
                [name for name, _, _ in _trace.flat_specs(fixed)],
                batch=batch,
                samples=samples,
                **settings,
            )
        except _calibrate.ConverterFailedError as error:
            raise _tflite_converter.converter_error(str(error), quantization) from None
    function = _trace.concrete_function(model, fixed)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], model)
    _tflite_converter.configure(converter, quantization, None, qat_model=qat_model, **settings)
    if quantization == "dynamic":
        # The new dynamic-range quantizer leaves the fused LSTM kernel's weights in float
        # (the "dynamic" file would be a float32 one); the previous quantizer stores them int8.
        converter.experimental_new_dynamic_range_quantizer = False
    return _tflite_converter.convert(converter, quantization)
