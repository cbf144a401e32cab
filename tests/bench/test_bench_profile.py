import dataclasses
import sys

import numpy as np
import pytest

from tf_green import models
from tf_green._keras import tf
from tf_green.bench import FakePowerSource, Profile, profile
from tf_green.bench.variants import KerasVariant, TFLiteVariant, as_variant

FAST = {"repeats": 2, "latency_calls": 10}


def test_profile_of_a_keras_model(trained_cnn, val_digits, weights_digest):
    x, y = val_digits
    before = weights_digest(trained_cnn)
    result = profile(trained_cnn, x, y, energy=False, name="baseline", **FAST)
    assert weights_digest(trained_cnn) == before
    _, expected = trained_cnn.evaluate(x, y, verbose=0)
    assert result.metric_value == pytest.approx(expected, abs=1e-6)
    assert (result.name, result.kind, result.runtime) == (
        "baseline",
        "keras",
        "TensorFlow (tf.function)",
    )
    assert result.params == trained_cnn.count_params() == 1898
    assert result.size_bytes == 4 * 1898 and result.gzip_bytes < result.size_bytes
    assert result.flops_per_sample == 2 * 6400 and "graph" in result.flops_method
    assert 0 < result.latency_ms_p50 <= result.latency_ms_p95
    assert result.throughput_per_s > 0 and result.throughput_batch_size == 64
    # the RSS delta is kept only above its 1 MiB resolution; what a deployment holds is counted
    assert result.peak_memory_mb is None or result.peak_memory_mb >= 1.0
    assert "RSS" in result.memory_method
    assert result.activation_bytes == 4 * (64 + 128 + 128 + 64 + 64 + 10)
    assert result.memory_bytes == result.size_bytes + result.activation_bytes
    assert result.energy_method == "not measured (energy=False)"
    assert result.energy_j_per_1k is None and result.co2_g_per_1k is None
    assert result.analytic_energy_j_per_1k > 0
    assert 0 < result.inference_s < result.profile_s
    row = result.to_dict()
    assert list(row) == [f.name for f in dataclasses.fields(Profile)]
    assert row["latency_ms_p50"] == result.latency_ms_p50


def test_profile_of_tflite_variants_through_tflitemodel(trained_cnn, cnn_tflite_int8, val_digits):
    from tf_green import quantization

    x, y = val_digits
    keras_accuracy = trained_cnn.evaluate(x, y, verbose=0)[1]
    tflite = quantization.TFLiteModel(cnn_tflite_int8, name="int8")
    result = profile(tflite, x, y, energy=False, **FAST)
    assert (result.name, result.kind) == ("int8", "tflite-int8")
    assert result.runtime.startswith("LiteRT (")
    assert abs(result.metric_value - keras_accuracy) < 0.05
    assert result.macs_int8 == 6400 and result.macs_fp32 == 0
    assert result.size_bytes == len(cnn_tflite_int8)
    assert (
        result.analytic_energy_j_per_1k
        < profile(trained_cnn, x[:20], y[:20], energy=False, **FAST).analytic_energy_j_per_1k
    )


def test_profile_accepts_bytes_paths_and_datasets(cnn_tflite, val_digits, tmp_path):
    x, y = val_digits
    path = tmp_path / "cnn.tflite"
    path.write_bytes(cnn_tflite)
    from_path = profile(str(path), x, y, energy=False, **FAST)
    assert (from_path.name, from_path.kind) == ("cnn", "tflite-float32")
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    from_bytes = profile(cnn_tflite, dataset, energy=False, name="bytes", **FAST)
    assert from_bytes.metric_value == from_path.metric_value
    assert from_bytes.samples == len(x)


def test_profile_measures_energy_with_a_power_source(val_digits):
    x, y = val_digits
    source = FakePowerSource({"inference": 40.0, "idle": 25.0}, carbon_intensity_g_per_kwh=300.0)
    model = models.mlp(hidden=(8,), engine="tf_keras")
    result = profile(
        model,
        x.reshape(len(x), -1),
        y,
        energy_source=source,
        energy_window_s=0.05,
        repeats=2,
        latency_calls=5,
    )
    assert result.energy_method == "fake: 40 W for 'inference' windows"
    assert result.energy_idle_w == pytest.approx(25.0)
    assert result.energy_j_per_1k > 0
    assert result.energy_j_per_1k_min <= result.energy_j_per_1k <= result.energy_j_per_1k_max
    assert result.energy_spread_j_per_1k == pytest.approx(
        result.energy_j_per_1k_max - result.energy_j_per_1k_min
    )
    assert result.co2_g_per_1k == pytest.approx(result.energy_j_per_1k / 3.6e6 * 300.0)


