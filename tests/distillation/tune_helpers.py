"""Tiny models and data of the tune tests, for either engine (pass its Keras module)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

CLASSES, FEATURES = 3, 8
CENTERS = (4.0 * np.eye(CLASSES, FEATURES)).astype(np.float32)


def blobs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well separated Gaussian blobs in 8 dimensions; labels cycle 0, 1, 2."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % CLASSES
    x = CENTERS[y] + rng.normal(0.0, 0.5, (n, FEATURES)).astype(np.float32)
    return x.astype(np.float32), y


def counting_layer(keras, seen: list[int]):
    """An identity layer that appends the batch size of every forward pass to ``seen``
    (eagerly or inside a graph), so a test can count the samples a teacher ran on."""

    class Counting(keras.layers.Layer):
        def call(self, inputs):
            def bump(batch):
                seen.append(int(batch.shape[0]))
                return batch

            out = tf.numpy_function(bump, [inputs], inputs.dtype, stateful=True)
            return tf.ensure_shape(out, inputs.shape)

        def compute_output_shape(self, input_shape):
            return input_shape

    return Counting()


def useless_teacher(keras, seen: list[int] | None = None):
    """The same logits for every input (zero kernel, a fixed bias): it teaches nothing."""
    layers = [keras.Input((FEATURES,))]
    if seen is not None:
        layers.append(counting_layer(keras, seen))
    dense = keras.layers.Dense(CLASSES, name="constant")
    model = keras.Sequential([*layers, dense], name="useless_teacher")
    dense.set_weights([np.zeros((FEATURES, CLASSES), np.float32), np.array([2.0, 0.0, -1.0])])
    return model


def good_teacher(keras, seen: list[int] | None = None):
    """A perfect teacher for :func:`blobs`: logits are dot products with the class centres."""
    layers = [keras.Input((FEATURES,))]
    if seen is not None:
        layers.append(counting_layer(keras, seen))
    dense = keras.layers.Dense(CLASSES, name="centres")
    model = keras.Sequential([*layers, dense], name="good_teacher")
    dense.set_weights([CENTERS.T.copy(), np.zeros(CLASSES, np.float32)])
    return model


def student(keras, seed: int = 7):
    """A linear student (27 parameters) with fixed initial weights."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((FEATURES,)), keras.layers.Dense(CLASSES, name="logits")], name="student"
    )
