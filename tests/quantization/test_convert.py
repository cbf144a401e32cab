import os
import pathlib

import numpy as np
import pytest

from tf_green import models
from tf_green._keras import keras, tf
from tf_green.quantization import TFLiteModel, to_tflite
from tf_green.quantization._flatbuffer import inspect, int8_weight_zero_fraction


@pytest.fixture(scope="module")
def exports(trained_cnn, digits_data):
    (x, _), _ = digits_data
    return {
        q: to_tflite(trained_cnn, quantization=q, representative_data=x[:200])
        for q in (None, "float16", "dynamic", "int8")
    }


def test_each_mode_has_its_precision_and_size_order(exports):
    precisions = {q: TFLiteModel(b).precision for q, b in exports.items()}
    assert precisions == {
        None: "float32",
        "float16": "float16",
        "dynamic": "dynamic",
        "int8": "int8",
    }
    sizes = {q: len(b) for q, b in exports.items()}
    assert sizes["int8"] < sizes["dynamic"] < sizes["float16"] < sizes[None]


def test_float_export_predicts_like_keras(exports, trained_cnn, digits_data):
    _, (xv, yv) = digits_data
    keras_out = trained_cnn.predict(xv, verbose=0)
    tfl = TFLiteModel(exports[None])
    np.testing.assert_allclose(tfl.predict(xv), keras_out, atol=1e-4)
    keras_acc = float(np.mean(keras_out.argmax(-1) == yv))
    assert tfl.evaluate(xv, yv) == pytest.approx(keras_acc)


def test_int8_export_keeps_accuracy(exports, digits_data):
    _, (xv, yv) = digits_data
    float_acc = TFLiteModel(exports[None]).evaluate(xv, yv)
    int8_acc = TFLiteModel(exports["int8"]).evaluate(xv, yv)
    assert abs(int8_acc - float_acc) <= 0.02


def test_float32_is_an_alias_of_none(trained_cnn):
    assert TFLiteModel(to_tflite(trained_cnn, quantization="float32")).precision == "float32"


def test_int8_io_makes_integer_inputs_and_outputs(trained_cnn, digits_data, exports):
    (x, _), (xv, _) = digits_data
    content = to_tflite(trained_cnn, quantization="int8", representative_data=x[:200], int8_io=True)
    tfl = TFLiteModel(content)
    assert tfl.input_details[0]["dtype"] == np.int8
    assert tfl.output_details[0]["dtype"] == np.int8
    reference = TFLiteModel(exports["int8"]).predict(xv)
    scale = tfl.output_details[0]["quantization"][0]
    np.testing.assert_allclose(tfl.predict(xv), reference, atol=2 * scale + 1e-6)


def test_representative_data_as_dataset_calibrates_like_arrays(trained_cnn, digits_data):
    (x, y), _ = digits_data
    from_arrays = to_tflite(trained_cnn, quantization="int8", representative_data=x[:64])
    batched = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    unbatched = tf.data.Dataset.from_tensor_slices(x)
    for data in (batched, unbatched):
        content = to_tflite(
            trained_cnn, quantization="int8", representative_data=data, representative_samples=64
        )
        assert content == from_arrays


def test_callers_model_is_unchanged(trained_cnn, pruned_cnn, digits_data, weights_digest):
    (x, _), _ = digits_data
    before = [weights_digest(trained_cnn), weights_digest(pruned_cnn)]
    wrapper_names = [layer.name for layer in pruned_cnn.layers]
    for q in (None, "int8"):
        to_tflite(trained_cnn, quantization=q, representative_data=x[:50])
        to_tflite(pruned_cnn, quantization=q, representative_data=x[:50], sparse=True)
    assert [weights_digest(trained_cnn), weights_digest(pruned_cnn)] == before
    assert [layer.name for layer in pruned_cnn.layers] == wrapper_names


def test_pruning_wrappers_are_stripped(pruned_cnn, digits_data):
    (x, _), (xv, yv) = digits_data
    content = to_tflite(pruned_cnn, quantization="int8", representative_data=x[:100])
    summary = inspect(content)
    assert summary.op_names == (
        "QUANTIZE",
        "CONV_2D",
        "MAX_POOL_2D",
        "CONV_2D",
        "RESHAPE",
        "FULLY_CONNECTED",
        "DEQUANTIZE",
    )
    assert int8_weight_zero_fraction(content) >= 0.78
    keras_acc = pruned_cnn.evaluate(xv, yv, verbose=0)[1]
    assert TFLiteModel(content).evaluate(xv, yv) == pytest.approx(keras_acc, abs=0.03)


