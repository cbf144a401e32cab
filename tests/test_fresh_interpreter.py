"""What tf_green imports, checked in fresh interpreters: six children instead of fifteen.

Each check used to start its own Python (TensorFlow and Keras imported again each time: 6-22 s
apiece). tests/fresh_interpreter_child.py now runs them as scenarios grouped in plans that
cannot contaminate each other (see its docstring); the children run two at a time while the
tests here wait for theirs, and each test asserts on one scenario's facts.

Moved here: the subprocess tests of test_engine.py, pruning/test_pruning_dispatch_imports.py,
bench/test_bench_metrics_layering.py, test_models.py, test_loading_untrusted.py,
distillation/keras3/test_kd3_distill.py and test_tune_k3.py (both backends),
bench/keras3/test_k3_bench_imports.py (both backends) and quantization/keras3/
test_k3q_isolation.py. The JAX children run from this (TensorFlow) test process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import tf_green as tg
from tf_green._keras import _KERAS3_HINT

CHILD = Path(__file__).with_name("fresh_interpreter_child.py")
UNSET = None
# plan -> (environment changes, argument), in the order they start: the longest first.
PLANS = {
    "tf_green_first": ({"KERAS_BACKEND": "tensorflow", "TF_USE_LEGACY_KERAS": UNSET}, None),
    "keras3_jax": ({"KERAS_BACKEND": "jax", "TF_USE_LEGACY_KERAS": UNSET}, None),
    "keras_first": ({"KERAS_BACKEND": "tensorflow", "TF_USE_LEGACY_KERAS": UNSET}, "path"),
    "tf_keras_user": ({"TF_USE_LEGACY_KERAS": UNSET}, None),
    "tf_keras_user_legacy": ({"TF_USE_LEGACY_KERAS": "1"}, None),
    "tf_keras_module_first": ({"KERAS_BACKEND": "tensorflow", "TF_USE_LEGACY_KERAS": UNSET}, None),
}


class Child:
    """One finished child: its scenarios' facts by name, and its exit status and stderr."""

    def __init__(self, plan, done):
        self.plan, self.returncode, self.stderr = plan, done.returncode, done.stderr
        self.scenarios = {}
        for line in done.stdout.splitlines():
            if line.startswith("SCENARIO "):
                facts = json.loads(line[len("SCENARIO ") :])
                self.scenarios[facts["name"]] = facts

    def facts(self, name):
        """The facts of scenario ``name``; fails with the traceback if the scenario raised."""
        assert name in self.scenarios, (
            f"plan {self.plan!r} never reported {name!r} (exit {self.returncode}): "
            + self.stderr[-3000:]
        )
        facts = self.scenarios[name]
        assert facts["error"] is None, facts["error"] + self.stderr[-2000:]
        return facts


def _run(plan, env_changes, argument):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    command = [sys.executable, str(CHILD), plan] + ([argument] if argument else [])
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    return Child(plan, done)


