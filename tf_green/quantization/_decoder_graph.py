"""The LiteRT graph of cached decoding: folded weights, all heads per op, one cache tensor.

:func:`fold_weights` reads a tiny_lm-style model's layers (:func:`tf_green.lm_blocks.find_plan`)
into float32 constants folded for a one-token step; :func:`prefill` and :func:`decode` are
the TensorFlow functions :func:`tf_green.quantization.tflite_decoder.export_decoder` converts.
A decode step is few, large operators that XNNPACK takes as one partition:

* batch 1 and static shapes: no shape arithmetic, activations as (time, features);
* LayerNorm in 4 ops: the residual stream is kept centered (every write into it goes
  through the centering matrix, which LayerNorm ignores) and carries one constant element
  ``sqrt(d_model * epsilon)``, so ``rsqrt(mean(x ** 2))`` is LayerNorm's scale with its
  epsilon; LayerNorm's gain and offset are folded into the matrix that follows;
* per block one FULLY_CONNECTED for query (attention scale folded in), key and value,
  and one BATCH_MATMUL over all heads for the scores and one for the mix; the new
  token's key/value are appended to the cached ones (CONCATENATION), so a block only
  reads the cache;
* one cache tensor ``kv_cache`` (2 * num_layers, heads, seq_len, head_dim) (keys and
  values of block i at 2i and 2i + 1), written once per step, every block's new
  key/value into slot ``input_pos`` by one DYNAMIC_UPDATE_SLICE.

Example:
    >>> import numpy as np
    >>> from tf_green import models
    >>> weights = fold_weights(models.tiny_lm(10, 8, 1, 2, seq_len=4))
    >>> logits, cache = prefill(weights, np.zeros((1, 4), "int32"))
    >>> tuple(logits.shape), tuple(cache.shape)
    ((1, 4, 10), (2, 2, 4, 4))
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import tensorflow as tf

# TensorFlow's XlaDynamicUpdateSlice: the converter lowers it to the builtin
# DYNAMIC_UPDATE_SLICE (tf.raw_ops does not export it)
from tensorflow.compiler.tf2xla.ops import gen_xla_ops

from tf_green.lm_blocks import DecodePlan, _heads, _projection, find_plan

__all__ = ["Folded", "Linear", "decode", "fold_weights", "prefill"]

_NEGATIVE = -1e9  # what Keras' masked softmax adds to a masked score


@dataclasses.dataclass(frozen=True)
class Linear:
    """One FULLY_CONNECTED of the graph: ``activation(x @ kernel + bias)``.

    Attributes:
        kernel: (inputs, outputs) float32.
        bias: (outputs,) float32, or None.
        activation: A TensorFlow function, or None (linear).
        scale: For a folded LayerNorm whose epsilon differs from the stream's, the
            (inputs,) factor that rescales the constant element first; else None.

    Example:
        >>> Linear(np.ones((2, 3), "float32"), None).kernel.shape
        (2, 3)
    """

    kernel: np.ndarray
    bias: np.ndarray | None
    activation: Any = None
    scale: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class Folded:
    """A tiny_lm-style model's weights as float32 constants, folded for cached decoding.

    The residual stream is kept centered (every write into it is multiplied by the
    centering matrix, which LayerNorm ignores) and carries one extra constant element
    ``c = sqrt(d_model * epsilon)``, so ``LayerNorm(x) @ W + b`` is
    ``([x, c] * rsqrt(mean([x, c] ** 2))) @ W' + b'``, LayerNorm's gain and offset (and
    ``sqrt(d_model / (d_model + 1))``) folded into ``W'`` and ``b'``.

    Attributes:
        tokens: The token table (vocab, d_model + 1), centered, last column the constant.
        positions: The position table (seq_len, d_model + 1), centered, last column 0.
        blocks: Per block: (qkv, output, ff1, ff2) :class:`Linear`; qkv is the query (with
            the attention scale), key and value projections side by side.
        final: The logits :class:`Linear`, the final LayerNorm folded in.
        heads: Attention heads per block.
        head_dim: Key (and value) size per head.

    Example:
        >>> from tf_green import models
        >>> fold_weights(models.tiny_lm(10, 8, 2, 2, seq_len=4)).cache_shape
        (4, 2, 4, 4)
    """

    tokens: np.ndarray
    positions: np.ndarray
    blocks: tuple[tuple[Linear, Linear, Linear, Linear], ...]
    final: Linear
    heads: int
    head_dim: int

    @property
    def max_length(self) -> int:
        """The context (and cache) length."""
        return int(self.positions.shape[0])

    @property
    def cache_shape(self) -> tuple[int, int, int, int]:
        """(2 * num_layers, heads, seq_len, head_dim): keys and values of every block."""
        return (2 * len(self.blocks), self.heads, self.max_length, self.head_dim)


_ACTIVATIONS = {
    "linear": None,
    "gelu": lambda x: tf.nn.gelu(x, approximate=False),
    "relu": tf.nn.relu,
    "tanh": tf.math.tanh,
    "sigmoid": tf.math.sigmoid,
    "silu": tf.nn.silu,
    "swish": tf.nn.silu,
}


def _activation(layer: Any) -> Any:
    name = getattr(layer.activation, "__name__", str(layer.activation))
    if name not in _ACTIVATIONS:
        raise ValueError(
            f"layer {layer.name}: activation {name!r} has no decoder op; supported: "
            f"{sorted(_ACTIVATIONS)}."
        )
    return _ACTIVATIONS[name]


def _array(variable: Any) -> np.ndarray | None:
    if variable is None:
        return None
    value = variable.numpy() if hasattr(variable, "numpy") else variable
    return np.asarray(value, np.float64)


def _dense(layer: Any, merged_outputs: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(kernel (inputs, outputs), bias (outputs,)) of a Dense or an attention EinsumDense.

    An attention projection's kernel is (d, heads, dim) (``merged_outputs``) or, for the
    output projection, (heads, dim, d): its extra axes are merged in row-major order.
    """
    kernel = _array(layer.kernel)
    if merged_outputs:
        kernel = kernel.reshape(kernel.shape[0], -1)
    else:
        kernel = kernel.reshape(-1, kernel.shape[-1])
    bias = _array(getattr(layer, "bias", None))
    bias = np.zeros(kernel.shape[1]) if bias is None else bias.reshape(-1)
    return kernel, bias


