"""Fixtures of the distillation tests."""

from __future__ import annotations

import pytest
from distillation_helpers import copy_model


@pytest.fixture
def teacher(trained_cnn):
    """A copy of the session's trained cnn(width=8): Distiller freezes its teacher in place,
    and the shared model must not change."""
    return copy_model(trained_cnn)
