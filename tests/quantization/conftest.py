"""Fixtures of the quantization tests: pruned models (via TFMOT directly), converted bytes."""

from __future__ import annotations

import pytest
import tensorflow_model_optimization as tfmot

from tf_green import models
from tf_green._keras import keras

compile_classifier = models.compile_classifier


def prune(model, x, y, sparsity=0.9, epochs=1, strip=False):
    """Prune a copy of ``model`` to ``sparsity`` with TFMOT; the original is untouched.

    Polynomial decay from 0 to ``sparsity`` over the first half of training, then recovery.
    """
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    steps = epochs * -(-len(x) // 32)
    end = max(5, steps // 2 // 5 * 5)
    schedule = tfmot.sparsity.keras.PolynomialDecay(0.0, sparsity, 0, end, frequency=5)

    def wrap(layer):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    pruned = compile_classifier(keras.models.clone_model(copy, clone_function=wrap))
    pruned.fit(
        x,
        y,
        epochs=epochs,
        batch_size=32,
        verbose=0,
        callbacks=[tfmot.sparsity.keras.UpdatePruningStep()],
    )
    return tfmot.sparsity.keras.strip_pruning(pruned) if strip else pruned


@pytest.fixture(scope="session")
def flat_digits(digits_data):
    (x, y), (xv, yv) = digits_data
    return (x.reshape(len(x), -1), y), (xv.reshape(len(xv), -1), yv)


@pytest.fixture(scope="session")
def pruned_cnn(trained_cnn, digits_data):
    """trained_cnn pruned to 80% in 2 epochs, with its pruning wrappers still on."""
    keras.utils.set_random_seed(0)
    (x, y), _ = digits_data
    return prune(trained_cnn, x, y, sparsity=0.8, epochs=2)


@pytest.fixture(scope="session")
def pruned_mlp_wrapped(flat_digits):
    """An mlp(hidden=(128,)) trained 3 epochs, then pruned to 90% (1 epoch), wrappers on."""
    keras.utils.set_random_seed(0)
    (x, y), _ = flat_digits
    model = compile_classifier(models.mlp(hidden=(128,), engine="tf_keras"))
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    return prune(model, x, y, sparsity=0.9)


@pytest.fixture(scope="session")
def pruned_mlp(pruned_mlp_wrapped):
    """pruned_mlp_wrapped, stripped (a new model sharing its inner layers)."""
    return tfmot.sparsity.keras.strip_pruning(pruned_mlp_wrapped)
