"""Small reference architectures (tf_keras) for the demo, tests, notebooks and benchmarks.

Each function returns a new, uncompiled functional model built only from standard Keras
layers (plus :class:`PositionEmbedding` in :func:`tiny_lm`), so TFMOT can prune it and the
TFLite converter can export it.

Parameter counts (8x8x1 digits, 10 classes):

=========================  ==========  =========================================
call                       params      use
=========================  ==========  =========================================
``cnn(width=256)``         1,203,210   teacher (keras.io distillation example)
``cnn(width=128)``           306,698   pruning/quantization reference
``cnn(width=16)``              6,090   student
``mlp()``                     17,226   dense baseline on flattened digits
``tiny_lm(104, 128, 4, 4)``  ~830k     SLM teacher (vocab 104, seq_len 64)
``tiny_lm(104, 32, 2, 2)``   ~35k      SLM student
=========================  ==========  =========================================

Example:
    >>> from tf_green import models
    >>> models.cnn(width=16).count_params()
    6090
"""

from __future__ import annotations

from collections.abc import Sequence

from tf_green._keras import keras, tf

__all__ = ["PositionEmbedding", "cnn", "compile_classifier", "mlp", "tiny_lm", "with_fixed_length"]


def cnn(
    width: int = 128,
    input_shape: tuple[int, ...] = (8, 8, 1),
    num_classes: int = 10,
    name: str | None = None,
) -> keras.Model:
    """The keras.io knowledge-distillation CNN, sized by ``width``; outputs logits.

    Conv(width, 3x3, stride 2) -> MaxPool(2x2, stride 1) -> Conv(2 x width, 3x3,
    stride 2) -> Flatten -> Dense(num_classes). ReLU activations, so every layer is
    supported by TFMOT pruning, quantization-aware training and full-INT8 TFLite.

    Args:
        width: Filters of the first convolution (the second has twice as many), >= 1.
        input_shape: Image shape (height, width, channels).
        num_classes: Number of output logits.
        name: Model name; defaults to ``cnn_<width>``.

    Returns:
        An uncompiled ``tf_keras`` functional model mapping images to logits.

    Raises:
        ValueError: If ``width`` or ``num_classes`` is < 1.

    Example:
        >>> cnn(width=256).count_params()
        1203210
    """
    _check_positive(width=width, num_classes=num_classes)
    inputs = keras.Input(shape=input_shape, name="image")
    h = keras.layers.Conv2D(width, 3, strides=2, padding="same", activation="relu", name="conv1")(
        inputs
    )
    h = keras.layers.MaxPooling2D(2, strides=1, padding="same", name="pool")(h)
    h = keras.layers.Conv2D(
        2 * width, 3, strides=2, padding="same", activation="relu", name="conv2"
    )(h)
    h = keras.layers.Flatten(name="flatten")(h)
    outputs = keras.layers.Dense(num_classes, name="logits")(h)
    return keras.Model(inputs, outputs, name=name or f"cnn_{width}")


def mlp(
    hidden: Sequence[int] = (128, 64),
    input_dim: int = 64,
    num_classes: int = 10,
    dropout: float = 0.0,
    name: str = "mlp",
) -> keras.Model:
    """A multi-layer perceptron on flat inputs; outputs logits.

    Args:
        hidden: Units of each hidden ReLU layer.
        input_dim: Number of input features.
        num_classes: Number of output logits.
        dropout: Dropout rate after each hidden layer, in [0, 1).
        name: Model name.

    Returns:
        An uncompiled ``tf_keras`` functional model.

    Raises:
        ValueError: On a non-positive size or a dropout outside [0, 1).

    Example:
        >>> mlp().count_params()
        17226
    """
    _check_positive(input_dim=input_dim, num_classes=num_classes, **{"hidden": min(hidden or [1])})
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}.")
    inputs = keras.Input(shape=(input_dim,), name="features")
    h = inputs
    for i, units in enumerate(hidden):
        h = keras.layers.Dense(units, activation="relu", name=f"dense{i + 1}")(h)
        if dropout:
            h = keras.layers.Dropout(dropout, name=f"dropout{i + 1}")(h)
    outputs = keras.layers.Dense(num_classes, name="logits")(h)
    return keras.Model(inputs, outputs, name=name)


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


