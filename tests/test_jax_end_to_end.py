"""The JAX backend end to end: prune, distill, export and bench one tiny Keras 3 model.

Runs only with ``KERAS_BACKEND=jax`` (the Makefile's JAX run); skipped on other backends,
where the per-feature Keras 3 tests cover the TensorFlow backend.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import tf_green as tg
from tf_green.quantization._flatbuffer import inspect

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="the JAX end-to-end test needs KERAS_BACKEND=jax (make test runs it in its own process)",
)

FAST = {"energy": False, "repeats": 1, "latency_calls": 3, "throughput_batch_size": 32}


def _cnn(filters: int, name: str) -> keras.Model:
    """A compiled Keras 3 CNN of a few hundred parameters for 8x8 digits."""
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(filters, 3, activation="relu", name="conv"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10, name="logits"),
        ],
        name=name,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


@pytest.fixture(scope="module")
def data(digits_data):
    (x, y), (xv, yv) = digits_data
    return (x[:512], y[:512]), (xv[:128], yv[:128])


def test_prune_distill_export_and_bench_on_jax(data, tmp_path):
    (x, y), (xv, yv) = data
    keras.utils.set_random_seed(0)
    teacher = _cnn(8, "teacher")
    teacher.fit(x, y, epochs=3, batch_size=16, verbose=0)
    before = [np.array(w) for w in teacher.get_weights()]

    pruned = tg.prune(teacher, x, y, target_sparsity=0.5, schedule="constant", epochs=1, verbose=0)
    kernel = np.asarray(pruned.get_layer("conv").kernel)
    assert 0.45 <= float(np.mean(kernel == 0)) <= 0.55

    student = tg.distill(teacher, _cnn(2, "student"), x, y, epochs=2, verbose=0)
    assert student.count_params() < teacher.count_params() / 3
    assert all(np.array_equal(a, b) for a, b in zip(before, teacher.get_weights(), strict=True))

    path = tmp_path / "pruned_int8.tflite"
    tg.to_tflite(pruned, path, quantization="int8", representative_data=x[:64])
    floats = tmp_path / "student.tflite"
    tg.to_tflite(student, floats)
    float_model = tg.TFLiteModel(floats)
    reference = np.asarray(student.predict(xv[:32], verbose=0))
    np.testing.assert_allclose(float_model.predict(xv[:32]), reference, atol=1e-4)
    int8 = tg.TFLiteModel(path)
    agree = np.argmax(int8.predict(xv), -1) == np.argmax(pruned.predict(xv, verbose=0), -1)
    assert float(np.mean(agree)) >= 0.9
    ops = inspect(path.read_bytes()).op_names  # builtin ops only: no Flex, no custom op
    assert any(op.endswith("CONV_2D") for op in ops), ops
    assert not any(op.startswith("Flex") or op == "CUSTOM" for op in ops), ops

    rows = (
        tg.Bench(xv, yv, baseline="teacher", **FAST)
        .add("teacher", teacher)
        .add("pruned_int8", path)
        .add("student", student)
        .run(progress=False)
        .set_index("name")
    )
    assert rows.loc["teacher", "runtime"] == "Keras 3 on JAX (jax.jit)"
    assert rows.loc["pruned_int8", "kind"] == "tflite-int8"
    keras_accuracy = teacher.evaluate(xv, yv, verbose=0)[1]
    assert rows.loc["teacher", "metric_value"] == pytest.approx(keras_accuracy, abs=1e-6)
    pruned_accuracy = pruned.evaluate(xv, yv, verbose=0)[1]
    assert keras_accuracy > 0.3 and pruned_accuracy > 0.3  # trained: above chance (0.1)
    assert rows.loc["pruned_int8", "metric_value"] == pytest.approx(pruned_accuracy, abs=0.05)
    assert rows.loc["student", "flops_per_sample"] < rows.loc["teacher", "flops_per_sample"]
    assert tg.profile(student, xv, yv, **FAST).metric_value == rows.loc["student", "metric_value"]
