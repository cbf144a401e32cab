"""The tf_keras side of :mod:`tf_green.models`: its ``PositionEmbedding`` layer.

Imported only when a tf_keras model is built or loaded (``engine="tf_keras"``), so a Keras 3
build never imports tf_keras or TFMOT. The class is registered with tf_keras as
``tf_green>PositionEmbedding``, so saved models load without ``custom_objects``.

Example:
    >>> from tf_green._models_tf_keras import PositionEmbedding
    >>> PositionEmbedding(max_length=8)(tf.zeros((2, 5, 4))).shape.as_list()
    [2, 5, 4]
"""

from __future__ import annotations

from tf_green._keras import keras, tf

__all__ = ["PositionEmbedding", "keras"]


@keras.utils.register_keras_serializable(package="tf_green")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned position vector to each step of a (batch, time, features) input.

    Args:
        max_length: The longest sequence the layer supports.
        initializer: Initializer of the (max_length, features) position table.
        **kwargs: Standard layer arguments (``name``, ``dtype`` ...).

    Raises:
        ValueError: At call time (eagerly) or as an ``InvalidArgumentError`` (in graphs),
            if the input is longer than ``max_length``.

    Example:
        >>> layer = PositionEmbedding(max_length=8)
        >>> layer(tf.zeros((2, 5, 4))).shape.as_list()
        [2, 5, 4]
    """

    def __init__(self, max_length: int, initializer: str = "glorot_uniform", **kwargs) -> None:
        super().__init__(**kwargs)
        if int(max_length) < 1:
            raise ValueError(f"`max_length` must be >= 1, got {max_length}.")
        self.max_length = int(max_length)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape: tf.TensorShape) -> None:
        """Create the position table."""
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.max_length, int(input_shape[-1])),
            initializer=self.initializer,
            trainable=True,
        )
        super().build(input_shape)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        """Add the positions ``0 .. length - 1`` to ``inputs``."""
        length = tf.shape(inputs)[-2]
        static = inputs.shape[-2]
        if static is not None and static > self.max_length:
            raise ValueError(
                f"layer {self.name!r}: sequence length {static} exceeds max_length "
                f"{self.max_length}; build the model with a larger seq_len or crop the input."
            )
        message = f"layer {self.name}: sequence longer than max_length {self.max_length}"
        with tf.control_dependencies(
            [tf.debugging.assert_less_equal(length, self.max_length, message=message)]
        ):
            positions = self.embeddings[:length]
        return inputs + tf.cast(positions, inputs.dtype)

    def get_config(self) -> dict:
        """Return the layer's config, complete for ``from_config``."""
        config = super().get_config()
        config.update(
            max_length=self.max_length,
            initializer=keras.initializers.serialize(self.initializer),
        )
        return config
