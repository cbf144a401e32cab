"""Key/value-cached decoding for :func:`tf_green.models.tiny_lm`-style language models.

A causal transformer recomputes, at every new token, the keys and values of every earlier
token. :class:`CachedDecoder` keeps each layer's keys and values instead, so a decode step
costs one token's work: it runs the model's own layers (same objects, same weights, nothing
copied or retrained) on the new token only and attends over the cache.

* :func:`find_plan`: the model's layers in decode order, or the reason it has no cache path.
* :func:`forward`: the one implementation of prefill and decode, written against a small
  ops namespace (TensorFlow for tf_keras, ``keras.ops`` for Keras 3), also traced by the
  LiteRT export (:mod:`tf_green.quantization.tflite_decoder`).
* :class:`CachedDecoder`: compiled prefill/decode steps (``tf.function`` on TensorFlow,
  ``jax.jit`` on JAX), checked against the full model once when built.
* :func:`cached_decoder`: the decoder of a model, built once and reused.

The cache has a fixed size, the model's ``seq_len`` (``PositionEmbedding.max_length``):
keys/values ``(num_layers, batch, seq_len, heads, head_dim)``. Prefill takes the prompt
right-padded to ``seq_len`` (causal: padding changes no earlier logit; the padded slots are
overwritten before any query can see them), so every step has static shapes.

Example:
    >>> import numpy as np
    >>> from tf_green import models
    >>> lm = models.tiny_lm(20, d_model=8, num_layers=1, num_heads=2, seq_len=8)
    >>> decoder = cached_decoder(lm)
    >>> logits, state = decoder.prefill(np.array([1, 2, 3]))
    >>> logits, state = decoder.decode(4, 3, state)
    >>> logits.shape
    (20,)
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import types
from collections import OrderedDict
from typing import Any

import numpy as np

from tf_green._engine import engine_of, require_keras3_backend

__all__ = ["CachedDecoder", "DecodePlan", "cached_decoder", "find_plan", "forward", "tf_ops"]

_NEGATIVE = -1e9  # what Keras' masked softmax adds to a masked score
_BLOCK_TYPES = (
    "LayerNormalization",
    "MultiHeadAttention",
    "Add",
    "LayerNormalization",
    "Dense",
    "Dense",
    "Add",
)
_SKIPPED = ("InputLayer", "Dropout")
_DECODERS: OrderedDict[int, tuple[Any, CachedDecoder]] = OrderedDict()
_KEEP = 4  # decoders kept for reuse (each holds its model)


@dataclasses.dataclass(frozen=True)
class DecodePlan:
    """The layers of a tiny_lm-style model, in the order cached decoding runs them.

    Attributes:
        embedding: The token ``Embedding`` layer.
        position: The ``PositionEmbedding`` layer (its ``embeddings`` table is read).
        blocks: Per block: (ln1, attention, ln2, ff1, ff2).
        final_ln: The final ``LayerNormalization``.
        logits: The output ``Dense`` layer.

    Example:
        >>> from tf_green import models
        >>> find_plan(models.tiny_lm(10, 8, 2, 2, seq_len=4)).num_layers
        2
    """

    embedding: Any
    position: Any
    blocks: tuple[tuple[Any, Any, Any, Any, Any], ...]
    final_ln: Any
    logits: Any

    @property
    def num_layers(self) -> int:
        """Number of transformer blocks."""
        return len(self.blocks)

    @property
    def max_length(self) -> int:
        """The context length, which is also the cache length."""
        return int(self.position.max_length)

    @property
    def cache_shape(self) -> tuple[int, int, int, int]:
        """(num_layers, seq_len, heads, head_dim) of the key and the value cache, less batch."""
        attention = self.blocks[0][1]
        return (self.num_layers, self.max_length, _heads(attention), int(attention._key_dim))

    @property
    def vocab_size(self) -> int:
        """Number of output logits."""
        return int(self.logits.units)


def _heads(attention: Any) -> int:
    return int(getattr(attention, "_num_heads", getattr(attention, "num_heads", 0)))


def _projection(attention: Any, name: str) -> Any:
    layer = getattr(attention, f"_{name}_dense", None)
    return layer if layer is not None else getattr(attention, f"{name}_dense")


def find_plan(model: Any) -> DecodePlan | str:
    """The decode plan of a tiny_lm-style model, or a sentence saying why it has none.

    The model must be (or wrap, as :func:`tf_green.models.with_fixed_length` does) Embedding
    -> PositionEmbedding -> blocks of [LayerNorm, MultiHeadAttention, Add, LayerNorm, Dense,
    Dense, Add] (Dropout allowed) -> LayerNorm -> Dense. :class:`CachedDecoder` also checks
    the cached arithmetic against the full model, so a look-alike that differs is refused.

    Args:
        model: A Keras model (either engine).

    Returns:
        A :class:`DecodePlan`, or the reason (a str) the model has no cache path.

    Example:
        >>> from tf_green import models
        >>> find_plan(models.cnn(width=2))[:31]
        'model cnn_2 is not a tiny_lm-st'
    """
    layers = [layer for layer in model.layers if type(layer).__name__ not in _SKIPPED]
    if len(layers) == 1 and hasattr(layers[0], "layers"):  # with_fixed_length's wrapper
        return find_plan(layers[0])
    names = [type(layer).__name__ for layer in layers]
    reason = (
        f"model {model.name} is not a tiny_lm-style transformer (Embedding, PositionEmbedding, "
        "pre-norm attention blocks, LayerNorm, Dense), so it has no key/value cache path"
    )
    count, rest = divmod(len(names) - 4, len(_BLOCK_TYPES))
    if len(names) < 4 + len(_BLOCK_TYPES) or rest:
        return reason
    expected = ["Embedding", "PositionEmbedding", *(_BLOCK_TYPES * count)]
    if names != [*expected, "LayerNormalization", "Dense"]:
        return reason
    blocks = []
    for i in range(count):
        ln1, attention, _, ln2, ff1, ff2, _ = layers[2 + 7 * i : 9 + 7 * i]
        if getattr(attention, "_query_dense", None) is None and not attention.built:
            return f"layer {attention.name} is not built; call the model once first"
        blocks.append((ln1, attention, ln2, ff1, ff2))
    if not hasattr(layers[1], "max_length") or not hasattr(layers[1], "embeddings"):
        return f"layer {layers[1].name} has no max_length/embeddings table"
    return DecodePlan(layers[0], layers[1], tuple(blocks), layers[-2], layers[-1])


def tf_ops() -> types.SimpleNamespace:
    """The ops :func:`forward` needs, from TensorFlow (for tf_keras models and LiteRT export).

    Returns:
        A namespace with the same names as ``keras.ops`` for the ops used.

    Example:
        >>> float(tf_ops().softmax(np.zeros((1, 2), "float32"))[0, 0])
        0.5
    """
    tf = importlib.import_module("tensorflow")
    return types.SimpleNamespace(
        arange=lambda n: tf.range(n, dtype=tf.int32),
        cast=tf.cast,
        einsum=tf.einsum,
        expand_dims=tf.expand_dims,
        less_equal=tf.less_equal,
        equal=tf.equal,
        multiply=tf.multiply,
        softmax=lambda x, axis=-1: tf.nn.softmax(x, axis=axis),
        stack=lambda xs, axis=0: tf.stack(xs, axis=axis),
        take=lambda x, i, axis=0: tf.gather(x, i, axis=axis),
        where=tf.where,
    )


def forward(
    plan: DecodePlan, ops: Any, tokens: Any, start: Any, k_cache: Any = None, v_cache: Any = None
) -> tuple[Any, Any, Any]:
    """Run the model on ``tokens`` placed at ``start``, reading and writing the cache.

    Prefill (``k_cache`` None): ``tokens`` is (batch, seq_len), positions 0 .. seq_len - 1;
    the caches are built from scratch. Decode: ``tokens`` is (batch, 1) at position
    ``start`` (an int32 scalar); its key and value are written into slot ``start`` and the
    query attends to slots 0 .. ``start``. The arithmetic is MultiHeadAttention's (scaled
    query, the same einsums, -1e9 added to masked scores), on the model's own layers.

    Args:
        plan: The model's :class:`DecodePlan`.
        ops: :func:`tf_ops` or ``keras.ops``, matching the model's engine and backend.
        tokens: int32 ids, (batch, seq_len) for prefill, (batch, 1) for decode.
        start: Position of ``tokens[:, 0]`` (0 for prefill).
        k_cache: Keys (num_layers, batch, seq_len, heads, head_dim), or None for prefill.
        v_cache: Values, same shape, or None for prefill.

    Returns:
        (logits (batch, time, vocab), new k_cache, new v_cache).

    Example:
        >>> from tf_green import models
        >>> lm = models.tiny_lm(10, 8, 1, 2, seq_len=4)
        >>> logits, k, v = forward(find_plan(lm), tf_ops(), np.zeros((1, 4), "int32"), 0)
        >>> tuple(k.shape)
        (1, 1, 4, 2, 4)
    """
    size = plan.max_length
    prefill = k_cache is None
    time = size if prefill else 1
    positions = ops.arange(time) + start
    x = plan.embedding(tokens)
    x = x + ops.cast(ops.take(plan.position.embeddings, positions, axis=0), x.dtype)
    slots = ops.arange(size)
    allowed = ops.less_equal(ops.expand_dims(slots, 0), ops.expand_dims(positions, 1))
    adder = (1.0 - ops.cast(allowed, x.dtype)) * _NEGATIVE  # (time, slots)
    written = ops.expand_dims(ops.expand_dims(ops.equal(slots, start), -1), -1)  # (slots, 1, 1)
    keys, values = [], []
    for i, (ln1, attention, ln2, ff1, ff2) in enumerate(plan.blocks):
        a = ln1(x)
        scale = 1.0 / math.sqrt(float(attention._key_dim))
        query = ops.multiply(_projection(attention, "query")(a), ops.cast(scale, x.dtype))
        key, value = _projection(attention, "key")(a), _projection(attention, "value")(a)
        if not prefill:  # write this token's key/value into slot `start`
            key = ops.where(written, key, k_cache[i])
            value = ops.where(written, value, v_cache[i])
        keys.append(key)
        values.append(value)
        scores = ops.einsum("aecd,abcd->acbe", key, query) + adder
        mixed = ops.einsum("acbe,aecd->abcd", ops.softmax(scores, axis=-1), value)
        x = x + _projection(attention, "output")(mixed)
        x = x + ff2(ff1(ln2(x)))
    logits = plan.logits(plan.final_ln(x))
    return logits, ops.stack(keys, axis=0), ops.stack(values, axis=0)


class CachedDecoder:
    """Prefill and one-token decode steps of a tiny_lm-style model, with a key/value cache.

    Shares the model's layers and weights (later weight changes are seen). The steps are
    compiled once: ``tf.function`` for tf_keras and Keras 3 on TensorFlow, ``jax.jit`` (with
    the variables passed in) on JAX. Built once per model by :func:`cached_decoder`, which
    also checks it against the full model.

    Args:
        model: A tiny_lm-style model (see :func:`find_plan`), either engine.

    Raises:
        ValueError: If the model has no cache path (the reason is in the message).

    Example:
        >>> from tf_green import models
        >>> CachedDecoder(models.tiny_lm(10, 8, 1, 2, seq_len=4)).max_length
        4
    """

    def __init__(self, model: Any) -> None:
        plan = find_plan(model)
        if isinstance(plan, str):
            raise ValueError(plan)
        self.model = model
        self.plan = plan
        self.engine = engine_of(model)
        self.backend = "tensorflow" if self.engine == "tf_keras" else require_keras3_backend()
        if self.backend == "jax":
            self._prefill, self._decode = self._jax_steps()
        else:
            self._prefill, self._decode = self._tf_steps()

    @property
    def max_length(self) -> int:
        """The context (and cache) length."""
        return self.plan.max_length

    def _ops(self) -> Any:
        return tf_ops() if self.engine == "tf_keras" else importlib.import_module("keras").ops

    def _tf_steps(self) -> tuple[Any, Any]:
        tf = importlib.import_module("tensorflow")
        plan, ops = self.plan, self._ops()
        cache = tf.TensorSpec([plan.num_layers, None, *plan.cache_shape[1:]], tf.float32)

        @tf.function(input_signature=[tf.TensorSpec([None, plan.max_length], tf.int32)])
        def prefill(tokens: Any) -> Any:
            return forward(plan, ops, tokens, 0)

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, 1], tf.int32),
                tf.TensorSpec([], tf.int32),
                cache,
                cache,
            ]
        )
        def decode(token: Any, position: Any, k_cache: Any, v_cache: Any) -> Any:
            return forward(plan, ops, token, position, k_cache, v_cache)

        return prefill, decode

    def _jax_steps(self) -> tuple[Any, Any]:
        jax = importlib.import_module("jax")
        keras = importlib.import_module("keras")
        plan, ops, variables = self.plan, keras.ops, list(self.model.variables)

        def stateless(values: list, *args: Any) -> Any:
            with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
                return forward(plan, ops, *args)

        prefill = jax.jit(lambda values, tokens: stateless(values, tokens, 0))
        decode = jax.jit(stateless)

        def with_values(step: Any) -> Any:
            return lambda *args: step([v.value for v in variables], *args)

        return with_values(prefill), with_values(decode)

    def full_logits(self, tokens: np.ndarray) -> np.ndarray:
        """Logits at every position of ``tokens`` (1-D), from one prefill; (len, vocab).

        Example:
            >>> from tf_green import models
            >>> CachedDecoder(models.tiny_lm(10, 8, 1, 2, seq_len=4)).full_logits([1, 2]).shape
            (2, 10)
        """
        logits, _, _ = self._run_prefill(tokens)
        return logits[: len(tokens)]

    def _run_prefill(self, tokens: Any) -> tuple[np.ndarray, Any, Any]:
        tokens = np.asarray(tokens, np.int32).reshape(-1)
        if not 1 <= len(tokens) <= self.max_length:
            raise ValueError(
                f"the context must have 1 .. {self.max_length} tokens, got {len(tokens)}."
            )
        padded = np.zeros((1, self.max_length), np.int32)
        padded[0, : len(tokens)] = tokens
        logits, keys, values = self._prefill(padded)
        return np.asarray(logits, np.float32)[0], keys, values

    def prefill(self, tokens: Any) -> tuple[np.ndarray, tuple[Any, Any]]:
        """Run the context (1-D ids, at most ``max_length``) and fill the cache.

        Returns:
            (logits of the token after the context, shape (vocab,); the cache state).

        Example:
            >>> from tf_green import models
            >>> decoder = CachedDecoder(models.tiny_lm(10, 8, 1, 2, seq_len=4))
            >>> decoder.prefill([3, 1])[0].shape
            (10,)
        """
        logits, keys, values = self._run_prefill(tokens)
        return logits[len(np.asarray(tokens).reshape(-1)) - 1], (keys, values)

    def decode(self, token: int, position: int, state: tuple[Any, Any]) -> tuple[np.ndarray, Any]:
        """Feed one token at ``position`` (0-based, < ``max_length``), reading the cache.

        Returns:
            (logits of the next token, shape (vocab,); the new cache state).

        Example:
            >>> from tf_green import models
            >>> decoder = CachedDecoder(models.tiny_lm(10, 8, 1, 2, seq_len=4))
            >>> _, state = decoder.prefill([3, 1])
            >>> decoder.decode(2, 2, state)[0].shape
            (10,)
        """
        if not 0 <= int(position) < self.max_length:
            raise ValueError(f"`position` must be in [0, {self.max_length}), got {position}.")
        keys, values = state
        token = np.full((1, 1), int(token), np.int32)
        logits, keys, values = self._decode(token, np.int32(position), keys, values)
        return np.asarray(logits, np.float32)[0, 0], (keys, values)

    def check(self, length: int = 6, seed: int = 0) -> float:
        """Compare prefill and decode with the full model on random ids; return the gap.

        Raises:
            ValueError: If a cached logit differs from the model's by more than 1e-3 of the
                logits' scale (the model is not what its layers' types suggest).

        Example:
            >>> from tf_green import models
            >>> CachedDecoder(models.tiny_lm(10, 8, 1, 2, seq_len=8)).check() < 1e-3
            True
        """
        length = max(2, min(int(length), self.max_length))
        rng = np.random.default_rng(seed)
        tokens = rng.integers(0, self.plan.vocab_size, size=length).astype(np.int32)
        padded = np.zeros((1, self.max_length), np.int32)  # fits a static-length wrapper too
        padded[0, :length] = tokens
        full = np.asarray(self.model(padded, training=False), np.float32)[0, :length]
        cached = [self.full_logits(tokens)]
        _, state = self.prefill(tokens[:-1])
        cached.append(self.decode(int(tokens[-1]), length - 1, state)[0][None])
        reference = [full, full[-1:]]
        gap = max(float(np.max(np.abs(a - b))) for a, b in zip(cached, reference, strict=True))
        scale = max(1.0, float(np.max(np.abs(full))))
        if not gap <= 1e-3 * scale:
            raise ValueError(
                f"model {self.model.name}: cached decoding differs from the model's own output "
                f"by {gap:.3g} (scale {scale:.3g}); it is not a tiny_lm-style model, so it has "
                "no key/value cache path."
            )
        return gap


def cached_decoder(model: Any) -> CachedDecoder:
    """The checked :class:`CachedDecoder` of ``model``, built on first use and reused.

    The last few decoders are kept (each holds its model), so repeated ``tg.generate``
    calls compile once.

    Args:
        model: A tiny_lm-style model, either engine.

    Returns:
        Its decoder, checked against the full model (:meth:`CachedDecoder.check`).

    Raises:
        ValueError: If the model has no cache path.

    Example:
        >>> from tf_green import models
        >>> lm = models.tiny_lm(10, 8, 1, 2, seq_len=4)
        >>> cached_decoder(lm) is cached_decoder(lm)
        True
    """
    entry = _DECODERS.get(id(model))
    if entry is not None and entry[0] is model:
        _DECODERS.move_to_end(id(model))
        return entry[1]
    decoder = CachedDecoder(model)
    decoder.check()
    _DECODERS[id(model)] = (model, decoder)
    while len(_DECODERS) > _KEEP:
        _DECODERS.popitem(last=False)
    return decoder
