import numpy as np
import pytest

from tf_green._keras import keras, tf
from tf_green.pruning import schedules
from tf_green.pruning.schedules import ConstantSparsity, PolynomialDecay
from tf_green.pruning.wrapper import PruneLowMagnitude, deserialize_schedule


@pytest.mark.parametrize(
    ("epochs", "steps", "begin", "end", "frequency"),
    [
        (2, 43, 3, 43, 4),
        (3, 40, 0, 80, 8),
        (12, 43, 3, 473, 10),
        (2, 5, 0, 5, 1),
        (11, 1000, 0, 10000, 100),
    ],
)
def test_polynomial_steps_are_derived_from_epochs_and_data(epochs, steps, begin, end, frequency):
    s = schedules.polynomial_schedule(0.8, epochs=epochs, steps_per_epoch=steps)
    assert (s.begin_step, s.end_step, s.frequency, s.power) == (begin, end, frequency, 3)
    # The last mask update is exactly at end_step, the end of epoch `epochs - 1` ...
    assert (s.end_step - s.begin_step) % s.frequency == 0
    assert s.end_step == (epochs - 1) * steps
    # ... where the target is reached, and not one update before.
    assert schedules.reached_sparsity(s, s.end_step) == pytest.approx(0.8)
    assert schedules.reached_sparsity(s, s.end_step - 1) < 0.8
    assert schedules.reached_sparsity(s, epochs * steps) == pytest.approx(0.8)


def test_polynomial_sparsity_follows_the_cubic_formula():
    s = schedules.polynomial_schedule(0.9, epochs=3, steps_per_epoch=50, initial_sparsity=0.2)
    steps = np.array([s.begin_step + 10, 50, 77, 100])
    should, sparsity = s(tf.constant(steps, tf.int64))
    p = np.clip((steps - s.begin_step) / (s.end_step - s.begin_step), 0, 1)
    np.testing.assert_allclose(sparsity.numpy(), 0.9 + (0.2 - 0.9) * (1 - p) ** 3, rtol=1e-6)
    assert should.numpy().tolist() == [True, True, False, True]
    assert schedules.final_sparsity(s) == pytest.approx(0.9)


def test_polynomial_needs_two_epochs():
    with pytest.raises(ValueError, match=r"`epochs`=1 is too few.*epochs >= 2.*'constant'"):
        schedules.polynomial_schedule(0.8, epochs=1, steps_per_epoch=10)
    with pytest.raises(ValueError, match=r"`initial_sparsity` \(0.9\) must not exceed"):
        schedules.polynomial_schedule(0.5, epochs=2, steps_per_epoch=10, initial_sparsity=0.9)
    with pytest.raises(ValueError, match=r"`steps_per_epoch` must be an integer >= 1"):
        schedules.polynomial_schedule(0.5, epochs=2, steps_per_epoch=0)


def test_constant_schedule_prunes_within_the_first_epoch():
    s = schedules.constant_schedule(0.6, steps_per_epoch=250)
    assert (s.target_sparsity, s.begin_step, s.end_step, s.frequency) == (0.6, 0, -1, 100)
    assert schedules.reached_sparsity(s, 99) == 0.0
    assert schedules.reached_sparsity(s, 100) == pytest.approx(0.6)
    assert schedules.constant_schedule(0.6, steps_per_epoch=7).frequency == 7


@pytest.mark.parametrize("value", [1.0, -0.1, 1.5, float("nan")])
def test_sparsity_outside_unit_interval_is_refused(value):
    with pytest.raises(ValueError, match=r"`target_sparsity` must be in \[0, 1\)"):
        schedules.check_sparsity(value, "target_sparsity")


@pytest.mark.parametrize("value", ["0.5", True, None])
def test_sparsity_of_wrong_type_is_refused(value):
    with pytest.raises(TypeError, match=r"`initial_sparsity` must be a number"):
        schedules.check_sparsity(value, "initial_sparsity")


@pytest.mark.parametrize(
    ("spec", "parsed"), [("2:4", (2, 4)), (" 1 : 2 ", (1, 2)), ((3, 8), (3, 8)), (None, None)]
)
def test_structure_is_parsed(spec, parsed):
    assert schedules.parse_structure(spec) == parsed


@pytest.mark.parametrize("spec", ["4:4", "5:4", "0:4", (2, 2)])
def test_structure_needs_m_smaller_than_n(spec):
    with pytest.raises(ValueError, match=r"`structure`=.*needs 1 <= m < n"):
        schedules.parse_structure(spec)


@pytest.mark.parametrize("spec", ["2-4", "2:4:8", "a:b", ""])
def test_malformed_structure_is_refused(spec):
    with pytest.raises(ValueError, match=r"`structure` must look like 'm:n'"):
        schedules.parse_structure(spec)


