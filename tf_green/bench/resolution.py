"""The resolution floor of an energy figure: is the net energy of inference above the noise?

A net figure (inference window minus idle power x its length) is a difference of two noisy
readings. Each repeat gives one net figure per 1,000 inferences; from the repeats this module
derives the figure's **uncertainty** and the **floor** below which it cannot be told from
noise::

    uncertainty = max(std of the per-repeat net figures,
                      std of the per-repeat idle power x window length / inferences x 1000)
                  / sqrt(repeats)                      (the standard error of the figure)
    floor       = k x uncertainty + the meter's own quantum per window / inferences x 1000

where k is the 95% quantile of Student's t with repeats - 1 degrees of freedom (6.31 for 2
repeats, 2.13 for 5, 1.645 for many): a figure above the floor is positive with 95% confidence
even though the spread itself was estimated from a few repeats. A median net
figure at or under the floor, negative ones included, is **below resolution**: it is reported as
``None`` (NaN in tables) with a status such as ``"below resolution (< 0.2 J/1k)"``, and no
ratio, Energy-to-Solution or break-even is computed from it. With a single repeat the spread
cannot be estimated; the floor is then the meter's quantum alone and the status says so.

Example:
    >>> figure = resolve_energy([1.0, 1.1, 0.9], idle_w=[5.0, 5.0, 5.0], window_s=[1, 1, 1],
    ...                         inferences=[1000, 1000, 1000])
    >>> figure.j_per_1k, figure.status
    (1.0, 'resolved')
    >>> resolve_energy([0.1, -0.2, 0.05], idle_w=[5, 7, 3], window_s=[1, 1, 1],
    ...                inferences=[1000] * 3).status
    'below resolution (< 3.4 J/1k)'
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "RESOLUTION_K",
    "ResolvedEnergy",
    "below_resolution_text",
    "energy_basis",
    "resolve_energy",
    "student_t_95",
]

RESOLUTION_K = 1.645  # the band's width with many repeats (normal 95% one-sided)
_T_95 = {1: 6.31, 2: 2.92, 3: 2.35, 4: 2.13, 5: 2.02, 6: 1.94, 7: 1.89, 8: 1.86, 9: 1.83}


def student_t_95(repeats: int) -> float:
    """Width of the noise band, in standard errors, for a figure from ``repeats`` repeats.

    Args:
        repeats: Number of repeats (>= 2).

    Returns:
        The 95% (one-sided) quantile of Student's t with ``repeats - 1`` degrees of freedom
        (1.81 for 10 to 19 repeats, 1.70 to 30, :data:`RESOLUTION_K` beyond).

    Example:
        >>> student_t_95(2), student_t_95(5), student_t_95(100)
        (6.31, 2.13, 1.645)
    """
    df = max(int(repeats) - 1, 1)
    if df in _T_95:
        return _T_95[df]
    return 1.81 if df < 20 else (1.70 if df <= 30 else RESOLUTION_K)


def energy_basis(method: str) -> str:
    """Say what kind of figure an energy method gives: "measured", "estimated" or "none".

    A method that mixes an estimate with a measurement (e.g. CodeCarbon's CPU estimate plus an
    NVML GPU reading) is "estimated": the figure is only as good as its weakest part.

    Args:
        method: An ``energy_method`` string ("measured: RAPL", "estimated: ...", "fake: ...",
            "unavailable: ...", "not measured ...").

    Returns:
        "measured", "estimated" or "none" (unavailable or not measured). A fake source counts
        as "measured" (its watts are given exactly).

    Example:
        >>> energy_basis("measured: RAPL"), energy_basis("estimated: x; measured: NVML")
        ('measured', 'estimated')
        >>> energy_basis("unavailable: no meter")
        'none'
    """
    text = str(method)
    if text.startswith("estimated") or "estimated" in text.split(":", 1)[0]:
        return "estimated"
    if text.startswith(("measured", "fake")):
        return "measured"
    return "none"


def below_resolution_text(floor_j_per_1k: float | None) -> str:
    """The cell text of a figure below resolution, e.g. ``"< 0.2 J/1k"``.

    Args:
        floor_j_per_1k: The floor, J per 1,000 inferences (None or NaN if unknown).

    Returns:
        The text.

    Example:
        >>> below_resolution_text(0.2), below_resolution_text(None), below_resolution_text(0.0)
        ('< 0.2 J/1k', 'below resolution', 'no net energy')
    """
    if floor_j_per_1k is None or math.isnan(floor_j_per_1k):
        return "below resolution"
    if floor_j_per_1k <= 0:
        return "no net energy"
    return f"< {floor_j_per_1k:.2g} J/1k"


@dataclass(frozen=True)
class ResolvedEnergy:
    """A net energy figure with its uncertainty and resolution floor.

    Attributes:
        j_per_1k: Median net J per 1,000 inferences, or None if below resolution.
        net_j_per_1k: The median net figure as computed (may be tiny or negative: never shown
            as a figure when below resolution).
        uncertainty_j_per_1k: The standard error of the figure (see module docstring).
        floor_j_per_1k: The resolution floor; figures at or under it are noise.
        status: "resolved", "resolved (1 repeat: spread unknown)" or
            "below resolution (< F J/1k)".

    Example:
        >>> ResolvedEnergy(None, -0.1, 0.1, 0.2, "below resolution (< 0.2 J/1k)").resolved
        False
    """

    j_per_1k: float | None
    net_j_per_1k: float
    uncertainty_j_per_1k: float
    floor_j_per_1k: float
    status: str

    @property
    def resolved(self) -> bool:
        """True if the figure is above its floor."""
        return self.j_per_1k is not None


def resolve_energy(
    net_j_per_1k: Sequence[float],
    *,
    idle_w: Sequence[float],
    window_s: Sequence[float],
    inferences: Sequence[int],
    quantum_j: float = 0.0,
    k: float | None = None,
) -> ResolvedEnergy:
    """Decide whether a median net figure is above the noise, and with what uncertainty.

    Args:
        net_j_per_1k: Net J per 1,000 inferences of each repeat.
        idle_w: Idle power of each repeat, W.
        window_s: Length of each repeat's inference window, s.
        inferences: Inferences in each repeat's inference window.
        quantum_j: The meter's own resolution for one window, J (0 for an exact source).
        k: Width of the noise band in standard errors; default :func:`student_t_95` of the
            number of repeats.

    Returns:
        The :class:`ResolvedEnergy`.

    Raises:
        ValueError: If the sequences are empty or of different lengths, or ``k`` <= 0.

    Example:
        >>> resolve_energy([2.0], idle_w=[1.0], window_s=[1.0], inferences=[10]).status
        'resolved (1 repeat: spread unknown)'
    """
    n = len(net_j_per_1k)
    if n == 0 or not len(idle_w) == len(window_s) == len(inferences) == n:
        raise ValueError(
            "`net_j_per_1k`, `idle_w`, `window_s` and `inferences` must be non-empty and of the "
            f"same length, got {n}, {len(idle_w)}, {len(window_s)}, {len(inferences)}."
        )
    k = student_t_95(n) if k is None else k
    if not k > 0:
        raise ValueError(f"`k` must be > 0, got {k}.")
    median = float(statistics.median(net_j_per_1k))
    per_window = statistics.median(1000.0 / max(int(c), 1) for c in inferences)
    quantum = max(float(quantum_j), 0.0) * per_window
    if n >= 2:
        spread = statistics.stdev(net_j_per_1k)
        mean_window = statistics.fmean(window_s)
        idle_noise = statistics.stdev(idle_w) * mean_window * per_window
        uncertainty = max(spread, idle_noise) / math.sqrt(n)
    else:
        uncertainty = 0.0
    floor = k * uncertainty + quantum
    if not median > floor:
        return ResolvedEnergy(None, median, uncertainty, floor, below_status(floor))
    status = "resolved" if n >= 2 else "resolved (1 repeat: spread unknown)"
    return ResolvedEnergy(median, median, uncertainty, floor, status)


def below_status(floor_j_per_1k: float) -> str:
    """The status of a figure below resolution.

    Args:
        floor_j_per_1k: The floor, J per 1,000 inferences.

    Returns:
        ``"below resolution (< F J/1k)"``.

    Example:
        >>> below_status(0.25)
        'below resolution (< 0.25 J/1k)'
    """
    return f"below resolution ({below_resolution_text(floor_j_per_1k)})"
