import zipfile

import numpy as np
import pytest

from tf_green import models
from tf_green._keras import keras, tf
from tf_green.quantization import TFLiteModel, to_tflite


@pytest.fixture(scope="module")
def float_bytes(trained_cnn):
    return to_tflite(trained_cnn)


@pytest.fixture(scope="module")
def int8_io_bytes(trained_cnn, digits_data):
    (x, _), _ = digits_data
    return to_tflite(trained_cnn, quantization="int8", representative_data=x[:200], int8_io=True)


def test_loads_from_path_bytes_bytearray_and_memoryview(float_bytes, tmp_path):
    path = tmp_path / "digits_cnn.tflite"
    path.write_bytes(float_bytes)
    from_path = TFLiteModel(path, num_threads=1)
    assert from_path.name == "digits_cnn" and from_path.num_threads == 1
    assert TFLiteModel(str(path)).model_bytes == float_bytes
    for content in (float_bytes, bytearray(float_bytes), memoryview(float_bytes)):
        tfl = TFLiteModel(content, name="cnn")
        assert tfl.name == "cnn" and tfl.size_bytes == len(float_bytes)
    assert TFLiteModel(float_bytes).name == "model"


def test_properties(float_bytes, int8_io_bytes):
    tfl = TFLiteModel(float_bytes)
    assert (tfl.precision, tfl.kind, tfl.sparse, tfl.delegate) == (
        "float32",
        "tflite-float32",
        False,
        "xnnpack",
    )
    assert tfl.fallback_reason is None
    assert isinstance(tfl.model_bytes, bytes) and tfl.size_bytes == len(tfl.model_bytes)
    assert [d["shape_signature"].tolist() for d in tfl.input_details] == [[-1, 8, 8, 1]]
    assert tfl.output_details[0]["dtype"] == np.float32
    int8 = TFLiteModel(int8_io_bytes)
    assert int8.kind == "tflite-int8" and int8.input_details[0]["quantization"][0] > 0
    assert repr(int8).startswith("TFLiteModel(name='model', precision='int8'")


def test_predict_any_number_of_samples_and_batch_sizes(float_bytes, trained_cnn, digits_data):
    _, (xv, _) = digits_data
    expected = trained_cnn.predict(xv[:70], verbose=0)
    tfl = TFLiteModel(float_bytes)
    for batch_size in (None, 1, 16, 100):
        np.testing.assert_allclose(tfl.predict(xv[:70], batch_size=batch_size), expected, atol=1e-4)
    assert tfl.predict(xv[:1]).shape == (1, 10)


def test_predict_fixed_batch_model_pads_the_last_chunk():
    inputs = keras.Input((6,), batch_size=4)
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    x = np.random.default_rng(0).random((10, 6), dtype=np.float32)
    tfl = TFLiteModel(to_tflite(model))
    assert tfl.input_details[0]["shape_signature"].tolist() == [4, 6]
    out = tfl.predict(x, batch_size=3)
    np.testing.assert_allclose(out, model.predict(x, verbose=0), atol=1e-5)


def test_predict_quantizes_float_inputs_of_int8_models(int8_io_bytes, trained_cnn, digits_data):
    _, (xv, yv) = digits_data
    tfl = TFLiteModel(int8_io_bytes)
    out = tfl.predict(xv)
    assert out.dtype == np.float32
    keras_out = trained_cnn.predict(xv, verbose=0)
    assert np.mean(out.argmax(-1) == keras_out.argmax(-1)) >= 0.95
    scale, zero_point = tfl.input_details[0]["quantization"]
    raw = np.clip(np.round(xv / scale + zero_point), -128, 127).astype(np.int8)
    np.testing.assert_array_equal(tfl.predict(raw), out)


def test_predict_accepts_datasets(float_bytes, digits_data):
    _, (xv, yv) = digits_data
    tfl = TFLiteModel(float_bytes)
    expected = tfl.predict(xv[:40])
    batched = tf.data.Dataset.from_tensor_slices((xv[:40], yv[:40])).batch(7)
    np.testing.assert_allclose(tfl.predict(batched), expected, atol=1e-6)
    unbatched = tf.data.Dataset.from_tensor_slices(xv[:40])
    np.testing.assert_allclose(tfl.predict(unbatched), expected, atol=1e-6)


def test_predict_bad_input(float_bytes):
    tfl = TFLiteModel(float_bytes)
    with pytest.raises(ValueError, match=r"expects samples of shape \(n, 8, 8, 1\).*\(5, 8, 8\)"):
        tfl.predict(np.zeros((5, 8, 8), np.float32))
    with pytest.raises(ValueError, match="has no samples"):
        tfl.predict(np.zeros((0, 8, 8, 1), np.float32))
    with pytest.raises(ValueError, match="`batch_size` must be an int >= 1"):
        tfl.predict(np.zeros((2, 8, 8, 1), np.float32), batch_size=0)
    with pytest.raises(TypeError, match="dtype object"):
        tfl.predict(np.array([None, 1], dtype=object))
    with pytest.raises(TypeError, match="non-numeric dtype <U1"):
        tfl.predict(np.full((2, 8, 8, 1), "a"))


