"""Float tables the ``"int4"`` export can shrink: embedding ``GATHER``s and added constants.

ai-edge-quantizer 0.10 gives INT4 weights to ``FULLY_CONNECTED`` and ``EMBEDDING_LOOKUP``
only. A Keras ``Embedding`` converts to ``GATHER`` (table, ids), and a learned position
table or a constant-folded causal mask is a float constant added to activations
(``ADD(x, table)``): in a small transformer those stay float32 and outweigh its INT4
kernels. :func:`as_embedding_lookups` rewrites both, exactly, into ``EMBEDDING_LOOKUP`` of
the same table before the quantizer runs:

* ``GATHER(table, ids)`` (a constant float32 rank-2 table, axis 0, int32 ids) becomes
  ``RESHAPE(ids, [-1])`` -> ``EMBEDDING_LOOKUP`` -> ``RESHAPE`` back to the gather's shape
  (``EMBEDDING_LOOKUP`` reads 1-D ids). Ids with more than one unknown dimension keep the
  ``GATHER``.
* ``ADD(x, table)`` with a constant float32 ``table`` of :data:`MIN_TABLE_ELEMENTS` or more
  values whose leading axes (all but the last two) are 1, becomes
  ``ADD(x, EMBEDDING_LOOKUP(arange(rows), table))``: the lookup returns the table itself
  (its leading 1-axes dropped, which broadcasting ignores).

The rewritten float model computes the same numbers (lookups copy values); the quantizer
then stores each table with one scale per row (int8, or INT4 where exact: see
:func:`tf_green.quantization._ai_edge.int4_recipe`). Each lookup runs on LiteRT's builtin
kernel (XNNPACK has none); lookups of constant tables are moved to the front of the graph,
so the XNNPACK delegate still gets the rest in one piece. They cost a little latency (about
+9% per token on the SLM benchmark's 70k-parameter student, measured on a shared 2-core
machine): a size-for-latency trade.

:func:`compact_names` then shortens internal tensor names (the INT4 file's second largest
overhead after its tables).

Example:
    >>> from tf_green import models
    >>> from tf_green.quantization import to_tflite
    >>> lm = models.with_fixed_length(models.tiny_lm(20, 8, 1, 2, seq_len=8), 8)
    >>> rewritten = as_embedding_lookups(to_tflite(lm))
    >>> rewritten[4:8]
    b'TFL3'
"""

from __future__ import annotations

from typing import Any

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

__all__ = ["MIN_TABLE_ELEMENTS", "as_embedding_lookups", "compact_names"]

MIN_TABLE_ELEMENTS = 1024

_OPS = schema.BuiltinOperator
_T = schema.TensorType


def _builtin(model: schema.ModelT, op: schema.OperatorT) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _opcode(model: schema.ModelT, builtin: int) -> int:
    """Index of ``builtin``'s operator code, added if the model has none."""
    for index, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return index
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, _OPS.PLACEHOLDER_FOR_GREATER_OP_CODES)
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _constant(model: schema.ModelT, tensor: schema.TensorT) -> np.ndarray | None:
    """The values of a constant float32 tensor, else None."""
    if tensor.type != _T.FLOAT32 or (
        tensor.quantization is not None
        and (tensor.quantization.scale is not None and len(tensor.quantization.scale))
    ):
        return None
    buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
    if buffer is None or buffer.data is None or len(buffer.data) == 0:
        return None
    shape = tuple(int(d) for d in tensor.shape) if tensor.shape is not None else ()
    values = np.frombuffer(np.asarray(buffer.data, np.uint8).tobytes(), np.float32)
    return values.reshape(shape) if values.size == int(np.prod(shape)) else None


