import numpy as np
import pytest
from bench_helpers import tflite_bytes

from tf_green import models
from tf_green._keras import keras
from tf_green.bench._tflite_graph import OpInfo, TensorInfo, TFLiteGraph, parse_tflite
from tf_green.bench.flops import graph_macs, keras_macs, tflite_macs
from tf_green.bench.size import keras_size, tflite_size

CNN8_MACS = 4 * 4 * 8 * 9 + 2 * 2 * 16 * 9 * 8 + 64 * 10  # conv1 + conv2 + logits = 6400


def test_keras_macs_from_the_graph_match_hand_counts():
    count = keras_macs(models.cnn(width=8, engine="tf_keras"), (8, 8, 1))
    assert count.macs == count.macs_fp32 == CNN8_MACS
    assert count.flops_per_sample == 2 * CNN8_MACS
    assert "graph" in count.method and count.uncounted_ops == ()
    inputs = keras.Input((6, 6, 3))
    h = keras.layers.DepthwiseConv2D(3, padding="same")(inputs)  # 6*6*3 outputs x 9
    h = keras.layers.Conv2DTranspose(2, 2, strides=2)(h)  # 6*6*3 inputs x 2*2*2
    out = keras.layers.Conv1D(4, 3)(keras.layers.Reshape((144, 2))(h))  # 142*4 outputs x 3*2
    count = keras_macs(keras.Model(inputs, out), (6, 6, 3))
    assert count.macs == 6 * 6 * 3 * 9 + 6 * 6 * 3 * 8 + 142 * 4 * 6


def test_tflite_macs_per_op_by_precision(trained_cnn, cnn_tflite, cnn_tflite_int8, digits_data):
    assert tflite_macs(cnn_tflite, (8, 8, 1)).by_precision() == {
        "fp32": CNN8_MACS,
        "fp16": 0,
        "int8": 0,
    }
    assert tflite_macs(cnn_tflite_int8, (8, 8, 1)).macs_int8 == CNN8_MACS
    # dynamic range: only conv2 (1,152 weights) is big enough to get int8 weights
    dynamic = tflite_macs(tflite_bytes(trained_cnn, "dynamic"), (8, 8, 1))
    assert dynamic.macs_int8 == 2 * 2 * 16 * 9 * 8
    assert dynamic.macs_fp32 == CNN8_MACS - dynamic.macs_int8
    f16 = tflite_macs(tflite_bytes(trained_cnn, "float16"), (8, 8, 1))
    assert f16.macs_fp32 == CNN8_MACS  # float16 weights are dequantized, kernels are float32


def test_language_model_macs_agree_between_keras_and_tflite():
    lm = models.tiny_lm(
        vocab_size=30, d_model=16, num_layers=1, num_heads=2, seq_len=8, engine="tf_keras"
    )
    keras_count = keras_macs(lm, (8,))
    assert keras_count.macs > 0 and keras_count.uncounted_ops == ()
    flat = tflite_bytes(lm)
    assert tflite_macs(flat, (8,)).macs == keras_count.macs
    assert tflite_macs(flat, (4,)).macs < keras_count.macs  # shorter sequence, dynamic shapes


def _fc_graph(shape: tuple[int, int], stored: np.ndarray, sparse: bool) -> TFLiteGraph:
    tensors = (
        TensorInfo(0, "x", "FLOAT32", (1, shape[1]), None, False),
        TensorInfo(1, "w", "FLOAT32", shape, stored, sparse),
        TensorInfo(2, "y", "FLOAT32", (1, shape[0]), None, False),
    )
    op = OpInfo("FULLY_CONNECTED", (0, 1), (2,), None)
    return TFLiteGraph(tensors, (op,), (0,), (2,))


def test_zero_weights_are_skipped_only_by_sparse_kernels():
    weights = np.zeros((4, 8), np.float32)
    weights[:, :2] = 1.0  # 25% non-zero
    dense = graph_macs(_fc_graph((4, 8), weights.reshape(-1), sparse=False))
    assert (dense.macs, dense.macs_skipped) == (32, 0)
    sparse = graph_macs(_fc_graph((4, 8), weights[weights != 0], sparse=True))
    assert (sparse.macs, sparse.macs_skipped) == (8, 24)


def test_pruned_model_stored_sparse_is_densified_so_nothing_is_skipped():
    from tf_green import quantization

    model = models.mlp(hidden=(64,), input_dim=32, num_classes=4, engine="tf_keras")
    weights = model.get_weights()
    rng = np.random.default_rng(0)
    for i in (0, 2):
        weights[i][rng.random(weights[i].shape) < 0.9] = 0.0
    model.set_weights(weights)
    flat = quantization.to_tflite(model, sparse=True)
    graph = parse_tflite(flat, (32,))
    assert any(op.name == "DENSIFY" for op in graph.ops)  # the converter adds densify ops
    count = tflite_macs(flat, (32,))
    assert (count.macs, count.macs_skipped) == (32 * 64 + 64 * 4, 0)
    size = tflite_size(flat)
    nonzero = sum(int(np.count_nonzero(w)) for w in (weights[0], weights[2]))
    assert size.params == 32 * 64 + 64 * 4  # zero biases are dropped by the converter
    assert size.nonzero_params == nonzero
    assert size.weight_bytes_read == 4 * size.params  # densified at load: read densely


def test_keras_size_counts_zeros_and_compresses_them():
    model = models.mlp(hidden=(16,), input_dim=8, num_classes=4, engine="tf_keras")
    stats = keras_size(model)
    assert (stats.params, stats.size_bytes, stats.weight_bytes_read) == (212, 848, 848)
    weights = model.get_weights()
    weights[0][:, :8] = 0.0  # 64 of the 128 kernel weights; biases are zero already (20)
    model.set_weights(weights)
    pruned = keras_size(model)
    assert pruned.nonzero_params == 212 - 64 - 20
    assert pruned.sparsity == pytest.approx((64 + 20) / 212)
    assert pruned.gzip_bytes < stats.gzip_bytes


def test_tflite_size_by_precision(trained_cnn, cnn_tflite, cnn_tflite_int8):
    params = trained_cnn.count_params()
    f32 = tflite_size(cnn_tflite)
    assert (f32.size_bytes, f32.params) == (len(cnn_tflite), params)
    assert f32.weight_bytes_read == 4 * params
    assert f32.gzip_bytes < f32.size_bytes
    f16 = tflite_size(tflite_bytes(trained_cnn, "float16"))
    assert f16.params == params and f16.weight_bytes_read == 4 * params  # dequantized at load
    i8 = tflite_size(cnn_tflite_int8)
    biases = 8 + 16 + 10
    assert i8.params == params
    assert i8.weight_bytes_read == (params - biases) + 4 * biases  # int8 weights, int32 biases
    with pytest.raises(ValueError, match="not a TFLite flatbuffer"):
        tflite_size(b"0123456789")
