"""Configure ``tf.lite.TFLiteConverter`` for a quantization mode, run it, explain its errors.

One home for the converter settings of each mode, shared by :func:`~tf_green.quantization.
to_tflite` (in process) and the INT8 calibration subprocess (:mod:`._calibrate`, which gets
the converter's error text back and turns it into the same :class:`ValueError`).

Builtin ops only, unless the caller passes ``allow_flex=True``: a model that needs TensorFlow
(Flex, ``SELECT_TF_OPS``) kernels gets a ValueError naming the ops and the opt-in, since phones
run a Flex model only with the Flex delegate linked in.

Example:
    >>> import tensorflow as tf
    >>> function = tf.function(lambda x: 2.0 * x, input_signature=[tf.TensorSpec((None, 3))])
    >>> converter = tf.lite.TFLiteConverter.from_concrete_functions(
    ...     [function.get_concrete_function()])
    >>> converter = configure(converter, "float16")
    >>> convert(converter, "float16")[4:8]
    b'TFL3'
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema

from tf_green.quantization import _flatbuffer

_TF_OP = re.compile(r"'((?:tf|tfl)\.[A-Za-z0-9_]+)' op")
_SELECT_OPS = re.compile(r"TF Select ops: ([^\n]+)")
_NOT_FLEX = "neither a custom op nor a flex op"
# A JAX model lowered to StableHLO: a custom call (LAPACK, a Pallas kernel ...) has no TFLite op.
_JAX_CUSTOM_CALL = "vhlo.custom_call"
_JAX_FUNCTION = re.compile(r'loc\(callsite\("([^"]+)" at')
# "VHLO lowering failed/path/to/keras/src/backend/jax/linalg.py:93:11: error: ..."
_JAX_SOURCE = re.compile(r"lowering failed(\S+?\.py):(\d+):\d+: error")
FLEX_PREFIX = "Flex"


def configure(
    converter: tf.lite.TFLiteConverter,
    quantization: str | None,
    representative: Callable | None = None,
    int8_io: bool = False,
    sparse: bool = False,
    qat_model: bool = False,
    allow_flex: bool = False,
) -> tf.lite.TFLiteConverter:
    """Set ``converter``'s optimizations, types and op set for ``quantization``; return it.

    Args:
        converter: A fresh converter.
        quantization: None, ``"float16"``, ``"dynamic"`` or ``"int8"``.
        representative: For ``"int8"`` (not QAT): a representative-dataset generator.
        int8_io: Make inputs and outputs int8 (``"int8"`` only).
        sparse: Add ``Optimize.EXPERIMENTAL_SPARSITY``.
        qat_model: The model carries TFMOT fake-quant ranges (no calibration).
        allow_flex: Also allow TensorFlow (Flex) kernels, ``SELECT_TF_OPS``. Off: builtin
            ops only.

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
    builtins = tf.lite.OpsSet.TFLITE_BUILTINS
    if quantization == "int8":
        if not qat_model:
            # A QAT model is integer through its fake-quant ranges; the converter refuses
            # TFLITE_BUILTINS_INT8 without a representative dataset there, so the integer-only
            # property is checked on the result instead (check_integer_only).
            converter.representative_dataset = representative
            builtins = tf.lite.OpsSet.TFLITE_BUILTINS_INT8
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    ops = [builtins, tf.lite.OpsSet.SELECT_TF_OPS] if allow_flex else [builtins]
    if allow_flex or builtins != tf.lite.OpsSet.TFLITE_BUILTINS:
        converter.target_spec.supported_ops = ops
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
    flex = flex_ops_in_error(message)
    if flex:
        return ValueError(
            f"`model` needs TensorFlow ops that are not TFLite builtins: {', '.join(flex)} "
            f"(quantization={quantization!r}). tf_green exports builtin ops only: a phone runs "
            "TensorFlow (Flex) ops only with the Flex delegate linked into the app. Replace the "
            "layer that uses them with standard Keras layers, or pass allow_flex=True to keep "
            "them as Flex ops (SELECT_TF_OPS)."
        )
    if _JAX_CUSTOM_CALL in message:
        functions = sorted(set(_JAX_FUNCTION.findall(message)))
        functions += [
            f"the call at {'/'.join(path.split('/')[-3:])}:{line}"
            for path, line in _JAX_SOURCE.findall(message)
        ]
        functions = functions or ["an operation"]
        return ValueError(
            f"the TFLite converter cannot lower {', '.join(functions)} of `model` (a JAX custom "
            "call, e.g. a LAPACK routine, in the StableHLO the JAX backend exports; "
            f"quantization={quantization!r}). No op set has it, Flex included. Replace the "
            "operation, or export the model from the TensorFlow backend "
            "(KERAS_BACKEND=tensorflow). Converter message: "
            f"{_first_error_line(message)}"
        )
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


def flex_ops_in_error(message: str) -> list[str]:
    """The TensorFlow ops a ``ConverterError`` says need Flex (``SELECT_TF_OPS``), sorted.

    Args:
        message: The ``ConverterError`` text.

    Returns:
        The op names (``["Cumprod"]``), or ``[]`` if the error is about something else.

    Example:
        >>> flex_ops_in_error("'tf.Cumprod' op is neither a custom op nor a flex op")
        ['Cumprod']
    """
    named: set[str] = set()
    for line in _SELECT_OPS.findall(message):
        named.update(op.strip() for op in line.split(",") if op.strip())
    for line in message.splitlines():
        if _NOT_FLEX in line:
            named.update(op.split(".", 1)[1] for op in _TF_OP.findall(line))
    return sorted(named)


def flex_ops(content: bytes) -> list[str]:
    """The TensorFlow (Flex) ops a converted flatbuffer runs, without the ``Flex`` prefix.

    Args:
        content: A flatbuffer.

    Returns:
        The op names, sorted; ``[]`` for a builtin-only model.

    Example:
        >>> import tensorflow as tf
        >>> f = tf.function(lambda x: x + 1.0, input_signature=[tf.TensorSpec((None, 2))])
        >>> flex_ops(tf.lite.TFLiteConverter.from_concrete_functions(
        ...     [f.get_concrete_function()]).convert())
        []
    """
    model = schema.Model.GetRootAsModel(content, 0)
    names = set()
    for i in range(model.OperatorCodesLength()):
        custom = model.OperatorCodes(i).CustomCode()
        name = custom.decode() if custom else ""
        if name.startswith(FLEX_PREFIX):
            names.add(name[len(FLEX_PREFIX) :])
    return sorted(names)


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
