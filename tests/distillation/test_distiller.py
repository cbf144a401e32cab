import sys
import warnings

import numpy as np
import pytest
from distillation_helpers import compile_classifier, copy_model, hand_ce, hand_kd, sequence_model

from tf_green import datasets, models
from tf_green._keras import keras, tf
from tf_green.distillation import Distiller


def tiny_pair():
    keras.utils.set_random_seed(0)
    teacher = models.mlp(
        hidden=(16,), input_dim=6, num_classes=4, name="teacher", engine="tf_keras"
    )
    student = models.mlp(hidden=(3,), input_dim=6, num_classes=4, name="student", engine="tf_keras")
    return student, teacher


def batch(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 4, n)


@pytest.mark.parametrize("partial", [False, True])
def test_logged_losses_match_a_hand_computation(partial):
    student, teacher = tiny_pair()
    x, y = batch()
    if partial:
        y[[1, 4, 5]] = -1
    d = Distiller(teacher, student, alpha=0.3, temperature=2.5)
    d.compile(optimizer="sgd", metrics=["accuracy"])
    got = d.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    s, t = student.predict(x, verbose=0), teacher.predict(x, verbose=0)
    labelled = y != -1
    ce = np.where(labelled, hand_ce(y, s), 0.0).mean()
    kd = hand_kd(t, s, 2.5).mean()
    np.testing.assert_allclose(got["student_loss"], ce, rtol=1e-5)
    np.testing.assert_allclose(got["distillation_loss"], kd, rtol=1e-5)
    np.testing.assert_allclose(got["loss"], 0.3 * ce + 0.7 * kd, rtol=1e-5)
    accuracy = (s.argmax(-1) == y)[labelled].mean()  # metrics see labelled samples only
    np.testing.assert_allclose(got["accuracy"], accuracy, rtol=1e-6)


def test_pure_distillation_and_one_hot_labels():
    student, teacher = tiny_pair()
    x, y = batch()
    d = Distiller(teacher, student, alpha=0.5, temperature=2.0)
    d.compile(optimizer="sgd")
    s, t = student.predict(x, verbose=0), teacher.predict(x, verbose=0)
    got = d.evaluate(x, batch_size=8, verbose=0, return_dict=True)  # y=None
    np.testing.assert_allclose(got["loss"], hand_kd(t, s, 2.0).mean(), rtol=1e-5)
    one_hot = np.eye(4, dtype=np.float32)[y]
    one_hot[2] = -1  # a row of -1: no label
    got = d.evaluate(x, one_hot, batch_size=8, verbose=0, return_dict=True)
    ce = np.where(np.arange(8) != 2, hand_ce(y, s), 0.0).mean()
    np.testing.assert_allclose(got["student_loss"], ce, rtol=1e-5)


def test_sequence_logits_with_per_token_missing_labels_match_a_hand_computation():
    keras.utils.set_random_seed(0)
    teacher, student = sequence_model(7, 5, "t"), sequence_model(7, 5, "s")
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 7, (4, 5)).astype(np.int32)
    targets = rng.integers(0, 7, (4, 5))
    targets[0, :2] = -1
    d = Distiller(teacher, student, alpha=0.25, temperature=3.0)
    d.compile(optimizer="sgd")
    got = d.evaluate(tokens, targets, batch_size=4, verbose=0, return_dict=True)
    s, t = student.predict(tokens, verbose=0), teacher.predict(tokens, verbose=0)
    ce = np.where(targets != -1, hand_ce(targets, s), 0.0).mean()
    kd = hand_kd(t, s, 3.0).mean()
    np.testing.assert_allclose(got["loss"], 0.25 * ce + 0.75 * kd, rtol=1e-5)


