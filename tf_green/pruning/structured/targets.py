"""Analytic MACs of a pruned model, and the one uniform ratio that reaches a MACs target.

The MACs of a pruned model follow from the channel counts alone: a Conv or Dense does
``macs x (kept inputs / inputs) x (kept outputs / outputs)``, a DepthwiseConv follows its
input, a SeparableConv counts its depthwise part on the kept inputs and its pointwise part
on both. :func:`estimate_macs` computes that from the graph (it equals the rebuilt model's
:func:`~tf_green.pruning.structured.report.layer_macs` total), so :func:`ratio_for_macs` can
bisect the ratio of channels removed from every prunable group until the total is at most
the target, without building a model per try. :class:`MacsCounter` precomputes the count
for many tries (the hardware-aware allocation of :mod:`~tf_green.pruning.structured.widths`
starts from that uniform ratio).

Example:
    >>> import keras
    >>> from tf_green.pruning.structured.graph import analyse
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3),
    ...                           keras.layers.Conv2D(8, 3), keras.layers.Flatten(),
    ...                           keras.layers.Dense(2)])
    >>> graph = analyse(model)
    >>> ratio = ratio_for_macs(graph, 0.5 * estimate_macs(graph, {}))
    >>> estimate_macs(graph, kept_counts(graph, ratio)) <= 0.5 * estimate_macs(graph, {})
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tf_green.pruning.structured.attention import attention_terms
from tf_green.pruning.structured.graph import ChannelGraph, Group
from tf_green.pruning.structured.importance import keep_count
from tf_green.pruning.structured.layer_kinds import classes
from tf_green.pruning.structured.report import layer_macs

__all__ = ["MacsCounter", "estimate_macs", "kept_counts", "prunable_groups", "ratio_for_macs"]


def prunable_groups(graph: ChannelGraph) -> list[Group]:
    """The groups a global target prunes: prunable ones (blocked ones are the caller's check).

    Example:
        >>> import keras
        >>> from tf_green.pruning.structured.graph import analyse
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
        ...                           keras.layers.Dense(2)])
        >>> len(prunable_groups(analyse(model)))
        1
    """
    return [group for group in graph.groups if group.prunable]


def kept_counts(graph: ChannelGraph, ratio: float, round_to: int = 1) -> dict[int, np.ndarray]:
    """Group root -> stand-in kept indices (the first ``keep_count`` channels) for a ratio.

    Only the counts matter to :func:`estimate_macs`; which channels stay is decided by the
    importance criterion when the model is really pruned.

    Example:
        >>> import keras
        >>> from tf_green.pruning.structured.graph import analyse
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
        ...                           keras.layers.Dense(2)])
        >>> [len(v) for v in kept_counts(analyse(model), 0.5).values()]
        [2]
    """
    counts = {}
    for group in prunable_groups(graph):
        keep = keep_count(group.size, ratio, round_to)
        if keep < group.size:
            counts[group.root] = np.arange(keep)
    return counts


class MacsCounter:
    """The analytic MACs of ``graph``'s model for any kept channel counts, precomputed once.

    Each counted layer contributes ``macs x f_in x f_out`` (a DepthwiseConv ``macs x f_in``,
    a SeparableConv its two kernels apart), where ``f`` is the kept fraction of the layer's
    input or output channels. Building the table walks the model once; :meth:`total` is then
    cheap enough to try many allocations (:mod:`~tf_green.pruning.structured.widths`).

    Args:
        graph: The analysed model.

    Example:
        >>> import keras
        >>> from tf_green.pruning.structured.graph import analyse
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
        ...                           keras.layers.Dense(2)])
        >>> graph = analyse(model)
        >>> MacsCounter(graph).total({graph.groups[0].root: 1})
        5.0
    """

    def __init__(self, graph: ChannelGraph) -> None:
        self._terms: list[tuple[float, Any, Any]] = []
        self._find = graph.find
        for name, macs in layer_macs(graph.model).items():
            layer = graph.model.get_layer(name)
            if name in graph.heads:  # attention: projections x heads, heads x output
                for part, a, b in attention_terms(graph, layer):
                    self._terms.append((float(part), self._segments(a), self._segments(b)))
                continue
            ins = graph.inputs.get(name) or []
            segments_in = self._segments(ins[0]) if ins else ()
            segments_out = self._segments(graph.outputs[name]) if name in graph.outputs else ()
            if isinstance(layer, classes(layer).depthwise):
                self._terms.append((float(macs), segments_in, ()))
            elif isinstance(layer, classes(layer).separable):
                depthwise = float(np.prod(layer.depthwise_kernel.shape))
                pointwise = float(np.prod(layer.pointwise_kernel.shape))
                share = depthwise / (depthwise + pointwise)
                self._terms.append((macs * share, segments_in, ()))
                self._terms.append((macs * (1 - share), segments_in, segments_out))
            else:
                self._terms.append((float(macs), segments_in, segments_out))

    def _segments(self, layout: Any) -> tuple[tuple[int, int], ...]:
        if layout is None:
            return ()
        return tuple((self._find(atom), size) for atom, size in layout.segments)

    @staticmethod
    def _fraction(segments: Any, counts: dict[int, int]) -> float:
        if not segments:
            return 1.0
        width = sum(size for _, size in segments)
        return sum(counts.get(root, size) for root, size in segments) / width

    def total(self, counts: dict[int, int]) -> float:
        """MACs of one example with ``counts`` (group root -> channels kept; others whole).

        Example:
            >>> import keras
            >>> from tf_green.pruning.structured.graph import analyse
            >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
            >>> MacsCounter(analyse(model)).total({})
            12.0
        """
        return float(
            sum(
                macs * self._fraction(ins, counts) * self._fraction(outs, counts)
                for macs, ins, outs in self._terms
            )
        )


def estimate_macs(graph: ChannelGraph, kept: dict[int, np.ndarray]) -> float:
    """MACs of one example through the model pruned to ``kept`` (without building it).

    Args:
        graph: The analysed model.
        kept: Group root -> kept indices (only their number is read); ``{}`` for the
            unpruned model.

    Returns:
        The total, as :func:`~tf_green.pruning.structured.report.layer_macs` counts it.

    Example:
        >>> import keras
        >>> from tf_green.pruning.structured.graph import analyse
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
        ...                           keras.layers.Dense(2)])
        >>> graph = analyse(model)
        >>> estimate_macs(graph, {}), estimate_macs(graph, kept_counts(graph, 0.5))
        (20.0, 10.0)
    """
    return MacsCounter(graph).total({root: len(index) for root, index in kept.items()})


def ratio_for_macs(
    graph: ChannelGraph, target: float, round_to: int = 1, tolerance: float = 1e-4
) -> float:
    """The smallest uniform ratio whose pruned model does at most ``target`` MACs.

    Args:
        graph: The analysed model.
        target: The MACs to reach (absolute, per example).
        round_to: Kept channel counts rounded up to a multiple of this (see
            :func:`~tf_green.pruning.structured.importance.keep_count`).
        tolerance: Precision of the bisection on the ratio.

    Returns:
        The ratio in ``[0, 1)`` (0.0 when the model already does at most ``target`` MACs).

    Raises:
        ValueError: If even keeping one channel per prunable group stays above ``target``
            (naming the lowest reachable MACs), or no group can be pruned.

    Example:
        >>> import keras
        >>> from tf_green.pruning.structured.graph import analyse
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
        ...                           keras.layers.Dense(2)])
        >>> keep_count(4, ratio_for_macs(analyse(model), 10.0))
        2
    """
    counter = MacsCounter(graph)

    def macs_at(ratio: float) -> float:
        return counter.total({r: len(i) for r, i in kept_counts(graph, ratio, round_to).items()})

    if counter.total({}) <= target:
        return 0.0
    if not prunable_groups(graph):
        raise ValueError(
            "no layer of the model can be pruned (every channel reaches an input, an output, "
            "or an `exclude`d layer), so the MACs target cannot be reached."
        )
    highest = 1.0 - 1e-9
    lowest_macs = macs_at(highest)
    if lowest_macs > target:
        raise ValueError(
            f"the MACs target ({target:,.0f}) cannot be reached: keeping one channel"
            f"{f' ({round_to} with round_to)' if round_to > 1 else ''} per prunable layer "
            f"still does {lowest_macs:,.0f} MACs (the inputs, outputs and excluded layers keep "
            "theirs). Ask for a larger `macs` fraction."
        )
    low, high = 0.0, highest
    while high - low > tolerance:
        middle = (low + high) / 2
        if macs_at(middle) <= target:
            high = middle
        else:
            low = middle
    return high
