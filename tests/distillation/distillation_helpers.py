"""Helpers of the distillation tests: hand computations and tiny models."""

from __future__ import annotations

import numpy as np

from tf_green import models
from tf_green._keras import keras

compile_classifier = models.compile_classifier


def copy_model(model: keras.Model) -> keras.Model:
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def sequence_model(vocab: int, time: int, name: str) -> keras.Model:
    """A model whose logits (batch, time, vocab) are a lookup table: easy to check by hand."""
    tokens = keras.Input((time,), dtype="int32")
    logits = keras.layers.Embedding(vocab, vocab, name="table")(tokens)
    return keras.Model(tokens, logits, name=name)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def hand_kd(teacher_logits, student_logits, temperature):
    p = softmax(teacher_logits / temperature)
    q = softmax(student_logits / temperature)
    return (p * (np.log(p) - np.log(q))).sum(-1) * temperature**2


def hand_ce(labels, logits):
    probs = softmax(logits)
    return -np.log(np.take_along_axis(probs, np.maximum(labels, 0)[..., None], -1)[..., 0])
