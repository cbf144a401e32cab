"""Sample text from a trained character-level language model, Keras or TFLite.

Example:
    >>> import tf_green as tg
    >>> corpus = tg.datasets.python_docs(max_chars=20_000)
    >>> lm = tg.models.tiny_lm(len(corpus.vocab), d_model=16, num_layers=1, num_heads=2)
    >>> text = generate(lm, "for ", 8, vocab=corpus.vocab, seed=0)
    >>> len(text)
    8
"""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from tf_green._keras import is_keras3_model, is_tf_keras_model, keras, require_tf_keras_model
from tf_green.datasets import Vocabulary

__all__ = ["context_length", "generate", "next_token_logits"]


def _as_runner(model: Any) -> Any:
    if is_tf_keras_model(model):
        return model
    if is_keras3_model(model):
        require_tf_keras_model(model, call="tg.generate")
    if isinstance(model, (bytes, bytearray, str, pathlib.Path)):
        from tf_green.quantization import TFLiteModel

        return TFLiteModel(model)
    if hasattr(model, "predict") and hasattr(model, "input_details"):
        return model
    raise TypeError(
        f"`model` must be a tf_keras language model, a TFLiteModel or a .tflite path/bytes, "
        f"got {type(model).__name__}."
    )


def context_length(model: Any) -> int | None:
    """The longest input a language model accepts, or None if it does not say.

    Args:
        model: A tf_keras model (its ``PositionEmbedding.max_length``) or a TFLiteModel
            (its input's static length).

    Returns:
        The number of tokens, or None when unknown.

    Example:
        >>> from tf_green import models
        >>> context_length(models.tiny_lm(10, 8, 1, 2, seq_len=12))
        12
    """
    if is_tf_keras_model(model):
        lengths = [
            getattr(layer, "max_length", None)
            for layer in model.layers
            if type(layer).__name__ == "PositionEmbedding"
        ]
        return lengths[0] if lengths else None
    details = getattr(model, "input_details", None)
    if details:
        signature = details[0].get("shape_signature", details[0]["shape"])
        return int(signature[-1]) if int(signature[-1]) > 0 else None
    return None


def next_token_logits(model: Any, tokens: np.ndarray) -> np.ndarray:
    """Logits of the token that follows ``tokens``.

    Models with a static input length (TFLite exports, see
    :func:`tf_green.models.with_fixed_length`) get the context right-padded: the model is
    causal, so padding after the last token cannot change that token's logits.

    Args:
        model: A tf_keras LM or a TFLiteModel mapping (1, time) int ids to
            (1, time, vocab) logits.
        tokens: 1-D int token ids, the context, no longer than the model's context.

    Returns:
        float32 logits of shape (vocab,).

    Example:
        >>> from tf_green import models
        >>> next_token_logits(models.tiny_lm(10, 8, 1, 2, 12), np.array([1, 2])).shape
        (10,)
    """
    tokens = np.asarray(tokens, dtype=np.int32)
    static = None if is_tf_keras_model(model) else context_length(model)
    batch = np.zeros((1, static or len(tokens)), np.int32)
    batch[0, : len(tokens)] = tokens
    out = model(batch, training=False) if is_tf_keras_model(model) else model.predict(batch)
    return np.array(out, dtype=np.float32)[0, len(tokens) - 1]


def generate(
    model: keras.Model | Any,
    prompt: str,
    max_new_tokens: int,
    *,
    vocab: Vocabulary,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    errors: str = "strict",
) -> str:
    """Sample ``max_new_tokens`` characters that continue ``prompt``.

    The context slides: once prompt and generated text exceed the model's context length,
    only the most recent tokens are fed.

    Args:
        model: A tf_keras LM (e.g. :func:`tf_green.models.tiny_lm`), a TFLiteModel, or a
            ``.tflite`` path or bytes.
        prompt: The text to continue; at least one character.
        max_new_tokens: Number of characters to generate, >= 1.
        vocab: The vocabulary the model was trained with.
        temperature: Softmax temperature; 0 picks the most likely token (greedy).
        top_k: Sample only among the ``top_k`` most likely tokens (None: all).
        seed: Seed of the sampler; the same seed gives the same text.
        errors: Prompt characters outside ``vocab``: ``"strict"`` raises, ``"replace"``
            maps them to the unknown token.

    Returns:
        The generated text only (without the prompt).

    Raises:
        ValueError: On an empty prompt, characters outside the vocabulary (strict), or a
            non-positive ``max_new_tokens``, negative ``temperature`` or ``top_k`` < 1.
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
    if not prompt:
        raise ValueError("`prompt` must have at least one character.")
    runner = _as_runner(model)
    tokens = list(vocab.encode(prompt, errors=errors))
    window = context_length(runner) or len(tokens) + int(max_new_tokens)
    rng = np.random.default_rng(seed)
    generated: list[int] = []
    for _ in range(int(max_new_tokens)):
        logits = next_token_logits(runner, np.array(tokens[-window:]))
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