def _norm(layer: Any) -> tuple[float, np.ndarray, np.ndarray]:
    """Epsilon, scale and offset of a LayerNormalization over the last axis."""
    axis = list(layer.axis) if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    if axis not in ([-1], [2]) or getattr(layer, "rms_scaling", False):
        raise ValueError(
            f"layer {layer.name}: only a LayerNormalization over the last axis (no "
            f"rms_scaling) folds into the decoder, got axis {layer.axis}."
        )
    width = int(_array(layer.gamma if layer.gamma is not None else layer.beta).shape[0])
    scale = np.ones(width) if layer.gamma is None else _array(layer.gamma)
    offset = np.zeros(width) if layer.beta is None else _array(layer.beta)
    return float(layer.epsilon), scale, offset


def _after_norm(norm: Any, kernel: np.ndarray, bias: np.ndarray, epsilon: float, **kw) -> Linear:
    """LayerNorm(x) @ kernel + bias as ([x, c] * rsqrt(mean([x, c] ** 2))) @ kernel' + bias'."""
    own, scale, offset = _norm(norm)
    width = kernel.shape[0]
    folded = np.sqrt(width / (width + 1.0)) * scale[:, None] * kernel
    folded = np.concatenate([folded, np.zeros((1, kernel.shape[1]))])  # the constant's row
    factor = None
    if own != epsilon:  # rescale the constant to this LayerNorm's epsilon
        factor = np.ones(width + 1, np.float32)
        factor[-1] = np.sqrt(own / epsilon) if epsilon else 0.0
    return Linear(
        folded.astype(np.float32), (bias + offset @ kernel).astype(np.float32), scale=factor, **kw
    )


def _into_stream(kernel: np.ndarray, bias: np.ndarray) -> Linear:
    """A write into the residual stream: centered outputs, 0 into the constant element."""
    kernel = kernel - kernel.mean(axis=1, keepdims=True)
    bias = bias - bias.mean()
    kernel = np.concatenate([kernel, np.zeros((kernel.shape[0], 1))], axis=1)
    return Linear(kernel.astype(np.float32), np.append(bias, 0.0).astype(np.float32))


