"""The Keras 3 side of :mod:`tf_green.models`: its ``PositionEmbedding`` layer.

Imports only ``keras`` (3), and ``tensorflow`` on the TensorFlow backend (the graph-time
length check); never tf_keras or TFMOT. The class is registered with Keras 3 as
``tf_green>PositionEmbedding``, so ``.keras`` files that use it load without
``custom_objects`` once this module is imported (``tg.models.tiny_lm(..., engine="keras3")``
imports it).

Example:
    >>> import numpy as np
    >>> layer = PositionEmbedding(max_length=8)
    >>> tuple(layer(np.zeros((2, 5, 4), "float32")).shape)
    (2, 5, 4)
"""

from __future__ import annotations

import importlib
from typing import Any

import keras
from keras import ops

__all__ = ["PositionEmbedding", "keras"]


@keras.saving.register_keras_serializable(package="tf_green")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned position vector to each step of a (batch, time, features) input.

    The Keras 3 twin of the tf_keras layer: same weight (``embeddings``, shape
    ``(max_length, features)``), same config, same arithmetic.

    Args:
        max_length: The longest sequence the layer supports.
        initializer: Initializer of the (max_length, features) position table.
        **kwargs: Standard layer arguments (``name``, ``dtype`` ...).

    Raises:
        ValueError: If ``max_length`` < 1, or at call time if the input is longer than
            ``max_length`` (an ``InvalidArgumentError`` for a length known only in a TF graph).

    Example:
        >>> import numpy as np
        >>> PositionEmbedding(max_length=4).get_config()["max_length"]
        4
    """

    def __init__(self, max_length: int, initializer: Any = "glorot_uniform", **kwargs) -> None:
        super().__init__(**kwargs)
        if int(max_length) < 1:
            raise ValueError(f"`max_length` must be >= 1, got {max_length}.")
        self.max_length = int(max_length)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape: tuple) -> None:
        """Create the position table."""
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.max_length, int(input_shape[-1])),
            initializer=self.initializer,
            trainable=True,
        )

    def call(self, inputs: Any) -> Any:
        """Add the positions ``0 .. length - 1`` to ``inputs``."""
        static = inputs.shape[-2]
        if static is not None and static > self.max_length:
            raise ValueError(
                f"layer {self.name!r}: sequence length {static} exceeds max_length "
                f"{self.max_length}; build the model with a larger seq_len or crop the input."
            )
        length = ops.shape(inputs)[-2]
        if keras.backend.backend() == "tensorflow" and not isinstance(length, int):
            # the length is known only in the graph: check it there (the TF backend has
            # imported tensorflow already; the JAX backend never needs it)
            tf = importlib.import_module("tensorflow")
            message = f"layer {self.name}: sequence longer than max_length {self.max_length}"
            with tf.control_dependencies(
                [tf.debugging.assert_less_equal(length, self.max_length, message=message)]
            ):
                positions = tf.identity(self.embeddings.value[:length])
        else:
            positions = self.embeddings[:length]
        return inputs + ops.cast(positions, inputs.dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """The input's shape."""
        return input_shape

    def get_config(self) -> dict:
        """Return the layer's config, complete for ``from_config``."""
        config = super().get_config()
        config.update(
            max_length=self.max_length,
            initializer=keras.initializers.serialize(self.initializer),
        )
        return config
