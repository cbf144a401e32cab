"""Sample text from a trained character-level language model, Keras or TFLite.

:func:`generate` decodes with a key/value cache whenever the model has one: a
:func:`tf_green.models.tiny_lm`-style Keras model (either engine; TensorFlow or JAX
backend, :mod:`tf_green.lm_cache`) or a LiteRT file with ``prefill``/``decode`` signatures
(:mod:`tf_green.quantization.tflite_decoder`). Other models generate the slow way, one full
forward pass of the context per token, with a one-line note. Greedy decoding gives the same
tokens either way.

Example:
    >>> import tf_green as tg
    >>> corpus = tg.datasets.python_docs(max_chars=20_000)
    >>> lm = tg.models.tiny_lm(len(corpus.vocab), d_model=16, num_layers=1, num_heads=2)
    >>> text = generate(lm, "for ", 8, vocab=corpus.vocab, seed=0)
    >>> len(text)
    8
"""

from __future__ import annotations

import importlib
import os
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from tf_green._engine import engine_of, keras3_backend
from tf_green.datasets import Vocabulary

__all__ = [
    "DecodingComparison",
    "compare_decoding",
    "context_length",
    "generate",
    "next_token_logits",
]

_NOTED: set[str] = set()  # models already told they generate without a cache


def _engine(model: Any) -> str | None:
    try:
        return engine_of(model)
    except TypeError:
        return None


def _on_jax(model: Any) -> bool:
    """Keras 3 on JAX compiles each new input shape: pad its context to one static length."""
    return _engine(model) == "keras3" and keras3_backend() == "jax"


def _decoder_module() -> Any:
    return importlib.import_module("tf_green.quantization.tflite_decoder")


def _as_runner(model: Any) -> Any:
    if _engine(model) is not None:
        return model
    if isinstance(model, (bytes, bytearray, memoryview, str, os.PathLike)):
        decoders = _decoder_module()
        if decoders.has_decode_signatures(model):
            return decoders.TFLiteDecoder(model)
        return importlib.import_module("tf_green.quantization").TFLiteModel(model)
    if hasattr(model, "full_logits") and hasattr(model, "decode"):  # a TFLiteDecoder
        return model
    if hasattr(model, "predict") and hasattr(model, "input_details"):
        content = getattr(model, "model_bytes", None)
        if content is not None and _decoder_module().has_decode_signatures(content):
            return _decoder_module().TFLiteDecoder(content, getattr(model, "num_threads", None))
        return model
    raise TypeError(
        f"`model` must be a Keras language model (tf_keras or Keras 3), a TFLiteModel or a "
        f".tflite path/bytes, got {type(model).__name__}."
    )


def context_length(model: Any) -> int | None:
    """The longest input a language model accepts, or None if it does not say.

    Args:
        model: A Keras model (its ``PositionEmbedding.max_length``), a TFLiteModel (its
            input's static length) or a cached-decoder runner.

    Returns:
        The number of tokens, or None when unknown.

    Example:
        >>> from tf_green import models
        >>> context_length(models.tiny_lm(10, 8, 1, 2, seq_len=12))
        12
    """
    if _engine(model) is not None:
        lengths = [
            getattr(layer, "max_length", None)
            for layer in model.layers
            if type(layer).__name__ == "PositionEmbedding"
        ]
        if not lengths:  # a with_fixed_length wrapper: its input is static
            static = model.inputs[0].shape[-1] if len(model.inputs) == 1 else None
            return int(static) if static else None
        return lengths[0]
    if hasattr(model, "max_length"):
        return int(model.max_length)
    details = getattr(model, "input_details", None)
    if details:
        signature = details[0].get("shape_signature", details[0]["shape"])
        return int(signature[-1]) if int(signature[-1]) > 0 else None
    return None


def next_token_logits(model: Any, tokens: np.ndarray) -> np.ndarray:
    """Logits of the token that follows ``tokens``, from one full forward pass (no cache).

    Models with a static input length (TFLite exports, see
    :func:`tf_green.models.with_fixed_length`), and Keras 3 models on JAX (one compiled
    shape), get the context right-padded to the model's context length: the model is causal,
    so padding after the last token cannot change that token's logits.

    Args:
        model: A Keras LM (either engine), a TFLiteModel mapping (1, time) int ids to
            (1, time, vocab) logits, or a cached-decoder runner (its prefill is used).
        tokens: 1-D int token ids, the context, no longer than the model's context.

    Returns:
        float32 logits of shape (vocab,).

    Example:
        >>> from tf_green import models
        >>> next_token_logits(models.tiny_lm(10, 8, 1, 2, 12), np.array([1, 2])).shape
        (10,)
    """
    tokens = np.asarray(tokens, dtype=np.int32)
    if hasattr(model, "full_logits") and _engine(model) is None:
        return np.asarray(model.full_logits(tokens)[-1], np.float32)
    keras_model = _engine(model) is not None
    static = context_length(model)
    if keras_model and model.inputs[0].shape[-1] is None and not _on_jax(model):
        static = None  # a dynamic-length Keras model takes the context as it is
    batch = np.zeros((1, static or len(tokens)), np.int32)
    batch[0, : len(tokens)] = tokens
    out = model(batch, training=False) if keras_model else model.predict(batch)
    return np.array(out, dtype=np.float32)[0, len(tokens) - 1]


