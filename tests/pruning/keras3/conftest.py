"""Fixtures of the Keras 3 pruning tests.

``keras`` here is Keras 3 (the ``keras`` package); tf_keras models live in the same process.
The tests run on the TensorFlow backend in the normal test process; the whole folder also
runs on JAX (``KERAS_BACKEND=jax pytest tests/pruning/keras3``), where the tests marked
``tensorflow_only`` (tf.distribute, GradientTape) are skipped, and test_k3_jax.py checks
JAX in a subprocess from the normal run.
"""

from __future__ import annotations

import keras
import pytest
from k3_helpers import k3_cnn


@pytest.fixture(autouse=True)
def _seed_keras3():
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture(scope="session")
def k3_digits(digits_data):
    """256 training and 128 validation digits (8 steps per epoch at batch size 32)."""
    (x, y), (xv, yv) = digits_data
    return (x[:256], y[:256]), (xv[:128], yv[:128])


@pytest.fixture(scope="session")
def k3_trained_cnn(k3_digits):
    """A compiled Keras 3 CNN trained 2 epochs (session-scoped: tests must not change it)."""
    keras.utils.set_random_seed(0)
    (x, y), _ = k3_digits
    model = k3_cnn()
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    return model
