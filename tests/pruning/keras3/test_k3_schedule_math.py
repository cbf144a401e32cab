"""schedule_math matches TFMOT's PolynomialDecay and ConstantSparsity at every step."""

from __future__ import annotations

import numpy as np
import pytest
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_schedule as tfmot

from tf_green.pruning import schedule_math as sm
from tf_green.pruning.keras3 import schedules as k3s

CASES = [
    (
        "PolynomialDecay",
        dict(
            initial_sparsity=0.0,
            final_sparsity=0.8,
            begin_step=0,
            end_step=80,
            power=3,
            frequency=8,
        ),
    ),
    (
        "PolynomialDecay",
        dict(
            initial_sparsity=0.1,
            final_sparsity=0.95,
            begin_step=7,
            end_step=103,
            power=2,
            frequency=3,
        ),
    ),
    (
        "PolynomialDecay",
        dict(
            initial_sparsity=0.5, final_sparsity=0.5, begin_step=2, end_step=9, power=3, frequency=1
        ),
    ),
    ("ConstantSparsity", dict(target_sparsity=0.6, begin_step=0, end_step=-1, frequency=16)),
    ("ConstantSparsity", dict(target_sparsity=0.3, begin_step=5, end_step=40, frequency=7)),
]


@pytest.mark.parametrize(("name", "config"), CASES)
def test_every_step_matches_tfmot(name, config):
    ours = getattr(sm, name)(**config)
    theirs = getattr(tfmot, name)(**config)
    steps = np.arange(0, 140)
    should, sparsity = theirs(steps)
    should = np.broadcast_to(np.asarray(should), steps.shape)
    sparsity = np.broadcast_to(np.asarray(sparsity, np.float32), steps.shape)
    for step, want_should, want_sparsity in zip(steps, should, sparsity, strict=True):
        got_should, got_sparsity = ours(int(step))
        assert got_should == bool(want_should), (name, step)
        assert got_sparsity == pytest.approx(float(want_sparsity), abs=1e-7), (name, step)


def test_tfmot_schedule_converts_by_config():
    theirs = tfmot.PolynomialDecay(0.0, 0.7, begin_step=3, end_step=30, frequency=3)
    ours = sm.as_schedule(theirs)
    assert isinstance(ours, sm.PolynomialDecay)
    assert ours.get_config() == theirs.get_config()


def test_prune_schedules_match_the_tf_keras_engine():
    from tf_green.pruning import schedules as tfk

    for epochs, steps in [(2, 8), (3, 40), (5, 1), (4, 333)]:
        ours = k3s.polynomial_schedule(0.8, epochs=epochs, steps_per_epoch=steps)
        theirs = tfk.polynomial_schedule(0.8, epochs=epochs, steps_per_epoch=steps)
        assert ours.get_config() == theirs.get_config()
        total = epochs * steps
        assert k3s.reached_sparsity(ours, total) == pytest.approx(
            tfk.reached_sparsity(theirs, total), abs=1e-7
        )
    ours = k3s.constant_schedule(0.5, steps_per_epoch=250)
    assert ours.get_config() == tfk.constant_schedule(0.5, steps_per_epoch=250).get_config()


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5])
def test_sparsity_outside_range_is_refused(value):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        sm.PolynomialDecay(0.0, value, begin_step=0, end_step=10)
    with pytest.raises(ValueError, match="target_sparsity"):
        sm.ConstantSparsity(value, begin_step=0)


def test_bad_steps_are_refused():
    with pytest.raises(ValueError, match="end_step"):
        sm.PolynomialDecay(0.0, 0.5, begin_step=10, end_step=5)
    with pytest.raises(ValueError, match="frequency"):
        sm.ConstantSparsity(0.5, begin_step=0, frequency=0)
    with pytest.raises(TypeError, match="schedule"):
        sm.as_schedule(object())
