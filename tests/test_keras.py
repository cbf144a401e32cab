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


def test_the_error_names_the_call():
    import keras as keras3

    model = keras3.Sequential([keras3.Input((3,)), keras3.layers.Dense(2)])
    with pytest.raises(TypeError, match=r"^tg\.distill does not support Keras 3 .*`student`"):
        _keras.require_tf_keras_model(model, "student", call="tg.distill")


def test_importing_the_engine_keeps_the_users_keras():
    import os

    import tensorflow as tf

    # tf.keras is what the environment says, though TFMOT (imported) sets the variable itself.
    legacy = os.environ.get("TF_USE_LEGACY_KERAS") in ("1", "true", "True")
    assert tf.keras.__name__ == ("tf_keras.api._v2.keras" if legacy else "keras._tf_keras.keras")
    assert _keras.tfmot.sparsity.keras.prune_low_magnitude is not None
