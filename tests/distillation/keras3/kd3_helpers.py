"""Tiny Keras 3 models for the Keras 3 distillation tests, and their tf_keras twins."""

from __future__ import annotations

import keras
import numpy as np


def mlp(hidden: int, name: str, seed: int = 0) -> keras.Model:
    """A functional 6 -> hidden -> 4 classifier with a layer named "h" (logits out)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,))
    h = keras.layers.Dense(hidden, activation="relu", name="h")(inputs)
    return keras.Model(inputs, keras.layers.Dense(4, name="logits")(h), name=name)


def lm(vocab: int, time: int, name: str, seed: int = 0) -> keras.Model:
    """Logits (batch, time, vocab) from a lookup table: a tiny sequence model."""
    keras.utils.set_random_seed(seed)
    tokens = keras.Input((time,), dtype="int32")
    logits = keras.layers.Embedding(vocab, vocab, name="table")(tokens)
    return keras.Model(tokens, logits, name=name)


def tf_keras_twin(model: keras.Model):
    """The same architecture and weights in tf_keras (for parity with the tf_keras engine)."""
    import tf_keras

    if isinstance(model.layers[1], keras.layers.Embedding):
        vocab, time = model.layers[1].input_dim, model.input_shape[1]
        tokens = tf_keras.Input((time,), dtype="int32")
        out = tf_keras.layers.Embedding(vocab, vocab, name="table")(tokens)
        twin = tf_keras.Model(tokens, out, name=model.name)
    else:
        inputs = tf_keras.Input((6,))
        h = tf_keras.layers.Dense(model.get_layer("h").units, activation="relu", name="h")(inputs)
        twin = tf_keras.Model(inputs, tf_keras.layers.Dense(4, name="logits")(h), name=model.name)
    twin.set_weights(model.get_weights())
    return twin


def data(n: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (n, 6) and labels in 0..3 with every third one missing (-1)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + 2 * (x[:, 1] > 0)
    y[::3] = -1
    return x, y


def train_teacher(teacher: keras.Model, x: np.ndarray, y: np.ndarray) -> keras.Model:
    """Train a teacher briefly on the labelled samples (so its biases are not zero)."""
    teacher.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(True))
    keep = y >= 0
    teacher.fit(x[keep], y[keep], epochs=3, batch_size=16, verbose=0)
    return teacher
