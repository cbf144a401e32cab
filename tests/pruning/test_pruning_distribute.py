import pytest
from pruning_helpers import compile_classifier, expected_sparsity, kernel_sparsity

import tf_green.pruning as tgp
from tf_green import models
from tf_green._keras import tf


@pytest.fixture(scope="module")
def strategy(mirrored_strategy):
    return mirrored_strategy


@pytest.mark.slow
def test_prune_with_a_mirrored_strategy_argument(strategy, small_digits, weights_digest):
    (x, y), _ = small_digits
    model = compile_classifier(models.cnn(width=4, engine="tf_keras"))
    before = weights_digest(model)
    pruned = tgp.prune(model, x, y, target_sparsity=0.6, epochs=2, strategy=strategy, verbose=0)
    assert weights_digest(model) == before
    assert pruned.distribute_strategy is strategy
    assert isinstance(pruned.get_layer("conv2").kernel, tf.distribute.DistributedValues)
    assert pruned.pruning_history["pruning_step"] == [8, 16]
    assert kernel_sparsity(pruned) == pytest.approx(
        {"conv1": expected_sparsity(36, 0.6), "conv2": 0.6, "logits": 0.6}, abs=1 / 288
    )


def test_prune_inside_a_mirrored_scope(strategy, small_digits):
    (x, y), _ = small_digits
    model = compile_classifier(models.mlp(hidden=(8,), engine="tf_keras"))
    with strategy.scope():
        pruned = tgp.prune(model, x[:128].reshape(-1, 64), y[:128], epochs=2, verbose=0)
    assert pruned.distribute_strategy is strategy
    assert kernel_sparsity(pruned) == pytest.approx(
        {"dense1": expected_sparsity(512, 0.8), "logits": 0.8}
    )
    assert tgp.wrap(model, strategy=strategy).distribute_strategy is strategy


def test_wrap_and_fit_inside_a_mirrored_scope(strategy, small_digits):
    (x, y), _ = small_digits
    model = compile_classifier(models.cnn(width=4, engine="tf_keras"))
    with strategy.scope():
        wrapped = tgp.wrap(
            model, tgp.constant_schedule(0.5, steps_per_epoch=4), layers=["conv2", "logits"]
        )
    assert wrapped.distribute_strategy is strategy
    wrapper = wrapped.get_layer("prune_low_magnitude_conv2")
    assert isinstance(wrapper.pruning_vars[0][1], tf.distribute.DistributedValues)  # the mask
    wrapped.fit(x[:128], y[:128], epochs=1, callbacks=tgp.callbacks(), verbose=0)
    stripped = tgp.strip(wrapped)
    assert kernel_sparsity(stripped) == pytest.approx({"conv1": 0.0, "conv2": 0.5, "logits": 0.5})