class _Graph:
    """Adds tensors, constants and operators to one subgraph of a ``ModelT``."""

    def __init__(self, model: schema.ModelT, graph: schema.SubGraphT) -> None:
        self.model, self.graph = model, graph
        self.lookups: dict[int, int] = {}  # table tensor -> its lookup's output

    def only_added(self, index: int) -> bool:
        """Whether every operator reading tensor ``index`` is an ``ADD``."""
        readers = [op for op in self.graph.operators if index in [int(i) for i in op.inputs]]
        return all(_builtin(self.model, op) == _OPS.ADD for op in readers)

    def tensor(self, name: bytes, dtype: int, shape: list[int], signature: list[int]) -> int:
        tensor = schema.TensorT()
        tensor.name, tensor.type = name, dtype
        tensor.shape = np.asarray(shape, np.int32)
        if any(d < 0 for d in signature):
            tensor.shapeSignature = np.asarray(signature, np.int32)
        buffer = schema.BufferT()
        self.model.buffers.append(buffer)
        tensor.buffer = len(self.model.buffers) - 1
        self.graph.tensors.append(tensor)
        return len(self.graph.tensors) - 1

    def int32_constant(self, name: bytes, values: list[int]) -> int:
        index = self.tensor(name, _T.INT32, [len(values)], [len(values)])
        data = np.asarray(values, "<i4").tobytes()
        self.model.buffers[self.graph.tensors[index].buffer].data = np.frombuffer(data, np.uint8)
        return index

    def op(self, builtin: int, inputs: list[int], outputs: list[int]) -> schema.OperatorT:
        op = schema.OperatorT()
        op.opcodeIndex = _opcode(self.model, builtin)
        op.inputs = np.asarray(inputs, np.int32)
        op.outputs = np.asarray(outputs, np.int32)
        return op


def _signature(tensor: schema.TensorT) -> list[int]:
    if tensor.shapeSignature is not None and len(tensor.shapeSignature):
        return [int(d) for d in tensor.shapeSignature]
    return [int(d) for d in tensor.shape]


def _gather(g: _Graph, op: schema.OperatorT) -> list[schema.OperatorT] | None:
    """``GATHER(table, ids)`` as reshape -> ``EMBEDDING_LOOKUP`` -> reshape, or None."""
    options = op.builtinOptions
    if options is not None and (options.axis != 0 or options.batchDims != 0):
        return None
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        return None
    table_t, ids_t = (g.graph.tensors[i] for i in op.inputs)
    table = _constant(g.model, table_t)
    ids_signature = _signature(ids_t)
    if table is None or table.ndim != 2 or ids_t.type != _T.INT32:
        return None
    if sum(d < 0 for d in ids_signature) > 1 or len(ids_signature) < 1:
        return None
    out = g.graph.tensors[op.outputs[0]]
    name = out.name or b"embedding"
    width = int(table.shape[1])
    count = int(np.prod([int(d) for d in ids_t.shape]))
    flat_signature = [-1 if any(d < 0 for d in ids_signature) else count]
    flat = g.tensor(name + b"/ids", _T.INT32, [count], flat_signature)
    rows = g.tensor(name + b"/lookup", _T.FLOAT32, [count, width], [*flat_signature, width])
    to_flat = g.int32_constant(name + b"/ids_shape", [-1])
    back = g.int32_constant(name + b"/shape", [*ids_signature, width])
    return [
        g.op(_OPS.RESHAPE, [op.inputs[1], to_flat], [flat]),
        g.op(_OPS.EMBEDDING_LOOKUP, [flat, op.inputs[0]], [rows]),
        g.op(_OPS.RESHAPE, [rows, back], [op.outputs[0]]),
    ]


def _added_table(g: _Graph, op: schema.OperatorT) -> list[schema.OperatorT] | None:
    """``ADD(x, table)`` as ``ADD(x, EMBEDDING_LOOKUP(arange(rows), table))``, or None."""
    if len(op.inputs) != 2:
        return None
    tensors = [g.graph.tensors[i] for i in op.inputs]
    values = [_constant(g.model, t) for t in tensors]
    if sum(v is not None for v in values) != 1:
        return None
    slot = 0 if values[0] is not None else 1
    table = values[slot]
    if table.ndim < 2 or table.size < MIN_TABLE_ELEMENTS or any(d != 1 for d in table.shape[:-2]):
        return None
    rows, width = (int(d) for d in table.shape[-2:])
    table_index = int(op.inputs[slot])
    table_t = tensors[slot]
    if not g.only_added(table_index):
        return None
    inputs = [int(i) for i in op.inputs]
    new = []
    if table_index not in g.lookups:  # one lookup per table, read by every ADD of it
        name = table_t.name or b"table"
        if table.ndim != 2:  # the same bytes, stored as (rows, width); only ADDs read it
            table_t.shape = np.asarray([rows, width], np.int32)
            table_t.shapeSignature = None
        ids = g.int32_constant(name + b"/rows", list(range(rows)))
        looked_up = g.tensor(name + b"/lookup", _T.FLOAT32, [rows, width], [rows, width])
        new.append(g.op(_OPS.EMBEDDING_LOOKUP, [ids, table_index], [looked_up]))
        g.lookups[table_index] = looked_up
    inputs[slot] = g.lookups[table_index]
    op.inputs = np.asarray(inputs, np.int32)
    return [*new, op]


