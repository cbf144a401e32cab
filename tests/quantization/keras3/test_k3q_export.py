"""tg.to_tflite and TFLiteModel for Keras 3 models, on the TensorFlow and the JAX backend."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import tf_green as tg
from tf_green.quantization import _tflite_converter

JAX = keras.backend.backend() == "jax"


@pytest.fixture(scope="module")
def exports(k3q_trained, k3q_data):
    """One export per mode of the trained CNN, each as TFLiteModel."""
    (x, _), _ = k3q_data
    return {
        mode: tg.TFLiteModel(
            tg.to_tflite(k3q_trained, quantization=mode, representative_data=x[:100])
        )
        for mode in (None, "float16", "dynamic", "int8")
    }


@pytest.mark.parametrize(
    ("mode", "precision", "atol"),
    [(None, "float32", 1e-4), ("float16", "float16", 2e-2), ("dynamic", "dynamic", 0.3)],
)
def test_float_and_weight_only_exports_match_keras(
    exports, k3q_trained, k3q_data, mode, precision, atol
):
    _, (xv, _) = k3q_data
    tfl = exports[mode]
    assert tfl.precision == precision
    keras_out = k3q_trained.predict(xv, verbose=0)
    np.testing.assert_allclose(tfl.predict(xv), keras_out, atol=atol)
    assert _tflite_converter.flex_ops(tfl.model_bytes) == []


def test_int8_export_is_integer_and_agrees_with_keras(exports, k3q_trained, k3q_data):
    _, (xv, yv) = k3q_data
    tfl = exports["int8"]
    assert tfl.precision == "int8"
    keras_labels = k3q_trained.predict(xv, verbose=0).argmax(-1)
    assert np.mean(tfl.predict(xv).argmax(-1) == keras_labels) >= 0.9
    keras_acc = k3q_trained.evaluate(xv, yv, verbose=0)[1]
    assert keras_acc > 0.5  # trained: the parity below is not two random models agreeing
    assert tfl.evaluate(xv, yv) >= keras_acc - 0.05


def test_int8_io_dict_inputs_and_atomic_write(tmp_path):
    keras.utils.set_random_seed(0)
    image = keras.Input((6,), name="image")
    extra = keras.Input((3,), name="extra")
    h = keras.layers.Concatenate()([keras.layers.Dense(8, activation="relu")(image), extra])
    model = keras.Model({"image": image, "extra": extra}, keras.layers.Dense(2, name="out")(h))
    rng = np.random.default_rng(0)
    x = {"image": rng.random((40, 6), np.float32), "extra": rng.random((40, 3), np.float32)}
    target = tmp_path / "m.tflite"
    content = tg.to_tflite(model, target, quantization="int8", representative_data=x, int8_io=True)
    assert target.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["m.tflite"]  # no temporary file left
    tfl = tg.TFLiteModel(target)
    assert tfl.input_details[0]["dtype"] == np.int8
    np.testing.assert_allclose(tfl.predict(x), model.predict(x, verbose=0), atol=0.05)


def test_missing_folder_is_refused_before_converting(k3q_trained, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        tg.to_tflite(k3q_trained, tmp_path / "no" / "m.tflite")


def test_int8_without_representative_data_is_refused(k3q_trained):
    with pytest.raises(ValueError, match=r"representative_data=x_train\[:300\]"):
        tg.to_tflite(k3q_trained, quantization="int8")


class _Cumprod(keras.layers.Layer):
    """keras.ops.cumprod: tf.Cumprod on TensorFlow, which has no TFLite builtin kernel."""

    def call(self, x):
        return keras.ops.cumprod(x, axis=1)


class _Svd(keras.layers.Layer):
    """keras.ops.svd: a LAPACK custom call on JAX, which no TFLite op set has."""

    def call(self, x):
        return keras.ops.svd(x, compute_uv=False)


@pytest.mark.skipif(JAX, reason="JAX exports StableHLO, not TensorFlow ops: Flex cannot apply")
def test_flex_op_is_refused_by_name_unless_allowed():
    model = keras.Sequential([keras.Input((4,)), _Cumprod()])
    with pytest.raises(ValueError, match=r"Cumprod.*allow_flex=True"):
        tg.to_tflite(model)
    with pytest.warns(UserWarning, match="Flex.*Cumprod"):
        content = tg.to_tflite(model, allow_flex=True)
    assert _tflite_converter.flex_ops(content) == ["Cumprod"]


@pytest.mark.skipif(not JAX, reason="JAX custom calls exist on the JAX backend only")
def test_jax_custom_call_is_named():
    model = keras.Sequential([keras.Input((3, 3)), _Svd()])
    with pytest.raises(ValueError, match=r"cannot lower .*jax/linalg\.py:\d+.*JAX custom call"):
        tg.to_tflite(model)


def test_recurrent_model_exports_at_batch_one():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5, 3), name="seq")
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.LSTM(4)(inputs)))
    x = np.random.default_rng(0).random((6, 5, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match="batch 1"):
        tfl = tg.TFLiteModel(tg.to_tflite(model))
    np.testing.assert_allclose(tfl.predict(x), model.predict(x, verbose=0), atol=1e-5)


def test_subclassed_model_called_once_exports():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    model = Net()
    x = np.random.default_rng(0).random((5, 4)).astype(np.float32)
    model(x[:1])
    np.testing.assert_allclose(
        tg.TFLiteModel(tg.to_tflite(model)).predict(x), model.predict(x, verbose=0), atol=1e-5
    )
    with pytest.raises(ValueError, match=r"not built|never called"):
        tg.to_tflite(Net())