def test_fit_trains_the_student_object_and_never_the_teacher(teacher, digits_data, weights_digest):
    (x, y), (xv, yv) = digits_data
    student = models.cnn(width=2, engine="tf_keras")
    before_teacher, before_student = weights_digest(teacher), weights_digest(student)
    d = Distiller(teacher, student)
    assert d.student is student and d.teacher is teacher and not teacher.trainable
    ids = {id(v) for v in d.trainable_variables}
    assert ids == {id(v) for v in student.trainable_variables}
    d.compile(optimizer=keras.optimizers.Adam(3e-3), metrics=["accuracy"])
    history = d.fit(x, y, epochs=3, batch_size=64, validation_data=(xv, yv), verbose=0)
    assert set(history.history) == {
        "loss", "student_loss", "distillation_loss", "accuracy",
        "val_loss", "val_student_loss", "val_distillation_loss", "val_accuracy",
    }  # fmt: skip
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert weights_digest(teacher) == before_teacher
    assert weights_digest(student) != before_student
    np.testing.assert_allclose(d.predict(xv[:4], verbose=0), student.predict(xv[:4], verbose=0))


def test_gradients_reach_only_the_student_even_if_the_teacher_is_made_trainable(weights_digest):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    h = keras.layers.Dense(8)(inputs)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.Dropout(0.5)(h)
    teacher = keras.Model(inputs, keras.layers.Dense(4)(h))
    student = models.mlp(hidden=(3,), input_dim=6, num_classes=4, engine="tf_keras")
    d = Distiller(teacher, student)
    teacher.trainable = True  # a user mistake: still no gradient, no BN update, no dropout
    d.compile(optimizer="sgd")
    x, y = batch(32)
    before = weights_digest(teacher)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert weights_digest(teacher) == before


def test_tf_data_input_and_feature_pairs_with_a_projection(teacher, digits_data):
    (x, y), _ = digits_data
    student = models.cnn(width=2, engine="tf_keras")
    d = Distiller(teacher, student, feature_pairs=[("conv2", "conv2")], feature_weight=0.5)
    (projection,) = d.feature_projections
    assert projection.kernel.shape == (4, 16)  # student width 4 -> teacher width 16
    assert {id(v) for v in d.trainable_variables} == {
        id(v) for v in [*student.trainable_variables, projection.kernel]
    }
    d.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = projection.kernel.numpy().copy()
    ds = datasets.as_dataset(x[:256], y[:256], batch_size=32)
    history = d.fit(ds, epochs=2, verbose=0)
    assert "feature_loss" in history.history
    assert history.history["feature_loss"][-1] < history.history["feature_loss"][0]
    assert not np.allclose(projection.kernel.numpy(), before)
    same = Distiller(
        models.cnn(width=8, engine="tf_keras"),
        models.cnn(width=8, engine="tf_keras"),
        feature_pairs=[("conv1", "conv1")],
    )
    assert type(same.feature_projections[0]).__name__ == "Identity"


def test_tiny_lm_teacher_and_student():
    corpus = datasets.python_docs(seq_len=16, max_chars=6000, batch_size=16)
    vocab = len(corpus.vocab)
    teacher = models.tiny_lm(
        vocab, d_model=16, num_layers=1, num_heads=2, seq_len=16, engine="tf_keras"
    )
    student = models.tiny_lm(
        vocab, d_model=8, num_layers=1, num_heads=2, seq_len=16, engine="tf_keras"
    )
    d = Distiller(teacher, student, alpha=0.5, temperature=2.0)
    d.compile(optimizer=keras.optimizers.Adam(3e-3), metrics=["accuracy"])
    history = d.fit(corpus.train, epochs=2, verbose=0, validation_data=corpus.val)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert d.predict(corpus.x_val[:2], verbose=0).shape == (2, 16, vocab)


