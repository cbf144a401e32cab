"""A Keras 3 user's profile and bench never import tf_keras or TFMOT (checked in a child)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

SCRIPT = Path(__file__).with_name("k3_bench_script.py")


@pytest.mark.slow  # a fresh process importing TensorFlow and Keras: ~15-40 s on 2 cores
def test_keras3_profile_and_bench_leave_tf_keras_and_tfmot_unimported():
    backend = keras.backend.backend()
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_USE_LEGACY_KERAS", None)
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["after_keras_profile"] == []
    assert result["after_bench"] == []  # the .tflite and .keras file rows included
    runtime = f"Keras 3 on {'JAX (jax.jit)' if backend == 'jax' else 'TensorFlow (tf.function)'}"
    assert result["runtime"] == runtime
    assert result["runtimes"][0] == result["runtimes"][2] == runtime  # the file loads as Keras 3
    assert result["runtimes"][1].startswith("LiteRT")
    assert result["flops"] == [2 * (6 * 4 + 4 * 3)] * 3
    assert result["metric"] == [1.0, 1.0, 1.0]
