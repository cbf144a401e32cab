"""One structured pruning pass: rank each group's channels and rebuild with the kept ones.

Example:
    >>> import keras
    >>> from tf_green.pruning.structured.graph import analyse
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
    ...                           keras.layers.Dense(2)])
    >>> prune_graph(analyse(model), 0.5).layers[0].units
    2
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tf_green.pruning.structured.graph import ChannelGraph, Group
from tf_green.pruning.structured.importance import channel_scores, keep_indices
from tf_green.pruning.structured.rebuild import rebuild
from tf_green.pruning.structured.widths import unit_of

__all__ = ["check_ratio", "prune_graph"]


def check_ratio(ratio: Any, where: str) -> float:
    """``ratio`` as a float in ``[0, 1)``, or an error naming ``where``.

    Example:
        >>> check_ratio(0.25, "`ratio`")
        0.25
    """
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float, np.floating, np.integer)):
        raise TypeError(f"{where} must be a number in [0, 1), got {type(ratio).__name__}.")
    ratio = float(ratio)
    if not 0.0 <= ratio < 1.0:
        raise ValueError(
            f"{where} is {ratio}: it must be in [0, 1) (the fraction of channels removed; "
            "1 would remove every channel of a layer)."
        )
    return ratio


def _why_not(group: Group) -> str:
    if group.protected:
        return f"its channels are kept because they reach {group.protected[0]}"
    return "it has no output channels to remove"


def _group_ratios(graph: ChannelGraph, ratio: Any) -> dict[int, tuple[float, Group]]:
    """Group root -> (ratio, group) for every group to prune."""
    if isinstance(ratio, Mapping):
        by_layer = {name: check_ratio(r, f"`ratio[{name!r}]`") for name, r in ratio.items()}
        owner = {layer.name: group for group in graph.groups for layer in group.producers}
        names = {layer.name for layer in graph.model.layers}
        chosen: dict[int, tuple[float, Group]] = {}
        for name, value in by_layer.items():
            if name not in names:
                raise ValueError(f"`ratio` names {name!r}, which is not a layer of the model.")
            group = owner.get(name)
            if group is None or not group.prunable:
                why = _why_not(group) if group else "it has no filters or units of its own"
                raise ValueError(
                    f"`ratio` selects layer {name!r}, which cannot be pruned: {why}. Select "
                    "Conv, Dense, SeparableConv, MultiHeadAttention (its heads) or Embedding "
                    "layers whose channels stay inside the model."
                )
            previous = chosen.get(group.root)
            if previous is not None and previous[0] != value:
                others = [layer.name for layer in group.producers]
                raise ValueError(
                    f"`ratio` gives different ratios to layers {others} that share channels "
                    "(joined by Add/Multiply/...), which must be pruned alike: give them one ratio."
                )
            chosen[group.root] = (value, group)
        return chosen
    value = check_ratio(ratio, "`ratio`")
    return {group.root: (value, group) for group in graph.groups if group.prunable}


def prune_graph(
    graph: ChannelGraph,
    ratio: float | Mapping[str, float] | None,
    criterion: str = "l1",
    round_to: int | str = 1,
    scores: Mapping[int, np.ndarray] | None = None,
    *,
    counts: Mapping[int, int] | None = None,
    sizes: Mapping[str, int] | None = None,
) -> Any:
    """Remove ``ratio`` of the channels of each selected group; the new, uncompiled model.

    Args:
        graph: The analysed model (not changed).
        ratio: One fraction for every prunable group, or ``{layer_name: fraction}``; None
            with ``counts``.
        criterion: ``"l1"``, ``"l2"`` or ``"bn"`` (see :func:`channel_scores`).
        round_to: Kept counts rounded up to a multiple of this, or ``"auto"`` (a unit per
            group, see :func:`~tf_green.pruning.structured.widths.rounding_unit`).
        scores: Group root -> precomputed channel scores (e.g. a data-driven criterion);
            used instead of ``criterion`` for the groups it holds.
        counts: Instead of ``ratio``: group root -> channels to keep (e.g. from
            :func:`~tf_green.pruning.structured.widths.allocate`); the highest-scoring stay.
        sizes: Producer name -> group size in the original model (units of ``"auto"``).

    Returns:
        The rebuilt model (``graph.model`` itself is never changed).

    Raises:
        ValueError: For a bad ratio, a selected layer that cannot be pruned, or a group
            that reaches a layer the analysis does not understand (naming it).

    Example:
        >>> import keras
        >>> from tf_green.pruning.structured.graph import analyse
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
        ...                           keras.layers.Dense(2)])
        >>> prune_graph(analyse(model), {model.layers[0].name: 0.75}).layers[0].units
        1
    """
    if counts is not None:
        chosen = {g.root: (None, g) for g in graph.groups if g.root in counts}
    else:
        chosen = _group_ratios(graph, ratio)
    kept: dict[int, np.ndarray] = {}
    for root, (value, group) in chosen.items():
        if value == 0.0:
            continue
        if group.blocked:
            raise ValueError(
                f"cannot prune the channels of {[layer.name for layer in group.producers]}: "
                f"they reach {group.blocked[0]}, which structured pruning does not understand "
                "(removing them could silently change the model). Add those layers to "
                "`exclude`, or leave them out of `ratio`."
            )
        try:
            values = (scores or {}).get(root)
            if values is None:
                values = channel_scores(graph, group, criterion)
            if counts is not None:
                kept[root] = _top(values, int(counts[root]))
            else:
                kept[root] = keep_indices(values, value, unit_of(group, round_to, sizes))
        except ValueError as error:
            names = [layer.name for layer in group.producers]
            raise ValueError(f"layer(s) {names}: {error}") from error
    kept = {root: index for root, index in kept.items() if len(index) < _size(graph, root)}
    return rebuild(graph, kept)


def _top(scores: np.ndarray, count: int) -> np.ndarray:
    """The sorted indices of the ``count`` highest scores (ties: the earlier index stays)."""
    if not 1 <= count <= len(scores):
        raise ValueError(f"cannot keep {count} of {len(scores)} channels.")
    order = np.argsort(-scores, kind="stable")
    return np.sort(order[:count]).astype(np.int64)


def _size(graph: ChannelGraph, root: int) -> int:
    return next(group.size for group in graph.groups if group.root == root)
