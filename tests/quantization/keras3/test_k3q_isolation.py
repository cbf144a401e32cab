"""A Keras 3 export, quantize and TFLiteModel run never import tf_keras or TFMOT."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import keras
import pytest

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import keras
    import tf_green as tg

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    x = np.random.default_rng(0).random((20, 6)).astype("float32")
    content = tg.to_tflite(model, quantization="int8", representative_data=x)
    out = tg.TFLiteModel(content).predict(x)
    assert out.shape == (20, 2), out.shape
    tg.quantize(model, mode="int8")
    try:
        tg.quantization.qat(model)
    except TypeError:
        pass
    loaded = sorted(m for m in ("tf_keras", "tensorflow_model_optimization") if m in sys.modules)
    print("LOADED", loaded)
    """
)


@pytest.mark.slow  # a fresh interpreter importing TensorFlow: 15-35 s
@pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="a fresh interpreter costs ~40 s on JAX; the TensorFlow run checks the same imports",
)
def test_keras3_export_leaves_tf_keras_unimported():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    child = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=False
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert "LOADED []" in child.stdout, child.stdout + child.stderr[-2000:]
