"""Count multiply-accumulates (MACs) per sample, by arithmetic precision.

* Keras models on TensorFlow (tf_keras, and Keras 3 on the TensorFlow backend): counted **from
  the graph**: the model is traced with ``tf.function`` for one sample and every MatMul,
  BatchMatMul, Conv2D/3D, DepthwiseConv2dNative, Conv2DBackpropInput (transposed convolution)
  and Einsum op is counted from its static shapes.
  Everything else (bias adds, activations, pooling, normalization, softmax) is not counted.
* Keras 3 models on the JAX backend: counted from the jaxpr with the same convention
  (:mod:`tf_green.bench.keras3.jax_engine`); the same architecture counts the same MACs on
  both engines and both backends.
* TFLite models: counted **per operator** from the flatbuffer: FULLY_CONNECTED, CONV_2D,
  CONV_3D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and BATCH_MATMUL, with shapes resolved for the
  real sample shape.

Precision: a Keras op counts in its input dtype (float32 -> "fp32", float16/bfloat16 ->
"fp16", 8-bit integers -> "int8", 16-bit -> "int16", wider -> "int32"). A TFLite op counts by
its activation input and its weight (the second operand of a BATCH_MATMUL):

* 16-bit integer activations with 16-bit operands -> ``"int16"``; with int8 or INT4 weights
  -> ``"int16x8"`` (the ``"int16x8"`` export: 16-bit activations x 8-bit weights);
* INT4 weights (with float, int8 or no 16-bit activations) -> ``"int4"``: dynamic-range INT4
  kernels quantize the float activations to int8 and multiply them with the unpacked INT4
  weights in int8 arithmetic;
* other 8-bit integer inputs or weights -> ``"int8"`` (full-integer and dynamic-range
  kernels multiply int8 values); wider integers -> ``"int32"``;
* else ``"fp32"`` (float16 weights are dequantized to float32 before the multiply).

:mod:`tf_green.bench.analytic` prices each label separately.

Sparsity: zero weights are counted as **skipped only where the runtime skips them**: TFLite
FULLY_CONNECTED ops whose weight tensor is stored in TFLite's sparse format run the builtin
sparse kernel (XNNPACK leaves such ops to it). TensorFlow's dense kernels, XNNPACK and every other
TFLite kernel multiply zeros like any other value, so a pruned Keras model or a pruned but
densely stored .tflite counts all its MACs.

``flops_per_sample = 2 x executed MACs``.

Example:
    >>> from tf_green import models
    >>> keras_macs(models.mlp(hidden=(16,), input_dim=8, num_classes=4), (8,)).macs
    192
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from tf_green.bench._tflite_graph import TFLiteGraph, parse_tflite

__all__ = ["PRECISIONS", "MacCount", "graph_macs", "keras_macs", "tflite_macs", "tflite_precision"]

PRECISIONS = ("fp32", "fp16", "int8", "int4", "int16x8", "int16", "int32")
# Always in ``MacCount.by_precision()``; the others only when the model has such MACs.
BASE_PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class MacCount:
    """MACs of one inference on one sample.

    Attributes:
        macs_fp32: Executed float32 MACs.
        macs_fp16: Executed float16/bfloat16 MACs.
        macs_int8: Executed int8 MACs (8-bit integer operands).
        macs_skipped: MACs with a zero weight that the runtime really skips (sparse kernels).
        method: How the MACs were counted.
        uncounted_ops: Ops that would have MACs but whose shapes were unknown (not counted).
        macs_int4: Executed MACs of INT4 weights (with int8-quantized activations).
        macs_int16x8: Executed MACs of 16-bit activations with 8-bit (or 4-bit) weights.
        macs_int16: Executed MACs of two 16-bit integer operands.
        macs_int32: Executed MACs of wider (32/64-bit) integer operands.

    Example:
        >>> MacCount(10, 0, 5, 0, "per op").flops_per_sample
        30
    """

    macs_fp32: int
    macs_fp16: int
    macs_int8: int
    macs_skipped: int
    method: str
    uncounted_ops: tuple[str, ...] = field(default=())
    macs_int4: int = 0
    macs_int16x8: int = 0
    macs_int16: int = 0
    macs_int32: int = 0

    @property
    def macs(self) -> int:
        """Executed MACs of all precisions."""
        return sum(getattr(self, f"macs_{p}") for p in PRECISIONS)

    @property
    def flops_per_sample(self) -> int:
        """2 x executed MACs (one multiply and one add each)."""
        return 2 * self.macs

    def by_precision(self) -> dict[str, int]:
        """Executed MACs keyed by precision: "fp32", "fp16", "int8", and any other with MACs.

        ``"int4"``, ``"int16x8"``, ``"int16"`` and ``"int32"`` appear only when non-zero.
        """
        counts = {p: getattr(self, f"macs_{p}") for p in PRECISIONS}
        return {p: n for p, n in counts.items() if n or p in BASE_PRECISIONS}

    @classmethod
    def from_totals(
        cls, totals: dict[str, int], skipped: int, method: str, uncounted: Sequence[str] = ()
    ) -> MacCount:
        """Build a count from MACs keyed by precision (missing precisions count 0).

        Example:
            >>> MacCount.from_totals({"int16x8": 5}, 0, "per op").by_precision()["int16x8"]
            5
        """
        unknown = set(totals) - set(PRECISIONS)
        if unknown:
            raise ValueError(f"unknown precisions {sorted(unknown)}; known: {PRECISIONS}.")
        values = {f"macs_{p}": int(totals.get(p, 0)) for p in PRECISIONS}
        return cls(macs_skipped=skipped, method=method, uncounted_ops=tuple(uncounted), **values)


def _prod(values: Sequence[int | None]) -> int | None:
    total = 1
    for v in values:
        if v is None:
            return None
        total *= int(v)
    return total


def _shape(tensor: tf.Tensor) -> list[int | None] | None:
    shape = tensor.shape
    return None if shape.rank is None else list(shape.as_list())


def _einsum_macs(op: tf.Operation) -> int | None:
    equation = op.get_attr("equation").decode()
    inputs = equation.split("->")[0].split(",")
    if "." in equation or len(inputs) != len(op.inputs):
        return None
    sizes: dict[str, int] = {}
    for labels, tensor in zip(inputs, op.inputs, strict=True):
        shape = _shape(tensor)
        if shape is None or len(shape) != len(labels):
            return None
        for label, size in zip(labels, shape, strict=True):
            if size is None:
                return None
            sizes[label] = max(sizes.get(label, 1), int(size))
    return _prod(list(sizes.values()))


def _graph_op_macs(op: tf.Operation) -> int | None:
    """MACs of one TF op; 0 for ops without multiply-accumulates, None if shapes are unknown."""
    kind = op.type
    if kind == "MatMul":
        a, out = _shape(op.inputs[0]), _shape(op.outputs[0])
        if a is None or out is None:
            return None
        k = a[0] if op.get_attr("transpose_a") else a[1]
        return _prod([*out, k])
    if kind in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"):
        a, out = _shape(op.inputs[0]), _shape(op.outputs[0])
        if a is None or out is None:
            return None
        k = a[-2] if op.get_attr("adj_x") else a[-1]
        return _prod([*out, k])
    if kind == "Conv2DBackpropInput":  # transposed conv: each input pixel x kh x kw x c_out
        kernel, grad = _shape(op.inputs[1]), _shape(op.inputs[2])
        if grad is None or kernel is None:
            return None
        return _prod([*grad, *kernel[:-1]])
    if kind in ("Conv2D", "Conv3D", "DepthwiseConv2dNative"):
        kernel, out = _shape(op.inputs[1]), _shape(op.outputs[0])
        if kernel is None or out is None:
            return None
        per_output = kernel[:-2] if kind == "DepthwiseConv2dNative" else kernel[:-1]
        return _prod([*out, *per_output])
    if kind == "Einsum":
        return _einsum_macs(op)
    return 0


# The activation input of each MAC op (Conv2DBackpropInput's first input is the output shape).
_ACTIVATION_INPUT = {"Conv2DBackpropInput": 2}


def _keras_precision(op: tf.Operation) -> str:
    index = _ACTIVATION_INPUT.get(op.type, 0)
    dtype = op.inputs[index].dtype if len(op.inputs) > index else tf.float32
    if dtype in (tf.float16, tf.bfloat16):
        return "fp16"
    if dtype.is_integer or dtype.is_quantized:
        bits = 8 * dtype.size
        return "int8" if bits <= 8 else "int16" if bits == 16 else "int32"
    return "fp32"


def keras_macs(
    model: Any,
    sample_shape: Sequence[int],
    dtype: str | None = None,
    signature: object = None,
) -> MacCount:
    """Count a Keras model's MACs for one sample, from its traced graph.

    Args:
        model: A tf_keras model, or a Keras 3 model on the TensorFlow backend.
        sample_shape: Shape of one input sample, without the batch axis.
        dtype: Input dtype; defaults to the model input's dtype.
        signature: For several inputs, the ``tf.TensorSpec`` list (batch 1) to trace with
            instead of ``sample_shape``/``dtype``.

    Returns:
        The count (Keras kernels are dense: nothing is skipped).

    Example:
        >>> from tf_green import models
        >>> keras_macs(models.cnn(width=8), (8, 8, 1)).macs
        6400
    """
    if signature is None:
        signature = tf.TensorSpec((1, *sample_shape), dtype or model.inputs[0].dtype)
    function = tf.function(lambda x: model(x, training=False))
    graph = function.get_concrete_function(signature).graph
    totals = dict.fromkeys(PRECISIONS, 0)
    uncounted = []
    for op in graph.get_operations():
        macs = _graph_op_macs(op)
        if macs is None:
            uncounted.append(f"{op.type}:{op.name}")
        elif macs:
            totals[_keras_precision(op)] += macs
    return MacCount.from_totals(
        totals, 0, "from the graph (TF ops of a tf.function trace, batch 1)", uncounted
    )


_MAC_OPS = {
    # op name -> (index of the activation input, index of the weight input)
    "FULLY_CONNECTED": (0, 1),
    "CONV_2D": (0, 1),
    "CONV_3D": (0, 1),
    "DEPTHWISE_CONV_2D": (0, 1),
    "TRANSPOSE_CONV": (2, 1),
    "BATCH_MATMUL": (0, 1),
}


def _tflite_op_macs(graph: TFLiteGraph, op) -> int:
    x_index, w_index = _MAC_OPS[op.name]
    x = graph.tensor(op.inputs[x_index])
    w = graph.tensor(op.inputs[w_index])
    out = graph.tensor(op.outputs[0])
    if op.name == "FULLY_CONNECTED":
        return out.elements * w.shape[-1]
    if op.name in ("CONV_2D", "CONV_3D"):
        per_output = w.shape[1:] if op.name == "CONV_2D" else w.shape[:-1]
        return out.elements * int(np.prod(per_output))
    if op.name == "DEPTHWISE_CONV_2D":
        return out.elements * w.shape[1] * w.shape[2]
    if op.name == "TRANSPOSE_CONV":
        return x.elements * w.shape[0] * w.shape[1] * w.shape[2]
    adj_x = bool(getattr(op.options, "adjX", False))
    return out.elements * (x.shape[-2] if adj_x else x.shape[-1])


def tflite_macs(model_bytes: bytes, sample_shape: Sequence[int] | None = None) -> MacCount:
    """Count a .tflite model's MACs for one sample, per operator.

    Args:
        model_bytes: The flatbuffer.
        sample_shape: Shape of one input sample (without batch); resolves dynamic dimensions.

    Returns:
        The count; ``macs_skipped`` holds the zero-weight MACs of sparse FULLY_CONNECTED ops.

    Example:
        >>> tflite_macs(model_bytes, (8, 8, 1)).method  # doctest: +SKIP
        'per op (TFLite flatbuffer, batch 1)'
    """
    return graph_macs(parse_tflite(model_bytes, sample_shape))


def graph_macs(graph: TFLiteGraph) -> MacCount:
    """Count the MACs of a parsed TFLite graph (see :func:`tflite_macs`).

    Args:
        graph: The graph, shapes resolved.

    Returns:
        The count.

    Example:
        >>> from tf_green.bench._tflite_graph import TFLiteGraph
        >>> graph_macs(TFLiteGraph(tensors=(), ops=(), inputs=(), outputs=())).macs
        0
    """
    totals = dict.fromkeys(PRECISIONS, 0)
    skipped = 0
    for op in graph.ops:
        if op.name not in _MAC_OPS:
            continue
        macs = _tflite_op_macs(graph, op)
        x_index, w_index = _MAC_OPS[op.name]
        x = graph.tensor(op.inputs[x_index])
        w = graph.source_constant(op.inputs[w_index]) or graph.tensor(op.inputs[w_index])
        stored_sparse = graph.tensor(op.inputs[w_index])
        if op.name == "FULLY_CONNECTED" and stored_sparse.sparse and stored_sparse.constant:
            density = np.count_nonzero(stored_sparse.values) / max(stored_sparse.elements, 1)
            executed = round(macs * density)
            skipped += macs - executed
            macs = executed
        totals[tflite_precision(x.dtype, w.dtype)] += macs
    return MacCount.from_totals(totals, skipped, "per op (TFLite flatbuffer, batch 1)")


def tflite_precision(activation_dtype: str, weight_dtype: str) -> str:
    """The precision label of one TFLite MAC op, from its two operands' dtype names.

    Args:
        activation_dtype: The activation input's TFLite type name (``"FLOAT32"``, ``"INT16"``).
        weight_dtype: The weight's (or second operand's) type name (``"INT8"``, ``"INT4"``).

    Returns:
        One of :data:`PRECISIONS` (see the module docstring for the rules).

    Example:
        >>> tflite_precision("INT16", "INT8"), tflite_precision("FLOAT32", "INT4")
        ('int16x8', 'int4')
    """
    bits = {name: _integer_bits(name) for name in (activation_dtype, weight_dtype)}
    x_bits, w_bits = bits[activation_dtype], bits[weight_dtype]
    if x_bits is None and w_bits is None:
        return "fp32"
    widest = max(b for b in (x_bits, w_bits) if b is not None)
    if widest > 16:
        return "int32"
    if widest == 16:
        return "int16" if x_bits == w_bits == 16 else "int16x8"
    return "int4" if w_bits == 4 or x_bits == 4 else "int8"


def _integer_bits(dtype: str) -> int | None:
    """Bits of an integer TFLite type name (``"UINT8"`` -> 8), None for float types."""
    name = dtype.upper()
    if "INT" not in name:
        return None
    digits = "".join(c for c in name if c.isdigit())
    return int(digits) if digits else 32
