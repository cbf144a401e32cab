import importlib.util

import numpy as np
import pytest
import tensorflow_model_optimization as tfmot
from pruning_helpers import compile_classifier, kernel_sparsity

import tf_green.pruning as tgp
from tf_green import models
from tf_green._keras import keras


@pytest.fixture(scope="module")
def trained_wrapped(small_digits):
    """Two wrapped cnn(width=4), each fitted one epoch of 2 steps: conv2 2:4, logits 50%."""
    (x, y), _ = small_digits
    keras.utils.set_random_seed(0)
    base = compile_classifier(models.cnn(width=4, engine="tf_keras"))
    schedule = tgp.constant_schedule(0.5, steps_per_epoch=2)
    structured = tgp.wrap(base, schedule, layers=["conv2"], structure="2:4")
    wrapped = tgp.wrap(base, schedule, layers=["logits"])
    for model in (structured, wrapped):
        model.fit(x[:64], y[:64], epochs=1, callbacks=tgp.callbacks(), verbose=0)
    return structured, wrapped


def test_wrap_clones_wraps_and_compiles_like_the_caller(make_cnn, weights_digest, small_digits):
    (x, y), _ = small_digits
    model = make_cnn(width=4)
    before = weights_digest(model)
    wrapped = tgp.wrap(model, tgp.polynomial_schedule(0.5, epochs=2, steps_per_epoch=8))
    assert weights_digest(model) == before
    assert [type(layer).__name__ for layer in wrapped.layers] == [
        "InputLayer", "PruneLowMagnitude", "MaxPooling2D", "PruneLowMagnitude", "Flatten",
        "PruneLowMagnitude",
    ]  # fmt: skip
    assert all(layer not in model.layers for layer in wrapped.layers[1:])
    assert wrapped.optimizer is not model.optimizer
    assert wrapped.optimizer.get_config()["learning_rate"] == pytest.approx(3e-3)
    for original, copy in zip(model.get_weights(), tgp.strip(wrapped).get_weights(), strict=True):
        np.testing.assert_array_equal(original, copy)
    history = wrapped.fit(x, y, epochs=2, callbacks=tgp.callbacks(), verbose=0)
    assert weights_digest(model) == before
    assert history.history["pruning_step"] == [8, 16]
    # The polynomial ramp ends with epoch 1; epoch 2 recovers at the target.
    assert history.history["sparsity"] == pytest.approx([0.5, 0.5], abs=0.01)
    uncompiled = tgp.wrap(models.mlp(hidden=(4,), engine="tf_keras"))
    assert uncompiled.optimizer is None
    assert uncompiled.layers[1].pruning_schedule.get_config()["config"]["target_sparsity"] == 0.5


def test_wrap_refuses_a_schedule_name():
    with pytest.raises(TypeError, match=r"`schedule` must be a .*PruningSchedule.*polynomial_"):
        tgp.wrap(models.mlp(engine="tf_keras"), "polynomial")


def test_callbacks_add_summaries_with_a_log_dir(tmp_path, small_digits):
    (x, y), _ = small_digits
    with pytest.raises(ValueError, match=r"`log_dir` must be a non-empty path"):
        tgp.callbacks("")
    with pytest.raises(ValueError, match=r"`key` must be a non-empty string"):
        tgp.SparsityLogger(key="")
    assert tgp.SparsityLogger(step_key=None).get_config() == {"key": "sparsity", "step_key": None}
    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(ImportError, match=r"`log_dir`.*pip install tensorboard"):
            tgp.callbacks(tmp_path / "logs")
        return
    assert [type(cb).__name__ for cb in tgp.callbacks(tmp_path / "logs")] == [
        "UpdatePruningStep",
        "SparsityLogger",
        "PruningSummaries",
    ]
    wrapped = tgp.wrap(
        models.cnn(width=4, engine="tf_keras"), tgp.constant_schedule(0.5, steps_per_epoch=8)
    )
    wrapped.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    wrapped.fit(x, y, epochs=1, callbacks=tgp.callbacks(tmp_path / "logs"), verbose=0)
    assert list((tmp_path / "logs" / "metrics").iterdir())


def test_strip_applies_masks_and_shares_nothing(trained_wrapped):
    _, wrapped = trained_wrapped
    wrapper = wrapped.get_layer("prune_low_magnitude_logits")
    kernel, mask, _ = wrapper.pruning_vars[0]
    saved = kernel.numpy()
    kernel.assign(saved + 1.0)  # as if training went on after the last re-masking
    try:
        stripped = tgp.strip(wrapped)
    finally:
        kernel.assign(saved)
    np.testing.assert_array_equal(
        stripped.get_layer("logits").kernel.numpy(), (saved + 1.0) * mask.numpy()
    )
    assert kernel_sparsity(stripped)["logits"] == pytest.approx(0.5)
    assert all(layer not in wrapped.layers for layer in stripped.layers)
    assert stripped.get_layer("logits") is not wrapper.layer
    assert stripped.optimizer is not None and stripped.optimizer is not wrapped.optimizer
    plain = tgp.strip(
        models.mlp(hidden=(4,), engine="tf_keras")
    )  # nothing to strip: an independent copy
    assert [layer.name for layer in plain.layers] == ["features", "dense1", "logits"]
    with pytest.raises(TypeError, match=r"`model` must be a tf_keras model"):
        tgp.strip("model.h5")


@pytest.mark.parametrize("suffix", [".keras", "_savedmodel", ".h5"])
def test_wrapped_and_stripped_models_round_trip(trained_wrapped, small_digits, tmp_path, suffix):
    (x, y), (xv, _) = small_digits
    structured, wrapped = trained_wrapped
    for name, model in [("structured", structured), ("wrapped", wrapped)]:
        for stage, candidate in [("wrapped", model), ("stripped", tgp.strip(model))]:
            path = tmp_path / f"{name}_{stage}{suffix}"
            candidate.save(path, save_format="tf" if suffix == "_savedmodel" else None)
            loaded = keras.models.load_model(path)  # no custom_objects, no prune_scope
            assert [type(layer) for layer in loaded.layers] == [
                type(layer) for layer in candidate.layers
            ]
            for a, b in zip(candidate.get_weights(), loaded.get_weights(), strict=True):
                np.testing.assert_array_equal(a, b)
            np.testing.assert_allclose(
                loaded.predict(xv[:4], verbose=0), candidate.predict(xv[:4], verbose=0), atol=1e-5
            )
    loaded = keras.models.load_model(tmp_path / f"structured_wrapped{suffix}")
    wrapper = loaded.get_layer("prune_low_magnitude_conv2")
    assert wrapper.sparsity_m_by_n == (2, 4)
    assert isinstance(wrapper.pruning_schedule, tfmot.sparsity.keras.ConstantSparsity)
    # A reloaded wrapped model trains on (at its saved pruning step) and strips.
    loaded.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    loaded.fit(x[:64], y[:64], epochs=1, callbacks=tgp.callbacks(), verbose=0)
    assert int(wrapper.pruning_step.numpy()) == 4
    report = tgp.sparsity_report(tgp.strip(loaded)).set_index(["layer", "weight"])
    assert report.loc[("conv2", "kernel"), "mn_satisfied"] is True
