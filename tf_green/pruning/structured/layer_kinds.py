"""How each Keras 3 layer treats the channel axis, for the dependency graph.

Example:
    >>> import keras
    >>> mixes_channels(keras.layers.Activation("relu"))
    False
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["layer_kind", "mixes_channels"]

L = keras.layers
_PRESERVE = (
    L.BatchNormalization,
    L.ReLU,
    L.LeakyReLU,
    L.ELU,
    L.PReLU,
    L.Dropout,
    L.SpatialDropout1D,
    L.SpatialDropout2D,
    L.SpatialDropout3D,
    L.GaussianNoise,
    L.GaussianDropout,
    L.AlphaDropout,
    L.ActivityRegularization,
    L.Identity,
    L.MaxPooling1D,
    L.MaxPooling2D,
    L.MaxPooling3D,
    L.AveragePooling1D,
    L.AveragePooling2D,
    L.AveragePooling3D,
    L.GlobalAveragePooling1D,
    L.GlobalAveragePooling2D,
    L.GlobalAveragePooling3D,
    L.GlobalMaxPooling1D,
    L.GlobalMaxPooling2D,
    L.GlobalMaxPooling3D,
    L.ZeroPadding1D,
    L.ZeroPadding2D,
    L.ZeroPadding3D,
    L.Cropping1D,
    L.Cropping2D,
    L.Cropping3D,
    L.UpSampling1D,
    L.UpSampling2D,
    L.UpSampling3D,
    L.Activation,
)
_JOINS = (L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum)
_CONVS = (L.Conv1D, L.Conv2D, L.Conv3D)
_DEPTHWISE = (L.DepthwiseConv1D, L.DepthwiseConv2D)
_SEPARABLE = (L.SeparableConv1D, L.SeparableConv2D)
_CHANNEL_MIXING_ACTIVATIONS = ("softmax", "log_softmax")


def layer_kind(layer: Any, node: Any) -> str:
    """How one call of a layer treats the channel (last) axis.

    Args:
        layer: The layer.
        node: The call (its input and output tensors).

    Returns:
        ``"input"``, ``"produce"`` (new output channels: Conv, Dense, SeparableConv),
        ``"preserve"`` (channel by channel: BN, activations, pooling, padding, dropout),
        ``"depthwise"`` (follows its input), ``"flatten"``, ``"join"`` (Add, Multiply, ...),
        ``"concat"`` or ``"unknown"``.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> layer_kind(model.layers[0], model.layers[0]._inbound_nodes[0])
        'produce'
    """
    if len(node.output_tensors) != 1:
        return "unknown"
    if getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
        return "unknown"  # LoRA factors and quantized kernels are not sliced here
    fmt = getattr(layer, "data_format", "channels_last")
    if fmt not in (None, "channels_last"):
        return "unknown"
    if isinstance(layer, L.InputLayer):
        return "input"
    if isinstance(layer, _DEPTHWISE):
        return "depthwise" if layer.depth_multiplier == 1 else "unknown"
    if isinstance(layer, _SEPARABLE):
        return "produce"
    if isinstance(layer, _CONVS):
        return "produce" if layer.groups == 1 else "unknown"
    if isinstance(layer, L.Dense):
        return "produce"
    if isinstance(layer, L.BatchNormalization):
        rank = len(node.input_tensors[0].shape)
        return "preserve" if layer.axis in (-1, rank - 1) else "unknown"
    if isinstance(layer, _PRESERVE):
        return "unknown" if mixes_channels(layer) else "preserve"
    if isinstance(layer, L.Flatten):
        return "flatten"
    if isinstance(layer, _JOINS):
        return "join"
    if isinstance(layer, L.Concatenate):
        return "concat"
    return "unknown"


def mixes_channels(layer: Any) -> bool:
    """Whether the layer's own activation (softmax) mixes its output channels.

    Example:
        >>> import keras
        >>> mixes_channels(keras.layers.Dense(2, activation="softmax"))
        True
    """
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "") in _CHANNEL_MIXING_ACTIVATIONS
