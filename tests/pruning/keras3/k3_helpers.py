"""Helpers of the Keras 3 pruning tests (a uniquely named module: ``conftest`` is not importable).

``keras`` here is Keras 3 (the ``keras`` package).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="needs Keras 3's TensorFlow backend"
)


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


def k3_snapshot(model: keras.Model) -> list[np.ndarray]:
    """Copies of all weight values (to prove a call did not change them)."""
    return [np.array(w) for w in model.get_weights()]


def kernel_sparsity(variable) -> float:
    """Fraction of exact zeros in a variable."""
    value = keras.ops.convert_to_numpy(variable)
    return float(np.mean(value == 0))
