"""Fixtures of the Keras 3 pruning tests.

``keras`` here is Keras 3 (the ``keras`` package); tf_keras models live in the same process.
The tests run on the TensorFlow backend in the normal test process; the whole folder also
runs on JAX (``KERAS_BACKEND=jax pytest tests/pruning/keras3``), where the tests marked
``tensorflow_only`` (tf.distribute, GradientTape) are skipped, and test_k3_jax.py checks
JAX in a subprocess from the normal run.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="needs Keras 3's TensorFlow backend"
)


@pytest.fixture(autouse=True)
def _seed_keras3():
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture(scope="session")
def k3_digits(digits_data):
    """256 training and 128 validation digits (8 steps per epoch at batch size 32)."""
    (x, y), (xv, yv) = digits_data
    return (x[:256], y[:256]), (xv[:128], yv[:128])


def k3_cnn(width: int = 8, compiled: bool = True) -> keras.Model:
    """The digits CNN in Keras 3: conv1, conv2 (3x3), flatten, logits."""
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(width, 3, activation="relu", name="conv1"),
            keras.layers.Conv2D(width, 3, activation="relu", name="conv2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(10, name="logits"),
        ],
        name="k3_cnn",
    )
    if compiled:
        model.compile(
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    return model


@pytest.fixture(scope="session")
def k3_trained_cnn(k3_digits):
    """A compiled Keras 3 CNN trained 2 epochs (session-scoped: tests must not change it)."""
    keras.utils.set_random_seed(0)
    (x, y), _ = k3_digits
    model = k3_cnn()
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    return model


def k3_snapshot(model: keras.Model) -> list[np.ndarray]:
    """Copies of all weight values (to prove a call did not change them)."""
    return [np.array(w) for w in model.get_weights()]


def kernel_sparsity(variable) -> float:
    """Fraction of exact zeros in a variable."""
    value = keras.ops.convert_to_numpy(variable)
    return float(np.mean(value == 0))