@pytest.fixture(scope="module")
def children(tmp_path_factory):
    """plan -> a future of its Child; all start at once, two run at a time (2 cores)."""
    path = tmp_path_factory.mktemp("keras3_lm") / "lm.keras"
    tg.models.tiny_lm(11, d_model=8, num_layers=1, num_heads=2, seq_len=6, engine="keras3").save(
        path
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {
            plan: pool.submit(_run, plan, env, str(path) if argument else None)
            for plan, (env, argument) in PLANS.items()
        }


def _facts(children, plan, name):
    return children[plan].result().facts(name)


# --- import tf_green first (from tests/test_engine.py and bench/test_bench_metrics_layering.py)


def test_import_tf_green_keeps_the_users_keras_and_imports_no_keras(children):
    facts = _facts(children, "tf_green_first", "import_tf_green_first")
    assert facts["heavy"] == []
    assert facts["legacy_env"] is None
    facts = _facts(children, "tf_green_first", "engine_neutral_modules")
    assert facts["all_in_dir"]
    assert (facts["digits_shape"], facts["prune_module"]) == ([1347, 8, 8, 1], "tf_green.pruning")
    # The command line, recipes and the workflow are engine-neutral too.
    assert facts["loaded"] == [] and facts["legacy_env"] is None


def test_quantization_does_not_import_bench(children):
    facts = _facts(children, "tf_green_first", "quantization_without_bench")
    assert facts["bench_before"] == [], "contaminated: tf_green.bench was imported before"
    assert facts["bench_modules"] == []


# --- Keras 3 users (from test_engine.py, test_models.py, distillation/ and quantization/keras3)


def test_keras3_user_loads_tf_green_layers_without_custom_objects(children):
    facts = _facts(children, "keras_first", "keras_first_loads_tf_green_layers")
    assert facts["layer_module"] == "tf_green._models_keras3"
    assert facts["distiller_registered"]
    assert facts["loaded"] == []


def test_acceptance_keras3_user_prunes_without_tf_keras(children):
    facts = _facts(children, "tf_green_first", "keras3_user_prunes")
    assert facts["is_keras3_copy"]
    assert len(facts["sparsities"]) == 2
    assert all(abs(s - 0.8) < 0.01 for s in facts["sparsities"]), facts["sparsities"]
    assert facts["callers_zeros"] == [0.0, 0.0]
    assert facts["loaded"] == []
    assert facts["legacy_env"] is None
    assert facts["tf_keras_version"].startswith("3."), facts["tf_keras_version"]


def test_keras3_builds_train_save_and_load_without_tf_keras(children):
    facts = _facts(children, "keras_first", "keras3_models")
    assert facts["backend"] == "tensorflow"
    assert facts["mlp_params"] == 4 * 64 + 4 + 5 * 10
    assert facts["load_diff"] <= 1e-5
    assert facts["loaded_layer"] == "PositionEmbedding"
    assert facts["fixed_input_shape"] == [None, 6]
    assert facts["generated"] == 3
    assert facts["loaded"] == []


def test_a_keras3_user_never_imports_tf_keras_when_distilling(children):
    facts = _facts(children, "tf_green_first", "keras3_distills")
    assert facts["alpha_error"] is None or "alpha" in facts["alpha_error"], facts["alpha_error"]
    assert facts["distiller"]
    assert facts["loaded"] == []


def test_keras3_export_leaves_tf_keras_unimported(children):
    facts = _facts(children, "tf_green_first", "keras3_exports")
    assert facts["shape"] == [20, 2]
    assert facts["loaded"] == []


@pytest.mark.parametrize(
    ("plan", "backend"), [("tf_green_first", "tensorflow"), ("keras3_jax", "jax")]
)
def test_keras3_user_tunes_without_tf_keras_and_scratch_wins_on_a_useless_teacher(
    children, plan, backend
):
    if backend == "jax":
        pytest.importorskip("jax")
    found = _facts(children, plan, "keras3_tunes")
    assert found["arms"] == ["T=2, alpha=0", "scratch"]
    assert found["stages"] == ["full", "full"]  # sweep_epochs == epochs: the sweep is full
    assert found["scratch_won"] and found["warned"] and found["keras3_student"]
    assert found["builds"] == 1  # one teacher cache, served to every arm
    assert found["loaded"] == []


@pytest.mark.parametrize(
    ("plan", "backend"), [("keras_first", "tensorflow"), ("keras3_jax", "jax")]
)
def test_keras3_profile_and_bench_leave_tf_keras_and_tfmot_unimported(children, plan, backend):
    if backend == "jax":
        pytest.importorskip("jax")
    result = _facts(children, plan, "keras3_benches")
    assert result["backend"] == backend
    assert result["after_keras_profile"] == []
    assert result["after_bench"] == []  # the .tflite and .keras file rows included
    runtime = f"Keras 3 on {'JAX (jax.jit)' if backend == 'jax' else 'TensorFlow (tf.function)'}"
    assert result["runtime"] == runtime
    assert result["runtimes"][0] == result["runtimes"][2] == runtime  # the file loads as Keras 3
    assert result["runtimes"][1].startswith("LiteRT")
    assert result["flops"] == [2 * (6 * 4 + 4 * 3)] * 3
    assert result["metric"] == [1.0, 1.0, 1.0]


# --- tf_keras users (from test_engine.py, pruning/ and test_loading_untrusted.py) -------------


def test_importing_a_tf_keras_module_first_keeps_tf_keras_choice(children):
    """Fails before the fix: importing pruning.schedules first set TF_USE_LEGACY_KERAS=1."""
    facts = _facts(children, "tf_keras_module_first", "tf_keras_module_first")
    assert facts["legacy_env"] is None, facts["legacy_env"]
    assert facts["tf_keras_is_keras3"], facts["tf_keras_name"]


@pytest.mark.parametrize(
    ("plan", "legacy", "tf_keras_name"),
    [
        ("tf_keras_user", None, "keras._tf_keras.keras"),
        ("tf_keras_user_legacy", "1", "tf_keras.api._v2.keras"),
    ],
)
def test_tf_keras_user_keeps_tf_keras_classes_registered_and_tf_keras_unchanged(
    children, plan, legacy, tf_keras_name
):
    facts = _facts(children, plan, "tf_keras_user")
    assert facts["tfmot_after_import"]  # registration imported it
    assert facts["distiller_registered"]
    assert (facts["legacy_env"], facts["tf_keras_name"]) == (legacy, tf_keras_name)
    assert facts["engine"] == "tf_keras"


def test_keras3_hint_gives_advice_that_works(children):
    assert "from_config" not in _KERAS3_HINT and "set_weights(old.get_weights())" in _KERAS3_HINT
    # The advice against a real Keras 3 model, with TF_USE_LEGACY_KERAS=1 as a tf_keras user has.
    facts = _facts(children, "tf_keras_user_legacy", "keras3_advice")
    assert not facts["old_advice_works"]
    assert facts["max_diff"] == 0.0
