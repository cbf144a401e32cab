"""Read a .tflite flatbuffer: its operators, tensors and constant (weight) buffers.

Used by :mod:`tf_green.bench.flops` and :mod:`tf_green.bench.size` to count MACs per operator
and parameters from the artifact itself, so a quantized or sparse variant is measured as it is
stored, not as the Keras model it came from. Shapes of non-constant tensors are taken from a
LiteRT interpreter (no delegates) resized to the real sample shape, because the flatbuffer
stores 1 for dynamic dimensions.

Example:
    >>> graph = parse_tflite(model_bytes)  # doctest: +SKIP
    >>> [op.name for op in graph.ops]  # doctest: +SKIP
    ['CONV_2D', 'MAX_POOL_2D', 'CONV_2D', 'RESHAPE', 'FULLY_CONNECTED']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["OpInfo", "TFLiteGraph", "TensorInfo", "parse_tflite"]

# TensorType name -> numpy dtype of one stored element (None: packed or non-numeric).
_DTYPES: dict[str, Any] = {
    "FLOAT32": np.float32,
    "FLOAT16": np.float16,
    "FLOAT64": np.float64,
    "INT8": np.int8,
    "UINT8": np.uint8,
    "INT16": np.int16,
    "UINT16": np.uint16,
    "INT32": np.int32,
    "UINT32": np.uint32,
    "INT64": np.int64,
    "UINT64": np.uint64,
    "BOOL": np.bool_,
}
# Stored types whose constants are weights (not shapes, indices or flags).
WEIGHT_TYPES = frozenset({"FLOAT32", "FLOAT16", "INT8", "UINT8", "INT16", "INT4"})


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of subgraph 0.

    Attributes:
        index: Tensor index in the subgraph (the interpreter uses the same indices).
        name: Tensor name.
        dtype: TFLite type name, e.g. "FLOAT32", "INT8".
        shape: Shape with dynamic dimensions resolved for the profiled sample shape.
        values: The stored elements of a constant tensor (compressed values if sparse),
            else None.
        sparse: True if the tensor carries TFLite sparsity metadata (stored compressed).

    Example:
        >>> TensorInfo(0, "w", "INT8", (2, 3), np.zeros(6, np.int8), False).elements
        6
    """

    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    values: np.ndarray | None
    sparse: bool

    @property
    def constant(self) -> bool:
        """True if the tensor's data is stored in the model (a weight or other constant)."""
        return self.values is not None

    @property
    def elements(self) -> int:
        """Number of elements of the dense tensor."""
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


@dataclass(frozen=True)
class OpInfo:
    """One operator of subgraph 0.

    Attributes:
        name: Builtin operator name, e.g. "FULLY_CONNECTED" (custom ops: "CUSTOM:<code>").
        inputs: Input tensor indices (-1 for an omitted optional input).
        outputs: Output tensor indices.
        options: The operator's builtin options object, or None.

    Example:
        >>> OpInfo("FULLY_CONNECTED", (0, 1, -1), (2,), None).name
        'FULLY_CONNECTED'
    """

    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Any


