"""Build the smaller model and copy the kept slices of every affected weight.

The new model is cloned from the original's layer configs with reduced ``filters`` /
``units`` (``keras.models.clone_model`` with a ``clone_function``), so it has the same
architecture, names and settings. Weights are then copied layer by layer: kernels sliced on
their input and output channel axes, biases, BatchNormalization statistics, depthwise and
PReLU weights sliced on the channel axis; every other weight copied as is. A weight whose
shape does not match after slicing is an error, never a silent partial copy.

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

from typing import Any

import keras
import numpy as np

from tf_green.pruning.structured.graph import ChannelGraph

__all__ = ["rebuild"]

L = keras.layers
_SEPARABLE = (L.SeparableConv1D, L.SeparableConv2D)
_DEPTHWISE = (L.DepthwiseConv1D, L.DepthwiseConv2D)
_CONVS = (L.Conv1D, L.Conv2D, L.Conv3D)


def _take(array: np.ndarray, index: np.ndarray | None, axis: int) -> np.ndarray:
    return array if index is None else np.take(array, index, axis=axis)


def _sliced(layer: Any, weights: list[np.ndarray], cin: Any, cout: Any) -> list[np.ndarray]:
    """The kept slices of one layer's weights (``cin``/``cout``: kept indices or None)."""
    if isinstance(layer, _SEPARABLE):
        depthwise, pointwise, *bias = weights
        rows = None
        if cin is not None:
            multiplier = depthwise.shape[-1]
            rows = (cin[:, None] * multiplier + np.arange(multiplier)).ravel()
        pointwise = _take(_take(pointwise, rows, -2), cout, -1)
        return [_take(depthwise, cin, -2), pointwise, *[_take(b, cout, 0) for b in bias]]
    if isinstance(layer, _DEPTHWISE):  # depth_multiplier 1: follows its input
        kernel, *bias = weights
        return [_take(kernel, cin, -2), *[_take(b, cin, 0) for b in bias]]
    if isinstance(layer, (*_CONVS, L.Dense)):
        kernel, *bias = weights
        kernel = _take(_take(kernel, cin, -2 if kernel.ndim > 2 else 0), cout, -1)
        return [kernel, *[_take(b, cout, 0) for b in bias]]
    if isinstance(layer, L.BatchNormalization):
        return [_take(w, cin, 0) for w in weights]
    if isinstance(layer, L.PReLU):
        (alpha,) = weights
        width = layer.input.shape[-1]
        return [_take(alpha, cin, -1) if alpha.shape[-1] == width else alpha]
    return weights


def _new_width(layer: Any, graph: ChannelGraph, kept: dict[int, np.ndarray]) -> int | None:
    """The reduced ``filters``/``units`` of a producer, or None if it keeps them all."""
    index = graph.indices(graph.outputs[layer.name], kept)
    return None if index is None else len(index)


def rebuild(graph: ChannelGraph, kept: dict[int, np.ndarray]) -> Any:
    """A smaller copy of ``graph.model`` keeping ``kept`` channels of each pruned group.

    Args:
        graph: The analysed model (not changed).
        kept: Group root -> sorted kept channel indices, for the groups to prune.

    Returns:
        A new, uncompiled Keras 3 model of the same architecture with the kept weights.

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

    def clone(layer: Any) -> Any:
        config = layer.get_config()
        if isinstance(layer, (*_CONVS, *_SEPARABLE, L.Dense)):
            width = _new_width(layer, graph, kept)
            if width is not None:
                config["units" if isinstance(layer, L.Dense) else "filters"] = width
        return layer.__class__.from_config(config)

    small = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if not layer.weights:
            continue
        ins = graph.inputs.get(layer.name) or []
        cin = graph.indices(ins[0], kept) if ins else None
        cout = (
            graph.indices(graph.outputs[layer.name], kept) if layer.name in graph.outputs else None
        )
        values = _sliced(layer, layer.get_weights(), cin, cout)
        target = small.get_layer(layer.name)
        shapes = [tuple(w.shape) for w in target.weights]
        if shapes != [tuple(v.shape) for v in values]:
            raise RuntimeError(
                f"internal error: the kept weights of layer {layer.name!r} have shapes "
                f"{[v.shape for v in values]}, the rebuilt layer needs {shapes}; please report it."
            )
        target.set_weights(values)
    return small
