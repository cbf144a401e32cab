"""First-order Taylor importance: how much the loss would change if a channel were removed.

Molchanov et al. (2019), "Importance Estimation for Neural Network Pruning": the change of
the loss when a channel's parameters go to zero is, to first order, the sum over them of
``gradient x weight``. Per batch, each channel of a group sums ``g * w`` over its
producers' filters and biases and over the ``gamma``/``beta`` of the BatchNormalizations
on its channels; the score is that sum squared, added up over the batches. It needs data
and the loss, so it runs where :func:`~tf_green.pruning.structured.shrink.shrink` gets
``x``/``y``. Gradients are taken in inference mode (``training=False``): the model's
BatchNormalization statistics are not touched. TensorFlow and JAX backends.

Example:
    >>> import keras, numpy as np
    >>> from tf_green.pruning.structured.graph import analyse
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
    ...                           keras.layers.Dense(2)])
    >>> graph = analyse(model)
    >>> scores = taylor_scores(graph, np.ones((8, 3)), np.zeros((8, 2)), "mse")
    >>> scores[graph.groups[0].root].shape
    (4,)
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np

from tf_green._engine import engine_of, keras_of
from tf_green._engine.data import is_dataset, split_element
from tf_green.pruning.structured.attention import head_taylor_sums
from tf_green.pruning.structured.graph import ChannelGraph, Group
from tf_green.pruning.structured.layer_kinds import classes
from tf_green.pruning.structured.nodes import as_numpy

__all__ = ["taylor_scores"]


def _batches(x: Any, y: Any, batch_size: int, max_batches: int) -> Iterator[tuple[Any, Any]]:
    if is_dataset(x):
        for element in x.take(max_batches):
            xb, yb, _ = split_element(element)
            yield xb, yb
        return
    count = len(y)
    for start in range(0, min(count, batch_size * max_batches), batch_size):
        part = slice(start, start + batch_size)
        xb = {k: v[part] for k, v in x.items()} if isinstance(x, dict) else None
        if xb is None:
            xb = [v[part] for v in x] if isinstance(x, (list, tuple)) else x[part]
        yield xb, y[part]


def _loss_function(model: Any, loss: Any) -> Any:
    loss = loss if loss is not None else getattr(model, "loss", None)
    if loss is None or isinstance(loss, (dict, list, tuple)):
        raise ValueError(
            "criterion='taylor' needs one loss to differentiate: compile the model with a "
            f"single loss or pass loss=...; got {loss!r}."
        )
    return keras_of(model).losses.get(loss)


def _gradients(model: Any, loss_fn: Any, xb: Any, yb: Any) -> list[np.ndarray | None]:
    variables = model.trainable_variables
    if engine_of(model) == "keras3" and keras.backend.backend() == "jax":
        jax = importlib.import_module("jax")
        fixed = [v.value for v in model.non_trainable_variables]

        def objective(values: list[Any]) -> Any:
            prediction, _ = model.stateless_call(values, fixed, xb, training=False)
            return keras.ops.mean(loss_fn(yb, prediction))

        grads = jax.grad(objective)([v.value for v in variables])
    else:
        tf = importlib.import_module("tensorflow")
        with tf.GradientTape() as tape:
            value = tf.reduce_mean(loss_fn(yb, model(xb, training=False)))
        grads = tape.gradient(value, variables)  # an Embedding's is IndexedSlices: densified
        grads = [None if g is None else tf.convert_to_tensor(g) for g in grads]
    return [None if g is None else as_numpy(g) for g in grads]


def _relative_path(layer: Any, variable: Any) -> str:
    """A weight's path inside its layer (``"kernel"``, ``"query/kernel"``), either engine."""
    path = getattr(variable, "path", None) or variable.name.rsplit(":", 1)[0]
    return path.rsplit(f"{layer.name}/", 1)[-1]


def _channel_sums(layer: Any, values: dict[str, np.ndarray]) -> np.ndarray:
    """Per output channel (or head): the sum of ``g * w`` over a producer's filter and bias."""
    c = classes(layer)
    if isinstance(layer, c.attention):
        return head_taylor_sums(layer, values)
    kernel = "pointwise_kernel" if isinstance(layer, c.separable) else "kernel"
    kernel = "embeddings" if isinstance(layer, c.embedding) else kernel
    product = values[kernel]
    total = product.reshape(-1, product.shape[-1]).sum(0)
    if "bias" in values:
        total = total + values["bias"]
    return total


def taylor_scores(
    graph: ChannelGraph,
    x: Any,
    y: Any = None,
    loss: Any = None,
    *,
    batch_size: int = 32,
    max_batches: int = 8,
) -> dict[int, np.ndarray]:
    """Taylor importance of every prunable group's channels, from a few batches of data.

    Args:
        graph: The analysed model.
        x: Inputs (arrays, with ``y``) or a dataset of ``(x, y)`` batches.
        y: Targets for array ``x``.
        loss: The loss (default: the model's compiled loss).
        batch_size: Batch size for arrays.
        max_batches: Batches to accumulate over.

    Returns:
        Group root -> float64 scores (higher is kept first).

    Raises:
        ValueError: Without a single loss, or if no batch could be read.

    Example:
        >>> import keras, numpy as np
        >>> from tf_green.pruning.structured.graph import analyse
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3),
        ...                           keras.layers.Dense(1)])
        >>> graph = analyse(model)
        >>> s = taylor_scores(graph, np.ones((4, 2)), np.ones((4, 1)), "mse")
        >>> bool((s[graph.groups[0].root] >= 0).all())
        True
    """
    model = graph.model
    loss_fn = _loss_function(model, loss)
    groups = [group for group in graph.groups if group.prunable]
    paths = {id(v): i for i, v in enumerate(model.trainable_variables)}
    scores = {group.root: np.zeros(group.size) for group in groups}
    seen = 0
    for xb, yb in _batches(x, y, batch_size, max_batches):
        grads = _gradients(model, loss_fn, xb, yb)
        seen += 1

        def product(layer: Any, grads: list = grads) -> dict[str, np.ndarray]:
            out = {}
            for variable in layer.trainable_variables:
                index = paths.get(id(variable))
                if index is not None and grads[index] is not None:
                    weight = as_numpy(variable).astype(np.float64)
                    out[_relative_path(layer, variable)] = weight * grads[index]
            return out

        for group in groups:
            total = np.zeros(group.size)
            for layer in group.producers:
                values = product(layer)
                if values:
                    total += _channel_sums(layer, values)
            total += _norm_sums(graph, group, product)
            scores[group.root] += total**2
    if not seen:
        raise ValueError("criterion='taylor' got no data: `x` has no batches.")
    return scores


def _norm_sums(graph: ChannelGraph, group: Group, product: Any) -> np.ndarray:
    """The ``g * w`` of gamma and beta of every BatchNormalization on the group's channels."""
    total = np.zeros(group.size)
    for layer in graph.model.layers:
        if not isinstance(layer, classes(layer).batch_norm) or layer.name not in graph.outputs:
            continue
        layout = graph.outputs[layer.name]
        offset, parts = 0, []
        for atom, size in layout.segments:
            if graph.find(atom) == group.root:
                parts.append((offset, size))
            offset += size
        if not parts:
            continue
        values = product(layer)
        per_channel = sum(values.values()) if values else np.zeros(layout.width * layout.repeat)
        tiles = np.asarray(per_channel).reshape(layout.repeat, layout.width).sum(0)
        for start, size in parts:
            total += tiles[start : start + size]
    return total
