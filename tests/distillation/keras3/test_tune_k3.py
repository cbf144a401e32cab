"""tg.distillation.tune on Keras 3 (TensorFlow and JAX backends): same behaviour, no tf_keras."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import tune_helpers as th  # tests/distillation, on sys.path through its conftest

from tf_green.distillation.tune import tune

HELPERS = str(Path(__file__).resolve().parents[1])

# A Keras 3 user's run, in a fresh interpreter: a useless teacher, every arm, the warning,
# one cache build, and neither tf_keras nor TFMOT imported.
CHILD = textwrap.dedent(
    """
    import json, sys, warnings
    sys.path.insert(0, {helpers!r})
    import keras, numpy as np
    import tf_green.distillation as distillation
    import tune_helpers as th
    from tf_green.distillation.tune import tune

    builds = []
    real = distillation.cache_teacher
    distillation.cache_teacher = lambda *a, **k: builds.append(1) or real(*a, **k)
    x, y = th.blobs(90)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = tune(th.useless_teacher(keras), th.student(keras), x, y, epochs=2, sweep_epochs=2,
                      holdout=0.3, batch_size=8, optimizer=keras.optimizers.Adam(0.05),
                      temperatures=(2.0,), alphas=(0.0,), refit=False)
    print(json.dumps({{
        "arms": result.table.arm.tolist(), "stages": result.table.stage.tolist(),
        "scratch_won": result.scratch_won, "builds": len(builds),
        "warned": any("scratch arm won" in str(w.message) for w in caught),
        "keras3_student": type(result.student).__module__.startswith("keras"),
        "tf_keras": "tf_keras" in sys.modules,
        "tfmot": "tensorflow_model_optimization" in sys.modules,
    }}))
    """
)


def test_keras3_user_tunes_without_tf_keras_and_scratch_wins_on_a_useless_teacher():
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend(), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(helpers=HELPERS)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["arms"] == ["T=2, alpha=0", "scratch"]
    assert found["stages"] == ["full", "full"]  # sweep_epochs == epochs: the sweep is full
    assert found["scratch_won"] and found["warned"] and found["keras3_student"]
    assert found["builds"] == 1  # one teacher cache, served to every arm
    assert not found["tf_keras"] and not found["tfmot"]


def test_keras3_helpful_teacher_wins_on_a_transfer_set():
    x, y = th.blobs(300, seed=1)
    partial = np.where(np.arange(300) < 36, y, -1)
    seen: list[int] = []
    counting = keras.backend.backend() == "tensorflow"  # numpy_function: TensorFlow only
    teacher = th.good_teacher(keras, seen if counting else None)
    student = th.student(keras)
    before = [w.copy() for w in student.get_weights()]
    result = tune(
        teacher, student, x, partial, epochs=1, holdout=0.5,
        temperatures=(2.0,), alphas=(0.1,), optimizer=keras.optimizers.Adam(0.05),
    )  # fmt: skip
    assert not result.scratch_won and (result.temperature, result.alpha) == (2.0, 0.1)
    assert result.table.train_samples.tolist() == [282, 18, 300]
    assert isinstance(result.student, keras.Model) and result.student.optimizer is not None
    for a, b in zip(student.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    if counting:
        # One pass over the 300 samples (+1: the Keras 3 cache probes the output shape with
        # one sample); a teacher run per arm would be 900+.
        assert len(x) <= sum(seen) <= len(x) + 1
