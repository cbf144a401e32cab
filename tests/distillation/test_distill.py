import numpy as np
import pytest

from tf_green import datasets, models
from tf_green._keras import keras
from tf_green.distillation import cache_teacher, distill


def test_distill_returns_a_trained_compiled_copy_and_changes_nothing(
    teacher, digits_data, weights_digest
):
    (x, y), (xv, yv) = digits_data
    student = models.cnn(width=2, engine="tf_keras")
    before = weights_digest(student), weights_digest(teacher)
    trained = distill(
        teacher, student, x, y, epochs=4, optimizer=keras.optimizers.Adam(3e-3),
        validation_data=(xv, yv),
    )  # fmt: skip
    assert trained is not student and trained.name == student.name
    assert (weights_digest(student), weights_digest(teacher)) == before
    assert teacher.trainable  # restored
    assert trained.optimizer is not None and trained.compiled_loss is not None
    history = trained.history.history
    assert history["val_accuracy"][-1] > history["val_accuracy"][0]
    accuracy = trained.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    assert accuracy == pytest.approx(history["val_accuracy"][-1], abs=1e-6)
    assert accuracy > 0.5  # 4 epochs of a 166-parameter student


def test_partial_labels_learn_from_the_teacher(teacher, digits_data):
    (x, y), (xv, yv) = digits_data
    partial = np.where(np.arange(len(y)) % 10 == 0, y, -1)  # 10% of the labels
    keras.utils.set_random_seed(0)
    start = models.cnn(width=4, engine="tf_keras")
    labelled = partial >= 0
    labelled_only = distill(
        teacher, start, x[labelled], y[labelled], alpha=1.0, epochs=6,
        optimizer=keras.optimizers.Adam(1e-2),
    )  # fmt: skip
    transfer = distill(teacher, start, x, partial, epochs=6, optimizer=keras.optimizers.Adam(1e-2))
    scores = [m.evaluate(xv, yv, verbose=0)[1] for m in (labelled_only, transfer)]
    assert scores[1] > scores[0] + 0.1, scores


def test_pure_distillation_and_a_given_cache_and_one_hot_labels(teacher, digits_data):
    (x, y), (xv, yv) = digits_data
    cache = cache_teacher(teacher, x)
    trained = distill(
        teacher, models.cnn(width=2, engine="tf_keras"), x, epochs=2, cache=cache
    )  # y=None
    assert "student_loss" in trained.history.history
    one_hot = np.eye(10, dtype=np.float32)[y]
    trained = distill(
        teacher, models.cnn(width=2, engine="tf_keras"), x, one_hot, epochs=1, cache=False
    )
    assert isinstance(trained.loss, keras.losses.CategoricalCrossentropy)
    trained.evaluate(xv, np.eye(10)[yv], verbose=0)
    ds = datasets.as_dataset(x, y, batch_size=64)
    trained = distill(teacher, models.cnn(width=2, engine="tf_keras"), ds, epochs=1, metrics=None)
    assert set(trained.history.history) == {"loss", "student_loss", "distillation_loss"}


def test_distill_errors_come_before_training(teacher, digits_data, weights_digest):
    (x, y), _ = digits_data
    student = models.cnn(width=2, engine="tf_keras")
    before = weights_digest(student)
    bad = y.copy()
    bad[3] = 11
    with pytest.raises(ValueError, match="label 11"):
        distill(teacher, student, x, bad, epochs=1)
    with pytest.raises(ValueError, match="`alpha`"):
        distill(teacher, student, x, y, epochs=1, alpha=2.0)
    with pytest.raises(ValueError, match="`teacher_outputs` has 10 samples"):
        distill(teacher, student, x, y, epochs=1, cache=cache_teacher(teacher, x[:10]))
    with pytest.raises(TypeError, match="`cache` must be"):
        distill(teacher, student, x, y, cache="yes")
    assert weights_digest(student) == before and teacher.trainable

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.flatten, self.dense = keras.layers.Flatten(), keras.layers.Dense(10)

        def call(self, inputs):
            return self.dense(self.flatten(inputs))

    subclassed = Sub()
    subclassed(x[:1])
    with pytest.raises(TypeError, match=r"cannot be cloned.*Distiller"):
        distill(teacher, subclassed, x, y, epochs=1)
