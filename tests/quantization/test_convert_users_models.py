"""to_tflite on models users build themselves: recurrent, subclassed; and unwritable paths.

Issue #12 findings 5 (LSTM/GRU export at batch 1, INT8 calibration isolated in a subprocess),
6 (INT8 of subclassed models) and 13 (the destination is checked before converting).
"""

import os
import pathlib
import signal
import tempfile
import warnings

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from tf_green._keras import keras, tf
from tf_green.quantization import TFLiteModel, _calibrate, to_tflite

STEPS, FEATURES = 8, 3


def _sequences(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, STEPS, FEATURES)).astype(np.float32)
    return x, (x[:, :, 0].sum(axis=1) > 0).astype(np.int64)


def _recurrent(kind):
    keras.utils.set_random_seed(0)
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind]
    inputs = keras.Input((STEPS, FEATURES), name="series")
    # 32 units: the recurrent kernel (32 x 4*32) is big enough for dynamic-range quantization.
    outputs = keras.layers.Dense(2, name="logits")(layer(32)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(
        keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x, y = _sequences()
    model.fit(x, y, epochs=6, batch_size=16, verbose=0)
    return model


def _per_sample(content, x):
    """Run a batch-1 model sample by sample, resetting its state tensors before each."""
    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    results = []
    for sample in x:
        interpreter.reset_all_variables()
        sample = sample[np.newaxis]
        if inp["dtype"] == np.int8:
            scale, zero = inp["quantization"]
            sample = np.clip(np.round(sample / scale + zero), -128, 127).astype(np.int8)
        interpreter.set_tensor(inp["index"], sample)
        interpreter.invoke()
        result = interpreter.get_tensor(out["index"]).astype(np.float32)
        if out["dtype"] == np.int8:
            scale, zero = out["quantization"]
            result = (result - zero) * scale
        results.append(result[0])
    return np.stack(results)


@pytest.fixture(scope="module", params=["lstm", "gru"])
def recurrent_exports(request):
    model = _recurrent(request.param)
    x, _ = _sequences(n=64, seed=1)
    exports = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for q in (None, "dynamic", "int8"):
            exports[q] = to_tflite(model, quantization=q, representative_data=x[:48])
    return request.param, model, exports, caught


@pytest.mark.slow
def test_recurrent_models_export_at_batch_one_and_match_keras(recurrent_exports):
    kind, model, exports, caught = recurrent_exports
    x, _ = _sequences(n=12, seed=2)
    expected = model.predict(x, verbose=0)
    spread = float(np.abs(expected).max())
    tolerance = {None: 1e-5, "dynamic": 0.05 * spread, "int8": 0.2 * spread}
    precisions = {None: "float32", "dynamic": "dynamic", "int8": "int8"}
    for q, content in exports.items():
        tfl = TFLiteModel(content)
        assert tfl.precision == precisions[q], (kind, q)
        assert tfl.input_details[0]["shape"].tolist() == [1, STEPS, FEATURES]
        np.testing.assert_allclose(_per_sample(content, x), expected, atol=tolerance[q])
        # TFLiteModel runs the batch-1 model on any number of samples.
        np.testing.assert_allclose(tfl.predict(x), expected, atol=tolerance[q])
    batch_notes = [w for w in caught if "exporting it at batch 1" in str(w.message)]
    assert len(batch_notes) == len(exports)


@pytest.mark.slow
def test_recurrent_export_keeps_output_names_and_the_callers_model(
    recurrent_exports, weights_digest
):
    _, model, exports, _ = recurrent_exports
    before = weights_digest(model)
    interpreter = Interpreter(model_content=exports[None])
    assert interpreter.get_signature_list()["serving_default"] == {
        "inputs": ["series"],
        "outputs": ["logits"],
    }
    assert model.input_shape == (None, STEPS, FEATURES)
    assert weights_digest(model) == before


def test_calibration_crash_is_reported_and_the_process_survives(monkeypatch):
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), keras.layers.GRU(4)])
    x, _ = _sequences(n=4)
    monkeypatch.setenv(_calibrate.TEST_SIGNAL_ENV, str(int(signal.SIGSEGV)))
    crashed = r"crashed TensorFlow's calibrator .*SIGSEGV.*Try quantization='dynamic'"
    with pytest.warns(UserWarning, match="batch 1"), pytest.raises(RuntimeError, match=crashed):
        to_tflite(model, quantization="int8", representative_data=x)