@dataclass(frozen=True)
class TFLiteGraph:
    """Subgraph 0 of a .tflite model.

    Attributes:
        tensors: All tensors, by index.
        ops: Operators in execution order.
        inputs: Model input tensor indices.
        outputs: Model output tensor indices.

    Example:
        >>> TFLiteGraph(tensors=(), ops=(), inputs=(), outputs=()).tensor(-1) is None
        True
    """

    tensors: tuple[TensorInfo, ...]
    ops: tuple[OpInfo, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def tensor(self, index: int) -> TensorInfo | None:
        """The tensor at ``index``, or None for an omitted input (-1)."""
        return self.tensors[index] if index >= 0 else None

    def producer(self, index: int) -> OpInfo | None:
        """The operator that outputs tensor ``index``, or None for inputs and constants."""
        for op in self.ops:
            if index in op.outputs:
                return op
        return None

    def source_constant(self, index: int) -> TensorInfo | None:
        """The constant behind tensor ``index``, looking through DEQUANTIZE/DENSIFY ops."""
        tensor = self.tensor(index)
        if tensor is None or tensor.constant:
            return tensor
        op = self.producer(index)
        if op is not None and op.name in ("DEQUANTIZE", "DENSIFY") and op.inputs:
            source = self.tensor(op.inputs[0])
            if source is not None and source.constant:
                return source
        return None


def _names(enum_cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def _buffer_bytes(model_bytes: bytes, buffer: Any) -> bytes | None:
    if buffer is None:
        return None
    if buffer.data is not None and len(buffer.data):
        return np.asarray(buffer.data, dtype=np.uint8).tobytes()
    if buffer.offset > 1 and buffer.size:  # models > 2 GB keep buffers after the flatbuffer
        return model_bytes[buffer.offset : buffer.offset + buffer.size]
    return None


def _values(raw: bytes | None, dtype: str) -> np.ndarray | None:
    if raw is None:
        return None
    if dtype == "INT4":  # two signed 4-bit values per byte, low nibble first
        packed = np.frombuffer(raw, dtype=np.uint8)
        nibbles = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(-1).astype(np.int8)
        return np.where(nibbles > 7, nibbles - 16, nibbles).astype(np.int8)
    numpy_dtype = _DTYPES.get(dtype)
    if numpy_dtype is None:
        return np.frombuffer(raw, dtype=np.uint8)
    return np.frombuffer(raw, dtype=numpy_dtype)


def _runtime_shapes(model_bytes: bytes, sample_shape: Sequence[int] | None) -> dict[int, tuple]:
    """Tensor shapes after running a zero sample ``(1, *sample_shape)`` in a plain interpreter."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_content=model_bytes,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    if sample_shape is not None:
        detail = interpreter.get_input_details()[0]
        wanted = [1, *[int(d) for d in sample_shape]]
        if list(detail["shape"]) != wanted:
            interpreter.resize_tensor_input(detail["index"], wanted)
    interpreter.allocate_tensors()
    # Dynamic tensors (shapes computed by SHAPE ops) only get their shapes when the graph runs.
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()
    shapes: dict[int, tuple] = {}
    for detail in interpreter.get_tensor_details():
        shapes[int(detail["index"])] = tuple(int(d) for d in detail["shape"])
    return shapes


def parse_tflite(model_bytes: bytes, sample_shape: Sequence[int] | None = None) -> TFLiteGraph:
    """Parse subgraph 0 of a .tflite model.

    Args:
        model_bytes: The flatbuffer.
        sample_shape: Shape of one input sample (without the batch axis); dynamic dimensions
            of every tensor are resolved for a batch of one such sample. None keeps the stored
            shapes.

    Returns:
        The graph.

    Raises:
        ValueError: If the bytes are not a TFLite model.

    Example:
        >>> parse_tflite(b"not a model")  # doctest: +SKIP
        Traceback (most recent call last):
        ValueError: ...
    """
    from ai_edge_litert import schema_py_generated as schema

    if len(model_bytes) < 8 or model_bytes[4:8] != b"TFL3":
        raise ValueError("the bytes are not a TFLite flatbuffer (no 'TFL3' identifier).")
    model = schema.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    subgraph = model.subgraphs[0]
    type_names = _names(schema.TensorType)
    op_names = _names(schema.BuiltinOperator)
    shapes = _runtime_shapes(model_bytes, sample_shape)
    tensors = []
    for index, t in enumerate(subgraph.tensors):
        dtype = type_names.get(t.type, str(t.type))
        buffers = model.buffers or []
        buffer = buffers[t.buffer] if t.buffer < len(buffers) else None
        stored = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        tensors.append(
            TensorInfo(
                index=index,
                name=name,
                dtype=dtype,
                shape=shapes.get(index, stored),
                values=_values(_buffer_bytes(model_bytes, buffer), dtype),
                sparse=t.sparsity is not None,
            )
        )
    ops = []
    for op in subgraph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        name = op_names.get(builtin, str(builtin))
        if name == "CUSTOM":
            custom = code.customCode
            name = "CUSTOM:" + (custom.decode() if isinstance(custom, bytes) else str(custom))
        ops.append(
            OpInfo(
                name=name,
                inputs=tuple(int(i) for i in (op.inputs if op.inputs is not None else ())),
                outputs=tuple(int(i) for i in (op.outputs if op.outputs is not None else ())),
                options=op.builtinOptions,
            )
        )
    return TFLiteGraph(
        tensors=tuple(tensors),
        ops=tuple(ops),
        inputs=tuple(int(i) for i in subgraph.inputs),
        outputs=tuple(int(i) for i in subgraph.outputs),
    )