def test_sparse_float_shrinks_raw_file_and_keeps_outputs(pruned_mlp, flat_digits):
    _, (xv, _) = flat_digits
    dense = to_tflite(pruned_mlp)
    sparse = to_tflite(pruned_mlp, sparse=True)
    assert not TFLiteModel(dense).sparse
    tfl = TFLiteModel(sparse)
    assert tfl.sparse and tfl.delegate == "xnnpack"
    assert len(sparse) < 0.5 * len(dense)
    np.testing.assert_allclose(tfl.predict(xv), TFLiteModel(dense).predict(xv), atol=1e-4)


def test_sparse_on_a_dense_model_encodes_nothing(trained_cnn):
    assert not inspect(to_tflite(trained_cnn, sparse=True)).sparse


def test_sparse_int8_falls_back_to_builtin_kernels(pruned_mlp, flat_digits):
    (x, _), (xv, yv) = flat_digits
    dense = TFLiteModel(to_tflite(pruned_mlp, quantization="int8", representative_data=x[:100]))
    content = to_tflite(pruned_mlp, quantization="int8", representative_data=x[:100], sparse=True)
    with pytest.warns(RuntimeWarning, match="XNNPACK delegate cannot run this sparse int8"):
        tfl = TFLiteModel(content)
    assert tfl.sparse and tfl.delegate == "builtin" and tfl.fallback_reason
    assert dense.delegate == "xnnpack" and dense.fallback_reason is None
    assert len(content) < len(dense.model_bytes)
    # Builtin and XNNPACK kernels may round an output differently by one quantization step.
    sparse_out, dense_out = tfl.predict(xv), dense.predict(xv)
    assert np.isclose(sparse_out, dense_out, atol=1e-5).mean() >= 0.99
    assert np.abs(sparse_out - dense_out).max() < 0.05
    assert tfl.evaluate(xv, yv) == pytest.approx(dense.evaluate(xv, yv), abs=0.005)


def test_writes_the_file_atomically(trained_cnn, tmp_path):
    target = tmp_path / "model.tflite"
    target.write_bytes(b"old")
    content = to_tflite(trained_cnn, target)
    assert target.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]
    assert TFLiteModel(str(target)).name == "model"


def test_missing_folder_is_refused_before_converting(trained_cnn, tmp_path):
    with pytest.raises(ValueError, match=r"`path` .*does not exist; create it first"):
        to_tflite(trained_cnn, tmp_path / "missing" / "model.tflite")
    assert list(tmp_path.iterdir()) == []


def test_path_that_is_a_folder_is_refused(trained_cnn, tmp_path):
    with pytest.raises(ValueError, match="is a folder; give a file name"):
        to_tflite(trained_cnn, tmp_path)


def test_unwritable_folder_is_refused(trained_cnn, tmp_path, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if pathlib.Path(p) == tmp_path else real_access(p, mode)
    )
    with pytest.raises(ValueError, match="is not writable; choose a folder"):
        to_tflite(trained_cnn, tmp_path / "model.tflite")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_no_partial_file(trained_cnn, tmp_path, monkeypatch):
    target = tmp_path / "model.tflite"
    target.write_bytes(b"previous")

    def broken_replace(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="could not write `path`"):
        to_tflite(trained_cnn, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]
    assert target.read_bytes() == b"previous"


def test_unknown_quantization_lists_valid_names(trained_cnn):
    with pytest.raises(ValueError, match=r"unknown `quantization` 'int3'.*'float16', 'dynamic'"):
        to_tflite(trained_cnn, quantization="int3")


def test_int8_without_representative_data_says_what_to_pass(trained_cnn):
    with pytest.raises(ValueError, match=r"representative_data=x_train\[:300\]"):
        to_tflite(trained_cnn, quantization="int8")


def test_representative_data_of_wrong_shape(trained_cnn, digits_data):
    (x, _), _ = digits_data
    with pytest.raises(ValueError, match=r"shape \(20, 64\).*samples of shape \(n, 8, 8, 1\)"):
        to_tflite(trained_cnn, quantization="int8", representative_data=x[:20].reshape(20, 64))
    dataset = tf.data.Dataset.from_tensor_slices(x[:20, :4]).batch(4)
    with pytest.raises(ValueError, match=r"input 'image' has shape \(20, 4, 8, 1\)"):
        to_tflite(trained_cnn, quantization="int8", representative_data=dataset)


