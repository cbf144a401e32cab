"""tg.distill / tg.Distiller on Keras 3: dispatch, the caller's models, no tf_keras imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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


@pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="a fresh interpreter costs ~15 s; the TensorFlow run covers the import check",
)
def test_a_keras3_user_never_imports_tf_keras():
    script = textwrap.dedent(
        """
        import sys
        import keras
        import numpy as np
        import tf_green as tg
        def mlp(h):
            i = keras.Input((6,))
            o = keras.layers.Dense(4)(keras.layers.Dense(h, name="h")(i))
            return keras.Model(i, o)
        x, y = np.random.rand(16, 6).astype("float32"), np.arange(16) % 4
        try:  # dispatch, imports and the teacher cache, without a training run
            tg.distill(mlp(8), mlp(2), x, y, alpha=2.0)
        except ValueError as error:
            assert "alpha" in str(error)
        d = tg.Distiller(mlp(8), mlp(2), teacher_outputs=tg.distillation.cache_teacher(mlp(8), x))
        assert isinstance(d, tg.Distiller) and isinstance(d.teacher_outputs,
                                                          tg.distillation.TeacherCache)
        bad = [m for m in ("tf_keras", "tensorflow_model_optimization") if m in sys.modules]
        print("LOADED", bad)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert "LOADED []" in done.stdout, done.stdout + done.stderr[-3000:]


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
