"""The ai-edge-quantizer recipes of the ``"int4"`` and ``"int16x8"`` LiteRT exports.

:func:`int4_recipe` and :func:`int16x8_recipe` read the float flatbuffer and return the
per-op configs :mod:`tf_green.quantization._ai_edge` hands to ``ai-edge-quantizer``; the
module docstring there says what each mode does and why.

Example:
    >>> from tf_green import models
    >>> from tf_green.quantization import to_tflite
    >>> int4_recipe(to_tflite(models.mlp()))[0]["op_config"]["weight_tensor_config"]["num_bits"]
    4
"""

from __future__ import annotations

import re

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_quantizer import recipe

from tf_green.quantization import _flatbuffer

__all__ = ["INT4_BLOCK_SIZE", "MASK_MAGNITUDE", "int4_recipe", "int16x8_recipe"]

INT4_BLOCK_SIZE = 32
MASK_MAGNITUDE = 1e4

_OPS = schema.BuiltinOperator
_MASK_OPS = frozenset({_OPS.ADD, _OPS.SUB})
_LAYOUT_OPS = frozenset(
    {_OPS.RESHAPE, _OPS.TRANSPOSE, _OPS.SQUEEZE, _OPS.EXPAND_DIMS, _OPS.BROADCAST_TO}
)
_BLOCKWISE_OPS = {
    _OPS.FULLY_CONNECTED: "FULLY_CONNECTED",
    _OPS.EMBEDDING_LOOKUP: "EMBEDDING_LOOKUP",
}


def _int4_config(regex: str, operation: str, granularity: str, bits: int = 4) -> dict:
    return {
        "regex": regex,
        "operation": operation,
        "algorithm_key": "min_max_uniform_quantize",
        "op_config": {
            "weight_tensor_config": {
                "num_bits": bits,
                "symmetric": True,
                "granularity": granularity,
                "dtype": "INT",
            },
            "compute_precision": "INTEGER",
            "explicit_dequantize": False,
        },
    }


def _int4_exact(model: schema.Model, tensor: schema.Tensor) -> bool:
    """Whether symmetric per-row INT4 stores this float table exactly (a 0/-1e9 mask does)."""
    if tensor.Type() != schema.TensorType.FLOAT32 or tensor.ShapeLength() != 2:
        return False
    buffer = model.Buffers(tensor.Buffer())
    if buffer.DataLength() == 0:
        return False
    rows = buffer.DataAsNumpy().view(np.float32).reshape(tensor.ShapeAsNumpy()).astype(np.float64)
    peak = np.abs(rows).max(axis=1, keepdims=True)
    scale = np.where(peak > 0, peak / 7.0, 1.0)
    error = np.abs(np.round(rows / scale) * scale - rows)
    return bool(np.all(error <= 1e-6 * np.maximum(peak, 1e-30)))


