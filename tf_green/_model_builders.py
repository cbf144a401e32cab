"""The reference architectures of :mod:`tf_green.models`, written once for either Keras.

Each builder takes the Keras module to build with (``tf_keras`` or Keras 3's ``keras``) and,
for the LM, that engine's ``PositionEmbedding`` class; :mod:`tf_green.models` validates the
arguments, picks the engine and documents the public calls. The same code path builds both
engines, so layer names, shapes and parameter counts agree by construction.

Example:
    >>> import keras
    >>> build_mlp(keras, (8,), 4, 2, 0.0, "m").count_params()
    58
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["build_cnn", "build_fixed_length", "build_mlp", "build_tiny_lm"]


def build_cnn(
    keras: Any, width: int, input_shape: tuple[int, ...], num_classes: int, name: str
) -> Any:
    """Conv -> MaxPool -> Conv -> Flatten -> Dense logits (see :func:`tf_green.models.cnn`).

    Example:
        >>> import keras
        >>> build_cnn(keras, 16, (8, 8, 1), 10, "c").count_params()
        6090
    """
    layers = keras.layers
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    h = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu", name="conv1")(inputs)
    h = layers.MaxPooling2D(2, strides=1, padding="same", name="pool")(h)
    h = layers.Conv2D(2 * width, 3, strides=2, padding="same", activation="relu", name="conv2")(h)
    h = layers.Flatten(name="flatten")(h)
    outputs = layers.Dense(num_classes, name="logits")(h)
    return keras.Model(inputs, outputs, name=name)


def build_mlp(
    keras: Any,
    hidden: Sequence[int],
    input_dim: int,
    num_classes: int,
    dropout: float,
    name: str,
) -> Any:
    """Dense ReLU layers -> Dense logits (see :func:`tf_green.models.mlp`).

    Example:
        >>> import keras
        >>> build_mlp(keras, (128, 64), 64, 10, 0.0, "mlp").count_params()
        17226
    """
    inputs = keras.Input(shape=(input_dim,), name="features")
    h = inputs
    for i, units in enumerate(hidden):
        h = keras.layers.Dense(units, activation="relu", name=f"dense{i + 1}")(h)
        if dropout:
            h = keras.layers.Dropout(dropout, name=f"dropout{i + 1}")(h)
    outputs = keras.layers.Dense(num_classes, name="logits")(h)
    return keras.Model(inputs, outputs, name=name)


def build_tiny_lm(
    keras: Any,
    position_embedding: type,
    *,
    vocab_size: int,
    d_model: int,
    num_layers: int,
    num_heads: int,
    seq_len: int,
    ff_multiplier: int,
    dropout: float,
    name: str,
) -> Any:
    """The pre-norm causal transformer LM (see :func:`tf_green.models.tiny_lm`).

    The layer names (``token_embedding``, ``position_embedding``, ``block{i}_ln1``,
    ``block{i}_attention`` ... ``final_ln``, ``logits``) are what the cached decoder
    (:mod:`tf_green.lm_blocks`) reads.

    Example:
        >>> import keras
        >>> from tf_green._models_keras3 import PositionEmbedding
        >>> lm = build_tiny_lm(keras, PositionEmbedding, vocab_size=10, d_model=8, num_layers=1,
        ...                    num_heads=2, seq_len=4, ff_multiplier=4, dropout=0.0, name="lm")
        >>> lm.count_params()
        1090
    """
    layers = keras.layers
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    h = layers.Embedding(vocab_size, d_model, name="token_embedding")(tokens)
    h = position_embedding(seq_len, name="position_embedding")(h)
    for i in range(num_layers):
        a = layers.LayerNormalization(epsilon=1e-5, name=f"block{i}_ln1")(h)
        a = layers.MultiHeadAttention(
            num_heads, d_model // num_heads, dropout=dropout, name=f"block{i}_attention"
        )(a, a, use_causal_mask=True)
        if dropout:
            a = layers.Dropout(dropout, name=f"block{i}_dropout1")(a)
        h = layers.Add(name=f"block{i}_add1")([h, a])
        f = layers.LayerNormalization(epsilon=1e-5, name=f"block{i}_ln2")(h)
        f = layers.Dense(ff_multiplier * d_model, activation="gelu", name=f"block{i}_ff1")(f)
        f = layers.Dense(d_model, name=f"block{i}_ff2")(f)
        if dropout:
            f = layers.Dropout(dropout, name=f"block{i}_dropout2")(f)
        h = layers.Add(name=f"block{i}_add2")([h, f])
    h = layers.LayerNormalization(epsilon=1e-5, name="final_ln")(h)
    logits = layers.Dense(vocab_size, name="logits")(h)
    return keras.Model(tokens, logits, name=name)


def build_fixed_length(keras: Any, model: Any, seq_len: int) -> Any:
    """A static-length wrapper sharing ``model``'s layers (see ``models.with_fixed_length``).

    Example:
        >>> import keras
        >>> build_fixed_length(keras, build_mlp(keras, (), 3, 2, 0.0, "m"), 3).input_shape
        (None, 3)
    """
    tokens = keras.Input(shape=(int(seq_len),), dtype="int32", name="tokens")
    return keras.Model(tokens, model(tokens), name=f"{model.name}_fixed{seq_len}")
