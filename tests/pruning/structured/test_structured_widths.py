"""Hardware-aware kept widths (round_to="auto") and the MACs allocation that picks the cuts."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tf_green.pruning.structured import analyse, shrink
from tf_green.pruning.structured.report import layer_macs
from tf_green.pruning.structured.targets import MacsCounter, kept_counts, ratio_for_macs
from tf_green.pruning.structured.widths import (
    allocate,
    by_name,
    check_round_to,
    rounding_unit,
    width_ladder,
)

CONVS = ("conv0", "conv1", "conv3", "conv4", "conv6")


def _reference_cnn() -> keras.Model:
    """benchmarks/export.py's compute-bound CNN (32-32-pool-64-64-pool-128, GAP, Dense)."""
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.UpSampling2D(4)(inputs)
    for i, width in enumerate((32, 32, None, 64, 64, None, 128)):
        if width is None:
            h = keras.layers.MaxPooling2D()(h)
        else:
            h = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv{i}")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inputs, keras.layers.Dense(10, name="logits")(h))


def _small_cnn() -> keras.Model:
    """The same shape of net at 8x8 and widths 32/64 (cheap to fine-tune)."""
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="a")(inputs)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="b")(h)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="c")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(h))


def test_auto_units_ladders_and_round_to_checks():
    assert [rounding_unit(n, "auto") for n in (4, 15, 16, 31, 32, 960)] == [1, 1, 8, 8, 16, 16]
    assert rounding_unit(64, 8) == 8 and rounding_unit(64, 1) == 1
    assert width_ladder(64, 16) == [16, 32, 48, 64]
    assert width_ladder(40, 16) == [16, 32, 40]  # staying whole is always allowed
    assert width_ladder(5, 1) == [1, 2, 3, 4, 5]
    assert check_round_to("auto") == "auto" and check_round_to(np.int64(4)) == 4
    for bad in (0, -8, 2.5, True, "fast"):
        with pytest.raises(ValueError, match="`round_to` must be an integer >= 1 or 'auto'"):
            check_round_to(bad)


def test_reference_cnn_half_macs_gets_multiples_of_16_by_default():
    """The bar's model: uniform pruning keeps 22/22/45/45/90 (24-channel layers run nearly
    as slowly as 32); the default keeps 16/16/48/48/96 and stays within the target."""
    model = _reference_cnn()
    small, report = shrink(model, macs=0.5)
    widths = [small.get_layer(name).filters for name in CONVS]
    assert widths == [16, 16, 48, 48, 96]
    assert report.attrs["widths"] == dict(zip(CONVS, widths, strict=True))
    assert 0.4 < report.attrs["macs_after"] / report.attrs["macs_before"] <= 0.5
    again, _ = shrink(model, macs=0.5)  # deterministic
    assert [again.get_layer(name).filters for name in CONVS] == widths
    exact, _ = shrink(model, macs=0.5, round_to=1)  # the old uniform ratio, exactly
    assert [exact.get_layer(name).filters for name in CONVS][:2] == [22, 22]


def test_round_to_one_is_the_uniform_ratio():
    model = _reference_cnn()
    graph = analyse(model)
    target = 0.5 * MacsCounter(graph).total({})
    uniform = {
        root: len(index)
        for root, index in kept_counts(graph, ratio_for_macs(graph, target)).items()
    }
    assert allocate(graph, target, 1) == uniform


def test_step_downs_cut_where_a_step_saves_most_macs():
    """At 40% the snapped widths (16/16/48/48/80: 20 -> 16, 40 -> 48 on a tie, 80) do 41% of
    the MACs. Of the single steps that reach the target (conv3 or conv4 48->32, conv6
    80->64), the one landing closest below it wins: conv6, not a 16x16 layer."""
    model = _reference_cnn()
    graph = analyse(model)
    counter = MacsCounter(graph)
    target = 0.4 * counter.total({})
    counts = allocate(graph, target)
    assert counter.total(counts) <= target
    widths = by_name(graph, counts)
    assert all(w % 16 == 0 for w in widths.values())
    assert widths == {"conv0": 16, "conv1": 16, "conv3": 48, "conv4": 48, "conv6": 64}
    assert counter.total(counts) > 0.39 * counter.total({})  # not cut far below the target
    assert counter.total(counts) == pytest.approx(
        sum(layer_macs(shrink(model, macs=0.4)[0]).values())
    )


def test_unreachable_with_auto_names_round_to():
    with pytest.raises(ValueError, match=r"round_to='auto'.*smaller `round_to`"):
        shrink(_reference_cnn(), macs=0.05)
    small, _ = shrink(_reference_cnn(), macs=0.05, round_to=1)  # reachable without rounding
    assert small.get_layer("conv1").filters < 16


def test_ratio_with_auto_rounds_up_per_layer_and_default_ratio_is_exact():
    model = _small_cnn()
    small, _ = shrink(model, ratio=0.3, round_to="auto")
    assert [small.get_layer(n).filters for n in "abc"] == [32, 32, 48]  # 23->32, 45->48
    exact, _ = shrink(model, ratio=0.3)
    assert [exact.get_layer(n).filters for n in "abc"] == [23, 23, 45]


def test_steps_reach_the_one_shot_widths_and_never_cut_below_them():
    model = _small_cnn()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile("adam", loss, run_eagerly=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 16)
    one_shot, _ = shrink(model, macs=0.5)
    final = {n: one_shot.get_layer(n).filters for n in "abc"}
    small, report = shrink(model, None, x, y, macs=0.5, steps=2, epochs=1)
    steps = report.attrs["steps"]
    assert {n: small.get_layer(n).filters for n in "abc"} == final
    assert all(final[name] == width for name, width in steps[-1]["widths"].items())
    for name, width in steps[0]["widths"].items():
        assert width >= final[name] and width % 16 == 0
    assert steps[0]["macs_kept"] <= 0.5**0.5 + 1e-9 and steps[-1]["macs_kept"] <= 0.5
    assert 0 < steps[-1]["ratio"] < 1  # the fraction of channels removed