def test_evaluate_metrics(float_bytes, digits_data):
    _, (xv, yv) = digits_data
    tfl = TFLiteModel(float_bytes)
    out = tfl.predict(xv)
    accuracy = float(np.mean(out.argmax(-1) == yv))
    assert tfl.evaluate(xv, yv) == pytest.approx(accuracy)
    assert tfl.evaluate(xv, np.eye(10)[yv]) == pytest.approx(accuracy)
    onehot = np.eye(10, dtype=np.float32)[yv]
    assert tfl.evaluate(xv, onehot, metric="mse") == pytest.approx(np.mean((out - onehot) ** 2))
    assert tfl.evaluate(xv, onehot, metric="mae") == pytest.approx(np.mean(np.abs(out - onehot)))
    top1 = tfl.evaluate(xv, yv, metric=lambda t, p: float(np.mean(p.argmax(-1) == t)))
    assert top1 == pytest.approx(accuracy)
    dataset = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(32)
    assert tfl.evaluate(dataset) == pytest.approx(accuracy)


def test_evaluate_binary_accuracy_uses_a_half_threshold():
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1, use_bias=False)(inputs))
    model.set_weights([np.ones((1, 1), np.float32)])
    x = np.array([[0.2], [0.7], [0.9], [0.1]], np.float32)
    tfl = TFLiteModel(to_tflite(model))
    assert tfl.evaluate(x, np.array([0, 1, 0, 0])) == pytest.approx(0.75)


def test_evaluate_bad_arguments(float_bytes, digits_data):
    _, (xv, yv) = digits_data
    tfl = TFLiteModel(float_bytes)
    with pytest.raises(ValueError, match=r"unknown `metric` 'f1'; use one of \['accuracy'"):
        tfl.evaluate(xv, yv, metric="f1")
    with pytest.raises(ValueError, match="`y` is missing"):
        tfl.evaluate(xv)
    with pytest.raises(ValueError, match=r"`x` has 450 samples but `y` has 3"):
        tfl.evaluate(xv, yv[:3])
    dataset = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(32)
    with pytest.raises(ValueError, match=r"`y` must be None when `x` is a tf\.data\.Dataset"):
        tfl.evaluate(dataset, yv)


def test_corrupt_or_foreign_files_are_refused(float_bytes, tmp_path):
    with pytest.raises(ValueError, match="not a TFLite model: it lacks the 'TFL3'"):
        TFLiteModel(b"this is not a model at all")
    keras_file = tmp_path / "model.keras"
    with zipfile.ZipFile(keras_file, "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(ValueError, match=r"model\.keras is not a TFLite model"):
        TFLiteModel(keras_file)
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(float_bytes[: len(float_bytes) // 3])
    with pytest.raises(ValueError, match=r"truncated\.tflite is a corrupt TFLite model"):
        TFLiteModel(truncated)


def test_bad_constructor_arguments(float_bytes, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        TFLiteModel(tmp_path / "missing.tflite")
    with pytest.raises(TypeError, match=r"must be a \.tflite path"):
        TFLiteModel(42)
    with pytest.raises(ValueError, match="`num_threads` must be >= 1"):
        TFLiteModel(float_bytes, num_threads=0)
    with pytest.raises(TypeError, match="`num_threads` must be an int or None"):
        TFLiteModel(float_bytes, num_threads=2.0)


def test_token_model_passes_integer_inputs_through():
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    h = keras.layers.Embedding(20, 4)(tokens)
    model = keras.Model(tokens, keras.layers.Dense(3)(h))
    ids = np.random.default_rng(0).integers(0, 20, (5, 7)).astype(np.int32)
    tfl = TFLiteModel(to_tflite(model))
    np.testing.assert_allclose(tfl.predict(ids), model.predict(ids, verbose=0), atol=1e-5)
    np.testing.assert_allclose(
        tfl.predict(ids[:, :3]), model.predict(ids[:, :3], verbose=0), atol=1e-5
    )


def test_num_threads_gives_same_outputs(float_bytes, digits_data):
    _, (xv, _) = digits_data
    one = TFLiteModel(float_bytes, num_threads=1).predict(xv[:20])
    two = TFLiteModel(float_bytes, num_threads=2).predict(xv[:20])
    np.testing.assert_allclose(one, two, atol=1e-5)


def test_mlp_output_shape_per_sample_count():
    tfl = TFLiteModel(to_tflite(models.mlp(engine="tf_keras")))
    for n in (1, 3, 33):
        assert tfl.predict(np.zeros((n, 64), np.float32)).shape == (n, 10)
