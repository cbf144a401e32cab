"""Small builders shared by the bench tests (fixtures live in conftest.py)."""

from __future__ import annotations

import numpy as np

from tf_green import models
from tf_green._keras import keras, tf

compile_classifier = models.compile_classifier


def tflite_bytes(model: keras.Model, mode: str = "float32", x: np.ndarray | None = None) -> bytes:
    """Convert with the plain TF converter (independent of tf_green.quantization)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode in ("dynamic", "int8", "float16"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        converter.representative_dataset = lambda: ([x[i : i + 1]] for i in range(min(50, len(x))))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()
