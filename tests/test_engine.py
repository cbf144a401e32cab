"""The core seam (#13 part 1): engine detection, the shared model operations, lazy imports."""

import keras as keras3
import numpy as np
import pytest
import tf_keras
from tensorflow_model_optimization.python.core.sparsity.keras.prune import (
    strip_pruning as tfmot_strip_pruning,
)

import tf_green as tg
from tf_green import _engine, pruning
from tf_green._engine import models as engine_models
from tf_green.quantization import TFLiteModel, qat, quantize, to_tflite


def _k3_mlp(units=4):
    return keras3.Sequential(
        [keras3.Input((3,)), keras3.layers.Dense(units, name="d1"), keras3.layers.Dense(2)]
    )


def _tk_mlp(units=4):
    return tf_keras.Sequential(
        [tf_keras.Input((3,)), tf_keras.layers.Dense(units, name="d1"), tf_keras.layers.Dense(2)]
    )


class K3Block(keras3.layers.Layer):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner = keras3.layers.Dense(units)

    def call(self, x):
        return self.inner(x)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class K3Net(keras3.Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.block = K3Block(units)
        self.head = keras3.layers.Dense(2)

    def call(self, x):
        return self.head(self.block(x))

    def get_config(self):
        return {"units": self.units, "name": self.name}


class K3NoConfig(keras3.Model):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def call(self, x):
        return self.layer(x)


class TkSubclassed(tf_keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = tf_keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)


def test_engine_of_reads_the_class_on_both_engines():
    tk_nested = tf_keras.Sequential([_tk_mlp(), tf_keras.layers.Dense(1)])
    k3_inputs = keras3.Input((3,))
    k3_nested = keras3.Model(k3_inputs, keras3.layers.Dense(1)(_k3_mlp()(k3_inputs)))
    sub3, subtk = K3Net(), TkSubclassed()
    assert [_engine.engine_of(m) for m in (_tk_mlp(), tk_nested, subtk)] == ["tf_keras"] * 3
    assert [_engine.engine_of(m) for m in (_k3_mlp(), k3_nested, sub3)] == ["keras3"] * 3
    assert _engine.keras_of(sub3) is keras3 and _engine.keras_of(subtk) is tf_keras
    for bad in ("model.keras", keras3.layers.Dense(2), tf_keras.layers.Dense(2), None):
        with pytest.raises(TypeError, match=r"`teacher` must be a tf_keras model or a Keras 3"):
            _engine.engine_of(bad, "teacher")


def test_keras_named_returns_each_engine_and_names_the_argument_on_a_bad_name():
    assert _engine.keras_named("keras3") is keras3
    assert _engine.keras_named("tf_keras") is tf_keras
    for bad in ("keras", "Keras3", "", None):
        with pytest.raises(ValueError, match=r"^`recipe\.engine` must be 'keras3' or 'tf_keras'"):
            _engine.keras_named(bad, "recipe.engine")


def test_one_error_for_calls_without_keras3_support_names_the_call():
    with pytest.raises(TypeError, match=r"^tg\.quantization\.qat does not support Keras 3 models"):
        _engine.require_tf_keras(_k3_mlp(), call="tg.quantization.qat")
    assert _engine.require_tf_keras(_tk_mlp()) is not None


def test_a_teacher_and_student_of_two_engines_are_refused():
    model = _k3_mlp()
    with pytest.raises(TypeError, match=r"both must be of one engine"):
        tg.distill(model, _tk_mlp(), np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(TypeError, match=r"both must be of one engine"):
        tg.Distiller(_tk_mlp(), model)


def test_the_keras3_advice_works():
    # The advice in the error: same architecture in tf_keras, then set_weights in order.
    keras3.utils.set_random_seed(1)
    old = keras3.Sequential(
        [
            keras3.Input((8, 8, 1)),
            keras3.layers.Conv2D(3, 3, activation="relu"),
            keras3.layers.Flatten(),
            keras3.layers.Dense(10),
        ]
    )
    keras = tg.engine.tf_keras()
    new = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(3, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    new.set_weights(old.get_weights())
    x = np.random.default_rng(0).random((5, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(new(x).numpy(), np.asarray(old(x)), atol=1e-5)
    assert TFLiteModel(tg.to_tflite(new)).predict(x).shape == (5, 10)


def test_unsupported_keras3_backend_is_refused(monkeypatch):
    monkeypatch.setattr(_engine, "keras3_backend", lambda: "torch")
    with pytest.raises(ValueError, match=r"'torch' backend; .*'tensorflow' and 'jax'.*KERAS_"):
        _engine.require_keras3_backend()
    with pytest.raises(ValueError, match=r"'torch' backend"):
        pruning.prune(_k3_mlp(), np.zeros((4, 3)), np.zeros(4))


def test_pruning_calls_dispatch_on_the_engine():
    assert pruning.implementation("prune", "keras3").__module__.startswith(
        "tf_green.pruning.keras3"
    )
    assert pruning.implementation("prune", "tf_keras").__module__ == "tf_green.pruning.finetune"
    with pytest.raises(TypeError, match=r"Keras 3 support for tg\.pruning\.nothing is coming"):
        pruning.implementation("nothing", "keras3")
    wrapped3 = pruning.wrap(_k3_mlp())
    assert _engine.engine_of(wrapped3) == "keras3"
    assert _engine.engine_of(pruning.strip(wrapped3)) == "keras3"
    assert all(
        type(c).__module__.startswith("tf_green.pruning.keras3")
        for c in pruning.callbacks(model=wrapped3)
    )
    assert _engine.engine_of(pruning.strip(pruning.wrap(_tk_mlp()))) == "tf_keras"
    assert "sparsity" in tg.sparsity_report(_k3_mlp()).columns


def test_copy_model_on_both_engines():
    for original in (_tk_mlp(), _k3_mlp(), K3Net()):
        original(np.ones((1, 3), np.float32))
        original.compile("adam", "mse")
        copy = engine_models.copy_model(original)
        assert type(copy) is type(original)
        if engine_models.is_compiled(copy):  # Keras 3's clone_model compiles from the config
            assert copy.optimizer is not original.optimizer
        assert engine_models.is_compiled(copy) == (_engine.engine_of(copy) == "keras3")
        assert not {id(w) for w in copy.weights} & {id(w) for w in original.weights}
        for a, b in zip(copy.get_weights(), original.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    copy = engine_models.copy_model(K3Net())
    assert isinstance(copy.block, K3Block)  # nested layers rebuilt from get_config
    no_config = K3NoConfig(keras3.layers.Dense(2))
    no_config(np.ones((1, 3), np.float32))
    with pytest.raises(TypeError, match=r"cannot be copied.*get_config\(\) that returns"):
        engine_models.copy_model(no_config)
    with pytest.raises(TypeError, match=r"subclassed tf_keras model \(TkSubclassed\)"):
        engine_models.copy_model(TkSubclassed())


@pytest.mark.parametrize("make", [_tk_mlp, _k3_mlp], ids=["tf_keras", "keras3"])
def test_compile_like_copies_settings_and_refuses_to_guess(make):
    keras = _engine.keras_of(make())
    source = make()
    source.compile(keras.optimizers.SGD(0.05), "mse", metrics=[keras.metrics.MeanAbsoluteError()])
    target = engine_models.compile_like(make(), source)
    assert isinstance(target.optimizer, keras.optimizers.SGD)
    assert target.optimizer is not source.optimizer
    assert float(np.asarray(target.optimizer.learning_rate)) == pytest.approx(0.05)
    assert target.loss == "mse"
    engine_models.compile_like(target, source, loss="mae")
    assert target.loss == "mae"
    with pytest.raises(ValueError, match=r"not compiled, so `optimizer` is needed.*optimizer="):
        engine_models.compile_like(make(), make(), loss="mse")  # no silent "adam"
    with pytest.raises(ValueError, match=r"`loss` is needed"):
        engine_models.compile_like(make(), None, optimizer="adam")


def test_quantize_needs_an_optimizer_for_an_uncompiled_model():
    model = tg.models.mlp(hidden=(4,), engine="tf_keras")
    x, y = np.zeros((8, 64), np.float32), np.zeros(8, np.int64)
    with pytest.raises(ValueError, match=r"no optimizer to fine-tune with.*optimizer=\.\.\."):
        quantize(model, x, y, loss="sparse_categorical_crossentropy")


def test_is_graph_model_on_both_engines():
    assert engine_models.is_graph_model(_tk_mlp()) and engine_models.is_graph_model(_k3_mlp())
    assert not engine_models.is_graph_model(K3Net())
    assert not engine_models.is_graph_model(TkSubclassed())
    with pytest.raises(TypeError, match=r"subclassed model \(K3Net\)"):
        engine_models.check_graph_model(K3Net())


def _masked_after_the_last_update():
    """A wrapped model whose mask changed after its last weight update (weights not masked)."""
    wrapped = pruning.wrap(tg.models.mlp(hidden=(8,), engine="tf_keras"))
    layer = wrapped.get_layer("prune_low_magnitude_logits")
    weight, mask, _ = layer.pruning_vars[0]
    values = np.ones(mask.shape, np.float32)
    values[: mask.shape[0] // 2] = 0.0
    mask.assign(values)
    weight.assign(np.full(weight.shape, 0.5, np.float32))
    return wrapped, values


def test_the_one_strip_applies_the_masks_that_tfmot_strip_does_not():
    wrapped, mask = _masked_after_the_last_update()
    raw = tfmot_strip_pruning(wrapped).get_layer("logits").kernel.numpy()
    assert (raw != 0).all()  # TFMOT's strip: the weights as they are, not as the model computes
    stripped = engine_models.strip_pruning(wrapped)
    np.testing.assert_array_equal(stripped.get_layer("logits").kernel.numpy(), 0.5 * mask)
    x = np.random.default_rng(0).random((4, 64), dtype=np.float32)
    exported = TFLiteModel(to_tflite(wrapped)).predict(x)
    np.testing.assert_allclose(exported, stripped.predict(x, verbose=0), atol=1e-5)
    quantized = qat(wrapped, preserve_sparsity=True)
    kernel = next(w for w in quantized.weights if "logits" in w.name and "kernel" in w.name)
    assert (kernel.numpy()[mask == 0] == 0).all()


# What `import tf_green` and each engine's users import is checked in fresh interpreters by
# tests/test_fresh_interpreter.py (one child per group of scenarios).