def tiny_lm(
    vocab_size: int,
    d_model: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    seq_len: int = 64,
    ff_multiplier: int = 4,
    dropout: float = 0.0,
    name: str | None = None,
) -> keras.Model:
    """A small pre-norm causal transformer language model; outputs next-token logits.

    Embedding + :class:`PositionEmbedding` -> ``num_layers`` x [LayerNorm ->
    causal MultiHeadAttention -> Add; LayerNorm -> Dense(ff, gelu) -> Dense -> Add]
    -> LayerNorm -> Dense(vocab_size). Residuals are ``Add`` layers (not ``+``), so TFMOT
    sees no TF-op layers. The input length is dynamic, up to ``seq_len``.

    Args:
        vocab_size: Number of tokens.
        d_model: Width of the residual stream; divisible by ``num_heads``.
        num_layers: Number of transformer blocks.
        num_heads: Attention heads per block.
        seq_len: The longest input the model supports.
        ff_multiplier: Width of the feed-forward layer as a multiple of ``d_model``.
        dropout: Dropout rate in attention and after each sub-layer, in [0, 1).
        name: Model name; defaults to ``tiny_lm_<d_model>x<num_layers>``.

    Returns:
        An uncompiled model mapping int token ids (batch, time) to logits
        (batch, time, vocab_size).

    Raises:
        ValueError: On a non-positive size or ``d_model`` not divisible by ``num_heads``.

    Example:
        >>> model = tiny_lm(vocab_size=50, d_model=32, num_layers=1, num_heads=2, seq_len=16)
        >>> model(tf.zeros((1, 10), tf.int32)).shape.as_list()
        [1, 10, 50]
    """
    _check_positive(
        vocab_size=vocab_size,
        d_model=d_model,
        num_layers=num_layers,
        num_heads=num_heads,
        seq_len=seq_len,
        ff_multiplier=ff_multiplier,
    )
    if d_model % num_heads:
        raise ValueError(f"`d_model` ({d_model}) must be divisible by `num_heads` ({num_heads}).")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}.")
    layers = keras.layers
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    h = layers.Embedding(vocab_size, d_model, name="token_embedding")(tokens)
    h = PositionEmbedding(seq_len, name="position_embedding")(h)
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
    return keras.Model(tokens, logits, name=name or f"tiny_lm_{d_model}x{num_layers}")


def with_fixed_length(model: keras.Model, seq_len: int | None = None) -> keras.Model:
    """Wrap a dynamic-length LM in a model whose input has a static length.

    TFLite's XNNPACK delegate cannot resize a graph whose sequence length is dynamic, so
    export this wrapper (it shares the LM's layers and weights; nothing is copied). Feed it
    right-padded windows: the LM is causal, so padding never changes earlier logits.

    Args:
        model: A language model taking int ids (batch, time), e.g. from :func:`tiny_lm`.
        seq_len: The static length; defaults to the model's ``PositionEmbedding.max_length``.

    Returns:
        A functional model with input shape (None, seq_len) and the same outputs.

    Raises:
        ValueError: If ``seq_len`` is not given and the model has no PositionEmbedding.

    Example:
        >>> lm = tiny_lm(vocab_size=20, d_model=8, num_layers=1, num_heads=2, seq_len=16)
        >>> with_fixed_length(lm).input_shape
        (None, 16)
    """
    if seq_len is None:
        lengths = [
            layer.max_length for layer in model.layers if isinstance(layer, PositionEmbedding)
        ]
        if not lengths:
            raise ValueError(
                f"model {model.name!r} has no PositionEmbedding layer; pass `seq_len` explicitly."
            )
        seq_len = lengths[0]
    _check_positive(seq_len=seq_len)
    tokens = keras.Input(shape=(int(seq_len),), dtype="int32", name="tokens")
    return keras.Model(tokens, model(tokens), name=f"{model.name}_fixed{seq_len}")


def compile_classifier(model: keras.Model, learning_rate: float = 3e-3) -> keras.Model:
    """Compile a logits model the way the reference models expect: Adam, sparse CE, accuracy.

    Every model in this module outputs logits (no softmax), so the loss is
    ``SparseCategoricalCrossentropy(from_logits=True)``; for :func:`tiny_lm` the accuracy is
    next-token accuracy.

    Args:
        model: A model mapping inputs to logits.
        learning_rate: Adam's learning rate.

    Returns:
        ``model``, compiled in place.

    Example:
        >>> compile_classifier(cnn(width=4)).loss.get_config()["from_logits"]
        True
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _check_positive(**values: int) -> None:
    for argument, value in values.items():
        if int(value) < 1:
            raise ValueError(f"`{argument}` must be >= 1, got {value}.")
