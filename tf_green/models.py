"""Small reference architectures for the demo, tests, notebooks and benchmarks, either Keras.

Each function returns a new, uncompiled functional model built only from standard Keras
layers (plus :class:`PositionEmbedding` in :func:`tiny_lm`), so it can be pruned and exported
to TFLite. ``engine="keras3"`` (the default) builds it with Keras 3 on its TensorFlow or JAX
backend, importing neither tf_keras nor TFMOT; ``engine="tf_keras"`` builds the same
architecture (same layer names, same parameter counts) with tf_keras (Keras 2, what TFMOT
and quantization-aware training need). The tf_keras side loads only when a tf_keras model
is asked for.

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

:func:`tiny_lm` models also decode incrementally with a key/value cache
(:mod:`tf_green.lm_cache`), which :func:`tf_green.generate` uses.

Example:
    >>> from tf_green import models
    >>> models.cnn(width=16).count_params()  # Keras 3
    6090
    >>> models.cnn(width=16, engine="tf_keras").count_params()
    6090
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from tf_green._engine import engine_of, keras_named, require_keras3_backend
from tf_green._model_builders import build_cnn, build_fixed_length, build_mlp, build_tiny_lm

__all__ = [  # noqa: F822 (PositionEmbedding loads on first access, see __getattr__)
    "ENGINES",
    "PositionEmbedding",
    "cnn",
    "compile_classifier",
    "mlp",
    "position_embedding_class",
    "tiny_lm",
    "with_fixed_length",
]

ENGINES = ("tf_keras", "keras3")

# The module holding each engine's PositionEmbedding (imported on first use).
_LAYER_MODULES = {"tf_keras": "tf_green._models_tf_keras", "keras3": "tf_green._models_keras3"}


def __getattr__(name: str) -> Any:
    """``PositionEmbedding`` is the tf_keras layer (the default engine), loaded on first use."""
    if name == "PositionEmbedding":
        return position_embedding_class("tf_keras")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def position_embedding_class(engine: str = "tf_keras") -> type:
    """The ``PositionEmbedding`` layer class of an engine.

    ``tg.models.PositionEmbedding`` is the tf_keras one; the Keras 3 one has the same
    weight, config and arithmetic, registered with Keras 3 as ``tf_green>PositionEmbedding``.

    Args:
        engine: ``"tf_keras"`` or ``"keras3"``.

    Returns:
        The layer class.

    Raises:
        ValueError: For another engine name.

    Example:
        >>> position_embedding_class("keras3").__module__
        'tf_green._models_keras3'
    """
    _keras(engine)
    return importlib.import_module(_LAYER_MODULES[engine]).PositionEmbedding


def _keras(engine: str) -> Any:
    """The Keras module of ``engine`` (checking Keras 3's backend), or a ValueError."""
    if engine not in ENGINES:
        raise ValueError(f"`engine` must be 'tf_keras' or 'keras3', got {engine!r}.")
    keras = keras_named(engine)
    if engine == "keras3":
        require_keras3_backend("engine")
    else:  # register tf_green's tf_keras classes, as importing this module used to
        importlib.import_module(_LAYER_MODULES["tf_keras"])
    return keras


def cnn(
    width: int = 128,
    input_shape: tuple[int, ...] = (8, 8, 1),
    num_classes: int = 10,
    name: str | None = None,
    *,
    engine: str = "keras3",
) -> Any:
    """The keras.io knowledge-distillation CNN, sized by ``width``; outputs logits.

    Conv(width, 3x3, stride 2) -> MaxPool(2x2, stride 1) -> Conv(2 x width, 3x3,
    stride 2) -> Flatten -> Dense(num_classes). ReLU activations, so every layer is
    supported by pruning, quantization-aware training and full-INT8 TFLite.

    Args:
        width: Filters of the first convolution (the second has twice as many), >= 1.
        input_shape: Image shape (height, width, channels).
        num_classes: Number of output logits.
        name: Model name; defaults to ``cnn_<width>``.
        engine: ``"keras3"`` (default) or ``"tf_keras"``.

    Returns:
        An uncompiled functional model of ``engine`` mapping images to logits.

    Raises:
        ValueError: If ``width`` or ``num_classes`` is < 1, or on an unknown ``engine``.

    Example:
        >>> cnn(width=256).count_params()
        1203210
    """
    _check_positive(width=width, num_classes=num_classes)
    keras = _keras(engine)
    name = name or f"cnn_{width}"
    return build_cnn(keras, int(width), tuple(input_shape), int(num_classes), name)


def mlp(
    hidden: Sequence[int] = (128, 64),
    input_dim: int = 64,
    num_classes: int = 10,
    dropout: float = 0.0,
    name: str = "mlp",
    *,
    engine: str = "keras3",
) -> Any:
    """A multi-layer perceptron on flat inputs; outputs logits.

    Args:
        hidden: Units of each hidden ReLU layer.
        input_dim: Number of input features.
        num_classes: Number of output logits.
        dropout: Dropout rate after each hidden layer, in [0, 1).
        name: Model name.
        engine: ``"keras3"`` (default) or ``"tf_keras"``.

    Returns:
        An uncompiled functional model of ``engine``.

    Raises:
        ValueError: On a non-positive size, a dropout outside [0, 1) or an unknown ``engine``.

    Example:
        >>> mlp().count_params()
        17226
    """
    _check_positive(input_dim=input_dim, num_classes=num_classes, **{"hidden": min(hidden or [1])})
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}.")
    keras = _keras(engine)
    return build_mlp(keras, tuple(hidden), int(input_dim), int(num_classes), dropout, name)


