"""Clear errors of the Keras 3 engine's wrap/callbacks/prune for misuse."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from k3_helpers import k3_cnn

from tf_green.pruning import keras3


def test_wrapping_a_wrapped_model_is_refused():
    wrapped = keras3.wrap(k3_cnn())
    with pytest.raises(ValueError, match=r"already has pruning masks.*strip"):
        keras3.wrap(wrapped)


def test_callbacks_on_a_model_without_masks_are_refused():
    model = k3_cnn()
    x, y = np.zeros((8, 8, 8, 1), "float32"), np.zeros(8, "int32")
    with pytest.raises(ValueError, match=r"no pruning masks.*wrap"):
        model.fit(x, y, epochs=1, callbacks=keras3.callbacks(), verbose=0)


def test_steps_per_execution_above_one_is_refused():
    wrapped = keras3.wrap(k3_cnn())
    wrapped.compile("adam", wrapped.loss, steps_per_execution=4)
    x, y = np.zeros((8, 8, 8, 1), "float32"), np.zeros(8, "int32")
    with pytest.raises(ValueError, match="steps_per_execution=1"):
        wrapped.fit(x, y, epochs=1, callbacks=keras3.callbacks(), verbose=0)


def test_schedule_and_structure_arguments_are_checked(k3_trained_cnn, k3_digits):
    (x, y), _ = k3_digits
    with pytest.raises(TypeError, match="schedule"):
        keras3.wrap(k3_trained_cnn, schedule="weekly")
    with pytest.raises(ValueError, match="'polynomial', 'constant'"):
        keras3.prune(k3_trained_cnn, x, y, schedule="weekly", verbose=0)
    with pytest.raises(ValueError, match=r"1 <= m < n"):
        keras3.prune(k3_trained_cnn, x, y, structure="4:4", verbose=0)
    with pytest.raises(ValueError, match="epochs"):
        keras3.prune(k3_trained_cnn, x, y, epochs=1, verbose=0)  # polynomial needs 2
    with pytest.raises(ValueError, match="per-layer"):
        keras3.prune(k3_trained_cnn, x, y, structure="2:4", layers={"conv2": 0.5}, verbose=0)


def test_unbuilt_subclassed_model_is_refused():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    with pytest.raises(ValueError, match="not built"):
        keras3.wrap(Net())
