"""Shared, module-scoped fixtures of the Keras 3 distillation tests."""

from __future__ import annotations

import pytest
from kd3_helpers import data, mlp, train_teacher


@pytest.fixture(scope="module")
def pair_data():
    """(x, y) with partial labels."""
    return data()


@pytest.fixture(scope="module")
def trained_teacher(pair_data):
    """A trained Keras 3 teacher (6 -> 16 -> 4); tests must not change it."""
    x, y = pair_data
    return train_teacher(mlp(16, "teacher", seed=1), x, y)
