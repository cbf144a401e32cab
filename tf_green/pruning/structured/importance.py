"""How much each channel of a group matters, and which channels each group keeps.

Criteria (per channel of a group, summed over every layer of the group):

* ``"l1"`` (default): the L1 norm of each producer's output filter (Conv, Dense,
  SeparableConv pointwise kernel, an Embedding's table column; for attention heads, the
  head's slices of the query, key, value and output kernels).
* ``"l2"``: the L2 norm of those filters.
* ``"bn"``: ``|gamma|`` of the BatchNormalization layers on the group's channels (network
  slimming); a group without a BatchNormalization is an error naming its producer.
* ``"taylor"``: first-order Taylor importance from gradients on training data
  (:mod:`tf_green.pruning.structured.taylor`); it needs ``x``/``y``, so
  :func:`channel_scores` refuses it.

Example:
    >>> import keras
    >>> from tf_green.pruning.structured.graph import analyse
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
    ...                           keras.layers.Dense(2)])
    >>> graph = analyse(model)
    >>> channel_scores(graph, graph.groups[0], "l1").shape
    (4,)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tf_green.pruning.structured.attention import head_rows
from tf_green.pruning.structured.graph import ChannelGraph, Group
from tf_green.pruning.structured.layer_kinds import classes
from tf_green.pruning.structured.nodes import as_numpy

__all__ = ["CRITERIA", "DATA_CRITERIA", "channel_scores", "keep_count", "keep_indices"]

CRITERIA = ("l1", "l2", "bn", "taylor")
DATA_CRITERIA = ("taylor",)


def _filters(graph: ChannelGraph, layer: Any) -> np.ndarray:
    """A producer's rows: ``(channels, or heads for attention, everything else)``."""
    if layer.name in graph.heads:  # attention is a producer of its heads only
        return head_rows(layer)
    c = classes(layer)
    if isinstance(layer, c.separable):
        kernel = as_numpy(layer.pointwise_kernel)
    elif isinstance(layer, c.embedding):
        kernel = as_numpy(layer.embeddings)
    else:
        kernel = as_numpy(layer.kernel)
    return np.moveaxis(kernel, -1, 0).reshape(kernel.shape[-1], -1)


def _segments(graph: ChannelGraph, group: Group, layer_name: str) -> list[tuple[int, int]]:
    """``(offset, size)`` of the group's segments in a layer's output layout (one tile)."""
    found, offset = [], 0
    for atom, size in graph.outputs[layer_name].segments:
        if graph.find(atom) == group.root:
            found.append((offset, size))
        offset += size
    return found


def channel_scores(graph: ChannelGraph, group: Group, criterion: str = "l1") -> np.ndarray:
    """The importance of each channel of ``group`` (higher is kept first).

    Args:
        graph: The analysed model.
        group: One of ``graph.groups``.
        criterion: ``"l1"``, ``"l2"`` or ``"bn"``.

    Returns:
        A float64 array of ``group.size`` scores.

    Raises:
        ValueError: For an unknown ``criterion``, a data criterion (``"taylor"``), or
            ``"bn"`` on a group without BatchNormalization (naming its producer).

    Example:
        >>> import keras
        >>> from tf_green.pruning.structured.graph import analyse
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3),
        ...                           keras.layers.Dense(1)])
        >>> graph = analyse(model)
        >>> bool((channel_scores(graph, graph.groups[0], "l2") >= 0).all())
        True
    """
    if criterion not in CRITERIA:
        raise ValueError(f"`criterion` must be one of {CRITERIA}, got {criterion!r}.")
    if criterion in DATA_CRITERIA:
        raise ValueError(
            f"criterion={criterion!r} ranks channels by gradients on training data: pass x "
            "and y (and a compiled model or loss=) to shrink, or use 'l1', 'l2' or 'bn'."
        )
    scores = np.zeros(group.size)
    if criterion in ("l1", "l2"):
        for layer in group.producers:
            rows = _filters(graph, layer).astype(np.float64)
            scores += np.abs(rows).sum(1) if criterion == "l1" else np.sqrt((rows**2).sum(1))
        return scores
    found = False
    for layer in graph.model.layers:
        if not isinstance(layer, classes(layer).batch_norm) or not layer.scale:
            continue
        gamma = np.abs(as_numpy(layer.gamma).astype(np.float64))
        layout = graph.outputs.get(layer.name)
        if layout is None:
            continue
        tiles = gamma.reshape(layout.repeat, layout.width).sum(0)
        for offset, size in _segments(graph, group, layer.name):
            scores += tiles[offset : offset + size]
            found = True
    if not found:
        raise ValueError(
            f"criterion='bn' needs a BatchNormalization (with scale=True) on the channels of "
            f"layer {group.producers[0].name!r}, and there is none; use criterion='l1' or "
            f"'l2', or exclude that layer."
        )
    return scores


def keep_count(size: int, ratio: float, round_to: int = 1) -> int:
    """Channels a group of ``size`` keeps when ``ratio`` of them are removed.

    ``floor(ratio * size)`` go, at least one stays; with ``round_to`` > 1 the kept count is
    rounded up to a multiple of it (never above ``size``), which suits SIMD kernels.

    Example:
        >>> keep_count(32, 0.3), keep_count(32, 0.3, round_to=8), keep_count(3, 0.99)
        (23, 24, 1)
    """
    keep = max(1, size - int(np.floor(ratio * size + 1e-9)))
    if round_to > 1:
        keep = min(size, int(np.ceil(keep / round_to)) * round_to)
    return keep


def keep_indices(scores: np.ndarray, ratio: float, round_to: int = 1) -> np.ndarray:
    """The sorted indices of the channels kept when ``ratio`` of them are removed.

    ``floor(ratio * n)`` channels with the lowest scores go (ties: the later index goes);
    at least one channel always stays because ``ratio < 1``. With ``round_to`` > 1 the
    kept count is rounded up to a multiple of it (see :func:`keep_count`).

    Args:
        scores: One score per channel.
        ratio: The fraction to remove, in ``[0, 1)``.
        round_to: Round the kept count up to a multiple of this.

    Returns:
        Sorted int64 indices of the kept channels.

    Raises:
        ValueError: If ``ratio`` would remove every channel.

    Example:
        >>> keep_indices(np.array([3.0, 1.0, 2.0, 0.5]), 0.5).tolist()
        [0, 2]
    """
    n = len(scores)
    if not 0.0 <= ratio < 1.0 or int(np.floor(ratio * n + 1e-9)) >= n:
        raise ValueError(f"a ratio of {ratio} would remove all {n} channels; use a ratio < 1.")
    order = np.argsort(-scores, kind="stable")
    return np.sort(order[: keep_count(n, ratio, round_to)]).astype(np.int64)
