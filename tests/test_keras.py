import sys

import pytest

from tf_green import _keras
from tf_green._keras import keras


def test_tf_keras_model_is_recognised():
    model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    assert _keras.is_tf_keras_model(model)
    assert not _keras.is_keras3_model(model)
    assert _keras.require_tf_keras_model(model) is model


def test_keras3_model_gets_a_clear_error():
    import keras as keras3

    if not keras3.__version__.startswith("3"):
        pytest.skip("Keras 3 is not installed")
    assert "keras" in sys.modules
    model = keras3.Sequential([keras3.Input((3,)), keras3.layers.Dense(2)])
    assert _keras.is_keras3_model(model)
    assert not _keras.is_tf_keras_model(model)
    with pytest.raises(TypeError, match=r"`teacher` is a Keras 3 model.*tf_keras"):
        _keras.require_tf_keras_model(model, "teacher")


def test_non_model_gets_a_clear_error():
    with pytest.raises(TypeError, match=r"`model` must be a tf_keras model.*got str"):
        _keras.require_tf_keras_model("model.keras")
