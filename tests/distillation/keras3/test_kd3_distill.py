"""tg.distill / tg.Distiller on Keras 3: dispatch, the caller's models, no tf_keras imported.

That no tf_keras/TFMOT is imported is checked in a fresh interpreter by
tests/test_fresh_interpreter.py::test_a_keras3_user_never_imports_tf_keras_when_distilling.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from kd3_helpers import mlp

import tf_green as tg
from tf_green._engine.models import copy_model


def test_distill_returns_a_trained_compiled_copy_and_changes_nothing(trained_teacher, pair_data):
    x, y = pair_data
    teacher, student = copy_model(trained_teacher), mlp(3, "student")
    teacher_weights, student_weights = teacher.get_weights(), student.get_weights()
    trained = tg.distill(teacher, student, x, y, epochs=1, temperature=2.0, batch_size=16)
    assert trained is not student and isinstance(trained, keras.Model) and trained.compiled
    assert set(trained.history.history) == {"loss", "student_loss", "distillation_loss", "accuracy"}
    assert not np.allclose(trained.get_weights()[0], student_weights[0])
    for a, b in zip(student.get_weights() + teacher.get_weights(),
                    student_weights + teacher_weights, strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b)
    assert teacher.trainable
    assert trained.evaluate(x[y >= 0], y[y >= 0], verbose=0, return_dict=True)["accuracy"] >= 0


def test_dispatch_and_bad_pairs(trained_teacher, pair_data):
    import tf_keras

    x, y = pair_data
    teacher = copy_model(trained_teacher)
    tk = tf_keras.Sequential([tf_keras.Input((6,)), tf_keras.layers.Dense(4)])
    with pytest.raises(TypeError, match="`teacher` is a Keras 3 model and `student` is a tf_keras"):
        tg.distill(teacher, tk, x, y)
    with pytest.raises(TypeError, match="both must be of one engine"):
        tg.Distiller(teacher=tk, student=mlp(3, "s"))
    with pytest.raises(ValueError, match="`temperature` must be a number"):
        tg.distill(teacher, mlp(3, "s"), x, y, temperature="hot")
    d = tg.Distiller(student=mlp(3, "s"), teacher=teacher)
    assert isinstance(d, tg.Distiller) and type(d).__module__.endswith("keras3.distiller")


def test_a_regression_teacher_is_distilled_with_a_squared_error():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
    target = x @ np.linspace(-1.0, 1.0, 6).astype("float32")
    teacher = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                                keras.layers.Dense(1)])  # fmt: skip
    teacher.compile(keras.optimizers.Adam(1e-2), "mse")
    teacher.fit(x, target, epochs=2, verbose=0)
    student = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
    trained = tg.distill(teacher, student, x, None, epochs=2, optimizer=keras.optimizers.Adam(3e-2))
    history = trained.history.history
    assert set(history) == {"loss", "mae"} and history["loss"][-1] < history["loss"][0]
