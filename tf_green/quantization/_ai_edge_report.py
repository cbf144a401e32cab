"""Per-layer precision report of any ``.tflite`` file, read from its flatbuffer.

:func:`precision_report` lists every operator with the bit widths of its weight and of its
output activation, so a mixed-precision export (``"int16x8"``: 8-bit weights, 16-bit
activations; ``"int4"``: 4-bit weights, float activations) can be checked layer by layer,
whatever made the file.

Example:
    >>> from tf_green import models
    >>> from tf_green.quantization import to_tflite
    >>> report = precision_report(to_tflite(models.mlp(), quantization="dynamic"))
    >>> report.loc[report.op == "FULLY_CONNECTED", "weight_bits"].tolist()  # last one small
    [8, 8, 32]
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import pandas as pd
from ai_edge_litert import schema_py_generated as schema

from tf_green.quantization import _flatbuffer

__all__ = ["COLUMNS", "blockwise_ops", "precision_report"]

COLUMNS = (
    "subgraph",
    "op",
    "tensor",
    "weight_dtype",
    "weight_bits",
    "weight_granularity",
    "activation_dtype",
    "activation_bits",
)

_T = schema.TensorType
_NAMES = {value: name.lower() for name, value in vars(_T).items() if not name.startswith("_")}
_BITS = {
    _T.FLOAT64: 64,
    _T.FLOAT32: 32,
    _T.FLOAT16: 16,
    _T.BFLOAT16: 16,
    _T.INT64: 64,
    _T.INT32: 32,
    _T.UINT32: 32,
    _T.INT16: 16,
    _T.UINT16: 16,
    _T.INT8: 8,
    _T.UINT8: 8,
    _T.INT4: 4,
    _T.UINT4: 4,
    _T.INT2: 2,
    _T.BOOL: 1,
}
# Integer constants of these types are shapes, axes, indices or integer-kernel biases.
_NOT_WEIGHTS = frozenset({_T.INT32, _T.INT64, _T.UINT32, _T.BOOL, _T.STRING})


def _read(model: Any) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview)):
        content = bytes(model)
    elif isinstance(model, (str, os.PathLike)):
        path = pathlib.Path(os.path.expanduser(os.fspath(model)))
        if not path.is_file():
            raise FileNotFoundError(f"`model` {str(path)!r} is not a file; pass a .tflite path.")
        content = path.read_bytes()
    else:
        raise TypeError(
            f"`model` must be .tflite bytes or a path to a .tflite file, got "
            f"{type(model).__name__}."
        )
    if not _flatbuffer.is_tflite(content):
        raise ValueError("`model` is not a TFLite flatbuffer (no 'TFL3' file identifier).")
    return content


def _granularity(tensor: schema.Tensor) -> str | None:
    params = tensor.Quantization()
    if params is None:
        return None
    if params.DetailsType() == schema.QuantizationDetails.BlockwiseQuantization:
        details = schema.BlockwiseQuantization()
        table = params.Details()
        details.Init(table.Bytes, table.Pos)
        return f"blockwise-{details.BlockSize()}"
    if params.ScaleLength() > 1:
        return "per-channel"
    if params.ScaleLength() == 1:
        return "per-tensor"
    return None


def _weight(model: schema.Model, graph: schema.SubGraph, op: schema.Operator) -> Any:
    """The op's largest constant float or quantized input (its weight), or None."""
    best, size = None, -1
    for i in range(op.InputsLength()):
        index = op.Inputs(i)
        if index < 0:
            continue
        tensor = graph.Tensors(index)
        if tensor.Type() in _NOT_WEIGHTS or not _flatbuffer._is_constant(model, tensor):
            continue
        elements = int(tensor.ShapeAsNumpy().prod()) if tensor.ShapeLength() else 1
        if elements > size:
            best, size = tensor, elements
    return best


def precision_report(model: Any) -> pd.DataFrame:
    """List each operator of a ``.tflite`` model with its weight and activation bit widths.

    Works on any TFLite flatbuffer (``to_tflite`` output or a file made by another tool):
    it reads the file, it does not run it.

    Columns: ``subgraph`` (index; LMs exported with several signatures have several),
    ``op`` (builtin name, or the custom op's name), ``tensor`` (name of its first output,
    which carries the Keras layer path), ``weight_dtype``/``weight_bits`` (its largest
    constant float or quantized input - kernel, embedding table, constant mask - or
    ``None``/``<NA>`` when it has none), ``weight_granularity`` (``"per-tensor"``,
    ``"per-channel"``, ``"blockwise-32"``..., or ``None`` for float weights) and
    ``activation_dtype``/``activation_bits`` (of its first output). QUANTIZE/DEQUANTIZE
    rows show where a model switches precision.

    Args:
        model: ``.tflite`` bytes, or a path to a ``.tflite`` file (``~`` is expanded).

    Returns:
        A ``pandas.DataFrame`` with one row per operator, in execution order.

    Raises:
        TypeError: If ``model`` is neither bytes nor a path.
        FileNotFoundError: If the path is not a file.
        ValueError: If the content is not a TFLite flatbuffer.

    Example:
        >>> import numpy as np
        >>> from tf_green import models
        >>> from tf_green.quantization import to_tflite
        >>> x = np.random.default_rng(0).random((20, 64), dtype=np.float32)
        >>> content = to_tflite(models.mlp(), quantization="int16x8", representative_data=x)
        >>> report = precision_report(content)
        >>> dense = report[report.op == "FULLY_CONNECTED"]
        >>> dense[["weight_bits", "activation_bits"]].drop_duplicates().values.tolist()
        [[8, 16]]
    """
    content = _read(model)
    flat = schema.Model.GetRootAs(content, 0)
    rows = []
    for s in range(flat.SubgraphsLength()):
        graph = flat.Subgraphs(s)
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            weight = _weight(flat, graph, op)
            output = graph.Tensors(op.Outputs(0)) if op.OutputsLength() else None
            rows.append(
                {
                    "subgraph": s,
                    "op": _flatbuffer._op_name(flat, op),
                    "tensor": _flatbuffer._tensor_name(output) if output is not None else "",
                    "weight_dtype": None if weight is None else _NAMES.get(weight.Type()),
                    "weight_bits": None if weight is None else _BITS.get(weight.Type()),
                    "weight_granularity": None if weight is None else _granularity(weight),
                    "activation_dtype": None if output is None else _NAMES.get(output.Type()),
                    "activation_bits": None if output is None else _BITS.get(output.Type()),
                }
            )
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype({"weight_bits": "Int64", "activation_bits": "Int64"})


def blockwise_ops(model: Any) -> list[str]:
    """The operators of a ``.tflite`` whose weights are quantized in blocks (blockwise INT4).

    Args:
        model: ``.tflite`` bytes, or a path to a ``.tflite`` file.

    Returns:
        ``"OP 'output tensor'"`` per such operator, in execution order; empty if none.

    Example:
        >>> blockwise_ops(to_tflite(models.mlp(), quantization="float16"))  # doctest: +SKIP
        []
    """
    report = precision_report(model)
    blockwise = report[report["weight_granularity"].astype(str).str.startswith("blockwise")]
    return [f"{row.op} {row.tensor!r}" for row in blockwise.itertuples()]
