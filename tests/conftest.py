"""Shared fixtures: seeded data, tiny models, network blocking, weight digests.

The process gets two logical CPU devices before TensorFlow's runtime starts, so
MirroredStrategy tests can run on this 2-core, GPU-less machine.
"""

from __future__ import annotations

import hashlib
import os
import socket

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from tf_green import datasets, models
from tf_green._keras import keras, tf

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture(scope="session")
def digits_data():
    """((x_train, y_train), (x_val, y_val)) of the digits, images (n, 8, 8, 1)."""
    return datasets.digits(seed=0)


compile_classifier = models.compile_classifier


@pytest.fixture
def make_cnn():
    """Factory of small compiled CNNs (untrained): make_cnn(width=8)."""

    def make(width: int = 8) -> keras.Model:
        return compile_classifier(models.cnn(width=width, engine="tf_keras"))

    return make


@pytest.fixture(scope="session")
def trained_cnn(digits_data):
    """A compiled cnn(width=8) trained 6 epochs on digits (~95% accuracy).

    Session-scoped: tests must not change it (checking that is part of several tests).
    """
    keras.utils.set_random_seed(0)
    (x, y), _ = digits_data
    model = compile_classifier(models.cnn(width=8, engine="tf_keras"))
    model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    return model


def digest(model: keras.Model) -> str:
    """A hash of all the model's weights, to prove a call did not change them."""
    h = hashlib.sha256()
    for w in model.weights:
        h.update(w.name.encode())
        h.update(np.ascontiguousarray(w.numpy()).tobytes())
    return h.hexdigest()


@pytest.fixture
def weights_digest():
    """The :func:`digest` function."""
    return digest


@pytest.fixture
def block_network(monkeypatch):
    """Make any outgoing connection attempt fail loudly; yields the list of attempts."""
    attempts: list = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError(f"network blocked in tests: connect({address!r})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield attempts


@pytest.fixture(scope="session")
def mirrored_strategy():
    """One MirroredStrategy over the two logical CPUs for the whole session.

    Two strategies in one process (one driven by Keras 3, one by tf_keras) allocate the same
    collective instance keys and their all-reduces collide ("Shape mismatch in the collective
    instance"); the tests share this one, as a process would.
    """
    devices = [device.name for device in tf.config.list_logical_devices("CPU")][:2]
    assert len(devices) == 2, "two logical CPU devices are configured above"
    return tf.distribute.MirroredStrategy(devices)