def tiny_lm(
    vocab_size: int,
    d_model: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    seq_len: int = 64,
    ff_multiplier: int = 4,
    dropout: float = 0.0,
    name: str | None = None,
    *,
    engine: str = "keras3",
) -> Any:
    """A small pre-norm causal transformer language model; outputs next-token logits.

    Embedding + :class:`PositionEmbedding` -> ``num_layers`` x [LayerNorm ->
    causal MultiHeadAttention -> Add; LayerNorm -> Dense(ff, gelu) -> Dense -> Add]
    -> LayerNorm -> Dense(vocab_size). Residuals are ``Add`` layers (not ``+``), so TFMOT
    sees no TF-op layers. The input length is dynamic, up to ``seq_len``. The model also
    decodes with a key/value cache (:func:`tf_green.lm_cache.cached_decoder`), sharing its
    weights.

    Args:
        vocab_size: Number of tokens.
        d_model: Width of the residual stream; divisible by ``num_heads``.
        num_layers: Number of transformer blocks.
        num_heads: Attention heads per block.
        seq_len: The longest input the model supports.
        ff_multiplier: Width of the feed-forward layer as a multiple of ``d_model``.
        dropout: Dropout rate in attention and after each sub-layer, in [0, 1).
        name: Model name; defaults to ``tiny_lm_<d_model>x<num_layers>``.
        engine: ``"keras3"`` (default) or ``"tf_keras"``.

    Returns:
        An uncompiled model mapping int token ids (batch, time) to logits
        (batch, time, vocab_size).

    Raises:
        ValueError: On a non-positive size, ``d_model`` not divisible by ``num_heads`` or an
            unknown ``engine``.

    Example:
        >>> import numpy as np
        >>> model = tiny_lm(vocab_size=50, d_model=32, num_layers=1, num_heads=2, seq_len=16)
        >>> tuple(model(np.zeros((1, 10), np.int32)).shape)
        (1, 10, 50)
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
    keras = _keras(engine)
    return build_tiny_lm(
        keras,
        position_embedding_class(engine),
        vocab_size=int(vocab_size),
        d_model=int(d_model),
        num_layers=int(num_layers),
        num_heads=int(num_heads),
        seq_len=int(seq_len),
        ff_multiplier=int(ff_multiplier),
        dropout=float(dropout),
        name=name or f"tiny_lm_{d_model}x{num_layers}",
    )


def with_fixed_length(model: Any, seq_len: int | None = None, *, engine: str | None = None) -> Any:
    """Wrap a dynamic-length LM in a model whose input has a static length.

    TFLite's XNNPACK delegate cannot resize a graph whose sequence length is dynamic, so
    export this wrapper (it shares the LM's layers and weights; nothing is copied). Feed it
    right-padded windows: the LM is causal, so padding never changes earlier logits.

    Args:
        model: A language model taking int ids (batch, time), e.g. from :func:`tiny_lm`.
        seq_len: The static length; defaults to the model's ``PositionEmbedding.max_length``.
        engine: The engine to build the wrapper with; None (default) means ``model``'s own,
            and any other value must match it.

    Returns:
        A functional model with input shape (None, seq_len) and the same outputs.

    Raises:
        ValueError: If ``seq_len`` is not given and the model has no PositionEmbedding, or
            ``engine`` is not ``model``'s engine.

    Example:
        >>> lm = tiny_lm(vocab_size=20, d_model=8, num_layers=1, num_heads=2, seq_len=16)
        >>> with_fixed_length(lm).input_shape
        (None, 16)
    """
    keras = _keras(_model_engine(model, engine))
    if seq_len is None:
        lengths = [
            layer.max_length
            for layer in model.layers
            if type(layer).__name__ == "PositionEmbedding" and hasattr(layer, "max_length")
        ]
        if not lengths:
            raise ValueError(
                f"model {model.name!r} has no PositionEmbedding layer; pass `seq_len` explicitly."
            )
        seq_len = lengths[0]
    _check_positive(seq_len=seq_len)
    return build_fixed_length(keras, model, int(seq_len))


def compile_classifier(
    model: Any, learning_rate: float = 3e-3, *, engine: str | None = None
) -> Any:
    """Compile a logits model the way the reference models expect: Adam, sparse CE, accuracy.

    Every model in this module outputs logits (no softmax), so the loss is
    ``SparseCategoricalCrossentropy(from_logits=True)``; for :func:`tiny_lm` the accuracy is
    next-token accuracy. The optimizer and loss come from ``model``'s own Keras.

    Args:
        model: A model mapping inputs to logits.
        learning_rate: Adam's learning rate.
        engine: None (default) for ``model``'s engine; any other value must match it.

    Returns:
        ``model``, compiled in place.

    Raises:
        ValueError: If ``engine`` is not ``model``'s engine.

    Example:
        >>> compile_classifier(cnn(width=4)).loss.get_config()["from_logits"]
        True
    """
    keras = _keras(_model_engine(model, engine))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _model_engine(model: Any, engine: str | None) -> str:
    actual = engine_of(model)
    if engine is not None and engine != actual:
        if engine not in ENGINES:
            raise ValueError(f"`engine` must be 'tf_keras' or 'keras3', got {engine!r}.")
        raise ValueError(
            f"`engine` is {engine!r} but `model` {model.name!r} is a {actual} model; "
            "leave `engine` out (it follows the model) or build the model with that engine."
        )
    return actual


def _check_positive(**values: int) -> None:
    for argument, value in values.items():
        if int(value) < 1:
            raise ValueError(f"`{argument}` must be >= 1, got {value}.")
