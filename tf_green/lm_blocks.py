"""The layers of a tiny_lm-style model, and the one arithmetic of its cached decoding.

* :func:`find_plan`: the model's layers in decode order (:class:`DecodePlan`), or the reason
  it has no key/value cache path.
* :func:`forward`: prefill and one-token decode on those layers (same objects, same
  weights), written against a small ops namespace: :func:`tf_ops` (TensorFlow, for tf_keras
  models) or ``keras.ops`` (Keras 3, any backend).

:mod:`tf_green.lm_cache` compiles and runs it in Keras. The LiteRT export
(:mod:`tf_green.quantization.tflite_decoder`) reads the same plan's weights into a folded
graph of its own (:mod:`tf_green.quantization._decoder_graph`) and checks it against the model.

Example:
    >>> import numpy as np
    >>> from tf_green import models
    >>> plan = find_plan(models.tiny_lm(10, 8, 1, 2, seq_len=4))
    >>> logits, keys, values = forward(plan, tf_ops(), np.zeros((1, 4), "int32"), 0)
    >>> tuple(logits.shape), plan.cache_shape
    ((1, 4, 10), (1, 4, 2, 4))
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import types
from typing import Any

__all__ = ["DecodePlan", "find_plan", "forward", "tf_ops"]

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
    """The ops :func:`forward` needs, from TensorFlow (for tf_keras models).

    Returns:
        A namespace with the same names as ``keras.ops`` for the ops used.

    Example:
        >>> import numpy as np
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
        >>> import numpy as np
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
