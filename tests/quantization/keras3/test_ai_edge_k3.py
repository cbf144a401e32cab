"""int16x8 and INT4 exports of a Keras 3 model (TensorFlow and JAX) via ai-edge-quantizer."""

from __future__ import annotations

import numpy as np

import tf_green as tg
from tf_green.quantization import TFLiteModel, precision_report


def test_int16x8_and_int4_exports_of_a_keras3_model(k3q_trained, k3q_data):
    (x, _), (xv, _) = k3q_data
    reference = np.asarray(k3q_trained.predict(xv[:32], verbose=0))
    scale = np.abs(reference).max()
    for mode, tol, weight_bits, activation_bits in (
        # 64 calibration samples: a few validation activations fall past the calibrated
        # range (JAX's graph clips its separate bias ADD); a broken export is off by > 30%
        ("int16x8", 0.06, 8, 16),
        ("int4", 0.15, 4, 32),
    ):
        content = tg.to_tflite(k3q_trained, quantization=mode, representative_data=x[:64])
        error = np.abs(TFLiteModel(content).predict(xv[:32]) - reference).max() / scale
        assert error < tol, (mode, error)
        dense = precision_report(content).query("op == 'FULLY_CONNECTED'")
        assert set(dense.weight_bits) == {weight_bits}, mode
        assert set(dense.activation_bits) == {activation_bits}, mode
