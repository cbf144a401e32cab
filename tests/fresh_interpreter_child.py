"""Child of tests/test_fresh_interpreter.py: scenarios that need a fresh Python interpreter.

Run as ``python tests/fresh_interpreter_child.py PLAN [ARGUMENT]``. A plan is a list of
scenarios run in order in this one interpreter; each prints one line
``SCENARIO {"name": ..., "error": traceback or None, ...facts}`` and the parent asserts on the
facts. Plans only group scenarios that cannot contaminate each other: a scenario that needs
a pristine interpreter (``import tf_green`` first, ``import keras`` first, a tf_keras-side
module first, a tf_keras user's imports) is the first of its plan, and every later scenario
of a plan only checks that tf_keras/TFMOT stay unimported (which earlier imports can make
fail, never pass) or computes values that do not depend on import order.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import tempfile
import traceback
import warnings

TESTS = os.path.dirname(os.path.abspath(__file__))
TF_KERAS_SIDE = ("tf_keras", "tensorflow_model_optimization")
HEAVY = ("keras", "tf_keras", "tensorflow", "tensorflow_model_optimization")


def _loaded(names=TF_KERAS_SIDE):
    return sorted(m for m in names if m in sys.modules)


# --- first scenarios of a plan (each needs the interpreter as Python left it) -----------------


def import_tf_green_first():
    """``import tf_green`` imports no Keras and keeps the user's Keras choice."""
    import tf_green  # noqa: F401

    return {
        "heavy": sorted(m for m in HEAVY if m in sys.modules),
        "legacy_env": os.environ.get("TF_USE_LEGACY_KERAS"),
    }


def quantization_without_bench():
    """Quantization scores with the engine's metrics table: tf_green.bench stays unimported."""
    before = sorted(m for m in sys.modules if m.startswith("tf_green.bench"))
    importlib.import_module("tf_green.quantization._metrics")
    importlib.import_module("tf_green.quantization.tflite_model")

    after = sorted(m for m in sys.modules if m.startswith("tf_green.bench"))
    return {"bench_before": before, "bench_modules": after}


def engine_neutral_modules():
    """The lazy names work; the command line, recipes and workflow import no tf_keras/TFMOT."""
    import tf_green as tg

    facts = {
        "all_in_dir": set(tg.__all__) <= set(dir(tg)) and "engine" in dir(tg),
        "digits_shape": list(tg.datasets.digits()[0][0].shape),
        "prune_module": tg.prune.__module__,
    }
    import tf_green.cli
    import tf_green.loading
    import tf_green.workflow  # noqa: F401

    return {**facts, "loaded": _loaded(), "legacy_env": os.environ.get("TF_USE_LEGACY_KERAS")}


def keras_first_loads_tf_green_layers(path):
    """A Keras 3 user imports keras, then tf_green: saved tf_green layers load as they are."""
    import keras

    import tf_green  # noqa: F401

    model = keras.saving.load_model(path)
    return {
        "layer_module": type(model.get_layer("position_embedding")).__module__,
        "distiller_registered": keras.saving.get_registered_object("tf_green>Distiller")
        is not None,
        "loaded": _loaded(),
    }


def tf_keras_module_first():
    """A tf_keras-side pruning module imported first keeps ``tf.keras`` on Keras 3."""
    importlib.import_module("tf_green.pruning.schedules")  # first: before TensorFlow
    import tensorflow as tf

    legacy = os.environ.get("TF_USE_LEGACY_KERAS")
    import keras

    return {
        "legacy_env": legacy,
        "tf_keras_is_keras3": tf.keras.Model is keras.Model,
        "tf_keras_name": tf.keras.__name__,
    }


def tf_keras_user():
    """A tf_keras user: tf_green's classes registered with tf_keras; tf.keras left as it was."""
    import tensorflow as tf
    import tf_keras

    import tf_green as tg

    facts = {
        "tfmot_after_import": "tensorflow_model_optimization" in sys.modules,
        "distiller_registered": tf_keras.saving.get_registered_object("tf_green>Distiller")
        is not None,
    }
    pruned = tg.prune(
        tg.models.compile_classifier(tg.models.mlp(hidden=(4,), engine="tf_keras")),
        *tg.datasets.digits(image=False)[0],
        target_sparsity=0.5,
        epochs=2,
        verbose=0,
    )
    return {
        **facts,
        "legacy_env": os.environ.get("TF_USE_LEGACY_KERAS"),
        "tf_keras_name": tf.keras.__name__,
        "engine": tg.engine.engine_of(pruned),
    }


