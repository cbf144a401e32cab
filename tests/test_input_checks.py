"""The shared input checks (tf_green._input_checks) and their use by quantize (QAT)."""

from __future__ import annotations

import time

import numpy as np
import pytest

import tf_green as tg
from tf_green import _input_checks as checks
from tf_green import models
from tf_green._engine import checks as engine_checks
from tf_green._keras import keras, tf

SPARSE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _tiny(units: int = 3) -> keras.Model:
    model = keras.Sequential([keras.layers.Dense(units, input_shape=(4,))])
    model.compile(keras.optimizers.SGD(0.01), SPARSE)
    return model


def test_check_finite_names_the_argument_and_the_first_bad_index():
    x = np.ones((6, 2, 3), np.float32)
    x[4, 1, 2] = np.inf
    message = r"`x` has a non-finite value \(inf\) at index \(4, 1, 2\)"
    with pytest.raises(ValueError, match=message):
        checks.check_finite(x, "x")
    y = np.arange(6.0)
    y[5] = np.nan
    message = r"`y\['b'\]` has a non-finite value \(nan\) at index \(5,\)"
    with pytest.raises(ValueError, match=message):
        checks.check_finite({"a": np.ones(6), "b": y}, "y")
    with pytest.raises(ValueError, match=r"`x\[1\]`"):
        checks.check_finite([np.ones((6, 2)), x], "x")
    clean = {"a": np.ones((3, 2)), "ids": np.arange(3), "none": None}
    assert checks.check_finite(clean, "x") is clean
    assert checks.check_finite(tf.constant([1.0, 2.0]), "x") is not None


def test_check_finite_reports_the_right_index_across_chunks(monkeypatch):
    monkeypatch.setattr(engine_checks, "_CHUNK_ELEMENTS", 8)  # 2 rows of 4 per chunk
    x = np.zeros((9, 4))
    x[7, 3] = np.nan
    with pytest.raises(ValueError, match=r"at index \(7, 3\)"):
        checks.check_finite(x, "x")


def test_check_finite_costs_nothing_next_to_training(digits_data):
    (x, y), (xv, yv) = digits_data
    x, y = np.concatenate([x, xv])[:1437], np.concatenate([y, yv])[:1437]
    assert x.shape == (1437, 8, 8, 1)
    checks.check_finite(x, "x")
    start = time.perf_counter()
    for _ in range(10):
        checks.check_finite(x, "x")
        checks.check_finite(y, "y")
    per_call = (time.perf_counter() - start) / 10
    assert per_call < 0.01  # ~0.1 ms measured; one training epoch of cnn(8) is ~1 s


def test_a_dataset_is_checked_batch_by_batch_as_fit_consumes_it():
    x = np.zeros((40, 4), np.float32)
    x[13, 1] = np.nan
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros(40, np.int64))).batch(8)
    checked = checks.check_finite(ds, "x")
    assert checked.cardinality() == 5
    model = _tiny()
    message = r"`x` \(a tf.data.Dataset\).* in its x at batch 1, sample 5"
    with pytest.raises(ValueError, match=message), checks.data_errors():
        model.fit(checked, epochs=1, verbose=0)
    # Other errors pass through unchanged.
    with pytest.raises(tf.errors.InvalidArgumentError), checks.data_errors():
        tf.debugging.assert_equal(1, 2)


def test_check_labels_converts_one_hot_and_refuses_bad_labels():
    shape = (None, 3)
    ids = checks.check_labels(np.eye(3)[[2, 0, 1]], SPARSE, shape)
    assert ids.tolist() == [2, 0, 1]
    with pytest.raises(ValueError, match=r"row \(1,\) is not one-hot.*CategoricalCrossentropy"):
        checks.check_labels(np.array([[1, 0, 0], [0.5, 0.5, 0]]), SPARSE, shape)
    with pytest.raises(ValueError, match=r"non-integer label 2.5 at index \(1,\)"):
        checks.check_labels(np.array([0, 2.5]), "sparse_categorical_crossentropy", shape)
    with pytest.raises(ValueError, match=r"`y` has label 3 at index \(2,\).*3 classes"):
        checks.check_labels(np.array([0, 1, 3]), SPARSE, shape)
    with pytest.raises(ValueError, match="label -1"):
        checks.check_labels(np.array([-1, 1]), SPARSE, shape)
    with pytest.raises(ValueError, match=r"SparseCategoricalCrossentropy.*to_categorical"):
        checks.check_labels(np.array([0, 1]), "categorical_crossentropy", shape)
    assert checks.check_labels(np.array([0.3, 7.5]), "mse", (None, 1)).tolist() == [0.3, 7.5]
    sequence = np.array([[1, 2], [0, 1]])  # (batch, time) ids for (batch, time, vocab)
    assert checks.check_labels(sequence, SPARSE, (None, 2, 3)) is sequence