def test_energy_unavailable_is_reported_and_the_profile_goes_on(val_digits, monkeypatch):
    x, y = val_digits
    monkeypatch.setitem(sys.modules, "codecarbon", None)  # CodeCarbon cannot run
    result = profile(
        models.cnn(width=2, engine="tf_keras"),
        x,
        y,
        energy_window_s=0.02,
        energy_attribution="machine",
        **FAST,
    )
    assert result.energy_method.startswith("unavailable: codecarbon cannot be imported")
    assert result.energy_j_per_1k is None and result.energy_idle_w is None
    assert result.metric_value is not None and result.analytic_energy_j_per_1k > 0


def test_progress_prints_one_line_per_stage(val_digits, capsys):
    x, y = val_digits
    lines = []
    source = FakePowerSource(1.0)
    profile(
        models.cnn(width=2, engine="tf_keras"),
        x,
        y,
        name="tiny",
        progress=lines.append,
        energy_source=source,
        energy_window_s=0.01,
        **FAST,
    )
    stages = [line.split(": ", 1)[1].split()[0] for line in lines]
    assert stages == ["metric", "size", "latency", "throughput", "energy"]
    assert all(line.startswith("tiny (keras): ") for line in lines)
    profile(models.cnn(width=2, engine="tf_keras"), x, y, energy=False, progress=True, **FAST)
    err = capsys.readouterr().err
    assert err.count("[tf_green.bench]") == 4
    profile(models.cnn(width=2, engine="tf_keras"), x, y, energy=False, **FAST)
    assert capsys.readouterr().err == ""


def test_profile_without_targets_and_with_other_metrics(val_digits):
    x, y = val_digits
    no_targets = profile(models.cnn(width=2, engine="tf_keras"), x, energy=False, **FAST)
    assert no_targets.metric_value is None
    f1 = profile(
        models.cnn(width=2, engine="tf_keras"), x, y, metric="macro_f1", energy=False, **FAST
    )
    assert f1.metric == "macro_f1" and 0 <= f1.metric_value <= 1


@pytest.mark.slow
def test_profile_of_a_language_model_reports_perplexity():
    lm = models.tiny_lm(
        vocab_size=20, d_model=16, num_layers=1, num_heads=2, seq_len=8, engine="tf_keras"
    )
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, (16, 8)).astype(np.int32)
    result = profile(lm, x, np.roll(x, -1, axis=1), metric="perplexity", energy=False, **FAST)
    assert result.metric == "perplexity" and result.metric_higher_is_better is False
    assert 5 < result.metric_value < 60  # untrained: about the vocabulary size
    assert result.flops_per_sample > 0


def test_bad_input_errors_name_the_problem(trained_cnn, val_digits):
    x, y = val_digits
    with pytest.raises(ValueError, match="`x` has 200 samples but `y` has 199"):
        profile(trained_cnn, x, y[:-1], energy=False)
    with pytest.raises(ValueError, match=r"`metric` 'f2' is unknown; use one of \["):
        profile(trained_cnn, x, y, metric="f2", energy=False)
    with pytest.raises(ValueError, match=r"variant 'mlp' expects samples of shape \(64,\)"):
        profile(models.mlp(engine="tf_keras"), x, y, energy=False)
    with pytest.raises(ValueError, match="`batch_size` must be > 0"):
        profile(trained_cnn, x, y, batch_size=0)
    with pytest.raises(ValueError, match=r"path 'nope\.tflite' does not exist"):
        profile("nope.tflite", x, y)
    with pytest.raises(ValueError, match="variant 'cnn_8': metric 'accuracy': targets of shape"):
        profile(trained_cnn, x, np.zeros((200, 3)), energy=False, **FAST)


def test_as_variant_dispatch_and_errors(trained_cnn, cnn_tflite, tmp_path):
    assert isinstance(as_variant(trained_cnn), KerasVariant)
    variant = as_variant(trained_cnn, "named")
    assert as_variant(variant) is variant and variant.name == "named"
    assert isinstance(as_variant(cnn_tflite), TFLiteVariant)
    saved = tmp_path / "cnn.keras"
    trained_cnn.save(saved)
    loaded = as_variant(saved)
    assert isinstance(loaded, KerasVariant) and loaded.name == "cnn"
    (tmp_path / "weights.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"unknown suffix '.npz'; use .tflite, .keras, .h5"):
        as_variant(tmp_path / "weights.npz")
    with pytest.raises(TypeError, match="must be a tf_keras or Keras 3 model, a TFLiteModel"):
        as_variant(42)