def test_representative_data_of_wrong_dtype(trained_cnn):
    images = np.zeros((10, 8, 8, 1), np.uint8)
    with pytest.raises(TypeError, match="dtype uint8, but the model input is float32"):
        to_tflite(trained_cnn, quantization="int8", representative_data=images)
    with pytest.raises(TypeError, match="dtype <U1"):
        to_tflite(trained_cnn, quantization="int8", representative_data=np.full((2, 8, 8, 1), "a"))
    tokens = keras.Input((4,), dtype="int32")
    model = keras.Model(tokens, keras.layers.Dense(2)(keras.layers.Embedding(10, 3)(tokens)))
    with pytest.raises(TypeError, match="pass integer data"):
        to_tflite(model, quantization="int8", representative_data=np.zeros((5, 4), np.float32))


def test_empty_representative_data_and_bad_sample_count(trained_cnn):
    with pytest.raises(ValueError, match="`representative_data` is empty"):
        to_tflite(trained_cnn, quantization="int8", representative_data=np.zeros((0, 8, 8, 1)))
    with pytest.raises(ValueError, match="`representative_samples` must be an int >= 1"):
        to_tflite(
            trained_cnn, quantization="int8", representative_data=[1], representative_samples=0
        )


def test_int8_io_needs_int8(trained_cnn):
    with pytest.raises(ValueError, match="`int8_io=True` needs quantization='int8'"):
        to_tflite(trained_cnn, quantization="dynamic", int8_io=True)


def _sin_model():
    inputs = keras.Input((64,))
    h = keras.layers.Dense(64, name="dense_in")(inputs)
    h = keras.layers.Lambda(tf.math.sin, name="wave")(h)
    return keras.Model(inputs, keras.layers.Dense(2, name="dense_out")(h))


def test_op_without_int8_kernel_is_named_and_dynamic_suggested():
    model = _sin_model()
    x = np.random.default_rng(0).random((30, 64), dtype=np.float32)
    with pytest.raises(ValueError, match=r"SIN \(output '.*wave.*'\).*quantization='dynamic'"):
        to_tflite(model, quantization="int8", representative_data=x)
    assert TFLiteModel(to_tflite(model, quantization="dynamic")).precision == "dynamic"


def test_op_outside_the_builtin_set_is_named():
    inputs = keras.Input((4,))
    h = keras.layers.Lambda(tf.math.erf, name="erf")(keras.layers.Dense(4)(inputs))
    model = keras.Model(inputs, h)
    # Erf has no builtin kernel in any mode: named, with the Flex opt-in (not 'dynamic').
    with pytest.raises(ValueError, match=r"not TFLite builtins: Erf .*allow_flex=True"):
        to_tflite(model, quantization="int8", representative_data=np.zeros((4, 4), np.float32))


def test_not_a_tf_keras_model():
    with pytest.raises(TypeError, match="must be a tf_keras model"):
        to_tflite(object())


def test_multi_input_model_round_trip():
    a, b = keras.Input((3,), name="a"), keras.Input((5,), name="b")
    h = keras.layers.Concatenate()([keras.layers.Dense(4)(a), keras.layers.Dense(4)(b)])
    model = keras.Model([a, b], keras.layers.Dense(2)(h))
    rng = np.random.default_rng(0)
    xa, xb = rng.random((40, 3), np.float32), rng.random((40, 5), np.float32)
    expected = model.predict([xa, xb], verbose=0)
    float_model = TFLiteModel(to_tflite(model))
    np.testing.assert_allclose(float_model.predict({"a": xa, "b": xb}), expected, atol=1e-5)
    by_name = {"serving_default_a:0": xa, "serving_default_b:0": xb}
    in_detail_order = [by_name[d["name"]] for d in float_model.input_details]
    np.testing.assert_allclose(float_model.predict(in_detail_order), expected, atol=1e-5)
    # representative_data lists follow the Keras model's input order.
    int8 = TFLiteModel(to_tflite(model, quantization="int8", representative_data=[xa, xb]))
    assert int8.precision == "int8"
    np.testing.assert_allclose(int8.predict({"a": xa, "b": xb}), expected, atol=0.05)
    with pytest.raises(ValueError, match=r"dict with keys \['a'\].*missing \['b'\]"):
        int8.predict({"a": xa})


def test_mlp_exports_dynamic_input_batch():
    tfl = TFLiteModel(to_tflite(models.mlp(engine="tf_keras")))
    assert tfl.input_details[0]["shape_signature"].tolist() == [-1, 64]
