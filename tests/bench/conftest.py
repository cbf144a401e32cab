"""Fixtures of the bench tests: validation digits and .tflite artifacts of the trained CNN."""

from __future__ import annotations

import pytest
from bench_helpers import tflite_bytes


@pytest.fixture(scope="session")
def val_digits(digits_data):
    """200 validation digits (images), enough for the metric and short timing runs."""
    _, (x_val, y_val) = digits_data
    return x_val[:200], y_val[:200]


@pytest.fixture(scope="session")
def cnn_tflite(trained_cnn):
    """float32 .tflite bytes of the session's trained CNN."""
    return tflite_bytes(trained_cnn, "float32")


@pytest.fixture(scope="session")
def cnn_tflite_int8(trained_cnn, digits_data):
    """Full-integer .tflite bytes of the session's trained CNN (float input and output)."""
    (x, _), _ = digits_data
    return tflite_bytes(trained_cnn, "int8", x)
