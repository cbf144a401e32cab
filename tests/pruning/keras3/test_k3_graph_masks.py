"""On-device masks (graph_masks) equal the numpy reference masks, entry for entry.

Runs on the current Keras 3 backend (TensorFlow here; JAX in the folder's JAX run). No training.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from k3_helpers import k3_cnn

from tf_green.pruning import keras3
from tf_green.pruning.keras3 import engine, graph_masks, masks
from tf_green.pruning.keras3.engine import attach, update_masks
from tf_green.pruning.keras3.selection import select_weights
from tf_green.pruning.schedule_math import ConstantSparsity

SPARSITIES = (0.0, 0.1, 0.5, 0.55, 0.8, 0.97)


def _tensors() -> dict[str, np.ndarray]:
    """128 entries each: one compiled shape (the function compiles per flat size)."""
    rng = np.random.default_rng(0)
    tied = np.round(rng.normal(size=(16, 8)), 1).astype("float32")  # many ties everywhere
    special = rng.normal(size=(16, 8)).astype("float32")
    special[0, :3] = np.nan
    special[3, 4] = np.inf
    special[5, 5] = -0.0
    special[6, :] = 0.0
    special[9, 1] = -np.inf
    return {
        "vector": rng.normal(size=(128,)).astype("float32"),
        "dense": rng.normal(size=(16, 8)).astype("float32"),
        "conv": rng.normal(scale=1e-3, size=(2, 2, 8, 4)).astype("float32"),
        "tied": tied,
        "special": special,
        "zeros": np.zeros((16, 8), "float32"),
        "all_nan": np.full((4, 32), np.nan, "float32"),
        "subnormal": (rng.normal(size=(32, 4)) * 1e-42).astype("float32"),
    }


def _device(mask) -> np.ndarray:
    return keras.ops.convert_to_numpy(mask)


@pytest.mark.parametrize("name", sorted(_tensors()))
def test_magnitude_mask_equals_the_numpy_reference(name):
    w = _tensors()[name]
    for sparsity in SPARSITIES:
        keep = masks.kept_count(w.size, sparsity)
        got = _device(graph_masks.magnitude_mask(keras.ops.convert_to_tensor(w), keep))
        expected = masks.magnitude_mask(w, sparsity)
        assert got.dtype == np.float32 and got.shape == w.shape
        np.testing.assert_array_equal(got, expected, err_msg=f"{name} at {sparsity}")
        assert int(got.sum()) == keep


def test_ties_keep_the_first_in_memory_order_and_nan_is_pruned_first():
    w = np.array([[0.5, 1.0, 0.5], [0.5, 2.0, 0.5]], "float32")
    assert _device(graph_masks.magnitude_mask(w, 3)).tolist() == [[1, 1, 0], [0, 1, 0]]
    w = np.array([np.nan, 3.0, -2.0, 0.0, np.nan, 1.0], "float32")
    assert _device(graph_masks.magnitude_mask(w, 4)).tolist() == [0, 1, 1, 1, 0, 1]
    assert _device(graph_masks.magnitude_mask(w, 5)).tolist() == [1, 1, 1, 1, 0, 1]


@pytest.mark.parametrize("m_by_n", [(2, 4), (1, 4), (3, 4), (4, 8)])
@pytest.mark.parametrize("name", ["dense", "conv", "tied", "special", "zeros"])
def test_mn_mask_equals_the_numpy_reference(name, m_by_n):
    w = _tensors()[name]
    got = _device(graph_masks.mn_mask(keras.ops.convert_to_tensor(w), m_by_n))
    np.testing.assert_array_equal(got, masks.mn_mask(w, m_by_n))


def _numpy_path_taken(*args, **kwargs):
    raise AssertionError("the numpy path ran for a weight that should go to the device")


def test_update_masks_uses_the_device_path_with_per_layer_sparsity(monkeypatch):
    monkeypatch.setattr(graph_masks, "MIN_SIZE", 128)  # these kernels go to the device
    monkeypatch.setattr(engine, "magnitude_mask", _numpy_path_taken)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, name="a"),  # kernels of 128 entries each
            keras.layers.Dense(8, name="b"),
        ]
    )
    before = {layer.name: keras.ops.convert_to_numpy(layer.kernel) for layer in model.layers}
    schedules = {"a": ConstantSparsity(0.8, begin_step=1), "b": ConstantSparsity(0.3, 1)}
    state = attach(model, select_weights(model, ["a", "b"]), schedules)
    assert all(graph_masks.on_device(e.variable.dtype, 128) for e in state.entries)
    assert update_masks(model, state, step=1)
    for entry in state.entries:
        expected = masks.magnitude_mask(before[entry.layer], schedules[entry.layer].sparsity(1))
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(entry.mask), expected)
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(entry.variable), before[entry.layer] * expected
        )


def test_only_large_float32_weights_go_to_the_device():
    assert graph_masks.on_device("float32", graph_masks.MIN_SIZE)
    assert not graph_masks.on_device("float32", graph_masks.MIN_SIZE - 1)
    assert not graph_masks.on_device("float64", graph_masks.MIN_SIZE)
    assert not graph_masks.on_device("float16", graph_masks.MIN_SIZE)


def _prune_with_min_size(monkeypatch, model, data, min_size):
    (x, y), _ = data
    monkeypatch.setattr(graph_masks, "MIN_SIZE", min_size)
    keras.utils.set_random_seed(0)
    layers = {"conv2": 0.9, "logits": 0.5}
    return keras3.prune(model, x[:128], y[:128], layers=layers, epochs=2, verbose=0)


def test_prune_through_the_device_path_equals_the_numpy_path(monkeypatch, k3_digits):
    """Same seed, same masks: the trained weights are identical, pruned entries exact zeros."""
    model = k3_cnn()
    on_numpy = _prune_with_min_size(monkeypatch, model, k3_digits, 1 << 40)
    on_device = _prune_with_min_size(monkeypatch, model, k3_digits, 1)
    for a, b in zip(on_numpy.get_weights(), on_device.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for name, target in (("conv2", 0.9), ("logits", 0.5)):
        kernel = keras.ops.convert_to_numpy(on_device.get_layer(name).kernel)
        assert np.mean(kernel == 0.0) == pytest.approx(target, abs=0.002)


def test_wrap_builds_the_optimizer_before_fit():
    """Built lazily in the first train step, its variables made TensorFlow trace it twice."""
    wrapped = keras3.wrap(k3_cnn())
    assert wrapped.optimizer.built
    # Adam's two moments per trainable variable exist already.
    assert len(wrapped.optimizer.variables) >= 2 * len(wrapped.trainable_variables)