def fold_weights(model: Any) -> Folded:
    """Read a tiny_lm-style model's layers into folded float32 constants (it is not changed).

    Args:
        model: A tiny_lm-style model (either engine, any backend) or its
            :class:`tf_green.lm_blocks.DecodePlan`.

    Returns:
        The :class:`Folded` weights.

    Raises:
        ValueError: If the model has no cache path, or a layer does not fold (a
            LayerNormalization over another axis, keys and values of different sizes, an
            activation without a decoder op).

    Example:
        >>> from tf_green import models
        >>> fold_weights(models.tiny_lm(10, 8, 1, 2, seq_len=4)).head_dim
        4
    """
    plan = model if isinstance(model, DecodePlan) else find_plan(model)
    if isinstance(plan, str):
        raise ValueError(plan)
    heads, head_dim = _heads(plan.blocks[0][1]), int(plan.blocks[0][1]._key_dim)
    norms = [layer for block in plan.blocks for layer in (block[0], block[2])]
    epsilon = max(_norm(layer)[0] for layer in [*norms, plan.final_ln])  # the stream's
    blocks = []
    for ln1, attention, ln2, ff1, ff2 in plan.blocks:
        value_dim = int(getattr(attention, "_value_dim", None) or head_dim)
        if (_heads(attention), int(attention._key_dim), value_dim) != (heads, head_dim, head_dim):
            raise ValueError(
                f"layer {attention.name}: the decoder needs keys and values of one size "
                f"({heads} heads x {head_dim}) in every block."
            )
        scale = 1.0 / math.sqrt(float(head_dim))
        parts = [_dense(_projection(attention, name)) for name in ("query", "key", "value")]
        kernel = np.concatenate([parts[0][0] * scale, parts[1][0], parts[2][0]], axis=1)
        bias = np.concatenate([parts[0][1] * scale, parts[1][1], parts[2][1]])
        ff2_kernel, ff2_bias = _dense(ff2)
        if _activation(ff2) is not None:
            raise ValueError(f"layer {ff2.name}: the decoder needs a linear second Dense.")
        blocks.append(
            (
                _after_norm(ln1, kernel, bias, epsilon),
                _into_stream(*_dense(_projection(attention, "output"), merged_outputs=False)),
                _after_norm(ln2, *_dense(ff1), epsilon, activation=_activation(ff1)),
                _into_stream(ff2_kernel, ff2_bias),
            )
        )
    final = _after_norm(plan.final_ln, *_dense(plan.logits), epsilon)
    final = dataclasses.replace(final, activation=_activation(plan.logits))
    tokens = _array(plan.embedding.embeddings)
    constant = math.sqrt(float(tokens.shape[1]) * epsilon)
    tokens = np.concatenate(
        [tokens - tokens.mean(axis=1, keepdims=True), np.full((len(tokens), 1), constant)], 1
    )
    positions = _array(plan.position.embeddings)
    positions = np.concatenate(
        [positions - positions.mean(axis=1, keepdims=True), np.zeros((len(positions), 1))], 1
    )
    return Folded(
        tokens.astype(np.float32),
        positions.astype(np.float32),
        tuple(blocks),
        final,
        heads,
        head_dim,
    )


def _apply(x: tf.Tensor, linear: Linear) -> tf.Tensor:
    y = tf.matmul(x, tf.constant(linear.kernel))
    if linear.bias is not None:
        y = y + tf.constant(linear.bias)
    return y if linear.activation is None else linear.activation(y)


def _normed(x: tf.Tensor, linear: Linear) -> tf.Tensor:
    """LayerNorm, then ``linear``: SQUARE, MEAN, RSQRT, MUL and one FULLY_CONNECTED."""
    if linear.scale is not None:
        x = x * tf.constant(linear.scale)
    # mean([x, c] ** 2) = (|x| ** 2 + d * epsilon) / (d + 1): LayerNorm's variance
    return _apply(x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True)), linear)


def _feed_forward(x: tf.Tensor, block: tuple[Linear, ...]) -> tf.Tensor:
    return x + _apply(_normed(x, block[2]), block[3])


