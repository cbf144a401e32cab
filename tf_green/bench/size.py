"""Model size: parameters, non-zero parameters, bytes, gzip bytes and weight bytes read.

* Keras models: the weights as numpy arrays (every variable, trainable or not): ``size_bytes``
  is their bytes in memory, ``gzip_bytes`` the gzip (level 9) size of those bytes concatenated,
  which is what pruning saves on disk and over the wire.
* TFLite models: ``size_bytes`` is the flatbuffer (the file), ``gzip_bytes`` its gzip size.
  Parameters are the elements of the constant tensors of weight types (float32, float16, int8,
  uint8, int16) plus the int32 biases of MAC operators; shape and index constants are not
  parameters.

``weight_bytes_read`` is what one inference reads from memory for the weights, in the precision
the kernels use (float16 weights are dequantized to float32 when the model loads, so they read
4 bytes each; int8 weights read 1 byte; sparse-stored weights behind a DENSIFY op are densified
at load, so they read densely; only sparse weights a sparse kernel consumes directly read just
their stored values). It feeds the analytic energy model. Note that the TFLite converter drops
all-zero bias vectors (an untrained model's), so such a .tflite counts fewer parameters than
its Keras model.

Example:
    >>> from tf_green import models
    >>> stats = keras_size(models.mlp(hidden=(16,), input_dim=8, num_classes=4))
    >>> stats.params, stats.size_bytes
    (212, 848)
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tf_green.bench._tflite_graph import WEIGHT_TYPES, TFLiteGraph, parse_tflite

__all__ = ["SizeStats", "keras_size", "tflite_size"]

_BIAS_SLOTS = {
    "FULLY_CONNECTED": 2,
    "CONV_2D": 2,
    "CONV_3D": 2,
    "DEPTHWISE_CONV_2D": 2,
    "TRANSPOSE_CONV": 3,
}


@dataclass(frozen=True)
class SizeStats:
    """Size figures of one model.

    Attributes:
        params: Number of parameters.
        nonzero_params: Parameters that are not exactly zero.
        size_bytes: Bytes of the weights (Keras) or of the .tflite file.
        gzip_bytes: gzip -9 size of the same bytes.
        weight_bytes_read: Weight bytes one inference reads, in kernel precision.
        method: What ``size_bytes`` measures.

    Example:
        >>> SizeStats(10, 5, 40, 30, 40, "weights").sparsity
        0.5
    """

    params: int
    nonzero_params: int
    size_bytes: int
    gzip_bytes: int
    weight_bytes_read: int
    method: str

    @property
    def sparsity(self) -> float:
        """Fraction of parameters that are zero (0.0 for a model without parameters)."""
        return 1.0 - self.nonzero_params / self.params if self.params else 0.0


def _gzip_size(chunks: Iterable[bytes]) -> int:
    return len(gzip.compress(b"".join(chunks), compresslevel=9, mtime=0))


def keras_size(model: Any) -> SizeStats:
    """Measure a Keras model's weights.

    Args:
        model: A tf_keras or Keras 3 model, any backend (not changed).

    Returns:
        The size figures; ``weight_bytes_read`` equals ``size_bytes``.

    Example:
        >>> from tf_green import models
        >>> keras_size(models.cnn(width=8)).params
        1898
    """
    arrays = [np.ascontiguousarray(np.asarray(w)) for w in model.weights]
    size = sum(a.nbytes for a in arrays)
    return SizeStats(
        params=int(sum(a.size for a in arrays)),
        nonzero_params=int(sum(np.count_nonzero(a) for a in arrays)),
        size_bytes=int(size),
        gzip_bytes=_gzip_size(a.tobytes() for a in arrays),
        weight_bytes_read=int(size),
        method="Keras weights in memory (all variables)",
    )


def _stored_bytes(tensor: Any) -> float:
    """Bytes one stored element takes (INT4 packs two per byte)."""
    return 0.5 if tensor.dtype == "INT4" else tensor.values.itemsize


def _parameter_tensors(graph: TFLiteGraph) -> dict[int, tuple[float, bool]]:
    """Constant parameter tensors -> (bytes per element the kernels read, read densely)."""
    converted: dict[int, tuple[float, bool]] = {}
    for op in graph.ops:
        if op.name == "DEQUANTIZE" and op.inputs:  # float16/int8 -> float32 when the model loads
            converted[op.inputs[0]] = (4, True)
        elif op.name == "DENSIFY" and op.inputs:  # sparse storage -> dense when the model loads
            source = graph.tensor(op.inputs[0])
            if source is not None and source.constant:
                converted[source.index] = (_stored_bytes(source), True)
    chosen: dict[int, tuple[float, bool]] = {}
    for tensor in graph.tensors:
        if tensor.constant and tensor.dtype in WEIGHT_TYPES:
            default = (_stored_bytes(tensor), not tensor.sparse)
            chosen[tensor.index] = converted.get(tensor.index, default)
    for op in graph.ops:
        slot = _BIAS_SLOTS.get(op.name)
        if slot is not None and len(op.inputs) > slot:
            bias = graph.tensor(op.inputs[slot])
            if bias is not None and bias.constant:
                chosen[bias.index] = (bias.values.itemsize, True)
    return chosen


def tflite_size(model_bytes: bytes, graph: TFLiteGraph | None = None) -> SizeStats:
    """Measure a .tflite model.

    Args:
        model_bytes: The flatbuffer.
        graph: The parsed graph, if already at hand (saves parsing twice).

    Returns:
        The size figures.

    Example:
        >>> tflite_size(model_bytes).size_bytes == len(model_bytes)  # doctest: +SKIP
        True
    """
    graph = graph if graph is not None else parse_tflite(model_bytes)
    params = nonzero = read = 0
    for index, (bytes_per_element, dense) in _parameter_tensors(graph).items():
        tensor = graph.tensors[index]
        params += tensor.elements
        nonzero += int(np.count_nonzero(tensor.values))
        read += (tensor.elements if dense else tensor.values.size) * bytes_per_element
    return SizeStats(
        params=int(params),
        nonzero_params=int(nonzero),
        size_bytes=len(model_bytes),
        gzip_bytes=_gzip_size([bytes(model_bytes)]),
        weight_bytes_read=int(read),
        method=".tflite flatbuffer",
    )