def test_bad_arguments_are_refused_and_change_nothing(teacher):
    student = models.cnn(width=2, engine="tf_keras")
    cases = [
        ({"alpha": 1.5}, ValueError, r"`alpha` must be in \[0, 1\]"),
        ({"alpha": -0.1}, ValueError, "`alpha`"),
        ({"temperature": 0}, ValueError, "`temperature` must be"),
        ({"temperature": -2.0}, ValueError, "`temperature`"),
        ({"feature_weight": -1}, ValueError, "`feature_weight`"),
        ({"feature_pairs": [("conv2", "nope")]}, ValueError, "student layer 'nope'.*conv1"),
        ({"feature_pairs": [("nope", "conv2")]}, ValueError, "teacher layer 'nope'"),
        ({"feature_pairs": [("conv1", "conv2")]}, ValueError, "differ beyond the last"),
        ({"feature_pairs": ["conv1"]}, TypeError, "pair of strings"),
        ({"teacher_outputs": np.zeros((3, 10))}, TypeError, "TeacherCache"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            Distiller(teacher, student, **kwargs)
        assert teacher.trainable, kwargs  # nothing changed
    with pytest.raises(ValueError, match=r"output shapes differ.*10.*5"):
        Distiller(teacher, models.cnn(width=2, num_classes=5, engine="tf_keras"))
    with pytest.raises(ValueError, match="same model"):
        Distiller(teacher, teacher)
    with pytest.raises(TypeError, match="`student` must be a tf_keras model"):
        Distiller(teacher, "student.keras")
    assert teacher.trainable


def test_keras3_models_get_a_clear_message(teacher):
    import keras as keras3

    if not keras3.__version__.startswith("3"):
        pytest.skip("Keras 3 is not installed")
    assert "keras" in sys.modules
    k3 = keras3.Sequential(
        [keras3.Input((8, 8, 1)), keras3.layers.Flatten(), keras3.layers.Dense(10)]
    )
    with pytest.raises(TypeError, match=r"`teacher` is a Keras 3 model.*tf_keras"):
        Distiller(k3, models.cnn(width=2, engine="tf_keras"))
    with pytest.raises(TypeError, match=r"`student` is a Keras 3 model"):
        Distiller(teacher, k3)


def test_labels_out_of_range_are_refused_before_training(teacher, digits_data, weights_digest):
    (x, y), _ = digits_data
    student = models.cnn(width=2, engine="tf_keras")
    d = Distiller(teacher, student)
    d.compile(optimizer="adam")
    before = weights_digest(student)
    bad = y[:64].copy()
    bad[5] = 10
    with pytest.raises(ValueError, match=r"`y` has label 10 at index \(5,\).*0\.\.9, or -1"):
        d.fit(x[:64], bad, epochs=1, verbose=0)
    bad[5] = -3
    with pytest.raises(ValueError, match="label -3"):
        d.fit(x[:64], bad, epochs=1, verbose=0)
    assert weights_digest(student) == before
    ds = tf.data.Dataset.from_tensor_slices((x[:64], np.full(64, 12))).batch(32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels `y` must be class ids"):
        d.fit(ds, epochs=1, verbose=0)
    assert weights_digest(student) == before  # the check runs before the first update


def test_swapped_models_warn(teacher):
    with pytest.warns(UserWarning, match="are they swapped"):
        Distiller(models.cnn(width=2, engine="tf_keras"), teacher)


def test_keyword_models_and_an_untrained_teacher_beside_a_trained_student_warn(teacher):
    student = models.cnn(
        width=8, engine="tf_keras"
    )  # as large as the teacher, untrained: the normal case
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = Distiller(student=student, teacher=teacher)
    assert d.teacher is teacher and d.student is student
    with pytest.warns(UserWarning, match="looks untrained.*swapped"):
        Distiller(teacher=models.cnn(width=8, engine="tf_keras"), student=copy_model(teacher))
    with pytest.raises(TypeError, match="two values for `teacher`"):
        Distiller(teacher, teacher=teacher, student=student)


def test_compile_refuses_several_losses_or_loss_weights(teacher):
    d = Distiller(teacher, models.cnn(width=2, engine="tf_keras"))
    with pytest.raises(TypeError, match="one loss"):
        d.compile(optimizer="adam", loss=["mse", "mae"])
    with pytest.raises(ValueError, match="loss_weights"):
        d.compile(optimizer="adam", loss_weights=[1.0])


def test_custom_student_loss_is_used(teacher, digits_data):
    (x, y), _ = digits_data
    student = compile_classifier(models.cnn(width=2, engine="tf_keras"))
    d = Distiller(teacher, student, alpha=1.0)
    d.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    got = d.evaluate(x[:32], y[:32], batch_size=32, verbose=0, return_dict=True)
    expected = student.evaluate(x[:32], y[:32], batch_size=32, verbose=0, return_dict=True)
    np.testing.assert_allclose(got["loss"], expected["loss"], rtol=1e-5)
