"""tg.profile / tg.Bench on Keras 3 models (TensorFlow and JAX backends) and their .tflite."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from k3_bench_helpers import (
    TWIN_CNN_MACS,
    pair,
    twin_cnn,
    twin_sequence,
)

import tf_green as tg
from tf_green.bench import FakePowerSource
from tf_green.bench.variants import KerasVariant, TFLiteVariant, as_variant

FAST = {"energy": False, "repeats": 1, "latency_calls": 3, "throughput_batch_size": 32}
BACKEND = keras.backend.backend()
RUNTIME = {"tensorflow": "Keras 3 on TensorFlow (tf.function)", "jax": "Keras 3 on JAX (jax.jit)"}
NONE = {"fp16": 0, "int8": 0}
METHOD = {"tensorflow": "from the graph", "jax": "from the jaxpr"}


def _digest(model):
    return [np.asarray(w).copy() for w in model.weights]


def test_profile_of_a_keras3_model_scores_like_keras(k3_trained, k3_digits):
    _, (x, y) = k3_digits
    before = _digest(k3_trained)
    result = tg.profile(k3_trained, x, y, **FAST)
    logits = np.asarray(k3_trained.predict(x, verbose=0))
    assert result.kind == "keras" and result.runtime == RUNTIME[BACKEND]
    assert result.metric_value == pytest.approx(float(np.mean(logits.argmax(-1) == y)))
    _, keras_accuracy = k3_trained.evaluate(x, y, verbose=0)
    assert result.metric_value == pytest.approx(keras_accuracy, abs=1e-6)
    assert result.params == k3_trained.count_params() == 4 * 9 + 4 + 36 * 10 + 10
    assert result.size_bytes == 4 * result.params
    assert result.flops_per_sample == 2 * (6 * 6 * 4 * 9 + 36 * 10)
    assert result.flops_method.startswith(METHOD[BACKEND])
    # input 64 + conv 144 + pool 36 + flatten 36 + logits 10 floats, batch 1
    assert result.activation_bytes == 4 * (64 + 144 + 36 + 36 + 10)
    assert result.latency_ms_p50 > 0 and result.throughput_per_s > 0
    assert all(np.array_equal(a, b) for a, b in zip(before, _digest(k3_trained), strict=True))


def test_profile_and_bench_of_the_keras3_model_and_its_tflite(k3_trained, k3_tflite, k3_digits):
    _, (x, y) = k3_digits
    tflite = tg.profile(k3_tflite, x, y, name="tflite", **FAST)
    assert tflite.kind == "tflite-float32" and tflite.runtime.startswith("LiteRT")
    bench = tg.Bench(x, y, **FAST).add("keras3", k3_trained).add("tflite", k3_tflite)
    rows = bench.run(progress=False).set_index("name")
    assert rows.loc["keras3", "runtime"] == RUNTIME[BACKEND]
    assert rows.loc["tflite", "metric_value"] == pytest.approx(tflite.metric_value)
    assert rows.loc["tflite", "metric_drop"] == pytest.approx(0.0, abs=1 / len(x))
    # the same convention on both sides: the .tflite's per-op MACs equal the Keras count
    assert rows.loc["tflite", "flops_per_sample"] == rows.loc["keras3", "flops_per_sample"]
    # (a JAX export keeps a zero bias on its conv op, so compare the non-zero parameters)
    assert rows.loc["tflite", "nonzero_params"] == rows.loc["keras3", "nonzero_params"]
    assert rows.loc["keras3", "is_baseline"] and bool(rows.loc["tflite", "meets_targets"])


@pytest.mark.parametrize(("build", "macs"), [(twin_cnn, TWIN_CNN_MACS), (twin_sequence, None)])
def test_the_same_architecture_counts_the_same_flops_in_both_engines(build, macs):
    model, twin = pair(build)
    shape = tuple(model.inputs[0].shape[1:])
    k3_count = as_variant(model).macs(shape)
    tk_count = as_variant(twin).macs(shape)
    assert k3_count.macs == tk_count.macs > 0
    # float32 models: every MAC is fp32 (a transposed conv's int32 shape input is no precision)
    assert k3_count.by_precision() == tk_count.by_precision() == {"fp32": k3_count.macs, **NONE}
    assert k3_count.uncounted_ops == tk_count.uncounted_ops == ()
    if macs is not None:
        assert k3_count.macs == macs
    x = np.random.default_rng(0).normal(size=(3, *shape)).astype(np.float32)
    np.testing.assert_allclose(
        as_variant(model).run(x), as_variant(twin).run(x), rtol=1e-4, atol=1e-5
    )


def test_variant_runs_the_current_weights_and_never_changes_the_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, kernel_initializer="ones")])
    variant = as_variant(model)
    assert isinstance(variant, KerasVariant) and variant.engine == "keras3"
    x = np.ones((4, 3), np.float32)
    first = variant.run(x)
    model.set_weights([np.zeros((3, 2), np.float32), np.array([1.0, -1.0], np.float32)])
    np.testing.assert_array_equal(variant.run(x), np.tile([1.0, -1.0], (4, 1)))
    assert not np.allclose(first, variant.run(x))


def test_multi_input_and_subclassed_keras3_models():
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    joined = keras.layers.Concatenate()([a, b])
    model = keras.Model([a, b], keras.layers.Dense(4, kernel_initializer="identity")(joined))
    rng = np.random.default_rng(0)
    x = {"b": rng.normal(size=(8, 2)).astype(np.float32), "a": rng.normal(size=(8, 3))}
    y = np.asarray(model([x["a"].astype(np.float32), x["b"]])).argmax(-1)
    result = tg.profile(model, x, y, **FAST)
    assert result.metric_value == 1.0 and result.flops_per_sample == 2 * 5 * 4

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(4, activation="relu", kernel_initializer="ones")
            self.out = keras.layers.Dense(3, kernel_initializer="identity")

        def call(self, inputs):
            return self.out(self.hidden(inputs))

    net, x = Net(), rng.normal(size=(8, 5)).astype(np.float32)
    with pytest.raises(ValueError, match=r"never built.*call it once on a sample"):
        tg.profile(net, x, **FAST)
    y = np.asarray(net(x)).argmax(-1)
    result = tg.profile(net, x, y, **FAST)
    assert result.metric_value == 1.0 and result.flops_per_sample == 2 * (5 * 4 + 4 * 3)
    assert result.activation_bytes is None and "subclassed" in result.memory_bytes_method


def test_keras3_profile_measures_energy_with_a_power_source(k3_trained, k3_digits):
    _, (x, y) = k3_digits
    source = FakePowerSource({"inference": 40.0, "idle": 25.0}, carbon_intensity_g_per_kwh=300.0)
    result = tg.profile(
        k3_trained,
        x,
        y,
        energy_source=source,
        energy_window_s=0.05,
        energy_budget_s=None,
        repeats=5,
        latency_calls=5,
    )
    assert result.energy_method == "fake: 40 W for 'inference' windows"
    assert result.energy_idle_w == pytest.approx(25.0)
    assert result.energy_j_per_1k > 0
    assert result.co2_g_per_1k == pytest.approx(result.energy_j_per_1k / 3.6e6 * 300.0)


def test_keras3_tflite_bytes_are_a_tflite_variant(k3_tflite, k3_trained):
    variant = as_variant(k3_tflite, "t")
    assert isinstance(variant, TFLiteVariant) and variant.expected_shape() == (8, 8, 1)
    x = np.zeros((2, 8, 8, 1), np.float32)
    np.testing.assert_allclose(variant.run(x), np.asarray(k3_trained(x)), rtol=1e-4, atol=1e-5)


def test_a_keras3_file_is_loaded_safely_by_keras3(k3_trained, k3_digits, tmp_path):
    _, (x, y) = k3_digits
    path = tmp_path / "cnn.keras"
    k3_trained.save(path)
    from_file = tg.profile(path, x, y, **FAST)
    assert from_file.name == "cnn" and from_file.runtime == RUNTIME[BACKEND]
    assert from_file.metric_value == tg.profile(k3_trained, x, y, **FAST).metric_value
    evil = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda t: t * 2, name="evil")])
    evil.save(tmp_path / "evil.keras")
    with pytest.raises(ValueError, match=r"evil \(Lambda\).*unsafe_deserialization"):
        tg.profile(tmp_path / "evil.keras", np.zeros((2, 3), np.float32), **FAST)


def test_bench_rows_of_tg_exports_and_a_keras_quantized_model(k3_trained, k3_digits):
    (x_train, _), (x, y) = k3_digits
    int8 = tg.to_tflite(k3_trained, quantization="int8", representative_data=x_train[:64])
    quantized = keras.models.clone_model(k3_trained)
    quantized.set_weights(k3_trained.get_weights())
    with pytest.warns(UserWarning):  # Keras quantizes Dense only (Conv2D is skipped)
        quantized.quantize("int8")
    bench = tg.Bench(x, y, **FAST).add("keras3", k3_trained).add("int8", int8)
    rows = bench.add("keras-int8", quantized).run(progress=False).set_index("name")
    conv, dense = 6 * 6 * 4 * 9, 36 * 10
    assert rows.loc["int8", "kind"] == "tflite-int8"
    assert rows.loc["int8", ["macs_fp32", "macs_int8"]].tolist() == [0, conv + dense]
    assert rows.loc["keras-int8", "runtime"] == RUNTIME[BACKEND]
    assert rows.loc["keras-int8", ["macs_fp32", "macs_int8"]].tolist() == [conv, dense]
    assert rows["metric_drop"].abs().max() <= 0.05
    # int8 kernels and int32 biases; a JAX (SavedModel) export adds zero biases and scalars
    if BACKEND == "tensorflow":
        assert rows.loc["int8", "params"] == rows.loc["keras3", "params"]
    else:
        assert rows.loc["int8", "params"] > rows.loc["keras3", "params"]
