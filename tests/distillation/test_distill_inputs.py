"""distill's input checks (NaN/inf, tf.data shapes, NaN loss) and regression distillation."""

from __future__ import annotations

import numpy as np
import pytest

import tf_green as tg
from tf_green import models
from tf_green._input_checks import NonFiniteLossError
from tf_green._keras import keras, tf
from tf_green.distillation import Distiller, cache_teacher


def _pair():
    keras.utils.set_random_seed(0)
    return models.mlp(hidden=(8,), engine="tf_keras"), models.mlp(hidden=(4,), engine="tf_keras")


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((64, 64), dtype=np.float32), rng.integers(0, 10, 64)


@pytest.mark.parametrize("cache", [True, False])
def test_nan_inputs_are_named_not_blamed_on_the_cache(data, cache, weights_digest):
    x, y = data
    teacher, student = _pair()
    before = weights_digest(student), weights_digest(teacher)
    bad = x.copy()
    bad[3, 10] = np.nan
    with pytest.raises(ValueError, match=r"`x` has a non-finite value \(nan\) at index \(3, 10\)"):
        tg.distill(teacher, student, bad, y, epochs=1, cache=cache)
    weights = np.ones(64)
    weights[7] = np.inf
    with pytest.raises(ValueError, match=r"`sample_weight` has a non-finite value \(inf\)"):
        tg.distill(teacher, student, x, y, sample_weight=weights, epochs=1, cache=cache)
    assert (weights_digest(student), weights_digest(teacher)) == before


def test_the_cache_and_a_cached_distiller_name_nan_inputs(data):
    x, y = data
    teacher, student = _pair()
    bad = x.copy()
    bad[5, 1] = np.nan
    message = r"`x` has a non-finite value \(nan\) at index \(5, 1\)"
    with pytest.raises(ValueError, match=message):
        cache_teacher(teacher, bad)
    distiller = Distiller(teacher, student, teacher_outputs=cache_teacher(teacher, x))
    distiller.compile(optimizer="adam")
    with pytest.raises(ValueError, match=message):  # not "x is not the data ... computed on"
        distiller.fit(bad, y, epochs=1, verbose=0)


def test_a_nan_in_a_dataset_stops_at_its_batch(data):
    x, y = data
    x = x.copy()
    x[40, 0] = np.inf
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    with pytest.raises(ValueError, match=r"`x` \(a tf.data.Dataset\).* at batch 2, sample 8"):
        tg.distill(*_pair(), ds, epochs=1)


def test_a_nan_loss_raises_instead_of_returning_nan_weights(data):
    x, y = data
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at epoch 1 step \d+"):
        tg.distill(*_pair(), x * 1e25, y, epochs=1, optimizer=keras.optimizers.SGD(1e25))


def test_unbatched_datasets_with_or_without_labels_are_batched(data):
    x, y = data
    labelled = tf.data.Dataset.from_tensor_slices((x, y))
    student = tg.distill(*_pair(), labelled, epochs=1, validation_data=labelled.take(8))
    assert {"student_loss", "val_loss"} <= set(student.history.history)
    inputs_only = tf.data.Dataset.from_tensor_slices(x)  # pure distillation: a transfer set
    student = tg.distill(*_pair(), inputs_only, epochs=1, batch_size=16, metrics=None)
    assert student.history.history["loss"][0] == pytest.approx(
        student.history.history["distillation_loss"][0]
    )


def _regression_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype(np.float32)
    y = (np.tanh(x[:, 0]) + 0.5 * x[:, 1] - 0.3 * x[:, 2]).astype(np.float32)
    return x, y


def _regressor(width: int, seed: int, compiled: bool = True) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.layers.Dense(width, activation="tanh", input_shape=(4,)), keras.layers.Dense(1)]
    )
    if compiled:
        model.compile(keras.optimizers.Adam(1e-2), "mse")
    return model


@pytest.fixture(scope="module")
def regression_teacher():
    x, y = _regression_data()
    teacher = _regressor(32, seed=1)
    teacher.fit(x, y, epochs=30, batch_size=32, verbose=0)
    return teacher


def test_regression_distillation_beats_an_untrained_student_and_nears_the_teacher(
    regression_teacher,
):
    x, y = _regression_data()
    teacher = regression_teacher
    teacher_mse = float(np.mean((teacher.predict(x, verbose=0)[:, 0] - y) ** 2))
    untrained = _regressor(8, seed=2)
    untrained_mse = float(np.mean((untrained.predict(x, verbose=0)[:, 0] - y) ** 2))
    student = tg.distill(
        teacher, untrained, x, y, epochs=20, alpha=0.5, optimizer=keras.optimizers.Adam(1e-2)
    )
    assert sorted(student.history.history) == ["loss", "mae"]  # accuracy makes no sense here
    predictions = student.predict(x, verbose=0)[:, 0]
    student_mse = float(np.mean((predictions - y) ** 2))
    to_teacher = float(np.mean((predictions - teacher.predict(x, verbose=0)[:, 0]) ** 2))
    assert teacher_mse < 0.05 < 0.5 < untrained_mse
    assert student_mse < untrained_mse / 10
    assert student_mse < teacher_mse + 0.02  # near the teacher (var(y) is ~0.66)
    assert to_teacher < 0.02
    # The live teacher on a dataset (unbatched: batched with batch_size) trains too.
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    from_ds = tg.distill(teacher, untrained, ds, epochs=3, optimizer=keras.optimizers.Adam(1e-2))
    assert float(np.mean((from_ds.predict(x, verbose=0)[:, 0] - y) ** 2)) < untrained_mse


def test_the_task_is_chosen_from_the_teacher_or_given(regression_teacher, data):
    x, y = _regression_data()
    uncompiled = _regressor(4, seed=3, compiled=False)  # one linear unit: regression
    student = tg.distill(uncompiled, _regressor(2, seed=4, compiled=False), x, None, epochs=1)
    assert student.loss == "mse"
    with pytest.raises(ValueError, match=r"one output unit.*task='regression'"):
        tg.distill(regression_teacher, _regressor(2, seed=4), x, y, task="classification")
    with pytest.raises(ValueError, match=r"`task` must be one of"):
        tg.distill(regression_teacher, _regressor(2, seed=4), x, y, task="regress")
    with pytest.raises(ValueError, match=r"`y` has shape \(256, 2\)"):
        tg.distill(regression_teacher, _regressor(2, seed=4), x, np.stack([y, y], 1))
    with pytest.raises(ValueError, match="feature_pairs"):
        tg.distill(
            regression_teacher, _regressor(2, seed=4), x, y, feature_pairs=[("dense", "dense")]
        )
    xc, yc = data  # classifiers keep KL distillation
    student = tg.distill(*_pair(), xc, yc, epochs=1)
    assert "distillation_loss" in student.history.history


def test_distiller_fit_itself_stops_on_a_nan_loss(data):
    x, y = data
    distiller = Distiller(*_pair())
    distiller.compile(optimizer=keras.optimizers.SGD(1e25))
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at epoch 1 step \d+"):
        distiller.fit(x * 1e25, y, epochs=1, verbose=0)
