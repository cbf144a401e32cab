import numpy as np
import pytest
from pruning_helpers import compile_classifier, expected_sparsity, kernel_sparsity

import tf_green.pruning as tgp
from tf_green import datasets, models
from tf_green._keras import keras, tf


def test_prune_reaches_the_target_per_layer_and_leaves_the_caller_alone(
    trained_cnn, small_digits, weights_digest
):
    (x, y), (xv, yv) = small_digits
    before = weights_digest(trained_cnn)
    pruned = tgp.prune(
        trained_cnn, x, y, target_sparsity=0.75, epochs=2, validation_data=(xv, yv), verbose=0
    )
    assert weights_digest(trained_cnn) == before
    assert all(
        not isinstance(layer, tgp.PruneLowMagnitude) and layer not in trained_cnn.layers
        for layer in pruned.layers
    )
    sizes = {
        layer.name: int(np.size(layer.kernel))
        for layer in pruned.layers
        if hasattr(layer, "kernel")
    }
    assert kernel_sparsity(pruned) == pytest.approx(
        {name: expected_sparsity(size, 0.75) for name, size in sizes.items()}
    )
    # Compiled like the caller: same optimizer settings (a fresh instance), loss, metrics.
    assert pruned.optimizer is not trained_cnn.optimizer
    assert pruned.optimizer.get_config()["learning_rate"] == pytest.approx(3e-3)
    assert pruned.optimizer.iterations.numpy() == 0
    assert pruned.loss.get_config()["from_logits"]
    history = pruned.pruning_history
    assert set(history) == {
        "loss", "accuracy", "val_loss", "val_accuracy", "sparsity", "pruning_step",
    }  # fmt: skip
    assert history["pruning_step"] == [8, 16]
    assert history["sparsity"][-1] == pytest.approx(0.75, abs=0.01)
    assert history.to_pandas().shape == (2, 6)
    accuracy = pruned.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    assert history["val_accuracy"][-1] == pytest.approx(accuracy, abs=1e-6)
    # Fine-tuning recovers much of what one-shot magnitude pruning (no training) loses.
    one_shot = tgp.strip(trained_cnn)
    for layer in one_shot.layers:
        if hasattr(layer, "kernel"):
            kernel = layer.kernel.numpy()
            threshold = np.quantile(np.abs(kernel), 0.75)
            layer.kernel.assign(np.where(np.abs(kernel) >= threshold, kernel, 0.0))
    lost = one_shot.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"]
    assert accuracy > lost + 0.1, (lost, accuracy)


def test_dataset_input_per_layer_targets_and_constant_schedule(small_digits):
    (x, y), _ = small_digits
    ds = datasets.as_dataset(x, y, batch_size=64)
    model = models.cnn(width=4, engine="tf_keras")
    seen = []
    logger = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(dict(logs)))
    pruned = tgp.prune(
        model,
        ds,
        schedule="constant",
        epochs=1,
        layers={"conv2": 0.9, "logits": 0.5},
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        callbacks=[logger],
        verbose=0,
    )
    assert kernel_sparsity(pruned) == pytest.approx(
        {"conv1": 0.0, "conv2": expected_sparsity(288, 0.9), "logits": 0.5}
    )
    assert seen[0]["pruning_step"] == 4 and "sparsity" in seen[0]  # extra callbacks see it
    assert pruned.pruning_history["pruning_step"] == [4]


def test_structured_2_by_4_pruning(small_digits):
    (x, y), _ = small_digits
    model = compile_classifier(models.cnn(width=4, engine="tf_keras"))
    with pytest.warns(UserWarning, match=r"Not pruning layer 'conv1'.*2:4"):
        pruned = tgp.prune(model, x, y, structure="2:4", epochs=1, verbose=0)
    report = tgp.sparsity_report(pruned).set_index(["layer", "weight"])
    assert report.loc[("conv1", "kernel"), "zeros"] == 0
    for name in ("conv2", "logits"):
        assert report.loc[(name, "kernel"), "mn_satisfied"] is True
        assert report.loc[(name, "kernel"), "sparsity"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"`layers` gives per-layer sparsities.*structure='2:4'"):
        tgp.prune(model, x, y, structure="2:4", layers={"conv2": 0.5}, verbose=0)


def test_schedule_instance_is_used_and_checked(small_digits):
    (x, y), _ = small_digits
    model = compile_classifier(models.cnn(width=4, engine="tf_keras"))
    late = tgp.polynomial_schedule(0.6, epochs=4, steps_per_epoch=8)  # ends at step 24
    with pytest.raises(ValueError, match=r"`epochs`=2 is too few.*16 steps.*end_step is 24"):
        tgp.prune(model, x, y, schedule=late, epochs=2, verbose=0)
    with pytest.raises(ValueError, match=r"`epochs`=1 is too few for schedule='polynomial'"):
        tgp.prune(model, x, y, epochs=1, verbose=0)
    pruned = tgp.prune(model, x, y, schedule=late, epochs=3, layers=["logits"], verbose=0)
    assert kernel_sparsity(pruned)["logits"] == pytest.approx(0.6)


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.backbone = keras.Sequential([keras.layers.Dense(4, input_shape=(3,))])

    def call(self, inputs):
        return self.backbone(inputs)