def test_structure_of_wrong_type_is_refused():
    with pytest.raises(TypeError, match=r"`structure` must be an 'm:n' string"):
        schedules.parse_structure(0.5)
    with pytest.raises(TypeError, match=r"pair of ints"):
        schedules.parse_structure((2.0, 4))


def test_make_schedule_resolves_names_and_instances():
    kwargs = {"target_sparsity": 0.7, "initial_sparsity": 0.1, "epochs": 3, "steps_per_epoch": 9}
    poly = schedules.make_schedule("polynomial", **kwargs)
    assert isinstance(poly, PolynomialDecay)
    assert (poly.initial_sparsity, poly.final_sparsity, poly.end_step) == (0.1, 0.7, 18)
    constant = schedules.make_schedule("constant", **kwargs)
    assert isinstance(constant, ConstantSparsity) and constant.target_sparsity == 0.7
    mine = ConstantSparsity(0.3, begin_step=0)
    assert schedules.make_schedule(mine, **kwargs) is mine
    with pytest.raises(ValueError, match=r"`schedule` must be 'polynomial', 'constant'.*'cubic'"):
        schedules.make_schedule("cubic", **kwargs)
    with pytest.raises(TypeError, match=r"`schedule` must be .*PruningSchedule.*float"):
        schedules.make_schedule(0.5, **kwargs)


def test_with_target_changes_only_the_target():
    poly = PolynomialDecay(0.5, 0.8, begin_step=3, end_step=30, frequency=3)
    copy = schedules.with_target(poly, 0.9, "dense")
    assert copy.get_config()["config"] == {**poly.get_config()["config"], "final_sparsity": 0.9}
    lower = schedules.with_target(poly, 0.2, "dense")
    assert (lower.initial_sparsity, lower.final_sparsity) == (0.2, 0.2)
    constant = schedules.with_target(ConstantSparsity(0.5, 0), 0.6, "dense")
    assert constant.target_sparsity == 0.6
    with pytest.raises(ValueError, match=r"`layers\['dense'\]` must be in \[0, 1\)"):
        schedules.with_target(poly, 1.0, "dense")
    with pytest.raises(ValueError, match=r"layer 'conv'.*StepSchedule.*cannot be changed"):
        schedules.with_target(StepSchedule(), 0.5, "conv")


def test_too_few_epochs_for_a_schedule_is_an_error():
    late = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=100, frequency=10)
    with pytest.raises(
        ValueError,
        match=r"`epochs`=2 is too few.*20 steps.*layer 'conv2'.*end_step is 100.*"
        r"reaches sparsity 0\.\d+ of its target 0\.800.*step <= 20",
    ):
        schedules.check_reaches_target(late, epochs=2, steps_per_epoch=10, layer="conv2")
    schedules.check_reaches_target(late, epochs=10, steps_per_epoch=10)


@keras.utils.register_keras_serializable(package="tests")
class StepSchedule(schedules.PruningSchedule):
    """A custom schedule written for scalar steps only: 0.25 from step 3, 0.5 from step 6."""

    def __call__(self, step):
        step = int(step)
        return tf.constant(step in (3, 6)), tf.constant(0.5 if step >= 6 else 0.25)

    def get_config(self):
        return {"class_name": "StepSchedule", "config": {}}


def test_custom_schedules_are_simulated_step_by_step():
    assert schedules.reached_sparsity(StepSchedule(), 2) == 0.0
    assert schedules.reached_sparsity(StepSchedule(), 5) == 0.25
    assert schedules.reached_sparsity(StepSchedule(), 9) == 0.5
    with pytest.raises(ValueError, match=r"too few.*reaches sparsity 0.250 of its target 0.500"):
        schedules.check_reaches_target(StepSchedule(), epochs=1, steps_per_epoch=5)


def test_schedules_deserialize_by_name_or_registration():
    poly = PolynomialDecay(0.1, 0.7, begin_step=2, end_step=12, frequency=2)
    assert deserialize_schedule(poly.get_config()).get_config() == poly.get_config()
    assert isinstance(deserialize_schedule(StepSchedule().get_config()), StepSchedule)
    with pytest.raises(ValueError, match=r"Unknown pruning schedule class 'Nope'.*register"):
        deserialize_schedule({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match=r"`pruning_schedule` config must be a dict"):
        deserialize_schedule("PolynomialDecay")


def test_wrapper_config_keeps_m_by_n_and_schedule():
    layer = PruneLowMagnitude(
        keras.layers.Dense(4), pruning_schedule=StepSchedule(), sparsity_m_by_n=(1, 2)
    )
    config = layer.get_config()
    assert config["sparsity_m_by_n"] == (1, 2)
    clone = PruneLowMagnitude.from_config(config)
    assert clone.sparsity_m_by_n == (1, 2)
    assert isinstance(clone.pruning_schedule, StepSchedule)
    assert clone.get_config() == config
