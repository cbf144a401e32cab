"""Small Keras 3 models and weight surgery helpers of the structured pruning tests."""

from __future__ import annotations

import keras
import numpy as np


def conv_bn(x, filters, name, kernel=3, strides=1, relu=True):
    """Conv2D -> BatchNormalization (-> ReLU), layers named ``name`` and ``name_bn``."""
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", name=name)(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU()(x) if relu else x


def block_net() -> keras.Model:
    """A ResNet-style net: stem, two residual blocks (BN, Add), a strided conv, Flatten, Dense."""
    inputs = keras.Input((8, 8, 3))
    a = conv_bn(inputs, 8, "stem")
    for index in (1, 2):
        h = conv_bn(a, 6, f"b{index}a")
        h = conv_bn(h, 8, f"b{index}b", relu=False)
        a = keras.layers.ReLU()(keras.layers.Add(name=f"add{index}")([a, h]))
    d = conv_bn(a, 4, "down", strides=2)
    h = keras.layers.Flatten()(d)
    h = keras.layers.Dense(10, activation="relu", name="fc")(h)
    return keras.Model(inputs, keras.layers.Dense(3, name="logits")(h))


def randomise_bn(model: keras.Model) -> None:
    """Give every BatchNormalization non-trivial statistics so that slices are checked."""
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n),
                    rng.normal(0, 0.3, n),
                    rng.normal(0, 0.3, n),
                    rng.uniform(0.5, 1.5, n),
                ]
            )


def zero_channels(model: keras.Model, producers: dict, norms: dict) -> None:
    """Make channels exactly zero: producers' filters (kernel and bias) and BN gamma/beta.

    Args:
        model: Changed in place.
        producers: Layer name -> channel indices whose output filters are zeroed.
        norms: BatchNormalization name -> positions whose gamma and beta are zeroed.
    """
    for name, index in producers.items():
        layer = model.get_layer(name)
        weights = layer.get_weights()
        if isinstance(layer, keras.layers.SeparableConv2D):
            weights[1][..., index] = 0
        else:
            weights[0][..., index] = 0
        if layer.use_bias:
            weights[-1][index] = 0
        layer.set_weights(weights)
    for name, index in norms.items():
        layer = model.get_layer(name)
        gamma, beta, mean, var = layer.get_weights()
        gamma[index] = 0
        beta[index] = 0
        layer.set_weights([gamma, beta, mean, var])


def zero_by_groups(model: keras.Model, graph, ratio: float, seed: int = 0) -> None:
    """Zero ``floor(ratio * size)`` random channels of every prunable group, in place.

    Zeroes each producer's filters (kernel and bias) and the gamma and beta of every
    BatchNormalization on those channels (and a depthwise conv's bias), so the channels are
    exactly zero wherever they flow.
    """
    rng = np.random.default_rng(seed)
    for group in graph.groups:
        if not group.prunable:
            continue
        index = rng.choice(group.size, int(np.floor(ratio * group.size + 1e-9)), replace=False)
        zero_channels(model, {layer.name: index for layer in group.producers}, {})
        for layer in model.layers:
            layout = graph.outputs.get(layer.name)
            is_bn = isinstance(layer, keras.layers.BatchNormalization)
            is_dw = isinstance(layer, keras.layers.DepthwiseConv2D) and layer.use_bias
            if layout is None or not (is_bn or is_dw):
                continue
            offset = 0
            for atom, size in layout.segments:
                if graph.find(atom) == group.root:
                    if is_bn:
                        zero_channels(model, {}, {layer.name: offset + index})
                    else:
                        weights = layer.get_weights()
                        weights[-1][offset + index] = 0
                        layer.set_weights(weights)
                offset += size
