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
    "attention_macs",
    "attention_terms",
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
    total = np.zeros(int(layer._query_dense.kernel.shape[1]))
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


def _positions(tensor: Any, axes: Any, name: str, unknown: int | None) -> int:
    dims = [tensor.shape[a] for a in axes]
    if any(d is None for d in dims):
        if unknown is None:
            raise ValueError(
                f"layer {name!r} reads a tensor of unknown length {tuple(tensor.shape)}; MACs "
                "need a model with a fixed input size."
            )
        dims = [unknown if d is None else d for d in dims]
    return int(np.prod(dims, dtype=np.int64))


def _parts(layer: Any, node: Any, unknown: int | None) -> dict[str, int] | None:
    roles = attention_inputs(node)
    if roles is None:
        return None
    query, key = roles.query, roles.key
    inner = range(1, len(query.shape) - 1)
    axes = getattr(layer, "_attention_axes", None) or tuple(inner)
    t_query = _positions(query, inner, layer.name, unknown)
    t_key = _positions(key, [a % len(key.shape) for a in axes], layer.name, unknown)
    t_keys = _positions(key, range(1, len(key.shape) - 1), layer.name, unknown)
    t_value = _positions(roles.value, range(1, len(roles.value.shape) - 1), layer.name, unknown)
    size = {name: int(np.prod(getattr(layer, name).kernel.shape)) for name, _ in _PROJECTIONS}
    output = layer._output_dense.kernel.shape
    heads, value_dim = int(output[0]), int(output[1])
    key_dim = int(layer._query_dense.kernel.shape[-1])
    return {
        "query": t_query * size["_query_dense"],
        "key": t_keys * size["_key_dense"],
        "value": t_value * size["_value_dense"],
        "output": t_query * int(np.prod(output)),
        "attention": t_query * t_key * heads * (key_dim + value_dim),
    }


def attention_macs(layer: Any, node: Any, unknown: int | None = None) -> int:
    """Multiply-accumulates of one MultiHeadAttention call, per example.

    The four projections (positions x kernel size) and the attention itself (query
    positions x key positions x heads x (key_dim + value_dim): the scores and the weighted
    sum of the values).

    Args:
        layer: The MultiHeadAttention layer (Keras 3 or tf_keras).
        node: Its call.
        unknown: The length to count for an unknown (None) axis; None raises instead.

    Returns:
        The MACs (0 if the call's query and value cannot be told apart).

    Raises:
        ValueError: For an axis of unknown length when ``unknown`` is None.

    Example:
        >>> import keras
        >>> x = keras.Input((4, 8))
        >>> layer = keras.layers.MultiHeadAttention(2, 4)
        >>> _ = layer(x, x)
        >>> attention_macs(layer, layer._inbound_nodes[0])
        1280
    """
    parts = _parts(layer, node, unknown)
    return 0 if parts is None else sum(parts.values())


def attention_terms(graph: Any, layer: Any, unknown: int | None = None) -> list[tuple]:
    """The MACs of an analysed attention call as ``(macs, input layout, output layout)`` terms.

    Each term scales with the kept fraction of both layouts (None: not pruned): a projection
    with its input channels and the kept heads, the output projection with the kept heads
    and output channels, the attention with the kept heads. Their sum at full width is
    :func:`attention_macs`.

    Args:
        graph: The :class:`~tf_green.pruning.structured.graph.ChannelGraph`.
        layer: One of its MultiHeadAttention layers (a key of ``graph.heads``).
        unknown: As in :func:`attention_macs`.

    Returns:
        The terms.

    Example:
        >>> import keras
        >>> from tf_green.pruning.structured.graph import analyse
        >>> x = keras.Input((4, 8))
        >>> y = keras.layers.MultiHeadAttention(2, 4, name="mha")(x, x)
        >>> graph = analyse(keras.Model(x, keras.layers.Dense(2)(y)))
        >>> sum(m for m, _, _ in attention_terms(graph, graph.model.get_layer("mha")))
        1280
    """
    parts = _parts(layer, layer._inbound_nodes[0], unknown) or {}
    query, value, key = graph.inputs[layer.name]
    heads, out = graph.heads[layer.name], graph.outputs[layer.name]
    layouts = {
        "query": (query, heads),
        "key": (key, heads),
        "value": (value, heads),
        "output": (heads, out),
        "attention": (heads, None),
    }
    return [(parts[name], *layouts[name]) for name in parts]
