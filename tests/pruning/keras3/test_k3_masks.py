"""Mask maths: exact counts (TFMOT's rounding), largest magnitudes kept, m:n groups."""

from __future__ import annotations

import numpy as np
import pytest

from tf_green.pruning.keras3.masks import kept_count, magnitude_mask, mn_mask, mn_satisfied


@pytest.mark.parametrize(("size", "sparsity"), [(72, 0.8), (10, 0.55), (7, 0.5), (3, 0.99)])
def test_kept_count_rounds_like_tfmot(size, sparsity):
    expected = max(int(np.round(np.float32(size) * (np.float32(1) - np.float32(sparsity)))), 1)
    assert kept_count(size, sparsity) == expected


def test_magnitude_mask_keeps_the_largest():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 5)).astype("float32")
    mask = magnitude_mask(w, 0.8)
    assert mask.sum() == kept_count(30, 0.8) == 6
    assert np.abs(w[mask == 1]).min() >= np.abs(w[mask == 0]).max()


def test_mn_mask_has_m_zeros_in_every_group_of_the_input_axis():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(3, 3, 8, 4)).astype("float32")
    mask = mn_mask(w, (2, 4))
    assert mn_satisfied(w * mask, (2, 4))
    groups = np.moveaxis(mask, -2, -1).reshape(-1, 4)
    assert np.all(groups.sum(axis=1) == 2)
    kept = np.moveaxis(np.abs(w) * mask, -2, -1).reshape(-1, 4)
    dropped = np.moveaxis(np.abs(w) * (1 - mask), -2, -1).reshape(-1, 4)
    assert np.all(kept.max(axis=1) >= dropped.max(axis=1))


def test_mn_mask_refuses_a_shape_that_cannot_hold_it():
    with pytest.raises(ValueError, match="multiple of 4"):
        mn_mask(np.ones((6, 3)), (2, 4))
    with pytest.raises(ValueError, match="rank 3"):
        mn_mask(np.ones((3, 4, 2)), (2, 4))


def test_magnitude_mask_breaks_ties_by_memory_order_and_keeps_exactly_k():
    w = np.array([[0.5, 1.0, 0.5], [0.5, 2.0, 0.5]], dtype="float32")
    mask = magnitude_mask(w, 0.5)  # keeps 3: the 2.0, the 1.0, then the first tied 0.5
    assert mask.tolist() == [[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    zeros = np.zeros((4, 6), dtype="float32")
    assert magnitude_mask(zeros, 0.75).sum() == kept_count(24, 0.75) == 6


def test_magnitude_mask_prunes_nan_weights_first():
    w = np.array([np.nan, 3.0, -2.0, 0.1, np.nan, 1.0], dtype="float32")
    assert magnitude_mask(w, 0.5).tolist() == [0.0, 1.0, 1.0, 0.0, 0.0, 1.0]