# --- later scenarios (only absence checks and import-order-free values) ---------------------


def keras3_advice():
    """The advice of tf_green._keras._KERAS3_HINT, run on a Keras 3 model (legacy env set)."""
    import keras
    import numpy as np
    import tf_keras

    def arch(k):
        layers = [k.Input((4,)), k.layers.Dense(3, activation="relu"), k.layers.Dense(2)]
        return k.Sequential(layers)

    old = arch(keras)
    try:
        tf_keras.Model.from_config(old.get_config())
        old_advice_works = True
    except Exception:
        old_advice_works = False
    new = arch(tf_keras)
    new.set_weights(old.get_weights())
    x = np.random.default_rng(0).random((3, 4)).astype("float32")
    diff = float(np.abs(np.asarray(old(x)) - new(x).numpy()).max())
    return {"old_advice_works": old_advice_works, "max_diff": diff}


def keras3_user_prunes():
    """Acceptance: a Keras 3 user prunes a CNN to 80% without tf_keras or TFMOT."""
    import keras
    import tensorflow as tf

    import tf_green as tg

    keras.utils.set_random_seed(0)
    (x, y), _ = tg.datasets.digits()
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    pruned = tg.prune(model, x[:512], y[:512], target_sparsity=0.8, epochs=2, verbose=0)
    kernels = [layer.kernel.numpy() for layer in pruned.layers if hasattr(layer, "kernel")]
    return {
        "is_keras3_copy": isinstance(pruned, keras.Model) and pruned is not model,
        "sparsities": [float((k == 0).mean()) for k in kernels],
        "callers_zeros": [
            float((layer.kernel.numpy() == 0).mean())
            for layer in model.layers
            if hasattr(layer, "kernel")
        ],
        "loaded": _loaded(),
        "legacy_env": os.environ.get("TF_USE_LEGACY_KERAS"),
        "tf_keras_version": tf.keras.version(),
    }


def keras3_distills():
    """tg.distill's dispatch and tg.Distiller with a teacher cache, on Keras 3."""
    import keras
    import numpy as np

    import tf_green as tg

    def mlp(h):
        i = keras.Input((6,))
        o = keras.layers.Dense(4)(keras.layers.Dense(h, name="h")(i))
        return keras.Model(i, o)

    x, y = np.random.rand(16, 6).astype("float32"), np.arange(16) % 4
    alpha_error = None
    try:  # dispatch, imports and the teacher cache, without a training run
        tg.distill(mlp(8), mlp(2), x, y, alpha=2.0)
    except ValueError as error:
        alpha_error = str(error)
    d = tg.Distiller(mlp(8), mlp(2), teacher_outputs=tg.distillation.cache_teacher(mlp(8), x))
    return {
        "alpha_error": alpha_error,
        "distiller": isinstance(d, tg.Distiller)
        and isinstance(d.teacher_outputs, tg.distillation.TeacherCache),
        "loaded": _loaded(),
    }


def keras3_exports():
    """tg.to_tflite (INT8), TFLiteModel, tg.quantize and qat's refusal, on Keras 3."""
    import keras
    import numpy as np

    import tf_green as tg

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    x = np.random.default_rng(0).random((20, 6)).astype("float32")
    content = tg.to_tflite(model, quantization="int8", representative_data=x)
    shape = list(tg.TFLiteModel(content).predict(x).shape)
    tg.quantize(model, mode="int8")
    with contextlib.suppress(TypeError):
        tg.quantization.qat(model)
    return {"shape": shape, "loaded": _loaded()}


