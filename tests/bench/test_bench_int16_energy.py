"""MAC precision labels and prices: int16x8 and INT4 exports are not counted as int8.

Before: ``flops.py`` labelled every TFLite op with an integer operand "int8", so an int16x8
export's MACs (16-bit activations x int8 weights) were priced at int8 energy.
"""

from __future__ import annotations

import numpy as np
import pytest

from tf_green import models
from tf_green.bench.analytic import ENERGY_CONSTANTS, analytic_energy, mac_picojoules
from tf_green.bench.flops import MacCount, tflite_macs, tflite_precision
from tf_green.quantization import to_tflite

MLP_MACS = 8 * 16 + 16 * 4


@pytest.fixture(scope="module")
def mlp_exports():
    model = models.mlp(
        hidden=(16,), input_dim=8, num_classes=4, name="mlp_int16", engine="tf_keras"
    )
    x = np.random.default_rng(0).random((16, 8), dtype=np.float32)
    return {
        "int16x8": to_tflite(model, quantization="int16x8", representative_data=x),
        "int4": to_tflite(model, quantization="int4"),
    }


def test_int16x8_export_is_counted_int16x8_not_int8(mlp_exports):
    count = tflite_macs(mlp_exports["int16x8"], (8,))
    assert count.macs_int16x8 == MLP_MACS and count.macs_int8 == 0
    assert count.by_precision() == {"fp32": 0, "fp16": 0, "int8": 0, "int16x8": MLP_MACS}


def test_int4_export_is_counted_int4(mlp_exports):
    count = tflite_macs(mlp_exports["int4"], (8,))
    assert count.macs_int4 == MLP_MACS and count.macs_int8 == 0 and count.macs == MLP_MACS


def test_int16x8_macs_cost_at_least_an_int16_multiply():
    int8, int16x8 = mac_picojoules("int8"), mac_picojoules("int16x8")
    int16_multiply = ENERGY_CONSTANTS["int16_mult"].picojoules
    assert int16x8 >= int16_multiply + ENERGY_CONSTANTS["int32_add"].picojoules
    assert int16x8 == mac_picojoules("int16") > 3 * int8
    assert mac_picojoules("int4") == int8  # INT4 weights are multiplied as int8
    assert int8 < int16x8 < mac_picojoules("fp16") < mac_picojoules("fp32")
    energy = analytic_energy({"int16x8": 1000}, 0).compute_j
    assert energy == pytest.approx(1000 * int16x8 * 1e-12)


def test_precision_labels_by_operand_types():
    assert tflite_precision("FLOAT32", "FLOAT32") == "fp32"
    assert tflite_precision("FLOAT32", "INT8") == "int8"  # dynamic range
    assert tflite_precision("INT8", "INT8") == "int8"
    assert tflite_precision("INT16", "INT8") == "int16x8"
    assert tflite_precision("INT16", "INT4") == "int16x8"
    assert tflite_precision("INT16", "INT16") == "int16"  # int16x8 BATCH_MATMUL
    assert tflite_precision("FLOAT32", "INT4") == "int4"
    assert tflite_precision("INT32", "INT32") == "int32"
    with pytest.raises(ValueError, match="unknown precisions"):
        MacCount.from_totals({"int3": 1}, 0, "per op")
