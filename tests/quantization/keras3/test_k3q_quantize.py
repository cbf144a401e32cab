"""tg.quantize on Keras 3 models (Keras' own weight quantization) and QAT's clear refusal."""

from __future__ import annotations

import numpy as np
import pytest

import tf_green as tg


def test_quantize_reports_each_layer_and_keeps_the_float_model(k3q_trained, k3q_data):
    _, (xv, yv) = k3q_data
    before = [w.copy() for w in k3q_trained.get_weights()]
    quantized, report = tg.quantize(k3q_trained, xv, mode="int8")
    rows = report.set_index("layer")
    assert rows.loc[["hidden", "logits"], "quantized"].all()
    assert set(rows.loc[["hidden", "logits"], "mode"]) == {"int8"}
    # Keras 3.15 skips Conv2D with a warning: captured into the report, not lost.
    assert not rows.loc["conv", "quantized"]
    assert "quantize" in rows.loc["conv", "reason"]
    assert quantized.get_layer("hidden").quantization_mode == "int8"
    assert k3q_trained.get_layer("hidden").quantization_mode is None  # the caller's model
    for old, new in zip(before, k3q_trained.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    # The quantized model still predicts and evaluates like the float one.
    assert report.attrs["top1_agreement"] >= 0.95
    assert report.attrs["max_abs_diff"] < 0.5
    float_acc = k3q_trained.evaluate(xv, yv, verbose=0)[1]
    assert quantized.evaluate(xv, yv, verbose=0)[1] >= float_acc - 0.03


def test_int4_and_bad_modes(k3q_trained):
    quantized, report = tg.quantize(k3q_trained, mode="int4")
    assert set(report.query("quantized").layer) == {"hidden", "logits"}
    # Keras' int kernels do not convert: said up front, with the converter's modes instead.
    with pytest.raises(ValueError, match=r"quantized by Keras \(hidden, logits.*'dynamic'"):
        tg.to_tflite(quantized)
    with pytest.raises(ValueError, match="`mode` must be one of"):
        tg.quantize(k3q_trained, mode="float8")


def test_qat_is_refused_on_keras3_with_the_alternatives(k3q_trained, k3q_data):
    (x, y), _ = k3q_data
    with pytest.raises(TypeError, match=r"tf_keras feature.*quantization='int8'"):
        tg.quantization.qat(k3q_trained)
    with pytest.raises(TypeError, match=r"fine-tuning arguments \['y', 'epochs'\]"):
        tg.quantize(k3q_trained, x, y, epochs=1)
