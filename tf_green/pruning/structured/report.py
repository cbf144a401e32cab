"""Multiply-accumulates per layer, and the per-layer report of a structured pruning.

MACs are counted from shapes, per example (batch 1): a Conv or Dense does
``output positions x kernel size`` (``kernel size = k x C_in / groups x C_out``); a
DepthwiseConv ``positions x k x C x multiplier``; a SeparableConv both of its kernels; a
MultiHeadAttention its four projections and the attention itself
(:func:`~tf_green.pruning.structured.attention.attention_macs`). Layers of either engine.
Other layers (BatchNormalization, pooling, joins) are left out: they are cheap next to
these and folded or fused by converters.

Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((5, 5, 2)), keras.layers.Conv2D(4, 3, name="c")])
    >>> layer_macs(model)
    {'c': 648}
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pandas as pd

from tf_green.pruning.structured.attention import attention_macs
from tf_green.pruning.structured.graph import graph_nodes
from tf_green.pruning.structured.layer_kinds import classes
from tf_green.pruning.structured.nodes import node_outputs

__all__ = ["COUNTED", "layer_macs", "shrink_report"]

L = keras.layers
COUNTED = (
    L.Conv1D,
    L.Conv2D,
    L.Conv3D,
    L.DepthwiseConv1D,
    L.DepthwiseConv2D,
    L.SeparableConv1D,
    L.SeparableConv2D,
    L.Dense,
)


def _counted(layer: Any) -> bool:
    """A Conv/Dense-like layer (or attention) of either engine (Keras 3 or tf_keras)."""
    c = classes(layer)
    return isinstance(layer, (*c.convs, *c.depthwise, *c.separable, c.dense, c.attention))


def _kernel_size(layer: Any) -> int:
    if isinstance(layer, classes(layer).separable):
        return int(np.prod(layer.depthwise_kernel.shape) + np.prod(layer.pointwise_kernel.shape))
    return int(np.prod(layer.kernel.shape))


def layer_macs(model: Any) -> dict[str, int]:
    """MACs of one example through each Conv/Dense-like layer of ``model`` (all its calls).

    Args:
        model: A built Keras 3 Sequential or functional model.

    Returns:
        Layer name -> MACs, in model order (layers doing no MACs are left out).

    Raises:
        ValueError: If a counted layer's output has an unknown spatial size.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
        >>> layer_macs(model)["d"]
        6
    """
    macs: dict[str, int] = {}
    for layer, node in graph_nodes(model):
        if not _counted(layer):
            continue
        if isinstance(layer, classes(layer).attention):
            macs[layer.name] = macs.get(layer.name, 0) + attention_macs(layer, node)
            continue
        output = node_outputs(node)[0]
        positions = output.shape[1:-1]
        if any(d is None for d in positions):
            raise ValueError(
                f"layer {layer.name!r} has an output of unknown spatial size "
                f"{output.shape}; MACs need a model with a fixed input size."
            )
        count = int(np.prod(positions, dtype=np.int64)) * _kernel_size(layer)
        macs[layer.name] = macs.get(layer.name, 0) + count
    return macs


def _shapes(layer: Any) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(d) for d in w.shape) for w in layer.weights)


def _channels(layer: Any) -> int:
    return int(layer.output.shape[-1])


def shrink_report(model: Any, small: Any) -> pd.DataFrame:
    """One row per layer with weights: shapes, channels kept and MACs before and after.

    Args:
        model: The original model.
        small: The shrunk model (same layer names).

    Returns:
        A DataFrame indexed by layer name with columns ``type``, ``weights_before``,
        ``weights_after`` (weight shapes), ``channels_before``, ``channels_after`` (output
        channels), ``kept`` (their fraction), ``macs_before``, ``macs_after`` (0 for layers
        doing no counted MACs) and ``changed``. ``attrs`` holds the totals:
        ``macs_before``, ``macs_after``, ``params_before``, ``params_after``; for a model
        whose MACs cannot be counted (an input of unknown length) the MACs are NaN/None and
        ``macs_note`` says why.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
        >>> int(shrink_report(model, model).loc["d", "macs_after"])
        6
    """
    try:
        before, after = layer_macs(model), layer_macs(small)
        note = None
    except ValueError as error:  # e.g. a language model of any length: no MACs, say why
        before, after, note = {}, {}, str(error)
    rows = []
    for layer in model.layers:
        if not layer.weights:
            continue
        new = small.get_layer(layer.name)
        old_shapes, new_shapes = _shapes(layer), _shapes(new)
        rows.append(
            {
                "layer": layer.name,
                "type": type(layer).__name__,
                "weights_before": old_shapes,
                "weights_after": new_shapes,
                "channels_before": _channels(layer),
                "channels_after": _channels(new),
                "kept": _channels(new) / _channels(layer),
                "macs_before": before.get(layer.name, np.nan if note else 0),
                "macs_after": after.get(layer.name, np.nan if note else 0),
                "changed": old_shapes != new_shapes,
            }
        )
    columns = ["layer", "type", "weights_before", "weights_after", "channels_before"]
    columns += ["channels_after", "kept", "macs_before", "macs_after", "changed"]
    frame = pd.DataFrame(rows, columns=columns).set_index("layer")
    frame.attrs.update(
        macs_before=None if note else sum(before.values()),
        macs_after=None if note else sum(after.values()),
        macs_note=note,
        params_before=int(model.count_params()),
        params_after=int(small.count_params()),
    )
    return frame