def int4_recipe(float_content: bytes) -> list[dict]:
    """The ``"int4"`` recipe for one float flatbuffer: INT4 kernels, int8 lookup tables.

    ``dynamic_wi4b32_afp32`` for every op; a fully connected op whose weight's last (input)
    axis is not a multiple of :data:`INT4_BLOCK_SIZE`, and every Conv2D, get one INT4 scale
    per output channel instead (the quantizer refuses such blocks). ``EMBEDDING_LOOKUP``
    tables get one scale per row, in int8, or in INT4 where INT4 stores the table exactly
    (a constant attention mask: 0 and -1e9 per row): a looked-up row goes into the
    activations as it is, with no dot product to average its rounding error out: on a
    pruned 70k-parameter character LM (the SLM benchmark's student shape), INT4 token and
    position tables raised the INT4 file's perplexity by 2.1% (4.406 -> 4.500), int8 ones
    by 0.0%, for 4 KB. A blockwise-32 INT4 lookup table (ai-edge-quantizer 0.10,
    LiteRT 2.3) looked up NaN, so none is blockwise.

    Args:
        float_content: The float ``.tflite`` bytes.

    Returns:
        An ``ai-edge-quantizer`` recipe (a list of config dicts).

    Example:
        >>> from tf_green import models
        >>> from tf_green.quantization import to_tflite
        >>> [c["op_config"]["weight_tensor_config"]["granularity"]
        ...  for c in int4_recipe(to_tflite(models.mlp()))][:2]
        ['BLOCKWISE_32', 'CHANNELWISE']
    """
    configs = [_int4_config(".*", "*", f"BLOCKWISE_{INT4_BLOCK_SIZE}")]
    configs.append(_int4_config(".*", "CONV_2D", "CHANNELWISE"))
    configs.append(_int4_config(".*", "EMBEDDING_LOOKUP", "CHANNELWISE", bits=8))
    model = schema.Model.GetRootAs(float_content, 0)
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            code = model.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            if builtin not in _BLOCKWISE_OPS or op.InputsLength() < 2 or op.OutputsLength() < 1:
                continue
            weight = graph.Tensors(op.Inputs(1))  # FC (input, weight), lookup (ids, table)
            name = _flatbuffer._tensor_name(graph.Tensors(op.Outputs(0)))
            scope = "^" + re.escape(name) + ";"
            if builtin == _OPS.EMBEDDING_LOOKUP:
                if _int4_exact(model, weight):
                    configs.append(_int4_config(scope, "EMBEDDING_LOOKUP", "CHANNELWISE"))
                continue
            shape = weight.ShapeAsNumpy() if weight.ShapeLength() else np.zeros(0)
            if len(shape) and shape[-1] % INT4_BLOCK_SIZE == 0:
                continue
            configs.append(_int4_config(scope, _BLOCKWISE_OPS[builtin], "CHANNELWISE"))
    return configs


def int16x8_recipe(float_content: bytes) -> list[dict]:
    """The ``"int16x8"`` recipe: ``static_wi8_ai16``, float model inputs/outputs, mask islands.

    An additive attention mask (a float constant of magnitude >= :data:`MASK_MAGNITUDE`,
    such as Keras's -1e9 causal mask) would set the 16-bit scale of the masked scores: every
    real score would round to 0 and attention would turn uniform. The op adding such a
    constant, the reshapes/transposes carrying its result, and the op reading it (the
    softmax) stay float.

    Args:
        float_content: The float ``.tflite`` bytes.

    Returns:
        An ``ai-edge-quantizer`` recipe (a list of config dicts).

    Example:
        >>> from tf_green import models
        >>> from tf_green.quantization import to_tflite
        >>> last = int16x8_recipe(to_tflite(models.mlp()))[-1]
        >>> last["operation"], last["algorithm_key"]
        ('OUTPUT', 'no_quantize')
    """
    configs = list(recipe.static_wi8_ai16())
    for boundary in ("INPUT", "OUTPUT"):
        configs.append({"regex": ".*", "operation": boundary, "algorithm_key": "no_quantize"})
    for name in _mask_islands(float_content):
        scope = "^" + re.escape(name) + ";"
        configs.append({"regex": scope, "operation": "*", "algorithm_key": "no_quantize"})
    return configs


def _mask_islands(content: bytes) -> list[str]:
    """Output names of ops adding a huge float constant, and of the ops reading their result."""
    model = schema.Model.GetRootAs(content, 0)
    names: list[str] = []
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        masked: set[int] = set()
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            inputs = [op.Inputs(i) for i in range(op.InputsLength())]
            code = model.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            is_mask = builtin in _MASK_OPS and any(_huge(model, graph, i) for i in inputs)
            if (is_mask or masked.intersection(inputs)) and op.OutputsLength():
                names.append(_flatbuffer._tensor_name(graph.Tensors(op.Outputs(0))))
                if is_mask or builtin in _LAYOUT_OPS:  # the huge values flow on
                    masked.update(op.Outputs(i) for i in range(op.OutputsLength()))
    return names


def _huge(model: schema.Model, graph: schema.SubGraph, index: int) -> bool:
    if index < 0:
        return False
    tensor = graph.Tensors(index)
    if tensor.Type() != schema.TensorType.FLOAT32:
        return False
    buffer = model.Buffers(tensor.Buffer())
    if buffer.DataLength() == 0:
        return False
    values = buffer.DataAsNumpy().view(np.float32)
    return bool(values.size) and float(np.abs(values).max()) >= MASK_MAGNITUDE