def test_loss_kind():
    assert checks.loss_kind(SPARSE) == "sparse"
    assert checks.loss_kind(keras.losses.sparse_categorical_crossentropy) == "sparse"
    assert checks.loss_kind("categorical_crossentropy") == "categorical"
    assert checks.loss_kind(keras.losses.BinaryCrossentropy()) == "binary"
    assert checks.loss_kind("mse") == checks.loss_kind(keras.losses.Huber()) == "regression"
    assert checks.loss_kind(None) is None and checks.loss_kind(lambda a, b: a) is None


def test_batch_if_unbatched_and_has_targets():
    model = _tiny()
    samples = tf.data.Dataset.from_tensor_slices((np.zeros((5, 4)), np.zeros(5)))
    batched = checks.batch_if_unbatched(samples, model, 2)
    assert batched.element_spec[0].shape.as_list() == [None, 4]
    assert checks.batch_if_unbatched(batched, model, 2) is batched
    with pytest.raises(ValueError, match=r"`x` yields inputs of rank 3"):
        checks.batch_if_unbatched(batched.batch(2), model, 2)
    assert checks.has_targets(samples)
    assert not checks.has_targets(samples.map(lambda a, b: a))


def test_stop_on_non_finite_loss_raises_naming_epoch_and_step():
    model = _tiny()
    x = np.ones((8, 4), np.float32)
    callback = checks.StopOnNonFiniteLoss()
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_epoch_begin(1)
    callback.on_train_batch_end(0, {"loss": 0.5})
    with pytest.raises(checks.NonFiniteLossError, match="loss became nan at epoch 2 step 3"):
        callback.on_train_batch_end(2, {"loss": np.float32("nan")})
    model.compile(keras.optimizers.SGD(1e30), "mse")  # diverges to inf, then NaN
    with pytest.raises(checks.NonFiniteLossError, match="lower the learning rate"):
        model.fit(x, np.full(8, 1e3), batch_size=2, epochs=3, verbose=0, callbacks=[callback])


def _mlp():
    keras.utils.set_random_seed(0)
    return models.compile_classifier(models.mlp(hidden=(4,), engine="tf_keras"))


def test_quantize_refuses_nan_inputs_and_leaves_the_model_alone(weights_digest):
    model = _mlp()
    before = weights_digest(model)
    x = np.random.default_rng(0).random((32, 64), dtype=np.float32)
    y = np.arange(32) % 10
    x[5, 7] = np.nan
    with pytest.raises(ValueError, match=r"`x` has a non-finite value \(nan\) at index \(5, 7\)"):
        tg.quantize(model, x, y)
    x[5, 7] = 0.0
    with pytest.raises(ValueError, match=r"`y` has label 10"):
        tg.quantize(model, x, y + 1)
    ds = tf.data.Dataset.from_tensor_slices((np.where(np.arange(32)[:, None] == 9, np.inf, x), y))
    with pytest.raises(ValueError, match=r"at batch 0, sample 9"):
        tg.quantize(model, ds)  # unbatched: batched with batch_size, checked as consumed

    def nan_loss(y_true, y_pred):  # log(-1): the loss is NaN from the first step
        return tf.reduce_mean(tf.math.log(y_pred - y_pred - 1.0), axis=-1)

    with pytest.raises(checks.NonFiniteLossError, match="epoch 1 step 1"):
        tg.quantize(model, x, y, loss=nan_loss)
    assert weights_digest(model) == before
