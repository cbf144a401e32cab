"""Child of test_k3_bench_imports.py: a Keras 3 user benches a model, its .tflite and its file.

Run with KERAS_BACKEND set; prints one JSON line: what tf_green imported and the figures.
"""

from __future__ import annotations

import json
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf

import tf_green as tg

model = keras.Sequential(
    [
        keras.Input((6,)),
        keras.layers.Dense(4, activation="relu", kernel_initializer="zeros"),
        keras.layers.Dense(3, kernel_initializer="zeros"),
    ]
)
rng = np.random.default_rng(0)
model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.weights])
x = rng.normal(size=(16, 6)).astype(np.float32)
y = np.asarray(model(x)).argmax(-1)
if keras.backend.backend() == "jax":
    with tempfile.TemporaryDirectory() as folder:
        model.export(folder, format="tf_saved_model", verbose=False)
        tflite = tf.lite.TFLiteConverter.from_saved_model(folder).convert()
else:
    spec = tf.TensorSpec((None, 6), tf.float32)
    function = tf.function(lambda v: model(v, training=False)).get_concrete_function(spec)
    module = tf.Module()
    module.variables_ = [v.value for v in model.variables]
    tflite = tf.lite.TFLiteConverter.from_concrete_functions([function], module).convert()

fast = {"energy": False, "repeats": 1, "latency_calls": 2, "throughput_batch_size": 8}
keras_only = tg.profile(model, x, y, **fast)
after_keras = sorted(m for m in ("tf_keras", "tensorflow_model_optimization") if m in sys.modules)
with tempfile.TemporaryDirectory() as folder:
    path = f"{folder}/model.keras"
    model.save(path)
    bench = tg.Bench(x, y, **fast).add("keras3", model).add("tflite", tflite).add("file", path)
rows = bench.run(progress=False)
print(
    json.dumps(
        {
            "after_keras_profile": after_keras,
            "after_bench": sorted(
                m for m in ("tf_keras", "tensorflow_model_optimization") if m in sys.modules
            ),
            "runtime": keras_only.runtime,
            "runtimes": rows["runtime"].tolist(),
            "flops": rows["flops_per_sample"].tolist(),
            "metric": rows["metric_value"].tolist(),
        }
    )
)
