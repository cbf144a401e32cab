"""Read what a TFLite flatbuffer holds, without running it: precision, sparsity, float ops.

The TFLite schema's generated Python reader ships with ``ai-edge-litert``; this module is
the only one that uses it. Everything here works on the raw bytes a converter returns.

Example:
    >>> from tf_green._keras import keras, tf
    >>> model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    >>> content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    >>> inspect(content).precision
    'float32'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ai_edge_litert import schema_py_generated as schema

FILE_IDENTIFIER = b"TFL3"
PRECISIONS = ("float32", "float16", "dynamic", "int8", "int16x8", "int4")

_T = schema.TensorType
_FLOAT_TYPES = frozenset({_T.FLOAT32, _T.FLOAT16, _T.FLOAT64, _T.BFLOAT16})
_OP_NAMES = {
    value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")
}
_BOUNDARY_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})


@dataclass(frozen=True)
class FloatOp:
    """An operator of a supposedly integer model that computes in floating point.

    Attributes:
        op: The TFLite builtin operator name, e.g. ``"SIN"``.
        tensor: The name of its first output tensor, which carries the Keras layer path.
    """

    op: str
    tensor: str

    def __str__(self) -> str:
        return f"{self.op} (output {self.tensor!r})"


@dataclass(frozen=True)
class Summary:
    """What :func:`inspect` found in a flatbuffer.

    Attributes:
        precision: One of :data:`PRECISIONS`.
        sparse: Whether any tensor is stored in a sparse encoding.
        float_ops: Operators (other than QUANTIZE/DEQUANTIZE) with float inputs or outputs.
        op_names: The operator names of the first subgraph, in execution order.
    """

    precision: str
    sparse: bool
    float_ops: tuple[FloatOp, ...]
    op_names: tuple[str, ...]


def is_tflite(content: bytes) -> bool:
    """Tell whether ``content`` starts like a TFLite flatbuffer (identifier ``TFL3``).

    Args:
        content: Raw bytes.

    Returns:
        True if the flatbuffer file identifier at bytes 4..8 is ``TFL3``.
    """
    return len(content) >= 8 and bytes(content[4:8]) == FILE_IDENTIFIER


def _is_constant(model: schema.Model, tensor: schema.Tensor) -> bool:
    """A tensor is constant (a weight) if its buffer holds data, inline or at an offset."""
    index = tensor.Buffer()
    if index <= 0 or index >= model.BuffersLength():
        return False
    buffer = model.Buffers(index)
    return buffer.DataLength() > 0 or buffer.Offset() > 1


def _op_name(model: schema.Model, op: schema.Operator) -> str:
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == schema.BuiltinOperator.CUSTOM:
        custom = code.CustomCode()
        return custom.decode() if custom else "CUSTOM"
    return _OP_NAMES.get(builtin, str(builtin))


def _tensor_name(tensor: schema.Tensor) -> str:
    name = tensor.Name()
    return name.decode(errors="replace") if name else "?"


def inspect(content: bytes) -> Summary:
    """Summarize a TFLite flatbuffer: precision, sparse encoding, float operators.

    Precision rules: INT16 activations (non-constant tensors) outnumbering float32 ones mean
    ``"int16x8"`` (int8 weights, 16-bit activations); else INT8 activations (model
    inputs/outputs included) outnumbering float32 ones mean ``"int8"``; else INT4 constants
    mean ``"int4"`` (4-bit weights, float activations); else INT8 constants (weights) mean
    ``"dynamic"`` (dynamic-range models may still have a few INT8 activations, such as an
    embedding lookup of INT8 weights);
    else FLOAT16 constants mean ``"float16"``; else ``"float32"``.

    Args:
        content: The flatbuffer bytes.

    Returns:
        A :class:`Summary`.

    Raises:
        ValueError: If ``content`` is not a TFLite flatbuffer.
    """
    if not is_tflite(content):
        raise ValueError("content is not a TFLite flatbuffer (no 'TFL3' file identifier).")
    model = schema.Model.GetRootAs(content, 0)
    int8_weights = int4_weights = float16_weights = sparse = False
    int8_activations = int16_activations = float_activations = 0
    float_ops: list[FloatOp] = []
    op_names: list[str] = []
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            constant = _is_constant(model, tensor)
            kind = tensor.Type()
            sparse = sparse or tensor.Sparsity() is not None
            if kind == _T.INT8:
                int8_weights = int8_weights or constant
                int8_activations += not constant
            elif kind == _T.INT16 and not constant:
                int16_activations += 1
            elif kind == _T.INT4 and constant:
                int4_weights = True
            elif kind == _T.FLOAT32 and not constant:
                float_activations += 1
            elif kind == _T.FLOAT16 and constant:
                float16_weights = True
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            name = _op_name(model, op)
            if s == 0:
                op_names.append(name)
            if name in _BOUNDARY_OPS:
                continue
            ids = [op.Inputs(i) for i in range(op.InputsLength())]
            ids += [op.Outputs(i) for i in range(op.OutputsLength())]
            if any(i >= 0 and graph.Tensors(i).Type() in _FLOAT_TYPES for i in ids):
                first = op.Outputs(0) if op.OutputsLength() else ids[0]
                float_ops.append(FloatOp(name, _tensor_name(graph.Tensors(first))))
    if int16_activations and int16_activations >= float_activations:
        precision = "int16x8"
    elif int8_activations and int8_activations >= float_activations:
        precision = "int8"
    elif int4_weights:
        precision = "int4"
    elif int8_weights:
        precision = "dynamic"
    elif float16_weights:
        precision = "float16"
    else:
        precision = "float32"
    return Summary(precision, sparse, tuple(float_ops), tuple(op_names))


def int8_weight_zero_fraction(content: bytes) -> float:
    """Fraction of exact zeros among the dense-encoded INT8 weights (constant tensors).

    This is the sparsity an exported integer model kept: pruned weights quantize to 0
    (weights are quantized symmetrically, zero point 0). Sparse-encoded tensors are skipped,
    since they store only their non-zero blocks.

    Args:
        content: The flatbuffer bytes.

    Returns:
        Zeros / values over all dense INT8 constant tensors; 0.0 if there are none.

    Raises:
        ValueError: If ``content`` is not a TFLite flatbuffer.
    """
    if not is_tflite(content):
        raise ValueError("content is not a TFLite flatbuffer (no 'TFL3' file identifier).")
    model = schema.Model.GetRootAs(content, 0)
    zeros = total = 0
    seen: set[int] = set()
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            index = tensor.Buffer()
            if tensor.Type() != _T.INT8 or tensor.Sparsity() is not None or index in seen:
                continue
            if not _is_constant(model, tensor) or model.Buffers(index).DataLength() == 0:
                continue
            seen.add(index)
            values = model.Buffers(index).DataAsNumpy().view(np.int8)
            zeros += int(np.count_nonzero(values == 0))
            total += int(values.size)
    return zeros / total if total else 0.0
