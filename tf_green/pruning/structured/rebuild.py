"""Build the smaller model and copy the kept slices of every affected weight.

The new model is cloned from the original's layer configs with reduced ``filters`` /
``units`` / ``output_dim`` (Embedding) / ``num_heads`` (MultiHeadAttention), with the
``clone_model`` of the model's own engine (Keras 3 or tf_keras) and a ``clone_function``,
so it has the same architecture, names and settings. Weights are then copied layer by
layer: kernels sliced on their input and output channel axes, biases, BatchNormalization
statistics, depthwise, PReLU and position-table weights sliced on the channel axis, an
Embedding's table on its columns, each attention projection on its heads and input
channels (:mod:`.attention`); every other weight copied as is. A weight whose shape does
not match after slicing is an error, never a silent partial copy.

Example:
    >>> import keras
    >>> import numpy as np
    >>> from tf_green.pruning.structured.graph import analyse
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
    ...                           keras.layers.Dense(2)])
    >>> graph = analyse(model)
    >>> small = rebuild(graph, {graph.groups[0].root: np.array([0, 2])})
    >>> tuple(small.layers[0].kernel.shape)
    (3, 2)
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from tf_green.pruning.structured.attention import sliced_attention
from tf_green.pruning.structured.graph import ChannelGraph
from tf_green.pruning.structured.layer_kinds import classes, is_position_embedding

__all__ = ["rebuild"]


def _take(array: np.ndarray, index: np.ndarray | None, axis: int) -> np.ndarray:
    return array if index is None else np.take(array, index, axis=axis)


def _sliced(layer: Any, weights: list[np.ndarray], cin: Any, cout: Any) -> list[np.ndarray]:
    """The kept slices of one layer's weights (``cin``/``cout``: kept indices or None)."""
    c = classes(layer)
    if isinstance(layer, c.separable):
        depthwise, pointwise, *bias = weights
        rows = None
        if cin is not None:
            multiplier = depthwise.shape[-1]
            rows = (cin[:, None] * multiplier + np.arange(multiplier)).ravel()
        pointwise = _take(_take(pointwise, rows, -2), cout, -1)
        return [_take(depthwise, cin, -2), pointwise, *[_take(b, cout, 0) for b in bias]]
    if isinstance(layer, c.depthwise):  # depth_multiplier 1: follows its input
        kernel, *bias = weights
        return [_take(kernel, cin, -2), *[_take(b, cin, 0) for b in bias]]
    if isinstance(layer, (*c.convs, c.dense)):
        kernel, *bias = weights
        kernel = _take(_take(kernel, cin, -2 if kernel.ndim > 2 else 0), cout, -1)
        return [kernel, *[_take(b, cout, 0) for b in bias]]
    if isinstance(layer, c.embedding):
        return [_take(w, cout, -1) for w in weights]
    if isinstance(layer, c.batch_norm) or is_position_embedding(layer):
        return [_take(w, cin, -1) for w in weights]
    if isinstance(layer, c.prelu):
        (alpha,) = weights
        width = layer.input.shape[-1]
        return [_take(alpha, cin, -1) if alpha.shape[-1] == width else alpha]
    return weights


def _new_width(layer: Any, graph: ChannelGraph, kept: dict[int, np.ndarray]) -> int | None:
    """The reduced ``filters``/``units``/... of a producer, or None if it keeps them all."""
    layout = graph.heads.get(layer.name, graph.outputs[layer.name])
    index = graph.indices(layout, kept)
    return None if index is None else len(index)


# The config entry a producer's kept count goes to, by layer class name.
_WIDTH_KEYS = {"dense": "units", "embedding": "output_dim", "attention": "num_heads"}


def _width_key(layer: Any) -> str | None:
    c = classes(layer)
    for name, key in _WIDTH_KEYS.items():
        if isinstance(layer, getattr(c, name)):
            return key
    return "filters" if isinstance(layer, (*c.convs, *c.separable)) else None


def _copy_attention(layer: Any, target: Any, graph: ChannelGraph, kept: dict) -> None:
    query, value, key = graph.inputs[layer.name]
    cin = {
        "query": graph.indices(query, kept),
        "value": graph.indices(value, kept),
        "key": graph.indices(key, kept),
    }
    heads = graph.indices(graph.heads[layer.name], kept)
    cout = graph.indices(graph.outputs[layer.name], kept)
    for name, values in sliced_attention(layer, heads, cin, cout).items():
        _set(getattr(target, name), values, layer.name)


def _set(target: Any, values: list[np.ndarray], name: str) -> None:
    shapes = [tuple(w.shape) for w in target.weights]
    if shapes != [tuple(v.shape) for v in values]:
        raise RuntimeError(
            f"internal error: the kept weights of layer {name!r} have shapes "
            f"{[v.shape for v in values]}, the rebuilt layer needs {shapes}; please report it."
        )
    target.set_weights(values)


def rebuild(graph: ChannelGraph, kept: dict[int, np.ndarray]) -> Any:
    """A smaller copy of ``graph.model`` keeping ``kept`` channels of each pruned group.

    Args:
        graph: The analysed model (not changed).
        kept: Group root -> sorted kept channel indices, for the groups to prune.

    Returns:
        A new, uncompiled model of the same engine (Keras 3 or tf_keras) and architecture
        with the kept weights.

    Raises:
        RuntimeError: If a weight's sliced shape does not match the new layer (a bug in the
            analysis; the model is not returned).

    Example:
        >>> import keras
        >>> import numpy as np
        >>> from tf_green.pruning.structured.graph import analyse
        >>> model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(3, 3),
        ...                           keras.layers.GlobalAveragePooling2D(),
        ...                           keras.layers.Dense(2)])
        >>> graph = analyse(model)
        >>> small = rebuild(graph, {graph.groups[0].root: np.array([1])})
        >>> tuple(small.layers[-1].kernel.shape)
        (1, 2)
    """
    model = graph.model
    models = importlib.import_module(classes(model).package).models  # keras or tf_keras

    def clone(layer: Any) -> Any:
        config = layer.get_config()
        key = _width_key(layer)
        if key is not None and layer.name in graph.outputs:
            width = _new_width(layer, graph, kept)
            if width is not None:
                config[key] = width
        return layer.__class__.from_config(config)

    small = models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if not layer.weights:
            continue
        target = small.get_layer(layer.name)
        if layer.name in graph.heads:
            _copy_attention(layer, target, graph, kept)
            continue
        ins = graph.inputs.get(layer.name) or []
        cin = graph.indices(ins[0], kept) if ins else None
        cout = (
            graph.indices(graph.outputs[layer.name], kept) if layer.name in graph.outputs else None
        )
        _set(target, _sliced(layer, layer.get_weights(), cin, cout), layer.name)
    return small