class _Uncached:
    """One full forward pass of the (sliding) context per token."""

    def __init__(self, runner: Any, window: int) -> None:
        self.runner, self.window = runner, window

    def __call__(self, tokens: list[int]) -> np.ndarray:
        return next_token_logits(self.runner, np.array(tokens[-self.window :]))


class _Cached:
    """Prefill once, then one decode step per token while the context fits.

    Past the context length a model with absolute positions must recompute the window (every
    token moves to a new position), so each step then re-prefills the last ``window`` tokens:
    exactly what the uncached path computes, so the tokens stay the same.
    """

    def __init__(self, decoder: Any, window: int) -> None:
        self.decoder, self.window = decoder, min(window, decoder.max_length)
        self.state: Any = None
        self.length = 0  # tokens in the cache, when it holds tokens[0 : length]

    def __call__(self, tokens: list[int]) -> np.ndarray:
        if len(tokens) > self.window:
            self.state = None
            return self.decoder.prefill(np.array(tokens[-self.window :]))[0]
        if self.state is not None and len(tokens) == self.length + 1:
            logits, self.state = self.decoder.decode(tokens[-1], self.length, self.state)
        else:
            logits, self.state = self.decoder.prefill(np.array(tokens))
        self.length = len(tokens)
        return logits


def _stepper(runner: Any, window: int, use_cache: bool | None) -> Any:
    """The cached stepper when the model has a cache path (and use_cache allows it)."""
    if use_cache is False:
        return _Uncached(runner, window)
    if hasattr(runner, "full_logits") and _engine(runner) is None:  # a TFLiteDecoder
        return _Cached(runner, window)
    if _engine(runner) is not None:
        try:
            decoder = importlib.import_module("tf_green.lm_cache").cached_decoder(runner)
        except ValueError as error:
            reason = str(error)
        else:
            return _Cached(decoder, window)
    else:
        reason = (
            "this .tflite has no prefill/decode signatures (export one with "
            "tf_green.quantization.tflite_decoder.export_decoder)"
        )
    if use_cache:
        raise ValueError(f"`use_cache=True` but {reason}.")
    if reason not in _NOTED:
        _NOTED.add(reason)
        warnings.warn(
            f"tg.generate: {reason}; generating without a key/value cache "
            "(one full forward pass of the context per token).",
            stacklevel=3,
        )
    return _Uncached(runner, window)


def generate(
    model: Any,
    prompt: str,
    max_new_tokens: int,
    *,
    vocab: Vocabulary,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    errors: str = "strict",
    use_cache: bool | None = None,
) -> str:
    """Sample ``max_new_tokens`` characters that continue ``prompt``.

    The context slides: once prompt and generated text exceed the model's context length,
    only the most recent tokens are fed. With a key/value cache (see the module docstring)
    the prompt is run once and each new token costs one token's work while the text fits
    the context; past it, the window is recomputed per token (absolute positions move).

    Args:
        model: A Keras LM (e.g. :func:`tf_green.models.tiny_lm`, tf_keras or Keras 3), a
            TFLiteModel, a ``.tflite`` path or bytes, or a
            :class:`~tf_green.quantization.tflite_decoder.TFLiteDecoder`.
        prompt: The text to continue; at least one character.
        max_new_tokens: Number of characters to generate, >= 1.
        vocab: The vocabulary the model was trained with.
        temperature: Softmax temperature; 0 picks the most likely token (greedy).
        top_k: Sample only among the ``top_k`` most likely tokens (None: all).
        seed: Seed of the sampler; the same seed gives the same text.
        errors: Prompt characters outside ``vocab``: ``"strict"`` raises, ``"replace"``
            maps them to the unknown token.
        use_cache: None (default): decode with a key/value cache when the model has one,
            else generate the slow way with a one-line note; True: require the cache
            (ValueError if there is none); False: never use it.

    Returns:
        The generated text only (without the prompt).

    Raises:
        ValueError: On an empty prompt, characters outside the vocabulary (strict), a
            non-positive ``max_new_tokens``, negative ``temperature`` or ``top_k`` < 1, or
            ``use_cache=True`` for a model without a cache path.
        TypeError: If ``model`` is not a language model.

    Example:
        >>> generate(lm, "class ", 20, vocab=corpus.vocab, temperature=0.8)  # doctest: +SKIP
        'Foo(object): def'
    """
    if int(max_new_tokens) < 1:
        raise ValueError(f"`max_new_tokens` must be >= 1, got {max_new_tokens}.")
    if temperature < 0:
        raise ValueError(f"`temperature` must be >= 0 (0 is greedy), got {temperature}.")
    if top_k is not None and int(top_k) < 1:
        raise ValueError(f"`top_k` must be >= 1 or None, got {top_k}.")
    if use_cache not in (None, True, False):
        raise TypeError(f"`use_cache` must be None, True or False, got {use_cache!r}.")
    if not prompt:
        raise ValueError("`prompt` must have at least one character.")
    runner = _as_runner(model)
    tokens = list(vocab.encode(prompt, errors=errors))
    window = context_length(runner) or len(tokens) + int(max_new_tokens)
    step = _stepper(runner, window, use_cache)
    rng = np.random.default_rng(seed)
    generated: list[int] = []
    for _ in range(int(max_new_tokens)):
        logits = np.array(step(tokens), np.float32)
        logits[0] = -np.inf  # never emit the unknown token
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            scaled = logits.astype(np.float64) / temperature
            if top_k is not None and top_k < len(scaled):
                cutoff = np.partition(scaled, -int(top_k))[-int(top_k)]
                scaled[scaled < cutoff] = -np.inf
            probs = np.exp(scaled - np.max(scaled))
            token = int(rng.choice(len(probs), p=probs / probs.sum()))
        tokens.append(token)
        generated.append(token)
    return vocab.decode(generated)