def test_bad_models_are_refused_with_the_fix(weights_digest):
    # Keras 3 models are pruned by tf_green.pruning.keras3 (tests/test_engine.py dispatch).
    sub = Subclassed()
    sub(np.zeros((1, 3)))
    with pytest.raises(TypeError, match=r"subclassed model \(Subclassed\).*inner Sequential"):
        tgp.prune(sub, np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(TypeError, match=r"subclassed"):
        tgp.wrap(sub)
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"`model` \('sequential.*'\) is not built"):
        tgp.prune(unbuilt, np.zeros((4, 3)), np.zeros(4))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"target_sparsity": 1.0}, ValueError, r"`target_sparsity` must be in \[0, 1\)"),
        ({"initial_sparsity": -0.5}, ValueError, r"`initial_sparsity` must be in \[0, 1\)"),
        ({"structure": "4:4"}, ValueError, r"`structure`='4:4' is invalid"),
        ({"layers": []}, ValueError, r"`layers` is empty"),
        ({"layers": ["conv9"]}, ValueError, r"`layers` names \['conv9'\]"),
        ({"x": np.zeros((0, 8, 8, 1)), "y": np.zeros(0)}, ValueError, r"`x` is empty"),
        ({"x": None}, ValueError, r"`x` is required"),
        ({"epochs": 0}, ValueError, r"`epochs` must be an integer >= 1"),
        ({"schedule": "linear"}, ValueError, r"`schedule` must be 'polynomial'"),
        ({"callbacks": ["tb"]}, TypeError, r"`callbacks` must be a list"),
        ({"strategy": "mirrored"}, TypeError, r"`strategy` must be a tf.distribute.Strategy"),
        ({"validation_data": np.zeros(3)}, TypeError, r"`validation_data` must be"),
    ],
)
def test_bad_arguments_fail_before_training(trained_cnn, weights_digest, kwargs, error, message):
    before = weights_digest(trained_cnn)
    arguments = {"x": np.zeros((8, 8, 8, 1)), "y": np.zeros(8), **kwargs}
    with pytest.raises(error, match=message):
        tgp.prune(trained_cnn, **arguments, verbose=0)
    assert weights_digest(trained_cnn) == before


def test_uncompiled_model_needs_optimizer_and_loss():
    with pytest.raises(ValueError, match=r"model 'cnn_4' is not compiled, so `optimizer`"):
        tgp.prune(
            models.cnn(width=4, engine="tf_keras"), np.zeros((8, 8, 8, 1)), np.zeros(8), verbose=0
        )
    with pytest.raises(ValueError, match=r"is not compiled, so `loss` is needed"):
        tgp.prune(
            models.cnn(width=4, engine="tf_keras"),
            np.zeros((8, 8, 8, 1)),
            np.zeros(8),
            optimizer="sgd",
            verbose=0,
        )


def test_infinite_dataset_with_steps_per_epoch(small_digits):
    (x, y), _ = small_digits
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).repeat()
    model = compile_classifier(models.mlp(hidden=(8,), input_dim=64, engine="tf_keras"))
    flat = ds.map(lambda a, b: (tf.reshape(a, (-1, 64)), b))
    pruned = tgp.prune(model, flat, target_sparsity=0.5, epochs=2, steps_per_epoch=3, verbose=0)
    assert pruned.pruning_history["pruning_step"] == [3, 6]
    assert kernel_sparsity(pruned)["dense1"] == pytest.approx(0.5)


def my_loss(y_true, y_pred):  # a plain, unregistered function: not deserializable by name
    return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)


def test_sequential_model_with_an_unregistered_loss(small_digits):
    (x, y), _ = small_digits
    model = keras.Sequential(
        [
            keras.layers.Flatten(input_shape=(8, 8, 1), name="flat"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(10, name="out"),
        ]
    )
    model.compile(keras.optimizers.SGD(0.05), my_loss, metrics=["accuracy"])
    pruned = tgp.prune(model, x, y, target_sparsity=0.5, epochs=2, verbose=0)
    assert isinstance(pruned, keras.Sequential)
    assert [layer.name for layer in pruned.layers] == ["flat", "hidden", "out"]
    assert pruned.loss is my_loss  # reused as is: it cannot be rebuilt from its config
    assert isinstance(pruned.optimizer, keras.optimizers.SGD)
    assert pruned.optimizer is not model.optimizer
    assert kernel_sparsity(pruned) == pytest.approx({"hidden": 0.5, "out": 0.5})