class _Classifier(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(32, activation="relu")  # 40x32 kernel: quantizable
        self.logits = keras.layers.Dense(3)

    def call(self, inputs):
        return self.logits(self.hidden(inputs))


def _subclassed_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 40)).astype(np.float32)
    return x, np.argmax(x[:, :3], axis=1)


@pytest.fixture(scope="module")
def subclassed():
    keras.utils.set_random_seed(0)
    x, y = _subclassed_data()
    model = _Classifier()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    return model


def test_subclassed_model_exports_in_every_mode(subclassed):
    x, _ = _subclassed_data()
    assert not subclassed.inputs  # what made INT8 fail: no functional inputs
    expected = subclassed.predict(x, verbose=0)
    spread = float(np.abs(expected).max())
    tolerance = {"float16": 1e-2, "dynamic": 0.05 * spread, "int8": 0.08 * spread}
    for q, atol in tolerance.items():
        tfl = TFLiteModel(to_tflite(subclassed, quantization=q, representative_data=x[:64]))
        assert tfl.precision == q
        np.testing.assert_allclose(tfl.predict(x), expected, atol=atol)


def test_subclassed_model_built_without_data_is_traced_from_representative_data():
    keras.utils.set_random_seed(0)
    model = _Classifier()
    model.build((None, 40))
    x, _ = _subclassed_data()
    tfl = TFLiteModel(to_tflite(model, quantization="int8", representative_data=x))
    assert tfl.precision == "int8"
    assert tfl.input_details[0]["shape_signature"].tolist() == [-1, 40]
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(tfl.predict(x), expected, atol=0.08 * np.abs(expected).max())
    with pytest.raises(ValueError, match="call it once on a batch"):
        to_tflite(_Classifier())


def _refuse_conversion(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("converted before checking `path`")

    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_keras_model", refuse)


def test_folder_that_refuses_files_is_refused_before_converting(monkeypatch, tmp_path):
    # os.access says yes (as for root, or a read-only mount), but no file can be created.
    real_mkstemp = tempfile.mkstemp

    def no_space(*args, **kwargs):
        if pathlib.Path(kwargs.get("dir", "")) == tmp_path:
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", no_space)
    _refuse_conversion(monkeypatch)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"`path` .*model\.tflite.* is not writable"):
        to_tflite(model, tmp_path / "model.tflite")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_proc_is_refused_before_converting(monkeypatch):
    _refuse_conversion(monkeypatch)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"`path` '/proc/model\.tflite'"):
        to_tflite(model, "/proc/model.tflite")


def test_folder_lost_after_the_check_gives_a_clear_oserror(monkeypatch, tmp_path):
    real_mkstemp = tempfile.mkstemp
    calls = []

    def second_fails(*args, **kwargs):
        calls.append(kwargs.get("dir"))
        if len(calls) > 1:
            raise FileNotFoundError(2, "No such file or directory")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", second_fails)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(OSError, match=r"could not write `path` .*model\.tflite"):
        to_tflite(model, tmp_path / "model.tflite")
    assert list(tmp_path.iterdir()) == []


def test_flex_op_is_refused_by_name_unless_allowed():
    """tf.math.cumprod has no builtin TFLite kernel: named, with the allow_flex opt-in."""
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: tf.math.cumprod(t, axis=1))(inputs))
    with pytest.raises(ValueError, match=r"Cumprod.*allow_flex=True"):
        to_tflite(model)
    with pytest.warns(UserWarning, match="Flex.*Cumprod"):
        to_tflite(model, allow_flex=True)
    with pytest.raises(TypeError, match="allow_flex"):
        to_tflite(model, allow_flex="yes")