@dataclass(frozen=True)
class DecodingComparison:
    """Greedy decoding of one model timed with and without its key/value cache.

    Times are wall clock per generated token, the two paths interleaved in rounds (see
    :func:`compare_decoding`).

    Attributes:
        cached_ms_per_token: Median over rounds, with the cache.
        uncached_ms_per_token: Median over rounds, one full forward pass per token.
        speedup: Median of the per-round ratios uncached / cached.
        same_tokens: Whether both paths generated the same text.
        tokens: Tokens generated per run.
        rounds: Rounds timed.

    Example:
        >>> DecodingComparison(1.0, 8.0, 8.0, True, 32, 3).speedup
        8.0
    """

    cached_ms_per_token: float
    uncached_ms_per_token: float
    speedup: float
    same_tokens: bool
    tokens: int
    rounds: int


def compare_decoding(
    model: Any,
    prompt: str,
    max_new_tokens: int = 32,
    *,
    vocab: Vocabulary,
    rounds: int = 3,
    errors: str = "strict",
) -> DecodingComparison:
    """Time greedy generation with the key/value cache against without it.

    Both paths run once untimed (tracing, compilation), then ``rounds`` times each,
    interleaved, so drift on a busy machine hits both alike.

    Args:
        model: A language model with a cache path (see :func:`generate`).
        prompt: The text to continue.
        max_new_tokens: Tokens per timed run, >= 1.
        vocab: The model's vocabulary.
        rounds: Timed rounds, >= 1.
        errors: As in :func:`generate`.

    Returns:
        A :class:`DecodingComparison`.

    Raises:
        ValueError: If the model has no cache path (the reason named), or on bad arguments.

    Example:
        >>> import tf_green as tg
        >>> corpus = tg.datasets.python_docs(max_chars=20_000)
        >>> lm = tg.models.tiny_lm(len(corpus.vocab), d_model=16, num_layers=1, num_heads=2)
        >>> result = compare_decoding(lm, "for ", 4, vocab=corpus.vocab, rounds=1)
        >>> result.same_tokens
        True
    """
    if int(rounds) < 1:
        raise ValueError(f"`rounds` must be >= 1, got {rounds}.")
    runner = _as_runner(model)

    def run(use_cache: bool, tokens: int) -> str:
        return generate(
            runner, prompt, tokens, vocab=vocab, temperature=0, use_cache=use_cache, errors=errors
        )

    run(True, 2)  # raises ValueError when there is no cache path; warms both paths
    run(False, 2)
    times: dict[bool, list[float]] = {True: [], False: []}
    texts: dict[bool, str] = {}
    for _ in range(int(rounds)):
        for use_cache in (False, True):
            start = time.perf_counter()
            texts[use_cache] = run(use_cache, int(max_new_tokens))
            times[use_cache].append((time.perf_counter() - start) * 1000 / int(max_new_tokens))
    ratios = [slow / fast for slow, fast in zip(times[False], times[True], strict=True)]
    return DecodingComparison(
        cached_ms_per_token=float(np.median(times[True])),
        uncached_ms_per_token=float(np.median(times[False])),
        speedup=float(np.median(ratios)),
        same_tokens=texts[True] == texts[False],
        tokens=int(max_new_tokens),
        rounds=int(rounds),
    )
