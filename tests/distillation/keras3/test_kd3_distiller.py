"""The Keras 3 Distiller: same numbers as the tf_keras one, cache, labels, features, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from kd3_helpers import lm, mlp, tf_keras_twin

import tf_green as tg
from tf_green._engine.checks import NonFiniteLossError
from tf_green._engine.models import copy_model
from tf_green.distillation import cache_teacher
from tf_green.distillation.keras3 import Distiller

JAX = keras.backend.backend() == "jax"


def _losses(distiller, x, y, w, batch):
    got = distiller.evaluate(x, y, sample_weight=w, batch_size=batch, verbose=0, return_dict=True)
    return {k: got[k] for k in ("loss", "student_loss", "distillation_loss")}


@pytest.mark.parametrize("kind", ["classifier", "sequence"])
def test_loss_equals_the_tf_keras_distiller_on_the_same_weights(trained_teacher, pair_data, kind):
    # Partial labels (-1) and sample weights (per token for the sequence: a padding mask).
    from tf_green.distillation.distiller import Distiller as TfKerasDistiller

    if kind == "classifier":
        teacher, student = copy_model(trained_teacher), mlp(3, "student")
        x, y = pair_data
        w = np.linspace(0.2, 2.0, len(x)).astype("float32")
    else:
        teacher, student = lm(7, 5, "teacher", seed=1), lm(7, 5, "student", seed=2)
        rng = np.random.default_rng(0)
        x = rng.integers(0, 7, (12, 5)).astype("int32")
        y = rng.integers(0, 7, (12, 5))
        y[:, -2:] = -1  # unlabelled tokens
        w = np.ones((12, 5), "float32")
        w[:6, 2:] = 0.0  # padding
    tk_teacher, tk_student = tf_keras_twin(teacher), tf_keras_twin(student)
    ours = Distiller(teacher, student, alpha=0.3, temperature=2.5)
    ours.compile(optimizer="sgd")
    theirs = TfKerasDistiller(tk_teacher, tk_student, alpha=0.3, temperature=2.5)
    theirs.compile(optimizer="sgd")
    got, expected = _losses(ours, x, y, w, len(x)), _losses(theirs, x, y, w, len(x))
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-4, atol=1e-7, err_msg=key)
    unweighted = _losses(ours, x, y, None, len(x))
    assert abs(unweighted["loss"] - got["loss"]) > 1e-4  # sample weights reach the loss


def test_metrics_and_student_loss_see_labelled_samples_only(trained_teacher, pair_data):
    x, y = pair_data
    student = mlp(3, "student")
    d = Distiller(copy_model(trained_teacher), student, alpha=0.5)
    d.compile(optimizer="sgd", metrics=["accuracy"])
    got = d.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    keep = y >= 0
    predicted = student.predict(x, verbose=0).argmax(-1)
    assert got["accuracy"] == pytest.approx(np.mean(predicted[keep] == y[keep]), abs=1e-6)
    none = d.evaluate(x, np.full_like(y, -1), batch_size=len(x), verbose=0, return_dict=True)
    assert none["student_loss"] == 0.0
    assert none["loss"] == pytest.approx(0.5 * none["distillation_loss"], rel=1e-5)


def test_the_cache_replaces_the_teacher_in_fit(trained_teacher, pair_data):
    # Same steps with the live teacher and with its cache; then a teacher of NaN weights
    # behind the cache changes nothing: fit never runs it.
    x, y = pair_data

    def run(teacher, cache):
        d = Distiller(teacher, mlp(3, "student"), teacher_outputs=cache)
        d.compile(optimizer=keras.optimizers.SGD(0.1))
        return d.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history["loss"]

    teacher = copy_model(trained_teacher)
    cache = cache_teacher(teacher, x, dtype="float32")
    live = run(copy_model(trained_teacher), None)
    teacher.set_weights([np.full_like(v, np.nan) for v in teacher.get_weights()])
    cached = run(teacher, cache)
    np.testing.assert_allclose(cached, live, rtol=1e-5)


def test_feature_pairs_train_a_projection_and_never_the_teacher(trained_teacher, pair_data):
    x, y = pair_data
    teacher = copy_model(trained_teacher)
    before = [v.copy() for v in teacher.get_weights()]
    d = Distiller(teacher, mlp(3, "student"), feature_pairs=[("h", "h")], feature_weight=0.5)
    (projection,) = d.feature_projections
    assert tuple(projection.kernel.shape) == (3, 16)
    start = np.array(projection.kernel)
    d.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = d.fit(x, y, batch_size=16, epochs=1, verbose=0).history
    assert history["feature_loss"][0] > 0 and not np.allclose(projection.kernel, start)
    for a, b in zip(teacher.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="student layer 'nope'"):
        Distiller(teacher, mlp(3, "s"), feature_pairs=[("h", "nope")])


def test_keras_round_trip_without_custom_objects_and_the_student_alone(
    trained_teacher, pair_data, tmp_path
):
    x, y = pair_data
    d = Distiller(copy_model(trained_teacher), mlp(3, "student"), alpha=0.2, temperature=3.0,
                  feature_pairs=[("h", "h")])  # fmt: skip
    d.compile(optimizer="adam", metrics=["accuracy"])
    assert set(d.get_config()) == {
        "name", "teacher", "student", "alpha", "temperature", "feature_pairs", "feature_weight"
    }  # fmt: skip
    d.save(tmp_path / "d.keras")
    loaded = keras.saving.load_model(tmp_path / "d.keras")
    assert type(loaded) is Distiller and isinstance(loaded, tg.Distiller)
    assert (loaded.alpha, loaded.temperature, loaded.feature_pairs) == (0.2, 3.0, [("h", "h")])
    np.testing.assert_allclose(loaded.predict(x, verbose=0), d.predict(x, verbose=0), atol=1e-6)
    assert loaded.optimizer is not None and not loaded.teacher.trainable
    d.student.save(tmp_path / "student.keras")
    alone = keras.saving.load_model(tmp_path / "student.keras")
    assert type(alone) is keras.Model or isinstance(alone, keras.Model)
    np.testing.assert_allclose(alone.predict(x, verbose=0), d.predict(x, verbose=0), atol=1e-6)


def test_bad_input_is_refused_clearly(trained_teacher, pair_data):
    x, y = pair_data
    teacher = copy_model(trained_teacher)
    d = Distiller(teacher, mlp(3, "student"))
    d.compile(optimizer="sgd")
    bad = y.copy()
    bad[4] = 9
    with pytest.raises(ValueError, match=r"`y` has label 9 at index \(4,\)"):
        d.fit(x, bad, verbose=0)
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, bad)).batch(16)
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels `y` must be class ids"):
        d.fit(dataset, verbose=0)
    assert d.predict(x[:2], verbose=0).shape == (2, 4)  # the student keeps its weights (JAX too)
    with pytest.raises(ValueError, match="output shapes differ"):
        Distiller(teacher, keras.Sequential([keras.Input((6,)), keras.layers.Dense(5)]))
    with pytest.raises(ValueError, match="`alpha` must be in"):
        Distiller(teacher, mlp(3, "s"), alpha=2)
    with pytest.warns(UserWarning, match="fewer parameters.*swapped"):
        Distiller(mlp(3, "small"), teacher)
    with pytest.warns(UserWarning, match="looks untrained.*swapped"):
        Distiller(mlp(16, "fresh"), copy_model(trained_teacher))
    inf = x.copy()
    inf[0, 0] = np.inf
    with pytest.raises(NonFiniteLossError, match="loss became"):
        d.fit(inf, y, epochs=1, verbose=0)  # Distiller.fit itself stops on a NaN loss


def test_a_top_k_cache_of_every_class_and_a_float16_cache_give_the_live_loss():
    teacher, student = lm(7, 5, "teacher", seed=1), lm(7, 5, "student", seed=2)
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 7, (12, 5)).astype("int32"), rng.integers(0, 7, (12, 5))
    d = Distiller(teacher, student, alpha=0.2, temperature=2.0)
    d.compile(optimizer="sgd")
    live = d.evaluate(x, y, batch_size=12, verbose=0, return_dict=True)["loss"]
    for options, tolerance in (({"top_k": 7}, 1e-5), ({"dtype": "float16"}, 1e-2)):
        cache = cache_teacher(teacher, x, **options)
        packed = cache.zip(x, y, batch_size=12, shuffle=False)
        got = d.evaluate(packed, verbose=0, return_dict=True)["loss"]
        assert got == pytest.approx(live, rel=tolerance), options
