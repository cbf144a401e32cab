"""The Keras 3 pruning engine on the JAX backend, in a subprocess (KERAS_BACKEND=jax)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

SCRIPT = Path(__file__).with_name("k3_jax_script.py")


@pytest.mark.slow
@pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="the child runs on JAX either way and the TensorFlow test run already starts it",
)
def test_prune_exact_zeros_data_parallel_and_resume_on_jax():
    pytest.importorskip("jax")
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    }
    env.pop("TF_USE_LEGACY_KERAS", None)
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["unchanged"] is True
    for name, sparsity in result["prune"].items():
        assert sparsity == pytest.approx(0.8, abs=0.01), name
    assert result["head"] == pytest.approx(0.8, abs=0.01)
    assert result["exact_zeros"] == [True, True, True]
    assert result["step"] == 16
    assert result["report"] == pytest.approx([0.7, 0.7, 0.7], abs=0.02)
    assert result["recompiled"] == pytest.approx([0.5, 0.5, 0.5], abs=0.02)
    assert result["devices"] == 2  # trained replicated on two host devices
    assert result["data_parallel"] == pytest.approx([0.6, 0.6, 0.6], abs=0.02)
    assert result["data_parallel_prune"] == pytest.approx(0.5, abs=0.01)
    assert result["resumed_epochs"] == [1]  # checkpoint_dir resume
    assert result["resumed_steps"] == [8, 16]
    assert result["resumed_head"] == pytest.approx(0.8, abs=0.01)


def test_unsupported_backend_is_named(monkeypatch):
    import keras

    from tf_green.pruning import keras3

    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"'torch'.*'tensorflow' and 'jax'"):
        keras3.prune(model, [[0.0, 0.0, 0.0]], [[0.0, 0.0]])
    with pytest.raises(ValueError, match="KERAS_BACKEND"):
        keras3.wrap(model)