def keras3_tunes():
    """tg.distillation.tune on a useless teacher: every arm, the warning, one cache build."""
    sys.path.insert(0, os.path.join(TESTS, "distillation"))
    import keras
    import tune_helpers as th

    import tf_green.distillation as distillation
    from tf_green.distillation.tune import tune

    builds = []
    real = distillation.cache_teacher
    distillation.cache_teacher = lambda *a, **k: builds.append(1) or real(*a, **k)
    try:
        x, y = th.blobs(90)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = tune(
                th.useless_teacher(keras),
                th.student(keras),
                x,
                y,
                epochs=2,
                sweep_epochs=2,
                holdout=0.3,
                batch_size=8,
                optimizer=keras.optimizers.Adam(0.05),
                temperatures=(2.0,),
                alphas=(0.0,),
                refit=False,
            )
    finally:
        distillation.cache_teacher = real
    return {
        "arms": result.table.arm.tolist(),
        "stages": result.table.stage.tolist(),
        "scratch_won": bool(result.scratch_won),
        "builds": len(builds),
        "warned": any("scratch arm won" in str(w.message) for w in caught),
        "keras3_student": type(result.student).__module__.startswith("keras"),
        "loaded": _loaded(),
    }


def keras3_benches():
    """A Keras 3 user profiles and benches a model, its .tflite and its .keras file."""
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
    after_keras = _loaded()
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/model.keras"
        model.save(path)
        bench = tg.Bench(x, y, **fast).add("keras3", model).add("tflite", tflite).add("file", path)
        rows = bench.run(progress=False)
    return {
        "backend": keras.backend.backend(),
        "after_keras_profile": after_keras,
        "after_bench": _loaded(),
        "runtime": keras_only.runtime,
        "runtimes": rows["runtime"].tolist(),
        "flops": rows["flops_per_sample"].tolist(),
        "metric": rows["metric_value"].tolist(),
    }


def keras3_models():
    """tf_green.models with engine="keras3": build, train, save, load, generate."""
    import keras
    import numpy as np

    from tf_green import datasets, models
    from tf_green.generation import generate  # the cached decoder, Keras 3 side

    lm = models.tiny_lm(20, d_model=8, num_layers=1, num_heads=2, seq_len=6, engine="keras3")
    cnn = models.compile_classifier(models.cnn(width=2, engine="keras3"))
    cnn.fit(np.zeros((4, 8, 8, 1), "float32"), np.arange(4), epochs=1, verbose=0)
    fixed = models.with_fixed_length(lm)
    tokens = np.arange(12, dtype="int32").reshape(2, 6) % 20
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "lm.keras")
        lm.save(path)
        loaded = keras.saving.load_model(path)
        diff = float(np.abs(np.asarray(lm(tokens)) - np.asarray(loaded(tokens))).max())
    vocab = datasets.python_docs(seq_len=6, max_chars=2_000).vocab
    lm20 = models.tiny_lm(len(vocab), d_model=8, num_layers=1, num_heads=2, seq_len=6,
                          engine="keras3")  # fmt: skip
    return {
        "mlp_params": models.mlp(hidden=(4,), engine="keras3").count_params(),
        "load_diff": diff,
        "loaded_layer": type(loaded.get_layer("position_embedding")).__name__,
        "fixed_input_shape": list(fixed.input_shape),
        "generated": len(generate(lm20, "ab", 3, vocab=vocab, temperature=0, use_cache=True)),
        "loaded": _loaded(),
        "backend": keras.backend.backend(),
    }


PLANS = {
    # KERAS_BACKEND=tensorflow, TF_USE_LEGACY_KERAS unset.
    "tf_green_first": [
        import_tf_green_first,
        quantization_without_bench,
        engine_neutral_modules,
        keras3_user_prunes,
        keras3_distills,
        keras3_exports,
        keras3_tunes,
    ],
    "keras_first": [keras_first_loads_tf_green_layers, keras3_models, keras3_benches],
    "tf_keras_module_first": [tf_keras_module_first],
    "tf_keras_user": [tf_keras_user],
    # TF_USE_LEGACY_KERAS=1.
    "tf_keras_user_legacy": [tf_keras_user, keras3_advice],
    # KERAS_BACKEND=jax.
    "keras3_jax": [keras3_benches, keras3_tunes],
}


def main(plan, *arguments):
    """Run ``plan``'s scenarios in order; print one SCENARIO line each."""
    for index, scenario in enumerate(PLANS[plan]):
        facts, error = {}, None
        try:
            facts = scenario(*arguments) if index == 0 and arguments else scenario()
        except Exception:
            error = traceback.format_exc()
        print("SCENARIO " + json.dumps({"name": scenario.__name__, "error": error, **facts}),
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main(*sys.argv[1:])
