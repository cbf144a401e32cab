"""prune's input checks: NaN/inf data, labels, tf.data without batches or targets, NaN loss."""

from __future__ import annotations

import numpy as np
import pytest
from pruning_helpers import compile_classifier

import tf_green.pruning as tgp
from tf_green import models
from tf_green._input_checks import NonFiniteLossError
from tf_green._keras import keras, tf


@pytest.fixture
def tiny(digits_data):
    """A compiled cnn(width=2) (~350 params) and 64 digits: 2 steps per epoch."""
    (x, y), _ = digits_data
    keras.utils.set_random_seed(0)
    return compile_classifier(models.cnn(width=2, engine="tf_keras")), x[:64], y[:64]


def _prune(model, x, y=None, **kwargs):
    kwargs = {"target_sparsity": 0.5, "epochs": 2, "verbose": 0, **kwargs}
    return tgp.prune(model, x, y, **kwargs)


def test_nan_inputs_are_refused_and_the_model_is_unchanged(tiny, weights_digest):
    model, x, y = tiny
    before = weights_digest(model)
    bad = x.copy()
    bad[3, 2, 2, 0] = np.nan
    with pytest.raises(
        ValueError, match=r"`x` has a non-finite value \(nan\) at index \(3, 2, 2, 0\)"
    ):
        _prune(model, bad, y)
    labels = y.astype(np.float32)
    labels[2] = np.nan
    with pytest.raises(ValueError, match=r"`y` has a non-finite value \(nan\) at index \(2,\)"):
        _prune(model, x, labels)
    with pytest.raises(ValueError, match=r"`validation_data\[0\]` has a non-finite value"):
        _prune(model, x, y, validation_data=(bad, y))
    with pytest.raises(ValueError, match=r"in its x at batch 0, sample 3"):
        _prune(model, tf.data.Dataset.from_tensor_slices((bad, y)).batch(32))
    assert weights_digest(model) == before


def test_a_nan_loss_stops_training_with_an_error_naming_the_cause(tiny, weights_digest):
    model, x, y = tiny
    before = weights_digest(model)
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at epoch \d+ step \d+"):
        _prune(model, x * 1e20, y, optimizer=keras.optimizers.SGD(1e20))
    assert weights_digest(model) == before


def test_one_hot_labels_train_like_class_ids(tiny):
    model, x, y = tiny
    keras.utils.set_random_seed(1)
    from_ids = _prune(model, x, y, validation_data=(x, y))
    keras.utils.set_random_seed(1)
    one_hot = np.eye(10, dtype=np.float32)
    from_one_hot = _prune(model, x, one_hot[y], validation_data=(x, one_hot[y]))
    for a, b in zip(from_ids.get_weights(), from_one_hot.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert from_ids.pruning_history["val_loss"] == pytest.approx(
        from_one_hot.pruning_history["val_loss"]
    )


def test_labels_the_sparse_loss_cannot_take_are_refused(tiny):
    model, x, y = tiny
    fractional = y.astype(np.float32)
    fractional[4] = 2.5
    with pytest.raises(ValueError, match=r"`y` has the non-integer label 2.5 at index \(4,\)"):
        _prune(model, x, fractional)
    with pytest.raises(
        ValueError, match=r"`y` has label 10 at index \(\d+,\), outside the model's 10 classes"
    ):
        _prune(model, x, np.where(y == y.max(), 10, y))
    soft = np.full((len(y), 10), 0.1, np.float32)
    with pytest.raises(ValueError, match=r"row \(0,\) is not one-hot.*CategoricalCrossentropy"):
        _prune(model, x, soft)
    with pytest.raises(ValueError, match=r"validation_data\[1\]` has label -\d+ at index"):
        _prune(model, x, y, validation_data=(x, y - 3))


def test_an_unbatched_dataset_is_batched_with_batch_size(tiny):
    model, x, y = tiny
    samples = tf.data.Dataset.from_tensor_slices((x, y))
    pruned = _prune(model, samples, batch_size=16, validation_data=samples)
    assert pruned.pruning_history["pruning_step"] == [4, 8]  # 64 samples / 16 per batch


def test_a_dataset_without_targets_is_refused_clearly(tiny):
    model, x, _ = tiny
    with pytest.raises(ValueError, match=r"`x` is a tf.data.Dataset of inputs only.*\(x, y\)"):
        _prune(model, tf.data.Dataset.from_tensor_slices(x).batch(32))
