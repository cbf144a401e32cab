"""What each pruning step keeps: the widths for a MACs target or a measured latency target.

MACs target (``macs=``), ``n`` steps: the final widths are allocated once, on the original
model (:func:`~tf_green.pruning.structured.widths.allocate`); step ``k < n`` prunes the
current model to ``macs ** (k / n)`` of the original MACs without going below those final
widths, and step ``n`` prunes to them exactly. So steps only approach the one allocation
the target asks for, whatever the fine-tuning in between does.

Latency target (``latency=``), measured after every step: step ``k`` aims at the fraction
``latency ** (min(k, n) / n)`` of the original's latency, assuming latency scales with MACs
from where the last measurement left off (the current MACs times goal / measured fraction,
allocated with the hardware-aware widths). Up to :data:`EXTRA_LATENCY_STEPS` more steps aim
straight at the target when the measurement says it is not reached yet; when the widths
cannot shrink further the steps stop.

Example:
    >>> import keras
    >>> from tf_green.pruning.structured.graph import analyse
    >>> from tf_green.pruning.structured.targets import MacsCounter
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
    ...                           keras.layers.Dense(2)])
    >>> graph = analyse(model)
    >>> planner = StepPlanner(graph, MacsCounter(graph).total({}), {}, 1, 0.5, 1)
    >>> list(planner.for_macs(graph, 1).values())
    [2]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tf_green.pruning.structured.graph import ChannelGraph
from tf_green.pruning.structured.targets import MacsCounter, prunable_groups
from tf_green.pruning.structured.widths import (
    AUTO,
    allocate,
    by_name,
    by_root,
    check_round_to,
    unit_of,
    width_ladder,
)

__all__ = ["EXTRA_LATENCY_STEPS", "StepPlanner", "removed_fraction", "resolve_round_to"]

EXTRA_LATENCY_STEPS = 2


def resolve_round_to(round_to: Any, target: bool) -> int | str:
    """``round_to``, defaulting to ``"auto"`` for a MACs/latency target and 1 for a ratio.

    Example:
        >>> resolve_round_to(None, True), resolve_round_to(None, False), resolve_round_to(8, True)
        ('auto', 1, 8)
    """
    if round_to is None:
        return AUTO if target else 1
    return check_round_to(round_to)


def removed_fraction(graph: ChannelGraph, counts: Mapping[int, int] | None, ratio: Any) -> Any:
    """The step's ``ratio`` for the report: ``ratio`` itself, or the channels removed overall.

    Example:
        >>> import keras
        >>> from tf_green.pruning.structured.graph import analyse
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
        ...                           keras.layers.Dense(2)])
        >>> graph = analyse(model)
        >>> removed_fraction(graph, {graph.groups[0].root: 1}, None)
        0.75
    """
    if counts is None:
        return ratio
    groups = prunable_groups(graph)
    total = sum(group.size for group in groups)
    kept = sum(counts.get(group.root, group.size) for group in groups)
    return 1.0 - kept / max(1, total)


class StepPlanner:
    """Kept counts for each step (see the module docstring).

    Args:
        original: The analysed original model.
        macs_before: Its MACs.
        sizes: Producer name -> original group size
            (:func:`~tf_green.pruning.structured.widths.group_sizes`).
        round_to: ``"auto"`` or a unit.
        target: The MACs fraction to keep, or None (a ratio or latency target).
        steps: Planned steps.

    Example:
        >>> planner = StepPlanner(graph, macs, sizes, "auto", 0.5, 3)  # doctest: +SKIP
    """

    def __init__(
        self,
        original: ChannelGraph,
        macs_before: float,
        sizes: Mapping[str, int],
        round_to: int | str,
        target: float | None,
        steps: int,
    ) -> None:
        self.macs_before, self.sizes, self.round_to = macs_before, sizes, round_to
        self.target, self.steps = target, steps
        self.final: dict[str, int] = {}
        if target is not None:
            counts = allocate(original, macs_before * target, round_to, sizes)
            self.final = by_name(original, counts)

    def for_macs(self, graph: ChannelGraph, step: int) -> dict[int, int] | None:
        """Counts of step ``step`` towards the MACs target (None: no target, use the ratio).

        Example:
            >>> planner.for_macs(graph, 1)  # doctest: +SKIP
        """
        if self.target is None:
            return None
        if step >= self.steps:
            return self._cuts(graph, by_root(graph, self.final))
        goal = self.macs_before * self.target ** (step / self.steps)
        return allocate(graph, goal, self.round_to, self.sizes, floors=self.final)

    def for_latency(
        self, graph: ChannelGraph, step: int, latency: float, fraction: float
    ) -> dict[int, int] | None:
        """Counts of step ``step`` towards ``latency``, ``fraction`` measured so far.

        Returns None when no group can lose channels any more.

        Example:
            >>> planner.for_latency(graph, 1, 0.5, 1.0)  # doctest: +SKIP
        """
        goal = latency ** (min(step, self.steps) / self.steps)
        wanted = goal / fraction if goal < fraction else latency / fraction
        current = MacsCounter(graph).total({})
        try:
            counts = allocate(graph, current * wanted, self.round_to, self.sizes)
        except ValueError:
            counts = self._narrowest(graph)
        return counts or None

    def _narrowest(self, graph: ChannelGraph) -> dict[int, int]:
        counts = {}
        for group in prunable_groups(graph):
            counts[group.root] = width_ladder(
                group.size, unit_of(group, self.round_to, self.sizes)
            )[0]
        return self._cuts(graph, counts)

    @staticmethod
    def _cuts(graph: ChannelGraph, counts: Mapping[int, int]) -> dict[int, int]:
        sizes = {group.root: group.size for group in graph.groups}
        return {root: c for root, c in counts.items() if root in sizes and c < sizes[root]}
