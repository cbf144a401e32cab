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
DRAM read       640       per 32-bit word: Han et al., "Learning both Weights and
                          Connections for Efficient Neural Networks", NeurIPS 2015,
                          Table 1 (45 nm, after Horowitz)
==============  ========  ===============================================================

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
ENERGY_CONSTANTS: dict[str, EnergyConstant] = {
    "fp32_mult": EnergyConstant("fp32 multiply", 3.7, _HOROWITZ),
    "fp32_add": EnergyConstant("fp32 add", 0.9, _HOROWITZ),
    "fp16_mult": EnergyConstant("fp16 multiply", 1.1, _HOROWITZ),
    "fp16_add": EnergyConstant("fp16 add", 0.4, _HOROWITZ),
    "int8_mult": EnergyConstant("int8 multiply", 0.2, _HOROWITZ),
    "int8_add": EnergyConstant("int8 add", 0.03, _HOROWITZ),
    "dram_read_32bit": EnergyConstant("DRAM read, 32-bit word", 640.0, _HAN),
}


def mac_picojoules(precision: str) -> float:
    """Energy of one multiply-accumulate of ``precision`` ("fp32", "fp16" or "int8"), pJ.

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
    if f"{precision}_mult" not in ENERGY_CONSTANTS:
        raise ValueError(f"`precision` must be one of 'fp32', 'fp16', 'int8', got {precision!r}.")
    return (
        ENERGY_CONSTANTS[f"{precision}_mult"].picojoules
        + ENERGY_CONSTANTS[f"{precision}_add"].picojoules
    )


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
