"""Fixtures of the structured pruning tests (Keras 3, TensorFlow backend)."""

from __future__ import annotations

import keras
import pytest


@pytest.fixture(autouse=True)
def _seed_structured():
    keras.utils.set_random_seed(0)
    yield
