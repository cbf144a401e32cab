"""Configure ``tf.lite.TFLiteConverter`` for a quantization mode, run it, explain its errors.

One home for the converter settings of each mode, shared by :func:`~tf_green.quantization.
to_tflite` (in process) and the INT8 calibration subprocess (:mod:`._calibrate`, which gets
the converter's error text back and turns it into the same :class:`ValueError`).

Example:
    >>> from tf_green._keras import keras, tf
    >>> model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    >>> converter = configure(tf.lite.TFLiteConverter.from_keras_model(model), "float16")
    >>> convert(converter, "float16")[4:8]
    b'TFL3'
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

from tf_green._keras import tf
from tf_green.quantization import _flatbuffer

_TF_OP = re.compile(r"'((?:tf|tfl)\.[A-Za-z0-9_]+)' op")


def configure(
    converter: tf.lite.TFLiteConverter,
    quantization: str | None,
    representative: Callable | None = None,
    int8_io: bool = False,
    sparse: bool = False,
    qat_model: bool = False,
) -> tf.lite.TFLiteConverter:
    """Set ``converter``'s optimizations, types and op set for ``quantization``; return it.

    Args:
        converter: A fresh converter.
        quantization: None, ``"float16"``, ``"dynamic"`` or ``"int8"``.
        representative: For ``"int8"`` (not QAT): a representative-dataset generator.
        int8_io: Make inputs and outputs int8 (``"int8"`` only).
        sparse: Add ``Optimize.EXPERIMENTAL_SPARSITY``.
        qat_model: The model carries TFMOT fake-quant ranges (no calibration).

    Returns:
        ``converter``.
    """
    optimizations = []
    if quantization is not None:
        optimizations.append(tf.lite.Optimize.DEFAULT)
    if sparse:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.optimizations = optimizations
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantization == "int8":
        if not qat_model:
            # A QAT model is integer through its fake-quant ranges; the converter refuses
            # TFLITE_BUILTINS_INT8 without a representative dataset there, so the integer-only
            # property is checked on the result instead (check_integer_only).
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    return converter


def convert(converter: tf.lite.TFLiteConverter, quantization: str | None) -> bytes:
    """Run ``converter``; turn a ``ConverterError`` into a ValueError naming the ops.

    Args:
        converter: A configured converter.
        quantization: The mode, for the error message.

    Returns:
        The flatbuffer bytes.

    Raises:
        ValueError: If the converter cannot express an operation of the model.
    """
    try:
        with warnings.catch_warnings():
            # Emitted for every quantized conversion of a float-input model; not actionable.
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            # The calibrator runs tf.lite.Interpreter internally for multi-input models.
            warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprec")
            return converter.convert()
    except Exception as error:
        if type(error).__name__ != "ConverterError":
            raise
        raise converter_error(str(error), quantization) from error


def converter_error(message: str, quantization: str | None) -> ValueError:
    """The ValueError for a converter failure whose text is ``message``.

    Args:
        message: The ``ConverterError`` text.
        quantization: The mode, for the hint.

    Returns:
        A ValueError naming the operations the converter could not express and what to do.
    """
    ops = sorted(set(_TF_OP.findall(message)))
    what = ", ".join(ops) if ops else "an operation"
    if any(op.startswith("tf.TensorList") for op in ops):
        advice = (
            "This comes from a recurrent layer (LSTM/GRU/RNN) whose shapes are not static: "
            "give the model's Input a fixed sequence length, e.g. keras.Input((steps, "
            "features)), or wrap it in a functional model that has one."
        )
    else:
        advice = "Replace the layer that uses it with standard Keras layers."
    hint = (
        " For quantization='int8', try quantization='dynamic' (int8 weights, float activations)."
        if quantization == "int8"
        else ""
    )
    return ValueError(
        f"the TFLite converter cannot express {what} of `model` with builtin ops"
        f" (quantization={quantization!r}). {advice}{hint} Converter message: "
        f"{_first_error_line(message)}"
    )


def _first_error_line(message: str) -> str:
    for line in message.splitlines():
        if "error:" in line:
            return line.split("error:", 1)[1].strip()[:300]
    return message.strip().splitlines()[0][:300] if message.strip() else "?"


def check_integer_only(content: bytes) -> None:
    """Refuse an "int8" export in which the converter left operators in float.

    Args:
        content: The converted flatbuffer.

    Raises:
        ValueError: Naming the float operators and suggesting ``"dynamic"``.
    """
    float_ops = _flatbuffer.inspect(content).float_ops
    if float_ops:
        listed = "; ".join(str(op) for op in float_ops[:8])
        raise ValueError(
            "quantization='int8': the builtin INT8 op set cannot express "
            f"{len(float_ops)} operator(s) of `model`, which the converter left in float: "
            f"{listed}. Use quantization='dynamic' (int8 weights, float activations), or "
            "replace those layers with ones that have INT8 kernels."
        )