def prefill(folded: Folded, tokens: Any) -> tuple[tf.Tensor, tf.Tensor]:
    """The context (1, seq_len) at positions 0 ..: (logits (1, seq_len, vocab), kv_cache).

    Example:
        >>> from tf_green import models
        >>> folded = fold_weights(models.tiny_lm(10, 8, 1, 2, seq_len=4))
        >>> tuple(prefill(folded, np.zeros((1, 4), "int32"))[1].shape)
        (2, 2, 4, 4)
    """
    size, heads, head_dim = folded.max_length, folded.heads, folded.head_dim
    x = tf.gather(tf.constant(folded.tokens), tf.reshape(tokens, [size]))
    x = x + tf.constant(folded.positions)
    causal = np.triu(np.full((size, size), _NEGATIVE, np.float32), k=1)
    cache = []
    for block in folded.blocks:
        qkv = tf.reshape(_normed(x, block[0]), [size, 3, heads, head_dim])
        query, key, value = tf.unstack(tf.transpose(qkv, [1, 2, 0, 3]))  # (heads, size, dim)
        scores = tf.matmul(query, key, transpose_b=True) + causal
        mixed = tf.matmul(tf.nn.softmax(scores, axis=-1), value)
        mixed = tf.reshape(tf.transpose(mixed, [1, 0, 2]), [size, heads * head_dim])
        x = _feed_forward(x + _apply(mixed, block[1]), block)
        cache += [key, value]
    return tf.reshape(_normed(x, folded.final), [1, size, -1]), tf.stack(cache)


def decode(folded: Folded, token: Any, input_pos: Any, kv_cache: Any) -> tuple[tf.Tensor, ...]:
    """One token (1, 1) at ``input_pos``: (logits (1, 1, vocab), kv_cache with it written).

    The query attends to cache slots 0 .. input_pos - 1 and to its own key/value, appended
    after the cached ones, so the blocks only read ``kv_cache``; the new keys/values of all
    blocks are written into slot ``input_pos`` at the end, by one DYNAMIC_UPDATE_SLICE.

    Example:
        >>> from tf_green import models
        >>> folded = fold_weights(models.tiny_lm(10, 8, 1, 2, seq_len=4))
        >>> cache = np.zeros(folded.cache_shape, "float32")
        >>> tuple(decode(folded, np.zeros((1, 1), "int32"), 0, cache)[0].shape)
        (1, 1, 10)
    """
    size, heads, head_dim = folded.max_length, folded.heads, folded.head_dim
    x = tf.gather(tf.constant(folded.tokens), tf.reshape(token, [1]))  # (1, d + 1)
    x = x + tf.gather(tf.constant(folded.positions), input_pos)
    slots = np.append(np.arange(size), -1).astype(np.int32)  # cache slots, then its own
    mask = tf.where(tf.less(tf.constant(slots), input_pos), 0.0, _NEGATIVE)  # (size + 1,)
    cached = tf.split(kv_cache, kv_cache.shape[0], axis=0)  # each (1, heads, size, dim)
    new = []
    for i, block in enumerate(folded.blocks):
        qkv = tf.reshape(_normed(x, block[0]), [3, heads, 1, head_dim])
        query, key, value = tf.split(qkv, 3, axis=0)  # each (1, heads, 1, dim)
        keys = tf.concat([cached[2 * i], key], axis=2)  # (1, heads, size + 1, dim)
        values = tf.concat([cached[2 * i + 1], value], axis=2)
        scores = tf.matmul(query, keys, transpose_b=True) + mask
        mixed = tf.matmul(tf.nn.softmax(scores, axis=-1), values)  # (heads, 1, dim)
        mixed = tf.reshape(mixed, [1, heads * head_dim])
        x = _feed_forward(x + _apply(mixed, block[1]), block)
        new += [key, value]
    start = tf.constant([0, 0, 1, 0], tf.int32) * input_pos  # slot input_pos of every row
    kv_cache = gen_xla_ops.xla_dynamic_update_slice(kv_cache, tf.concat(new, axis=0), start)
    return tf.reshape(_normed(x, folded.final), [1, 1, -1]), kv_cache
