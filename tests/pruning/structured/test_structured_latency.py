"""The measured latency target: shrink(model, latency=...) and its probe."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

from tf_green.pruning.structured import latency as latency_module
from tf_green.pruning.structured import shrink, stepwise
from tf_green.pruning.structured.latency import LatencyProbe, LatencyReading
from tf_green.pruning.structured.report import layer_macs


def _net(width: int = 32) -> keras.Model:
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="a")(inputs)
    h = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="b")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(h))


class _FakeProbe:
    """Latency = 0.3 + 0.7 x MACs fraction: a MACs-proportional guess misses at first."""

    made: list = []

    def __init__(self, original, rounds=5, calls=None):
        self.before = sum(layer_macs(original).values())
        self.rounds = rounds
        _FakeProbe.made.append(self)

    def measure(self, model):
        fraction = 0.3 + 0.7 * sum(layer_macs(model).values()) / self.before
        return LatencyReading(fraction, 2.0 * fraction, 2.0, self.rounds)


def test_latency_target_iterates_until_measured_and_reports_each_step(monkeypatch):
    monkeypatch.setattr(stepwise, "LatencyProbe", _FakeProbe)
    model = _net(64)
    small, report = shrink(model, latency=0.5, latency_rounds=3)
    steps = report.attrs["steps"]
    assert len(steps) >= 2  # one step to the MACs-proportional guess was not enough
    assert steps[0]["latency"] > 0.5 >= steps[-1]["latency"]
    assert (
        report.attrs["latency_after"] == steps[-1]["latency"]
        and report.attrs["latency_target"] == 0.5
    )
    for row in steps:
        assert {"latency", "latency_ms", "latency_ms_original", "widths", "macs_kept"} <= set(row)
        assert all(w % 16 == 0 for w in row["widths"].values())  # hardware-aware widths
    assert small.get_layer("b").filters < 64
    assert _FakeProbe.made[-1].rounds == 3


def test_unreached_latency_target_warns_and_keeps_the_steps(monkeypatch):
    monkeypatch.setattr(stepwise, "LatencyProbe", _FakeProbe)
    with pytest.warns(RuntimeWarning, match="latency target 0.1 not reached"):
        small, report = shrink(_net(), latency=0.1)
    assert report.attrs["latency_after"] > 0.1
    assert small.get_layer("a").filters == 16 and small.get_layer("b").filters == 16  # narrowest


def test_real_probe_converts_and_times_interleaved(monkeypatch):
    monkeypatch.setattr(stepwise, "EXTRA_LATENCY_STEPS", 0)
    model = _net()
    before = [w.copy() for w in model.get_weights()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # timing on a shared machine varies
        small, report = shrink(model, latency=0.6, latency_rounds=2, latency_calls=5)
    (row,) = report.attrs["steps"]
    assert 0.0 < row["latency"] < 5.0 and row["latency_ms"] > 0 and row["latency_ms_original"] > 0
    assert row["macs_kept"] < 1.0
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_latency_argument_errors():
    model = _net()
    with pytest.raises(ValueError, match=r"`latency` is 1.5"):
        shrink(model, latency=1.5)
    with pytest.raises(TypeError, match="`latency` must be a number"):
        shrink(model, latency="fast")
    with pytest.raises(ValueError, match="not several"):
        shrink(model, macs=0.5, latency=0.5)
    with pytest.raises(ValueError, match="`latency_rounds` must be an integer"):
        shrink(model, latency=0.5, latency_rounds=0)
    a, b = keras.Input((4,)), keras.Input((4,))
    two = keras.Model([a, b], keras.layers.Dense(2)(keras.layers.Dense(8)(a + b)))
    with pytest.raises(ValueError, match="single-input"):
        LatencyProbe(two)
    free = keras.Sequential([keras.Input((None, 3)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="fixed input size"):
        latency_module.LatencyProbe(free)
