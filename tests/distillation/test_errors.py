"""Error paths not covered elsewhere: each names its argument and says what to do."""

import numpy as np
import pytest

from tf_green import models
from tf_green._keras import keras, tf
from tf_green.distillation import Distiller, TeacherCache, cache_teacher
from tf_green.distillation._labels import check_label_array, split_labels


def mlp_teacher():
    return models.mlp(hidden=(8,), input_dim=4, num_classes=3, engine="tf_keras")


def test_cache_zip_errors():
    x = np.random.default_rng(0).random((6, 4)).astype(np.float32)
    cache = cache_teacher(mlp_teacher(), x, batch_size=4)
    with pytest.raises(ValueError, match="`y` has 5 samples but `x` has 6"):
        cache.zip(x, np.zeros(5))
    with pytest.raises(ValueError, match="`sample_weight` has 2 samples"):
        cache.zip(x, np.zeros(6), np.ones(2))
    ds = tf.data.Dataset.from_tensor_slices(x).batch(2)
    with pytest.raises(ValueError, match="must be inside the dataset"):
        cache.zip(ds, np.zeros(6))


def test_cache_zip_pairs_inputs_with_their_logits_in_order():
    teacher = mlp_teacher()
    x = np.random.default_rng(0).random((5, 4)).astype(np.float32)
    cache = cache_teacher(teacher, x, batch_size=2)
    batches = list(cache.zip(x, np.arange(5), np.ones(5), batch_size=2, shuffle=False))
    assert [len(b) for b in batches] == [3, 3, 3]  # (packed inputs, y, sample_weight)
    inputs = np.concatenate([b[0]["tf_green_inputs"] for b in batches])
    logits = np.concatenate([b[0]["tf_green_teacher_logits"] for b in batches])
    np.testing.assert_array_equal(inputs, x)
    np.testing.assert_allclose(logits, teacher.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    shuffled = next(iter(cache.zip(x, np.arange(5), batch_size=5, seed=3)))
    order = shuffled[1].numpy()
    np.testing.assert_array_equal(shuffled[0]["tf_green_inputs"], x[order])
    np.testing.assert_allclose(shuffled[0]["tf_green_teacher_logits"], logits[order], atol=1e-6)


def test_cache_directory_and_folder_errors(tmp_path):
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"parent .* does not exist"):
        cache_teacher(mlp_teacher(), x, directory=tmp_path / "missing" / "cache")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="already exists and is not empty"):
        cache_teacher(mlp_teacher(), x, directory=tmp_path / "file")
    cache_teacher(mlp_teacher(), x, directory=tmp_path / "c")
    (tmp_path / "c" / "fingerprints.npy").unlink()
    with pytest.raises(ValueError, match="incomplete"):
        TeacherCache.load(tmp_path / "c")


def test_cache_needs_a_fixed_output_shape():
    lm = models.tiny_lm(
        vocab_size=11, d_model=8, num_layers=1, num_heads=2, seq_len=8, engine="tf_keras"
    )
    ragged = tf.data.Dataset.from_generator(
        lambda: iter([np.zeros((2, 8), np.int32), np.zeros((2, 5), np.int32)]),
        output_signature=tf.TensorSpec((None, None), tf.int32),
    )
    with pytest.raises(ValueError, match="one fixed shape per sample"):
        cache_teacher(lm, ragged)


def test_label_errors():
    with pytest.raises(ValueError, match="`y` must hold numbers"):
        check_label_array(np.array(["a", "b"]), 3)
    with pytest.raises(ValueError, match="non-integer values"):
        check_label_array(np.array([0.5, 1.0]), 3)
    check_label_array(np.eye(3, dtype=np.float32) * 0.5, 3)  # probabilities: fine
    with pytest.raises(ValueError, match="fit neither integer labels"):
        split_labels(tf.zeros((2, 3, 4), tf.int32), tf.zeros((2, 3)))


def test_model_and_compile_errors():
    teacher = mlp_teacher()
    inputs = keras.Input((4,))
    two_heads = keras.Model(inputs, [keras.layers.Dense(3)(inputs), keras.layers.Dense(3)(inputs)])
    with pytest.raises(ValueError, match="has 2 outputs; the Distiller needs one logits output"):
        Distiller(teacher, two_heads)
    with pytest.raises(ValueError, match="`feature_weight` must be finite"):
        Distiller(teacher, models.mlp(hidden=(2,), input_dim=4, num_classes=3, engine="tf_keras"),
                  feature_weight=float("inf"))  # fmt: skip
    d = Distiller(teacher, models.mlp(hidden=(2,), input_dim=4, num_classes=3, engine="tf_keras"))
    with pytest.raises(TypeError, match="a Keras loss, a loss name or a callable"):
        d.compile(optimizer="sgd", loss=3)


def test_feature_pair_errors():
    teacher = mlp_teacher()

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3, name="dense")

        def call(self, inputs):
            return self.dense(inputs)

    with pytest.raises(ValueError, match="needs functional or Sequential student"):
        Distiller(teacher, Sub(), feature_pairs=[("dense1", "dense")])
    inputs = keras.Input((4,))
    shared = keras.layers.Dense(4, name="shared")
    twice = keras.Model(inputs, keras.layers.Dense(3)(shared(shared(inputs))))
    with pytest.raises(ValueError, match="called more than once"):
        Distiller(teacher, twice, feature_pairs=[("dense1", "shared")])


def test_sample_weights_reach_losses_and_weighted_metrics():
    keras.utils.set_random_seed(0)
    teacher = mlp_teacher()
    student = models.mlp(hidden=(2,), input_dim=4, num_classes=3, engine="tf_keras")
    rng = np.random.default_rng(0)
    x = rng.random((6, 4)).astype(np.float32)
    y = np.array([0, 1, 2, -1, 1, 0])
    w = np.array([1.0, 0.0, 2.0, 1.0, 1.0, 0.5], np.float32)
    d = Distiller(teacher, student, alpha=0.5)
    d.compile(optimizer="sgd", weighted_metrics=["accuracy"])
    got = d.evaluate(x, y, sample_weight=w, batch_size=6, verbose=0, return_dict=True)
    correct = (student.predict(x, verbose=0).argmax(-1) == y).astype(float)
    labelled = (y != -1).astype(float)
    expected = (correct * w * labelled).sum() / (w * labelled).sum()
    np.testing.assert_allclose(got["accuracy"], expected, rtol=1e-6)
    unweighted = d.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    assert got["distillation_loss"] != pytest.approx(unweighted["distillation_loss"])
