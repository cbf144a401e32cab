"""Fixtures of the Keras 3 export and quantization tests (TensorFlow and JAX backends).

``keras`` is Keras 3. The folder runs on TensorFlow in the normal test process and on JAX in
its own one: ``KERAS_BACKEND=jax pytest tests/quantization/keras3 -p no:randomly``.
"""

from __future__ import annotations

import keras
import pytest


def k3q_cnn() -> keras.Model:
    """A tiny Keras 3 digits CNN: Conv2D (no Keras quantize support) and two Dense layers."""
    inputs = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dropout(0.1)(h)  # a SeedGenerator: JAX exports must not thread its state
    h = keras.layers.Dense(16, activation="relu", name="hidden")(h)
    outputs = keras.layers.Dense(10, name="logits")(h)
    model = keras.Model(inputs, outputs)
    model.compile(
        keras.optimizers.Adam(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


@pytest.fixture(scope="module")
def k3q_data(digits_data):
    """384 training and 128 validation digits."""
    (x, y), (xv, yv) = digits_data
    return (x[:384], y[:384]), (xv[:128], yv[:128])


@pytest.fixture(scope="module")
def k3q_trained(k3q_data):
    """The CNN trained 3 epochs (module-scoped: tests must not change it)."""
    keras.utils.set_random_seed(0)
    (x, y), _ = k3q_data
    model = k3q_cnn()
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    return model
