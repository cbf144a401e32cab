"""Memory a deployment needs: the model's bytes plus its activations at batch 1, from the graph.

The resident-set delta of a run (:mod:`tf_green.bench.memory`) is dominated by the runtime and
the allocator and is often below its resolution for small models; it says little about what a
device must hold. This module counts it from the model instead::

    memory_bytes = model bytes + activation bytes at batch 1

* TFLite: model bytes = the flatbuffer; activation bytes = the sum of the bytes of every
  non-constant tensor of subgraph 0 (inputs, intermediates, outputs) after the interpreter is
  sized for one sample: the tensor arena without buffer reuse, an upper bound of the arena
  LiteRT's planner allocates.
* Keras: model bytes = the weights; activation bytes = the sum of the bytes of the model input
  and every layer's output at batch 1 (the same definition; a nested model counts its output
  only). A non-batch dimension that is unknown (None) makes the figure unknown (None).

Example:
    >>> from tf_green import models
    >>> keras_activation_bytes(models.mlp(hidden=(8,)))  # input 64 + dense 8 + logits 10 floats
    (328, 'sum of the input and every layer output at batch 1 (Keras graph, no buffer reuse)')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tf_green.bench._tflite_graph import parse_tflite

__all__ = [
    "ActivationMemory",
    "activation_memory",
    "keras_activation_bytes",
    "tflite_activation_bytes",
]

_TFLITE_ITEMSIZE = {"INT4": 0.5, "BOOL": 1, "STRING": 0}
KERAS_METHOD = "sum of the input and every layer output at batch 1 (Keras graph, no buffer reuse)"
TFLITE_METHOD = (
    "sum of the non-constant tensors at batch 1 (LiteRT tensor arena without buffer reuse: "
    "an upper bound)"
)


@dataclass(frozen=True)
class ActivationMemory:
    """Model bytes plus activation bytes at batch 1.

    Attributes:
        model_bytes: Weights (Keras) or flatbuffer (.tflite) bytes.
        activation_bytes: Activation bytes at batch 1 (None if unknown).
        method: How ``activation_bytes`` was counted.

    Example:
        >>> ActivationMemory(1000, 200, "x").memory_bytes
        1200
    """

    model_bytes: int
    activation_bytes: int | None
    method: str

    @property
    def memory_bytes(self) -> int | None:
        """Model plus activation bytes (None if the activations are unknown)."""
        if self.activation_bytes is None:
            return None
        return int(self.model_bytes) + int(self.activation_bytes)


def _tflite_itemsize(dtype: str) -> float:
    if dtype in _TFLITE_ITEMSIZE:
        return _TFLITE_ITEMSIZE[dtype]
    try:
        return float(np.dtype(dtype.lower()).itemsize)
    except TypeError:
        return 0.0


def tflite_activation_bytes(
    model_bytes: bytes, sample_shape: Sequence[int] | None = None
) -> tuple[int, str]:
    """Sum of the non-constant tensors' bytes of a .tflite model sized for one sample.

    Args:
        model_bytes: The flatbuffer.
        sample_shape: Shape of one input sample (dynamic dimensions are resolved for it).

    Returns:
        ``(bytes, method)``.

    Raises:
        ValueError: If the bytes are not a TFLite model.

    Example:
        >>> from tf_green import models
        >>> from tf_green.quantization import to_tflite
        >>> tflite_activation_bytes(to_tflite(models.mlp(hidden=(8,))), (64,))[0]
        328
    """
    graph = parse_tflite(bytes(model_bytes), sample_shape)
    total = sum(t.elements * _tflite_itemsize(t.dtype) for t in graph.tensors if not t.constant)
    return round(total), TFLITE_METHOD


def _dims(shape: Any) -> list[int | None]:
    dims = shape.as_list() if hasattr(shape, "as_list") else list(shape)
    return [None if d is None else int(d) for d in dims]


def _graph_nodes(model: Any) -> list[Any]:
    """The nodes of ``model``'s own graph, not those its layers have in other models.

    A layer called again elsewhere (another model built from the same layers) gets more
    inbound nodes; counting every node of every layer would add that model's tensors.
    Both engines keep the model's own nodes by depth (Keras 3's Sequential on the
    functional model it wraps).
    """
    graph = model if hasattr(model, "_nodes_by_depth") else getattr(model, "_functional", None)
    by_depth = getattr(graph, "_nodes_by_depth", None) or {}
    return [node for depth in sorted(by_depth) for node in by_depth[depth]]


def keras_activation_bytes(model: Any) -> tuple[int | None, str]:
    """Sum of the bytes of the input and every layer's output of a Keras model at batch 1.

    Args:
        model: A tf_keras or Keras 3 functional/Sequential model.

    Returns:
        ``(bytes, method)``; bytes is None if a non-batch dimension is unknown or the model
        is subclassed (its layer outputs are not in a graph).

    Example:
        >>> from tf_green import models
        >>> keras_activation_bytes(models.cnn(width=8))[0]  # 64 + 128 + 128 + 64 + 64 + 10 floats
        1832
    """
    try:
        inputs = list(getattr(model, "inputs", None) or [])
    except (AttributeError, ValueError):
        inputs = []
    if not inputs:
        return None, "unknown: a subclassed model has no graph of layer outputs"
    tensors: dict[int, Any] = {id(t): t for t in inputs}
    for node in _graph_nodes(model):
        outputs = node.outputs if isinstance(node.outputs, (list, tuple)) else [node.outputs]
        for tensor in outputs:
            tensors.setdefault(id(tensor), tensor)
    total = 0
    for tensor in tensors.values():
        dims = _dims(tensor.shape)[1:]
        if any(d is None for d in dims):
            return None, f"unknown: {tensor.name} has a dimension of unknown size"
        itemsize = np.dtype(getattr(tensor.dtype, "as_numpy_dtype", tensor.dtype)).itemsize
        total += int(np.prod(dims, dtype=np.int64)) * itemsize
    return total, KERAS_METHOD


def activation_memory(variant: Any, sample_shape: Sequence[int]) -> ActivationMemory:
    """Model plus activation bytes of a bench variant (Keras or TFLite) at batch 1.

    Args:
        variant: A :class:`~tf_green.bench.variants.Variant`.
        sample_shape: Shape of one input sample.

    Returns:
        The :class:`ActivationMemory`.

    Example:
        >>> from tf_green import models
        >>> from tf_green.bench.variants import as_variant
        >>> activation_memory(as_variant(models.mlp(hidden=(8,))), (64,)).memory_bytes
        2768
    """
    model_bytes = int(variant.size().size_bytes)
    if variant.kind == "keras":
        activations, method = keras_activation_bytes(variant.model)
    else:
        activations, method = tflite_activation_bytes(variant.model.model_bytes, sample_shape)
    return ActivationMemory(model_bytes, activations, method)
