"""prune on Keras 3 (TensorFlow backend): target sparsity, exact zeros, copies, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from k3_helpers import k3_cnn, k3_snapshot, kernel_sparsity, tensorflow_only

from tf_green.pruning import keras3
from tf_green.pruning.keras3.engine import get_state
from tf_green.pruning.schedule_math import ConstantSparsity

KERNELS = ["conv1", "conv2", "logits"]


def test_cnn_pruned_to_target_every_kernel(k3_trained_cnn, k3_digits):
    (x, y), (xv, yv) = k3_digits
    pruned = keras3.prune(
        k3_trained_cnn, x, y, target_sparsity=0.8, epochs=2, validation_data=(xv, yv), verbose=0
    )
    assert isinstance(pruned, keras.Model) and pruned.compiled
    for name in KERNELS:  # kept = round(size * 0.2): 0.8 up to one weight
        kernel = pruned.get_layer(name).kernel
        assert kernel_sparsity(kernel) == pytest.approx(0.8, abs=1.0 / np.prod(kernel.shape))
        assert kernel_sparsity(pruned.get_layer(name).bias) == 0.0
    history = pruned.pruning_history
    assert history["sparsity"][-1] == pytest.approx(0.8, abs=0.01)
    assert history["pruning_step"] == [8, 16]
    assert set(history.to_pandas().columns) >= {"loss", "val_loss", "sparsity"}
    report = keras3.sparsity_report(pruned)
    assert report.query("prunable == True").layer.tolist() == KERNELS
    assert get_state(pruned) is None  # stripped: a plain model


def test_caller_model_is_unchanged(k3_trained_cnn, k3_digits):
    (x, y), _ = k3_digits
    before = k3_snapshot(k3_trained_cnn)
    optimizer_before = [np.array(v) for v in k3_trained_cnn.optimizer.variables]
    iterations = int(k3_trained_cnn.optimizer.iterations)
    compile_config = k3_trained_cnn.get_compile_config()
    constraints = [getattr(w, "constraint", None) for w in k3_trained_cnn.weights]
    keras3.prune(k3_trained_cnn, x, y, target_sparsity=0.5, epochs=2, verbose=0)
    for old, new in zip(before, k3_snapshot(k3_trained_cnn), strict=True):
        np.testing.assert_array_equal(old, new)
    after = [np.array(v) for v in k3_trained_cnn.optimizer.variables]
    assert len(after) == len(optimizer_before)
    for old, new in zip(optimizer_before, after, strict=True):
        np.testing.assert_array_equal(old, new)
    assert int(k3_trained_cnn.optimizer.iterations) == iterations
    assert k3_trained_cnn.get_compile_config() == compile_config
    assert [getattr(w, "constraint", None) for w in k3_trained_cnn.weights] == constraints
    assert get_state(k3_trained_cnn) is None


@pytest.mark.parametrize("jit_compile", ["auto", True])
def test_adam_keeps_pruned_weights_exactly_zero_between_mask_updates(k3_digits, jit_compile):
    """Constant schedule, one mask update at step 1, then 15 Adam steps with big moments."""
    (x, y), _ = k3_digits
    model = k3_cnn()
    model.compile(keras.optimizers.Adam(0.05), model.loss, jit_compile=jit_compile)
    schedule = ConstantSparsity(0.7, begin_step=1, end_step=1, frequency=1)  # one update
    wrapped = keras3.wrap(model, schedule)
    wrapped.fit(x, y, epochs=2, batch_size=32, callbacks=keras3.callbacks(), verbose=0)
    state = get_state(wrapped)
    assert state.step == 16
    for entry in state.entries:
        mask = keras.ops.convert_to_numpy(entry.mask)
        value = keras.ops.convert_to_numpy(entry.variable)
        assert np.all(value[mask == 0] == 0.0)  # exactly, after 15 updates without re-masking
        assert np.mean(mask == 0) == pytest.approx(0.7, abs=0.02)
        # Adam's moments of the pruned entries are not zero: the constraint does the work.
    moments = [v for v in wrapped.optimizer.variables if "momentum" in v.name]
    assert any(np.any(keras.ops.convert_to_numpy(v) != 0) for v in moments)


def test_two_four_structure(k3_trained_cnn, k3_digits):
    (x, y), _ = k3_digits
    with pytest.warns(UserWarning, match="conv1"):  # (3, 3, 1, 8): input axis 1
        pruned = keras3.prune(k3_trained_cnn, x, y, structure="2:4", epochs=1, verbose=0)
    report = keras3.sparsity_report(pruned, structure="2:4").set_index("layer")
    prunable = keras3.sparsity_report(pruned).query("prunable == True").layer.tolist()
    assert prunable == KERNELS  # report lists default-prunable weights
    assert report.loc["conv2"].query("weight == 'kernel'").mn_satisfied.item() is True
    assert report.loc["logits"].query("weight == 'kernel'").mn_satisfied.item() is True
    assert kernel_sparsity(pruned.get_layer("conv1").kernel) == 0.0


def test_m_by_n_that_a_named_layer_cannot_hold_is_an_error(k3_trained_cnn, k3_digits):
    (x, y), _ = k3_digits
    with pytest.raises(ValueError, match=r"'conv1'.*cannot hold 2:4.*multiple of 4"):
        keras3.prune(k3_trained_cnn, x, y, structure="2:4", layers=["conv1"], verbose=0)


def test_per_layer_targets(k3_trained_cnn, k3_digits):
    (x, y), _ = k3_digits
    pruned = keras3.prune(
        k3_trained_cnn, x, y, layers={"conv2": 0.9, "logits": 0.5}, epochs=2, verbose=0
    )
    assert kernel_sparsity(pruned.get_layer("conv2").kernel) == pytest.approx(0.9, abs=0.002)
    assert kernel_sparsity(pruned.get_layer("logits").kernel) == pytest.approx(0.5, abs=0.001)
    assert kernel_sparsity(pruned.get_layer("conv1").kernel) == 0.0


def test_selection_by_class_regex_and_callable(k3_trained_cnn, k3_digits):
    (x, y), _ = k3_digits
    for layers in ([keras.layers.Conv2D], "conv.*", lambda layer: layer.name != "logits"):
        pruned = keras3.prune(
            k3_trained_cnn, x, y, layers=layers, target_sparsity=0.5, epochs=2, verbose=0
        )
        assert kernel_sparsity(pruned.get_layer("conv2").kernel) == pytest.approx(0.5, abs=0.01)
        assert kernel_sparsity(pruned.get_layer("logits").kernel) == 0.0


def test_stripped_model_saves_and_loads_without_custom_objects(k3_trained_cnn, k3_digits, tmp_path):
    (x, y), (xv, _) = k3_digits
    pruned = keras3.prune(k3_trained_cnn, x, y, target_sparsity=0.8, epochs=2, verbose=0)
    path = tmp_path / "pruned.keras"
    pruned.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects
    for a, b in zip(pruned.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(pruned.predict(xv, verbose=0), loaded.predict(xv, verbose=0))
    assert kernel_sparsity(loaded.get_layer("conv2").kernel) == pytest.approx(0.8, abs=0.002)


def test_dataset_input_and_uncompiled_model_with_optimizer(k3_digits):
    import tensorflow as tf

    (x, y), _ = k3_digits
    model = k3_cnn(compiled=False)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    with pytest.raises(ValueError, match="not compiled"):
        keras3.prune(model, ds, epochs=2, verbose=0)
    pruned = keras3.prune(
        model,
        ds,
        epochs=2,
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        verbose=0,
    )
    assert kernel_sparsity(pruned.get_layer("conv2").kernel) == pytest.approx(0.8, abs=0.002)


def test_nan_data_and_nan_loss_are_errors(k3_trained_cnn, k3_digits):
    from tf_green._engine.checks import NonFiniteLossError

    (x, y), _ = k3_digits
    bad = x.copy()
    bad[3, 2, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"`x`.*nan.*\(3, 2, 1, 0\)"):
        keras3.prune(k3_trained_cnn, bad, y, epochs=2, verbose=0)

    def nan_loss(y_true, y_pred):
        return keras.ops.log(-keras.ops.abs(y_pred) - 1.0)

    with pytest.raises(NonFiniteLossError, match="loss became nan in epoch 1"):
        keras3.prune(k3_trained_cnn, x, y, epochs=2, loss=nan_loss, verbose=0)


@tensorflow_only
def test_mirrored_strategy_on_tensorflow(k3_trained_cnn, k3_digits, mirrored_strategy):
    (x, y), _ = k3_digits
    strategy = mirrored_strategy
    pruned = keras3.prune(
        k3_trained_cnn, x, y, target_sparsity=0.8, epochs=2, strategy=strategy, verbose=0
    )
    assert pruned.distribute_strategy is strategy
    for name in KERNELS:
        assert kernel_sparsity(pruned.get_layer(name).kernel) == pytest.approx(0.8, abs=0.01)
    with pytest.raises(TypeError, match=r"tf\.distribute\.Strategy"):
        keras3.wrap(k3_trained_cnn, strategy="mirrored")
