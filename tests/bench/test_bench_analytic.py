import numpy as np
import pytest

from tf_green import models
from tf_green.bench import profile
from tf_green.bench.analytic import (
    ENERGY_CONSTANTS,
    analytic_energy,
    constants_markdown,
    mac_picojoules,
)
from tf_green.bench.flops import keras_macs
from tf_green.bench.size import keras_size


def _two_layer_mlp():
    return models.mlp(hidden=(16,), input_dim=8, num_classes=4, name="mlp2", engine="tf_keras")


def test_constant_table_is_the_cited_one():
    pj = {key: c.picojoules for key, c in ENERGY_CONSTANTS.items()}
    assert pj == {
        "fp32_mult": 3.7,
        "fp32_add": 0.9,
        "fp16_mult": 1.1,
        "fp16_add": 0.4,
        "int8_mult": 0.2,
        "int8_add": 0.03,
        "int32_mult": 3.1,
        "int32_add": 0.1,
        "int16_mult": 0.8,  # derived from Horowitz's 8/32-bit figures (bench/analytic.py)
        "dram_read_32bit": 640.0,
    }
    assert "Horowitz" in ENERGY_CONSTANTS["fp32_mult"].source
    assert "ISSCC 2014" in ENERGY_CONSTANTS["int8_add"].source
    assert "Han et al." in ENERGY_CONSTANTS["dram_read_32bit"].source
    table = constants_markdown()
    assert "| fp32 multiply | 3.7 |" in table and "| DRAM read, 32-bit word | 640 |" in table


def test_two_layer_mlp_reproduces_hand_computed_energy_exactly():
    model = _two_layer_mlp()
    # By hand: dense1 8x16 and dense2 16x4 multiply-accumulates; weights + biases in float32.
    macs = 8 * 16 + 16 * 4
    weight_bytes = (8 * 16 + 16 + 16 * 4 + 4) * 4
    hand_pj = macs * (3.7 + 0.9) + (weight_bytes / 4) * 640.0
    assert keras_macs(model, (8,)).by_precision() == {"fp32": macs, "fp16": 0, "int8": 0}
    assert keras_size(model).weight_bytes_read == weight_bytes
    energy = analytic_energy({"fp32": macs}, weight_bytes)
    assert energy.compute_j == pytest.approx(macs * 4.6e-12, rel=1e-12)
    assert energy.memory_j == pytest.approx(weight_bytes / 4 * 640e-12, rel=1e-12)
    assert energy.j_per_inference == pytest.approx(hand_pj * 1e-12, rel=1e-12)
    assert energy.j_per_1k == pytest.approx(hand_pj * 1e-9, rel=1e-12)
    # and profile() reports the same figure
    x = np.zeros((4, 8), np.float32)
    result = profile(model, x, np.zeros(4), energy=False, repeats=1, latency_calls=3)
    assert result.analytic_energy_j_per_1k == pytest.approx(hand_pj * 1e-9, rel=1e-12)
    assert result.flops_per_sample == 2 * macs


def test_int8_is_cheaper_per_mac_and_errors_are_clear():
    assert mac_picojoules("int8") == pytest.approx(0.23)
    assert mac_picojoules("fp16") == pytest.approx(1.5)
    assert analytic_energy({"int8": 1000}, 0).j_per_inference == pytest.approx(230e-12)
    with pytest.raises(ValueError, match=r"`precision` must be one of .*'int8'"):
        analytic_energy({"int3": 1}, 0)  # int4 is priced (as int8): see bench/analytic.py
    with pytest.raises(ValueError, match="must be >= 0"):
        analytic_energy({"fp32": 1}, -1)
