"""The KPIs a compressed variant must meet against the baseline: :class:`Targets`.

Ratios are factors against the baseline: ``size_reduction = baseline size_bytes / variant
size_bytes`` (4.0: four times smaller; raw bytes, so pruning alone does not change it, its gain
shows in the bench's ``gzip_reduction``), ``speedup = baseline p50 latency / variant p50 latency``,
``energy_reduction = baseline J per 1k / variant J per 1k``. ``metric_drop`` is in the metric's
own units, positive when the variant is worse (for accuracy: ``baseline - variant``, so 0.02 is
two points; for the lower-is-better perplexity, mse, mae and rmse: ``variant - baseline``, so a
variant with a smaller error has a negative drop and meets any ``max_metric_drop``).

Example:
    >>> targets = Targets(max_metric_drop=0.02, min_size_reduction=4.0)
    >>> targets.missed(metric_drop=0.01, size_reduction=3.0)
    ['size_reduction 3 < 4']
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

__all__ = ["Targets"]


def _bad(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class Targets:
    """Quality and efficiency targets (None: not required).

    Args:
        max_metric_drop: Largest allowed metric drop, in the metric's units (>= 0).
        min_size_reduction: Smallest allowed size factor (> 0), e.g. 4.0.
        min_speedup: Smallest allowed latency speedup factor (> 0).
        min_energy_reduction: Smallest allowed measured-energy factor (> 0).
        max_params: Largest allowed parameter count (>= 1).

    Raises:
        ValueError: If a bound is out of range (the message names it).

    Example:
        >>> Targets(min_speedup=1.5).missed(metric_drop=0.0, speedup=2.0)
        []
    """

    max_metric_drop: float | None = 0.02
    min_size_reduction: float | None = None
    min_speedup: float | None = None
    min_energy_reduction: float | None = None
    max_params: int | None = None

    def __post_init__(self) -> None:
        if self.max_metric_drop is not None and not self.max_metric_drop >= 0:
            raise ValueError(f"`max_metric_drop` must be >= 0, got {self.max_metric_drop}.")
        for name in ("min_size_reduction", "min_speedup", "min_energy_reduction"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(
                    f"`{name}` must be a factor > 0 (4.0 means 4x better than the baseline), "
                    f"got {value}."
                )
        if self.max_params is not None and not int(self.max_params) >= 1:
            raise ValueError(f"`max_params` must be >= 1, got {self.max_params}.")

    def metric_ok(self, metric_drop: float | None) -> bool:
        """Whether the metric target alone is met (always True if there is none).

        Args:
            metric_drop: The variant's metric drop.

        Returns:
            True if ``metric_drop <= max_metric_drop``.

        Example:
            >>> Targets(max_metric_drop=0.02).metric_ok(0.03)
            False
        """
        if self.max_metric_drop is None:
            return True
        return not _bad(metric_drop) and metric_drop <= self.max_metric_drop + 1e-12

    def missed(
        self,
        *,
        metric_drop: float | None = None,
        size_reduction: float | None = None,
        speedup: float | None = None,
        energy_reduction: float | None = None,
        params: int | None = None,
    ) -> list[str]:
        """List the targets a variant misses (empty: it meets them all).

        A figure that is needed but unknown (None/NaN, e.g. energy unavailable) misses.

        Args:
            metric_drop: Metric drop against the baseline.
            size_reduction: Size factor.
            speedup: Latency factor.
            energy_reduction: Measured-energy factor.
            params: Parameter count.

        Returns:
            One readable reason per missed target.

        Example:
            >>> Targets(min_energy_reduction=2.0).missed(metric_drop=0.0)
            ['energy_reduction unknown (energy unavailable)']
        """
        reasons = []
        if self.max_metric_drop is not None and not self.metric_ok(metric_drop):
            shown = "unknown" if _bad(metric_drop) else f"{metric_drop:.4g}"
            reasons.append(f"metric_drop {shown} > {self.max_metric_drop:g}")
        checks = (
            ("size_reduction", size_reduction, self.min_size_reduction),
            ("speedup", speedup, self.min_speedup),
            ("energy_reduction", energy_reduction, self.min_energy_reduction),
        )
        for name, value, bound in checks:
            if bound is None:
                continue
            if _bad(value):
                why = " (energy unavailable)" if name == "energy_reduction" else ""
                reasons.append(f"{name} unknown{why}")
            elif value < bound:
                reasons.append(f"{name} {value:.3g} < {bound:g}")
        if self.max_params is not None:
            if _bad(params):
                reasons.append("params unknown")
            elif params > self.max_params:
                reasons.append(f"params {int(params)} > {int(self.max_params)}")
        return reasons

    def to_dict(self) -> dict:
        """The targets as a dict.

        Returns:
            Field name to bound.

        Example:
            >>> Targets().to_dict()["max_metric_drop"]
            0.02
        """
        return asdict(self)
