import numpy as np
import pytest
from distillation_helpers import hand_kd, softmax

from tf_green._keras import keras, tf
from tf_green.distillation import DistillationLoss, losses


@pytest.mark.parametrize("temperature", [1.0, 2.0, 7.5])
def test_kl_divergence_matches_a_hand_computation_times_t_squared(temperature):
    rng = np.random.default_rng(0)
    t, s = rng.normal(size=(2, 4, 6, 5)).astype(np.float32) * 3
    got = losses.kl_divergence(t, s, temperature).numpy()
    assert got.shape == (4, 6)
    np.testing.assert_allclose(got, hand_kd(t, s, temperature), rtol=1e-4, atol=1e-6)
    assert np.all(got >= -1e-6)
    np.testing.assert_allclose(losses.kl_divergence(t, t, temperature), 0.0, atol=1e-5)


def test_t_squared_keeps_soft_target_gradients_independent_of_temperature():
    # Hinton et al.: at high T the gradient of KL * T^2 w.r.t. the student's (zero-mean)
    # logits tends to (student - teacher) / classes, whatever T is.
    rng = np.random.default_rng(1)
    t = rng.normal(size=(1, 8)).astype(np.float32)
    s = rng.normal(size=(1, 8)).astype(np.float32)
    t, s = t - t.mean(), s - s.mean()
    grads = {}
    for temperature in (20.0, 40.0):
        student = tf.Variable(s)
        with tf.GradientTape() as tape:
            value = losses.kl_divergence(t, student, temperature)
        grads[temperature] = tape.gradient(value, student).numpy()
    limit = (s - t) / 8
    np.testing.assert_allclose(grads[20.0], limit, atol=0.02 * np.abs(limit).max() + 1e-3)
    np.testing.assert_allclose(grads[40.0], grads[20.0], rtol=0.05, atol=1e-3)


def test_top_k_with_all_classes_equals_the_full_loss_and_renormalizes_otherwise():
    rng = np.random.default_rng(2)
    t, s = rng.normal(size=(2, 3, 4, 7)).astype(np.float32)
    values, indices = tf.math.top_k(t, k=7)
    full = losses.kl_divergence(t, s, 3.0)
    np.testing.assert_allclose(losses.top_k_kl_divergence(values, indices, s, 3.0), full, 1e-5)
    values, indices = tf.math.top_k(t, k=2)
    p = softmax(values.numpy() / 3.0)  # teacher renormalized over its top 2
    log_q = np.log(softmax(s / 3.0))
    log_q_k = np.take_along_axis(log_q, indices.numpy(), -1)
    expected = (p * (np.log(p) - log_q_k)).sum(-1) * 9.0
    got = losses.top_k_kl_divergence(values, tf.cast(indices, tf.int16), s, 3.0)
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_feature_loss_is_a_per_sample_mse_with_no_teacher_gradient():
    teacher = tf.Variable(np.ones((2, 3, 4), np.float32))
    student = tf.Variable(np.zeros((2, 3, 4), np.float32))
    with tf.GradientTape(persistent=True) as tape:
        value = losses.feature_loss(teacher, student)
    np.testing.assert_allclose(value, [1.0, 1.0])
    assert tape.gradient(value, teacher) is None
    assert tape.gradient(value, student) is not None


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan"), float("inf"), "hot"])
def test_bad_temperature_is_refused(temperature):
    with pytest.raises(ValueError, match="`temperature` must be"):
        losses.kl_divergence(np.zeros((1, 2)), np.zeros((1, 2)), temperature)
    with pytest.raises(ValueError, match="`temperature`"):
        DistillationLoss(temperature=temperature)


def test_distillation_loss_trains_on_teacher_logits_and_round_trips(tmp_path):
    loss = DistillationLoss(temperature=3.0)
    t = np.array([[2.0, 0.0, -1.0]], np.float32)
    s = np.array([[0.0, 1.0, 0.0]], np.float32)
    np.testing.assert_allclose(float(loss(t, s)), hand_kd(t, s, 3.0)[0], rtol=1e-5)
    assert DistillationLoss.from_config(loss.get_config()).temperature == 3.0

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=loss)
    x = np.random.default_rng(0).random((8, 4)).astype(np.float32)
    model.fit(x, np.tile(t, (8, 1)), epochs=1, verbose=0)
    for name, kwargs in (("m.keras", {}), ("m.h5", {}), ("sm", {"save_format": "tf"})):
        model.save(tmp_path / name, **kwargs)
        loaded = keras.models.load_model(tmp_path / name)
        restored = loaded.loss
        restored = getattr(restored, "__self__", restored)
        assert isinstance(restored, DistillationLoss), name
        assert restored.temperature == 3.0
