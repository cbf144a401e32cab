"""Key/value-cached decoding for :func:`tf_green.models.tiny_lm`-style language models.

A causal transformer recomputes, at every new token, the keys and values of every earlier
token. :class:`CachedDecoder` keeps each layer's keys and values instead, so a decode step
costs one token's work: it runs the model's own layers (same objects, same weights, nothing
copied or retrained) on the new token only and attends over the cache.

* :func:`find_plan`, :func:`forward`, :func:`tf_ops` (from :mod:`tf_green.lm_blocks`): the
  model's layers in decode order, and the Keras implementation of prefill and decode (the
  LiteRT export, :mod:`tf_green.quantization.tflite_decoder`, folds the same plan's weights
  into a graph of its own).
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

import importlib
from collections import OrderedDict
from typing import Any

import numpy as np

from tf_green._engine import engine_of, require_keras3_backend
from tf_green.lm_blocks import DecodePlan, find_plan, forward, tf_ops

__all__ = ["CachedDecoder", "DecodePlan", "cached_decoder", "find_plan", "forward", "tf_ops"]

_DECODERS: OrderedDict[int, tuple[Any, CachedDecoder]] = OrderedDict()
_KEEP = 4  # decoders kept for reuse (each holds its model)


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
