"""How each layer treats the channel axis, for the dependency graph (Keras 3 and tf_keras).

The layer classes are looked up in the layer's own engine (:func:`classes`): a tf_keras
layer is compared with ``tf_keras.layers`` (imported only when a tf_keras layer arrives), a
Keras 3 layer with ``keras.layers``, so one table serves both engines.

Example:
    >>> import keras
    >>> mixes_channels(keras.layers.Activation("relu"))
    False
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from typing import Any

from tf_green.pruning.structured.nodes import node_inputs, node_outputs

__all__ = ["LayerClasses", "classes", "is_position_embedding", "layer_kind", "mixes_channels"]

_PRESERVE = (
    "BatchNormalization ReLU LeakyReLU ELU PReLU Dropout SpatialDropout1D SpatialDropout2D "
    "SpatialDropout3D GaussianNoise GaussianDropout AlphaDropout ActivityRegularization Identity "
    "MaxPooling1D MaxPooling2D MaxPooling3D AveragePooling1D AveragePooling2D AveragePooling3D "
    "GlobalAveragePooling1D GlobalAveragePooling2D GlobalAveragePooling3D GlobalMaxPooling1D "
    "GlobalMaxPooling2D GlobalMaxPooling3D ZeroPadding1D ZeroPadding2D ZeroPadding3D Cropping1D "
    "Cropping2D Cropping3D UpSampling1D UpSampling2D UpSampling3D Activation"
)
_CHANNEL_MIXING_ACTIVATIONS = ("softmax", "log_softmax")
# tf_green's own position table (both engines): adds a (length, channels) weight per channel.
_POSITION_EMBEDDINGS = (
    "tf_green._models_keras3.PositionEmbedding",
    "tf_green._models_tf_keras.PositionEmbedding",
)


@dataclasses.dataclass(frozen=True)
class LayerClasses:
    """The layer classes of one engine that the structured pruning graph knows.

    Example:
        >>> import keras
        >>> classes(keras.layers.Dense(2)).dense is keras.layers.Dense
        True
    """

    package: str
    layers: Any
    preserve: tuple[type, ...]
    joins: tuple[type, ...]
    convs: tuple[type, ...]
    depthwise: tuple[type, ...]
    separable: tuple[type, ...]
    dense: type
    batch_norm: type
    prelu: type
    flatten: type
    concatenate: type
    embedding: type
    attention: type
    input: type


@functools.cache
def _engine_classes(package: str) -> LayerClasses:
    layers = importlib.import_module(package).layers

    def named(names: str) -> tuple[type, ...]:
        return tuple(getattr(layers, n) for n in names.split() if hasattr(layers, n))

    return LayerClasses(
        package=package,
        layers=layers,
        preserve=named(_PRESERVE),
        joins=named("Add Subtract Multiply Average Maximum Minimum"),
        convs=named("Conv1D Conv2D Conv3D"),
        depthwise=named("DepthwiseConv1D DepthwiseConv2D"),
        separable=named("SeparableConv1D SeparableConv2D"),
        dense=layers.Dense,
        batch_norm=layers.BatchNormalization,
        prelu=layers.PReLU,
        flatten=layers.Flatten,
        concatenate=layers.Concatenate,
        embedding=layers.Embedding,
        attention=layers.MultiHeadAttention,
        input=layers.InputLayer,
    )


def classes(obj: Any) -> LayerClasses:
    """The layer classes of the engine ``obj`` (a layer or model) belongs to.

    Args:
        obj: A Keras 3 or tf_keras layer or model.

    Returns:
        :class:`LayerClasses` of ``keras.layers`` or ``tf_keras.layers``.

    Example:
        >>> import keras
        >>> classes(keras.layers.ReLU()).layers is keras.layers
        True
    """
    for cls in type(obj).__mro__:
        root = cls.__module__.split(".", 1)[0]
        if root in ("keras", "tf_keras"):
            return _engine_classes(root)
    return _engine_classes("keras")


def is_position_embedding(layer: Any) -> bool:
    """Whether ``layer`` is tf_green's ``PositionEmbedding`` (either engine).

    Example:
        >>> import keras
        >>> is_position_embedding(keras.layers.Dense(2))
        False
    """
    cls = type(layer)
    return f"{cls.__module__}.{cls.__qualname__}" in _POSITION_EMBEDDINGS


def _last_axis(axis: Any, rank: int) -> bool:
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    return len(axes) == 1 and axes[0] in (-1, rank - 1)


def layer_kind(layer: Any, node: Any) -> str:
    """How one call of a layer treats the channel (last) axis.

    Args:
        layer: The layer (Keras 3 or tf_keras).
        node: The call (its input and output tensors).

    Returns:
        ``"input"``, ``"produce"`` (new output channels: Conv, Dense, SeparableConv),
        ``"embedding"`` (new channels from token ids), ``"attention"``
        (MultiHeadAttention: heads, and an output that follows its query),
        ``"preserve"`` (channel by channel: BN, activations, pooling, padding, dropout,
        tf_green's PositionEmbedding), ``"depthwise"`` (follows its input),
        ``"flatten"``, ``"join"`` (Add, Multiply, ...), ``"concat"`` or ``"unknown"``.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> layer_kind(model.layers[0], model.layers[0]._inbound_nodes[0])
        'produce'
    """
    c = classes(layer)
    if len(node_outputs(node)) != 1:
        return "unknown"
    if getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
        return "unknown"  # LoRA factors and quantized kernels are not sliced here
    fmt = getattr(layer, "data_format", "channels_last")
    if fmt not in (None, "channels_last"):
        return "unknown"
    if isinstance(layer, c.input):
        return "input"
    if isinstance(layer, c.depthwise):
        return "depthwise" if layer.depth_multiplier == 1 else "unknown"
    if isinstance(layer, c.separable):
        return "produce"
    if isinstance(layer, c.convs):
        return "produce" if getattr(layer, "groups", 1) == 1 else "unknown"
    if isinstance(layer, c.dense):
        return "produce"
    if isinstance(layer, c.embedding):
        return "embedding"
    if isinstance(layer, c.attention):
        return "unknown" if getattr(layer, "_use_gate", False) else "attention"
    if is_position_embedding(layer):
        return "preserve"
    if isinstance(layer, c.batch_norm):
        return "preserve" if _last_axis(layer.axis, len(node_inputs(node)[0].shape)) else "unknown"
    if isinstance(layer, c.preserve):
        return "unknown" if mixes_channels(layer) else "preserve"
    if isinstance(layer, c.flatten):
        return "flatten"
    if isinstance(layer, c.joins):
        return "join"
    if isinstance(layer, c.concatenate):
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
