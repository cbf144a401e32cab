"""A deterministic energy model: arithmetic by precision plus weight reads from DRAM.

Energy of one inference on one sample::

    E = sum over precisions p of  MACs_p x (E_mult_p + E_add_p)  +  weight_bytes_read x E_DRAM / 4

with these constants (picojoules, 45 nm CMOS):

==============  ========  ===============================================================
operation       pJ        source
==============  ========  ===============================================================
fp32 multiply   3.7       Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm, 0.9 V
fp32 add        0.9       Horowitz, ISSCC 2014
fp16 multiply   1.1       Horowitz, ISSCC 2014
fp16 add        0.4       Horowitz, ISSCC 2014
int8 multiply   0.2       Horowitz, ISSCC 2014
int8 add        0.03      Horowitz, ISSCC 2014
int32 multiply  3.1       Horowitz, ISSCC 2014
int32 add       0.1       Horowitz, ISSCC 2014
int16 multiply  0.8       derived: Horowitz's 8-bit (0.2) and 32-bit (3.1) integer
                          multiplies scaled by the operands' bit-width product
                          (0.2 x 16*16/(8*8)); both of his figures follow that scaling
                          within 4% (64 -> 1024 bit products: 16x vs 15.5x)
DRAM read       640       per 32-bit word: Han et al., "Learning both Weights and
                          Connections for Efficient Neural Networks", NeurIPS 2015,
                          Table 1 (45 nm, after Horowitz)
==============  ========  ===============================================================

MAC prices by precision label (:mod:`tf_green.bench.flops`): ``fp32``, ``fp16``, ``int8``:
the multiply and add of that precision. ``int4`` (INT4 weights): as ``int8``, because the CPU
kernels unpack INT4 weights to int8 and multiply int8-quantized activations in int8
arithmetic (a 4-bit multiplier would be cheaper; no kernel here uses one). ``int16`` and
``int16x8`` (16-bit activations x 8-bit weights): the derived 16-bit multiply plus an int32
add (16-bit kernels accumulate in 32 or 64 bits). ``int16x8`` is priced as a full 16x16
multiply, conservatively: the same scaling gives about 0.4 pJ for a 16x8 multiplier, but no
measured figure backs it. ``int32``: Horowitz's 32-bit multiply and add.

Assumptions, stated so they can be argued with: each MAC is one multiply and one add of its
precision (int8 MACs use the int8 add; real kernels accumulate in int32, 0.1 pJ); bias adds,
activations, normalization and activation memory traffic are not counted; every weight is read
once from DRAM per inference (batch 1, no cache reuse), in the precision the kernels read it
(see :mod:`tf_green.bench.size`); MACs are counted as described in :mod:`tf_green.bench.flops`,
so zero weights are skipped only where the runtime's kernels skip them.

The model is for comparing variants, not for predicting a power meter: real CPUs spend far more
energy per operation on instruction overhead.

Example:
    >>> energy = analytic_energy({"fp32": 192}, weight_bytes_read=848)
    >>> round(energy.j_per_1k * 1e6, 4)  # microjoules per 1,000 inferences
    136.5632
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "ENERGY_CONSTANTS",
    "MAC_COSTS",
    "AnalyticEnergy",
    "EnergyConstant",
    "analytic_energy",
    "constants_markdown",
    "mac_picojoules",
]

PJ = 1e-12


@dataclass(frozen=True)
class EnergyConstant:
    """One entry of the constant table.

    Attributes:
        operation: What costs the energy.
        picojoules: Energy per operation, pJ.
        source: Where the figure comes from.

    Example:
        >>> ENERGY_CONSTANTS["int8_mult"].picojoules
        0.2
    """

    operation: str
    picojoules: float
    source: str


_HOROWITZ = "Horowitz, 'Computing's energy problem', ISSCC 2014 (45 nm, 0.9 V)"
_HAN = (
    "Han et al., 'Learning both Weights and Connections for Efficient Neural Networks', "
    "NeurIPS 2015, Table 1 (45 nm, after Horowitz)"
)
_DERIVED_INT16 = (
    "derived from Horowitz ISSCC 2014: 8-bit multiply 0.2 pJ x (16*16)/(8*8); his 8- and "
    "32-bit integer multiplies (0.2, 3.1 pJ) follow this bit-width-product scaling within 4%"
)
ENERGY_CONSTANTS: dict[str, EnergyConstant] = {
    "fp32_mult": EnergyConstant("fp32 multiply", 3.7, _HOROWITZ),
    "fp32_add": EnergyConstant("fp32 add", 0.9, _HOROWITZ),
    "fp16_mult": EnergyConstant("fp16 multiply", 1.1, _HOROWITZ),
    "fp16_add": EnergyConstant("fp16 add", 0.4, _HOROWITZ),
    "int8_mult": EnergyConstant("int8 multiply", 0.2, _HOROWITZ),
    "int8_add": EnergyConstant("int8 add", 0.03, _HOROWITZ),
    "int32_mult": EnergyConstant("int32 multiply", 3.1, _HOROWITZ),
    "int32_add": EnergyConstant("int32 add", 0.1, _HOROWITZ),
    "int16_mult": EnergyConstant("int16 multiply", 0.8, _DERIVED_INT16),
    "dram_read_32bit": EnergyConstant("DRAM read, 32-bit word", 640.0, _HAN),
}


# precision label -> (multiply constant, add constant); see the module docstring.
MAC_COSTS: dict[str, tuple[str, str]] = {
    "fp32": ("fp32_mult", "fp32_add"),
    "fp16": ("fp16_mult", "fp16_add"),
    "int8": ("int8_mult", "int8_add"),
    "int4": ("int8_mult", "int8_add"),
    "int16x8": ("int16_mult", "int32_add"),
    "int16": ("int16_mult", "int32_add"),
    "int32": ("int32_mult", "int32_add"),
}


def mac_picojoules(precision: str) -> float:
    """Energy of one multiply-accumulate of ``precision`` (a key of :data:`MAC_COSTS`), pJ.

    Args:
        precision: The precision.

    Returns:
        Multiply plus add energy, pJ.

    Raises:
        ValueError: On an unknown precision.

    Example:
        >>> mac_picojoules("fp32")
        4.6000000000000005
    """
    if precision not in MAC_COSTS:
        raise ValueError(f"`precision` must be one of {sorted(MAC_COSTS)}, got {precision!r}.")
    multiply, add = MAC_COSTS[precision]
    return ENERGY_CONSTANTS[multiply].picojoules + ENERGY_CONSTANTS[add].picojoules


@dataclass(frozen=True)
class AnalyticEnergy:
    """Analytic energy of one inference.

    Attributes:
        compute_j: Arithmetic energy, J per inference.
        memory_j: Weight-read energy, J per inference.

    Example:
        >>> round(AnalyticEnergy(1e-9, 3e-9).j_per_1k, 12)
        4e-06
    """

    compute_j: float
    memory_j: float

    @property
    def j_per_inference(self) -> float:
        """Total joules per inference."""
        return self.compute_j + self.memory_j

    @property
    def j_per_1k(self) -> float:
        """Total joules per 1,000 inferences."""
        return 1000.0 * self.j_per_inference


def analytic_energy(macs: Mapping[str, int], weight_bytes_read: int) -> AnalyticEnergy:
    """Compute the analytic energy of one inference.

    Args:
        macs: Executed MACs by precision, e.g. ``{"fp32": 6400}`` or ``{"int8": 6000}``
            (``MacCount.by_precision()``).
        weight_bytes_read: Weight bytes read per inference.

    Returns:
        The energy, split into compute and memory.

    Raises:
        ValueError: On an unknown precision or negative counts.

    Example:
        >>> analytic_energy({"int8": 1000}, 0).compute_j
        2.3e-10
    """
    if weight_bytes_read < 0 or any(int(n) < 0 for n in macs.values()):
        raise ValueError("`macs` and `weight_bytes_read` must be >= 0.")
    compute_pj = sum(int(n) * mac_picojoules(p) for p, n in macs.items())
    memory_pj = weight_bytes_read * ENERGY_CONSTANTS["dram_read_32bit"].picojoules / 4.0
    return AnalyticEnergy(compute_j=compute_pj * PJ, memory_j=memory_pj * PJ)


def constants_markdown() -> str:
    """The constant table as markdown, for reports.

    Returns:
        A markdown table: operation, pJ, source.

    Example:
        >>> constants_markdown().splitlines()[0]
        '| operation | pJ | source |'
    """
    rows = ["| operation | pJ | source |", "|---|---:|---|"]
    for c in ENERGY_CONSTANTS.values():
        rows.append(f"| {c.operation} | {c.picojoules:g} | {c.source} |")
    return "\n".join(rows)