def _reads_constants_only(model: schema.ModelT, graph: schema.SubGraphT, op: Any) -> bool:
    if _builtin(model, op) != _OPS.EMBEDDING_LOOKUP:
        return False
    for index in op.inputs:
        buffer = model.buffers[graph.tensors[int(index)].buffer]
        if buffer.data is None or len(buffer.data) == 0:
            return False
    return True


def as_embedding_lookups(content: bytes) -> bytes:
    """Rewrite embedding ``GATHER``s and added float tables into ``EMBEDDING_LOOKUP``s.

    See the module docstring for the two patterns. A table shared by several ops (a mask
    added in every attention block) is looked up once per op, and stored once.

    Args:
        content: A float ``.tflite`` flatbuffer.

    Returns:
        The rewritten flatbuffer (``content`` itself when nothing matched).

    Example:
        >>> from tf_green import models
        >>> from tf_green.quantization import to_tflite
        >>> content = to_tflite(models.mlp())
        >>> as_embedding_lookups(content) == content  # no table in an MLP
        True
    """
    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    changed = False
    for graph in model.subgraphs:
        g = _Graph(model, graph)
        operators = []
        for op in graph.operators:
            builtin = _builtin(model, op)
            new = None
            if builtin == _OPS.GATHER:
                new = _gather(g, op)
            elif builtin == _OPS.ADD:
                new = _added_table(g, op)
            operators.extend(new or [op])
            changed |= new is not None
        # lookups of constant tables first: they read constants only, and the XNNPACK
        # delegate (which has no EMBEDDING_LOOKUP) then gets the rest in one piece
        first = [op for op in operators if _reads_constants_only(model, graph, op)]
        graph.operators = first + [op for op in operators if all(op is not f for f in first)]
    if not changed:
        return content
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _model_prefix(names: list[bytes]) -> bytes:
    """The longest ``/``-ended prefix shared by at least half of ``names`` (the model path)."""
    counts: dict[bytes, int] = {}
    for name in names:
        parts = name.split(b";")[0].split(b"/")[:-1]
        for end in range(1, len(parts) + 1):
            prefix = b"/".join(parts[:end]) + b"/"
            counts[prefix] = counts.get(prefix, 0) + 1
    shared = [p for p, n in counts.items() if 2 * n >= len(names)]
    return max(shared, key=len, default=b"")


def compact_names(content: bytes) -> bytes:
    """Shorten internal tensor names: the first of ``;``-fused names, model prefix dropped.

    TFLite keeps TensorFlow's debug names (``student_fixed64/student/block0_ff1/...;...``,
    11 KB in a 70k-parameter LM). Tensors the interpreter exposes (subgraph inputs and
    outputs, so every signature's) keep their names; others keep their layer path
    (``block0_ff1/Tensordot/MatMul``), which :func:`~tf_green.quantization.precision_report`
    shows. A name that would collide with another stays as it was.

    Args:
        content: A ``.tflite`` flatbuffer.

    Returns:
        The flatbuffer with shorter names (``content`` itself when none got shorter).

    Example:
        >>> from tf_green import models
        >>> from tf_green.quantization import to_tflite
        >>> content = to_tflite(models.mlp())
        >>> len(compact_names(content)) <= len(content)
        True
    """
    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    changed = False
    for graph in model.subgraphs:
        kept = {int(i) for i in [*graph.inputs, *graph.outputs]}
        internal = [i for i in range(len(graph.tensors)) if i not in kept]
        prefix = _model_prefix([graph.tensors[i].name or b"" for i in internal])
        taken = {graph.tensors[i].name for i in range(len(graph.tensors))}
        for i in internal:
            tensor = graph.tensors[i]
            old = tensor.name or b""
            new = old.split(b";")[0]
            if prefix and new.startswith(prefix) and len(new) > len(prefix):
                new = new[len(prefix) :]
            if new == old or new in taken:
                continue
            taken.discard(old)
            taken.add(new)
            tensor.name = new
            changed = True
    if not changed:
        return content
    builder = flatbuffers.Builder(len(content))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
