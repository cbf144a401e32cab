"""Fixtures of the bench's Keras 3 tests (``keras`` is Keras 3; tf_keras twins live alongside).

The folder runs on the TensorFlow backend in the normal test process and on JAX with
``KERAS_BACKEND=jax pytest tests/bench/keras3``; every test applies to both backends.
"""

from __future__ import annotations

import keras
import pytest
from k3_bench_helpers import compile_classifier, pair, tiny_cnn, to_tflite_bytes


@pytest.fixture(autouse=True)
def _seed_keras3():
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture(scope="module")
def k3_digits(digits_data):
    """256 training and 128 validation digits."""
    (x, y), (xv, yv) = digits_data
    return (x[:256], y[:256]), (xv[:128], yv[:128])


@pytest.fixture(scope="module")
def k3_trained(k3_digits):
    """A tiny Keras 3 CNN trained 2 epochs (module-scoped: tests must not change it)."""
    keras.utils.set_random_seed(0)
    (x, y), _ = k3_digits
    model = compile_classifier(pair(tiny_cnn)[0])
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def k3_tflite(k3_trained):
    """float32 .tflite bytes of the trained Keras 3 CNN."""
    return to_tflite_bytes(k3_trained)
