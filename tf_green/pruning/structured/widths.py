"""Hardware-aware kept widths: how many channels each group keeps for a MACs target.

XNNPACK (LiteRT's CPU kernels) computes a convolution's output channels in SIMD tiles of
8 or 16 floats: a layer with 24 channels runs nearly as slowly as one with 32, so a uniform
ratio that keeps 24 of 32 channels saves MACs on paper but little time. The default
``round_to="auto"`` therefore keeps widths that are multiples of a *unit* per group:

* 16 for a group of 32 channels or more (in the original model),
* 8 for a group of 16 to 31 channels,
* 1 (no rounding) below 16, where a layer is a single SIMD vector or less;

an integer ``round_to`` uses that unit for every group (1: exact counts). A group may
always keep all its channels, even when that width is not a multiple.

:func:`allocate` reaches a MACs target in three deterministic moves:

1. the uniform ratio that reaches the target exactly
   (:func:`~tf_green.pruning.structured.targets.ratio_for_macs`, no rounding) gives each
   group an ideal kept count;
2. each ideal count is snapped to the *nearest* allowed width (ties go up);
3. while the total is above the target, one group steps down to its next allowed width:
   if some single step reaches the target, the one that lands closest below it (the least
   overshoot); otherwise the step that saves the most MACs per fraction of its group's
   original channels removed (the uniform rule's measure of harm). Ties go to the group
   first in model order.

So the layers that are cut harder than the uniform ratio are those where a step saves the
most arithmetic, and the result does at most the target's MACs. Snapping down can leave it
below the target by up to half a unit per group; nothing is grown back (wider layers would
cost latency the rounding was meant to save).

Example:
    >>> import keras
    >>> from tf_green.pruning.structured.graph import analyse
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(64, 3),
    ...                           keras.layers.Conv2D(64, 3), keras.layers.Flatten(),
    ...                           keras.layers.Dense(2)])
    >>> graph = analyse(model)
    >>> sorted(allocate(graph, 0.5 * MacsCounter(graph).total({})).values())
    [32, 48]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tf_green.pruning.structured.graph import ChannelGraph, Group
from tf_green.pruning.structured.importance import keep_count
from tf_green.pruning.structured.targets import MacsCounter, prunable_groups, ratio_for_macs

__all__ = [
    "AUTO",
    "allocate",
    "by_name",
    "by_root",
    "check_round_to",
    "group_sizes",
    "rounding_unit",
    "unit_of",
    "width_ladder",
]

AUTO = "auto"


def check_round_to(value: Any) -> int | str:
    """``value`` as ``"auto"`` or an int >= 1, or a ValueError naming ``round_to``.

    Example:
        >>> check_round_to("auto"), check_round_to(8)
        ('auto', 8)
    """
    if value == AUTO:
        return AUTO
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(
            f"`round_to` must be an integer >= 1 or 'auto' (16 for layers of 32 channels or "
            f"more, 8 for 16-31, none below), got {value!r}."
        )
    return int(value)


def rounding_unit(size: int, round_to: int | str) -> int:
    """The multiple a group of ``size`` (original) channels keeps its width at.

    Example:
        >>> [rounding_unit(n, "auto") for n in (8, 16, 24, 32, 128)], rounding_unit(64, 4)
        ([1, 8, 8, 16, 16], 4)
    """
    if round_to == AUTO:
        return 16 if size >= 32 else 8 if size >= 16 else 1
    return int(round_to)


def width_ladder(current: int, unit: int) -> list[int]:
    """The widths a group of ``current`` channels may keep: multiples of ``unit``, or all.

    Example:
        >>> width_ladder(40, 16), width_ladder(3, 8)
        ([16, 32, 40], [3])
    """
    widths = list(range(unit, current, unit)) if unit > 1 else list(range(1, current))
    return [*widths, current]


def group_sizes(graph: ChannelGraph) -> dict[str, int]:
    """Producer layer name -> its group's channel count (to keep units across steps).

    Example:
        >>> import keras
        >>> from tf_green.pruning.structured.graph import analyse
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="h"),
        ...                           keras.layers.Dense(2)])
        >>> group_sizes(analyse(model))["h"]
        4
    """
    return {layer.name: group.size for group in graph.groups for layer in group.producers}


def _original_size(group: Group, sizes: Mapping[str, int] | None) -> int:
    if not sizes:
        return group.size
    return max(sizes.get(layer.name, group.size) for layer in group.producers)


def unit_of(group: Group, round_to: int | str, sizes: Mapping[str, int] | None = None) -> int:
    """The rounding unit of ``group`` (from its size in the original model, see ``sizes``).

    Example:
        >>> unit_of(Group(root=0, size=48, producers=[]), "auto")
        16
    """
    return rounding_unit(_original_size(group, sizes), round_to)


def _nearest(ideal: int, ladder: list[int]) -> int:
    return min(ladder, key=lambda width: (abs(width - ideal), -width))


def by_name(graph: ChannelGraph, counts: Mapping[int, int]) -> dict[str, int]:
    """Group root -> count, re-keyed by each producer's layer name (stable across rebuilds).

    Example:
        >>> import keras
        >>> from tf_green.pruning.structured.graph import analyse
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="h"),
        ...                           keras.layers.Dense(2)])
        >>> graph = analyse(model)
        >>> by_name(graph, {graph.groups[0].root: 2})
        {'h': 2}
    """
    return {
        layer.name: int(counts[group.root])
        for group in graph.groups
        if group.root in counts
        for layer in group.producers
    }


def by_root(graph: ChannelGraph, counts: Mapping[str, int]) -> dict[int, int]:
    """The inverse of :func:`by_name` on (a rebuild of) the model: group root -> count.

    Example:
        >>> import keras
        >>> from tf_green.pruning.structured.graph import analyse
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="h"),
        ...                           keras.layers.Dense(2)])
        >>> graph = analyse(model)
        >>> by_root(graph, {"h": 2}) == {graph.groups[0].root: 2}
        True
    """
    found = {}
    for group in graph.groups:
        values = {counts[layer.name] for layer in group.producers if layer.name in counts}
        if values:
            found[group.root] = min(values)
    return found


def allocate(
    graph: ChannelGraph,
    target: float,
    round_to: int | str = AUTO,
    sizes: Mapping[str, int] | None = None,
    floors: Mapping[str, int] | None = None,
) -> dict[int, int]:
    """Kept channel counts per group that bring the MACs to at most ``target``.

    Args:
        graph: The analysed model.
        target: The MACs to reach (absolute, per example).
        round_to: ``"auto"`` or one unit for every group (see the module docstring).
        sizes: Producer name -> group size in the original model
            (:func:`group_sizes`), so a model pruned in steps keeps the original's units;
            default: the sizes in ``graph``.
        floors: Producer name -> the fewest channels its group may keep (an intermediate
            step towards widths already allocated for the final target never goes below
            them); default none.

    Returns:
        Group root -> channels kept, for the groups that lose channels (``{}`` when the
        model is already at most ``target``).

    Raises:
        ValueError: If even the narrowest allowed widths stay above ``target`` (naming the
            lowest reachable MACs and ``round_to``), or nothing can be pruned.

    Example:
        >>> import keras
        >>> from tf_green.pruning.structured.graph import analyse
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
        ...                           keras.layers.Dense(2)])
        >>> list(allocate(analyse(model), 10.0).values())
        [2]
    """
    round_to = check_round_to(round_to)
    counter = MacsCounter(graph)
    if counter.total({}) <= target:
        return {}
    groups = prunable_groups(graph)
    ladders = {g.root: width_ladder(g.size, unit_of(g, round_to, sizes)) for g in groups}
    for root, floor in by_root(graph, floors or {}).items():
        if root in ladders:
            ladders[root] = [w for w in ladders[root] if w >= floor] or ladders[root][-1:]
    lowest = counter.total({root: ladder[0] for root, ladder in ladders.items()})
    if groups and lowest > target:
        raise ValueError(
            f"the MACs target ({target:,.0f}) cannot be reached: the narrowest widths "
            f"round_to={round_to!r} allows (one unit per prunable layer) still do "
            f"{lowest:,.0f} MACs (the inputs, outputs and excluded layers keep theirs). Ask "
            "for a larger `macs` fraction, or a smaller `round_to` (1 rounds nothing)."
        )
    ratio = ratio_for_macs(graph, target)  # raises when nothing can be pruned
    counts = {g.root: _nearest(keep_count(g.size, ratio), ladders[g.root]) for g in groups}
    total = counter.total(counts)
    original = {g.root: _original_size(g, sizes) for g in groups}
    while total > target:
        best, best_key, best_total = None, None, total
        for group in groups:
            ladder, width = ladders[group.root], counts[group.root]
            step = ladder.index(width)
            if step == 0:
                continue
            after = counter.total({**counts, group.root: ladder[step - 1]})
            gain = (total - after) / ((width - ladder[step - 1]) / original[group.root])
            # A step that reaches the target: the one that overshoots least (highest total)
            # wins over any that does not; otherwise the most MACs per fraction removed.
            key = (after <= target, after if after <= target else gain)
            if best_key is None or key > best_key:
                best, best_key, best_total = group.root, key, after
        if best is None:  # pragma: no cover - the `lowest` check above makes this unreachable
            raise RuntimeError("internal error: no group can step down; please report it.")
        counts[best] = ladders[best][ladders[best].index(counts[best]) - 1]
        total = best_total
    return {root: count for root, count in counts.items() if count < ladders[root][-1]}
