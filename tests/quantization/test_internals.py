"""The private helpers the public API stands on: flatbuffer reading, data plumbing, wrappers."""

import numpy as np
import pytest

from tf_green import models
from tf_green._keras import keras, tf
from tf_green.quantization import _data, _flatbuffer, _wrappers, to_tflite


@pytest.fixture(scope="module")
def mlp_exports():
    model = models.mlp(hidden=(64,), engine="tf_keras")
    x = np.random.default_rng(0).random((40, 64), dtype=np.float32)
    return {
        q: to_tflite(model, quantization=q, representative_data=x)
        for q in (None, "float16", "dynamic", "int8")
    }


def test_inspect_reads_precision_and_ops(mlp_exports):
    for q, expected in ((None, "float32"), ("float16", "float16"), ("dynamic", "dynamic")):
        assert _flatbuffer.inspect(mlp_exports[q]).precision == expected
    summary = _flatbuffer.inspect(mlp_exports["int8"])
    assert summary.precision == "int8" and not summary.sparse
    assert summary.op_names == ("QUANTIZE", "FULLY_CONNECTED", "FULLY_CONNECTED", "DEQUANTIZE")
    assert summary.float_ops == ()
    float_ops = _flatbuffer.inspect(mlp_exports[None]).float_ops
    assert [op.op for op in float_ops] == ["FULLY_CONNECTED", "FULLY_CONNECTED"]
    assert "FULLY_CONNECTED (output '" in str(float_ops[0])


def test_is_tflite_and_errors():
    assert not _flatbuffer.is_tflite(b"")
    assert not _flatbuffer.is_tflite(b"PK\x03\x04not tflite")
    assert _flatbuffer.is_tflite(b"\x00\x00\x00\x00TFL3")
    for function in (_flatbuffer.inspect, _flatbuffer.int8_weight_zero_fraction):
        with pytest.raises(ValueError, match="not a TFLite flatbuffer"):
            function(b"garbage!")


def test_int8_weight_zero_fraction_counts_zeroed_weights(mlp_exports):
    model = models.mlp(hidden=(64,), engine="tf_keras")
    weights = model.get_weights()
    weights[0][:32] = 0.0  # half of the first kernel
    model.set_weights(weights)
    x = np.random.default_rng(0).random((40, 64), dtype=np.float32)
    content = to_tflite(model, quantization="int8", representative_data=x)
    total = 64 * 64 + 64 * 10
    expected = 32 * 64 / total
    assert _flatbuffer.int8_weight_zero_fraction(content) == pytest.approx(expected, abs=0.01)
    assert _flatbuffer.int8_weight_zero_fraction(mlp_exports[None]) == 0.0


def test_as_input_list_single_list_and_dict():
    a, b = np.zeros((3, 2)), np.ones((3, 4))
    assert _data.as_input_list(a, ["x"])[0] is not None
    assert [v.shape for v in _data.as_input_list([a, b], ["a", "b"])] == [(3, 2), (3, 4)]
    out = _data.as_input_list({"b": b, "a": a}, ["a", "b"])
    assert [v.shape for v in out] == [(3, 2), (3, 4)]
    out = _data.as_input_list({"a": a, "b": b}, ["serving_default_b:0", "serving_default_a:0"])
    assert [v.shape for v in out] == [(3, 4), (3, 2)]
    # A nested list is one input's samples for a single-input model.
    assert _data.as_input_list([[1.0, 2.0], [3.0, 4.0]], ["x"])[0].shape == (2, 2)


def test_as_input_list_errors():
    a = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"has 1 arrays but the model has 2 inputs"):
        _data.as_input_list([a], ["a", "b"])
    with pytest.raises(ValueError, match="pass `x` as a list of arrays"):
        _data.as_input_list(a, ["a", "b"])
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        _data.as_input_list({"a": a}, ["a", "b"])
    with pytest.raises(ValueError, match="different lengths"):
        _data.as_input_list([a, np.zeros((4, 2))], ["a", "b"])
    with pytest.raises(TypeError, match="dtype object"):
        _data.as_input_list(np.array([1, "a", None], dtype=object), ["x"])


def test_dataset_to_arrays_conventions():
    x, y, w = np.arange(10.0).reshape(5, 2), np.arange(5), np.ones(5)
    for ds in (
        tf.data.Dataset.from_tensor_slices((x, y)).batch(2),
        tf.data.Dataset.from_tensor_slices((x, y, w)).batch(3),
        tf.data.Dataset.from_tensor_slices((x, y)),
    ):
        xs, ys = _data.dataset_to_arrays(ds, ranks=[2])
        np.testing.assert_array_equal(xs[0], x)
        np.testing.assert_array_equal(ys, y)
    xs, ys = _data.dataset_to_arrays(tf.data.Dataset.from_tensor_slices(x).batch(4), ranks=[2])
    assert ys is None and xs[0].shape == (5, 2)
    xs, _ = _data.dataset_to_arrays(tf.data.Dataset.from_tensor_slices(x).batch(2), [2], limit=3)
    np.testing.assert_array_equal(xs[0], x[:3])
    pair = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(2)
    xs, ys = _data.dataset_to_arrays(pair, ranks=[2, 2])
    assert ys is None and [a.shape for a in xs] == [(5, 2), (5, 1)]
    named = tf.data.Dataset.from_tensor_slices(({"a": x}, y)).batch(2)
    xs, ys = _data.dataset_to_arrays(named, ranks=[2])
    assert isinstance(xs, dict) and xs["a"].shape == (5, 2) and ys.shape == (5,)


def test_dataset_to_arrays_errors():
    empty = tf.data.Dataset.from_tensor_slices(np.zeros((0, 2))).batch(2)
    with pytest.raises(ValueError, match="the dataset is empty"):
        _data.dataset_to_arrays(empty, ranks=[2])
    x = np.zeros((4, 2))
    four = tf.data.Dataset.from_tensor_slices((x, x, x, x)).batch(2)
    with pytest.raises(ValueError, match="dataset elements have 4 components"):
        _data.dataset_to_arrays(four, ranks=[2])


def test_iter_samples_yields_single_sample_batches():
    a, b = np.arange(6).reshape(3, 2), np.arange(3)
    samples = list(_data.iter_samples([a, b], limit=2))
    assert (
        len(samples) == 2 and samples[1][0].tolist() == [[2, 3]] and samples[1][1].tolist() == [1]
    )


def test_wrapper_detection_and_kernel_sparsity(pruned_cnn, trained_cnn):
    assert _wrappers.has_pruning_wrappers(pruned_cnn)
    assert not _wrappers.has_pruning_wrappers(trained_cnn)
    stripped = _wrappers.strip_pruning(pruned_cnn)
    assert not _wrappers.has_pruning_wrappers(stripped)
    assert _wrappers.strip_pruning(trained_cnn) is trained_cnn
    assert _wrappers.kernel_sparsity(pruned_cnn) == pytest.approx(0.8, abs=0.01)
    assert _wrappers.kernel_sparsity(stripped) == pytest.approx(0.8, abs=0.01)
    assert _wrappers.kernel_sparsity(trained_cnn) == 0.0
    no_kernels = keras.Sequential([keras.layers.Flatten(input_shape=(2, 2))])
    assert _wrappers.kernel_sparsity(no_kernels) == 0.0
