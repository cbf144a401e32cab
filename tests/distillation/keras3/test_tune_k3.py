"""tg.distillation.tune on Keras 3 (TensorFlow and JAX backends): same behaviour, no tf_keras.

The fresh-interpreter run (a useless teacher, no tf_keras/TFMOT imported, both backends) is
test_keras3_user_tunes_without_tf_keras_and_scratch_wins_on_a_useless_teacher in
tests/test_fresh_interpreter.py.
"""

from __future__ import annotations

import keras
import numpy as np
import tune_helpers as th  # tests/distillation, on sys.path through its conftest

from tf_green.distillation.tune import tune


def test_keras3_helpful_teacher_wins_on_a_transfer_set():
    x, y = th.blobs(300, seed=1)
    partial = np.where(np.arange(300) < 36, y, -1)
    seen: list[int] = []
    counting = keras.backend.backend() == "tensorflow"  # numpy_function: TensorFlow only
    teacher = th.good_teacher(keras, seen if counting else None)
    student = th.student(keras)
    before = [w.copy() for w in student.get_weights()]
    result = tune(
        teacher, student, x, partial, epochs=1, holdout=0.5,
        temperatures=(2.0,), alphas=(0.1,), optimizer=keras.optimizers.Adam(0.05),
    )  # fmt: skip
    assert not result.scratch_won and (result.temperature, result.alpha) == (2.0, 0.1)
    assert result.table.train_samples.tolist() == [282, 18, 300]
    assert isinstance(result.student, keras.Model) and result.student.optimizer is not None
    for a, b in zip(student.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    if counting:
        # One pass over the 300 samples (+1: the Keras 3 cache probes the output shape with
        # one sample); a teacher run per arm would be 900+.
        assert len(x) <= sum(seen) <= len(x) + 1
