"""Fixtures of the pruning tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_digits(digits_data):
    """256 training and 128 validation digits: 8 steps per epoch at batch size 32."""
    (x, y), (xv, yv) = digits_data
    return (x[:256], y[:256]), (xv[:128], yv[:128])
