"""MultiHeadAttention in the structured pruning graph: whole heads, and the channels around it.

A ``MultiHeadAttention`` call owns one extra *atom*: its ``num_heads`` heads. Removing a head
removes its slice of every projection at once: the query, key and value kernels
``(channels, heads, key_dim)`` and biases ``(heads, key_dim)`` on the heads axis, and the
output kernel ``(heads, value_dim, out)`` on its first axis, so the rebuilt layer has fewer
``num_heads`` and the same ``key_dim``. The layer also follows the channels it reads: each
projection's input axis is sliced like the query, key or value tensor it was called on, and
with ``output_shape=None`` its output has the query's width, so the output *is* the query's
channel layout (they are pruned together). An explicit ``output_shape`` makes new channels
that are kept. Any other tensor the call reads (an ``attention_mask``) is not a channel
axis: what reaches it is blocked. Works for Keras 3 and tf_keras (same sub-layer names).

Example:
    >>> import keras
    >>> x = keras.Input((4, 8))
    >>> y = keras.layers.MultiHeadAttention(2, 4, name="mha")(x, x)
    >>> from tf_green.pruning.structured.graph import analyse
    >>> graph = analyse(keras.Model(x, keras.layers.Dense(2)(y)))
    >>> graph.heads["mha"].width
    2
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from tf_green.pruning.structured.nodes import as_numpy, call_arguments, node_inputs, tensor_key

__all__ = [
    "AttentionInputs",
    "attention_inputs",
    "head_rows",
    "head_taylor_sums",
    "sliced_attention",
]

# The projection sub-layers and the input they read.
_PROJECTIONS = (("_query_dense", "query"), ("_key_dense", "key"), ("_value_dense", "value"))


@dataclasses.dataclass(frozen=True)
class AttentionInputs:
    """The tensors one MultiHeadAttention call read: query, value, key, and the rest.

    Example:
        >>> AttentionInputs("q", "v", "v", []).key
        'v'
    """

    query: Any
    value: Any
    key: Any
    others: list[Any]


def attention_inputs(node: Any) -> AttentionInputs | None:
    """Which symbolic tensor was the query, value and key of one call (None if unclear).

    Args:
        node: A MultiHeadAttention call (Keras 3 or tf_keras).

    Returns:
        The roles, ``key`` defaulting to ``value`` as the layer does; ``others`` are the
        remaining tensors (masks). None when the query or value is not a graph tensor.

    Example:
        >>> import keras
        >>> x = keras.Input((4, 8))
        >>> layer = keras.layers.MultiHeadAttention(2, 4)
        >>> _ = layer(x, x)
        >>> attention_inputs(layer._inbound_nodes[0]).query is x
        True
    """
    args, kwargs = call_arguments(node)
    names = ("query", "value", "key")
    roles = {name: args[i] if len(args) > i else kwargs.get(name) for i, name in enumerate(names)}
    if roles["key"] is None:
        roles["key"] = roles["value"]
    tensors = node_inputs(node)
    known = {tensor_key(t) for t in tensors}
    if any(r is None or not hasattr(r, "_keras_history") for r in roles.values()):
        return None
    if any(tensor_key(r) not in known for r in roles.values()):
        return None
    used = {tensor_key(r) for r in roles.values()}
    others = [t for t in tensors if tensor_key(t) not in used]
    return AttentionInputs(roles["query"], roles["value"], roles["key"], others)


def _projection_weights(layer: Any) -> dict[str, list[np.ndarray]]:
    names = [name for name, _ in _PROJECTIONS] + ["_output_dense"]
    return {name: [as_numpy(w) for w in getattr(layer, name).weights] for name in names}


def head_rows(layer: Any) -> np.ndarray:
    """Each head's weights as one row: its query, key, value and output kernel slices.

    Example:
        >>> import keras
        >>> x = keras.Input((4, 8))
        >>> layer = keras.layers.MultiHeadAttention(2, 4)
        >>> _ = layer(x, x)
        >>> head_rows(layer).shape
        (2, 128)
    """
    weights = _projection_weights(layer)
    parts = [np.moveaxis(weights[name][0], 1, 0) for name, _ in _PROJECTIONS]
    parts.append(weights["_output_dense"][0])  # (heads, value_dim, out)
    heads = parts[0].shape[0]
    return np.concatenate([p.reshape(heads, -1) for p in parts], axis=1)


def head_taylor_sums(layer: Any, product: dict[str, np.ndarray]) -> np.ndarray:
    """Per head: the sum of ``gradient x weight`` over its slices of every projection.

    Args:
        layer: The MultiHeadAttention layer.
        product: Weight path relative to the layer (``"query/kernel"`` ...) -> g * w.

    Returns:
        One float64 sum per head.

    Example:
        >>> import keras
        >>> x = keras.Input((4, 8))
        >>> layer = keras.layers.MultiHeadAttention(2, 4)
        >>> _ = layer(x, x)
        >>> head_taylor_sums(layer, {"query/kernel": np.ones((8, 2, 4))}).tolist()
        [32.0, 32.0]
    """
    total = np.zeros(int(layer.num_heads))
    for path, values in product.items():
        sub, _, kind = path.rpartition("/")
        sub = sub.rsplit("/", 1)[-1]
        if sub in ("query", "key", "value"):
            heads_axis = 1 if kind == "kernel" else 0
        elif sub == "attention_output" and kind == "kernel":
            heads_axis = 0
        else:
            continue  # the output bias is shared by every head
        total += np.moveaxis(values, heads_axis, 0).reshape(len(total), -1).sum(1)
    return total


def _take(array: np.ndarray, index: np.ndarray | None, axis: int) -> np.ndarray:
    return array if index is None else np.take(array, index, axis=axis)


def sliced_attention(
    layer: Any, heads: Any, cin: dict[str, Any], cout: Any
) -> dict[str, list[np.ndarray]]:
    """The kept slices of a MultiHeadAttention's weights, per projection sub-layer.

    Args:
        layer: The original layer.
        heads: Kept head indices, or None (all).
        cin: ``"query"``/``"key"``/``"value"`` -> kept input channel indices or None.
        cout: Kept output channel indices or None.

    Returns:
        Sub-layer attribute (``"_query_dense"`` ...) -> its new weights.

    Example:
        >>> import keras
        >>> x = keras.Input((4, 8))
        >>> layer = keras.layers.MultiHeadAttention(2, 4)
        >>> _ = layer(x, x)
        >>> out = sliced_attention(layer, np.array([1]), {}, None)
        >>> out["_query_dense"][0].shape, out["_output_dense"][0].shape
        ((8, 1, 4), (1, 4, 8))
    """
    weights = _projection_weights(layer)
    result = {}
    for name, role in _PROJECTIONS:
        kernel, *bias = weights[name]
        kernel = _take(_take(kernel, cin.get(role), 0), heads, 1)
        result[name] = [kernel, *[_take(b, heads, 0) for b in bias]]
    kernel, *bias = weights["_output_dense"]
    kernel = _take(_take(kernel, heads, 0), cout, kernel.ndim - 1)
    result["_output_dense"] = [kernel, *[_take(b, cout, 0) for b in bias]]
    return result
