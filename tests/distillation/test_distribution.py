import functools

import numpy as np
import pytest
from distillation_helpers import copy_model

from tf_green import models
from tf_green._keras import keras, tf
from tf_green.distillation import Distiller, cache_teacher


@functools.lru_cache(maxsize=1)
def _strategy(devices: tuple[str, ...]) -> tf.distribute.MirroredStrategy:
    # One instance per process, reducing without collective ops: several MirroredStrategy
    # objects with collectives in one process can mix up their collective instance keys.
    return tf.distribute.MirroredStrategy(
        list(devices), cross_device_ops=tf.distribute.ReductionToOneDevice()
    )


def two_cpus():
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(devices) < 2:
        pytest.skip("needs the two logical CPU devices of tests/conftest.py")
    return _strategy(tuple(devices[:2]))


def run(strategy, teacher, start, x, y, optimizer, epochs, cache=None):
    with strategy.scope():
        teacher_copy, student = copy_model(teacher), copy_model(start)
        d = Distiller(teacher_copy, student, alpha=0.3, temperature=3.0, teacher_outputs=cache)
        d.compile(optimizer=optimizer(), metrics=["accuracy"])
    history = d.fit(x, y, batch_size=64, epochs=epochs, shuffle=False, verbose=0)
    return d, student.get_weights(), history.history


def test_two_replicas_take_the_same_steps_as_one_device(teacher, digits_data):
    # SGD exposes any loss-scaling error (Adam would hide a constant factor).
    (x, y), _ = digits_data
    x, y = x[:256], np.where(np.arange(256) % 3 == 0, -1, y[:256])  # with partial labels
    keras.utils.set_random_seed(0)
    start = models.cnn(width=2, engine="tf_keras")
    strategy = two_cpus()
    sgd = lambda: keras.optimizers.SGD(0.1)  # noqa: E731
    _, one, one_log = run(tf.distribute.get_strategy(), teacher, start, x, y, sgd, 2)
    _, two, two_log = run(strategy, teacher, start, x, y, sgd, 2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for key in ("loss", "student_loss", "distillation_loss", "accuracy"):
        np.testing.assert_allclose(one_log[key], two_log[key], rtol=1e-4)


@pytest.mark.slow
def test_cached_distillation_under_mirrored_strategy_reaches_the_same_accuracy(
    teacher, digits_data
):
    (x, y), (xv, yv) = digits_data
    keras.utils.set_random_seed(0)
    start = models.cnn(width=4, engine="tf_keras")
    cache = cache_teacher(teacher, x)
    adam = lambda: keras.optimizers.Adam(1e-2)  # noqa: E731
    scores = []
    for strategy in (tf.distribute.get_strategy(), two_cpus()):
        d, _, _ = run(strategy, teacher, start, x, y, adam, 4, cache=cache)
        scores.append(d.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"])
    assert scores[0] > 0.6
    assert abs(scores[0] - scores[1]) < 0.03, scores
