"""``shrink``: structured pruning of a Keras 3 model into a smaller model.

Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3),
    ...                           keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> small, report = shrink(model, ratio=0.25)
    >>> int(report.loc[model.layers[0].name, "channels_after"])
    6
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from tf_green._engine import engine_of
from tf_green._engine.models import compile_like, is_compiled
from tf_green.pruning.structured.graph import ChannelGraph, Group, analyse
from tf_green.pruning.structured.importance import CRITERIA, channel_scores, keep_indices
from tf_green.pruning.structured.rebuild import rebuild
from tf_green.pruning.structured.report import shrink_report

__all__ = ["shrink"]


def _check_ratio(ratio: Any, where: str) -> float:
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
        by_layer = {name: _check_ratio(r, f"`ratio[{name!r}]`") for name, r in ratio.items()}
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
                    "Conv, Dense or SeparableConv layers whose channels stay inside the model."
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
    value = _check_ratio(ratio, "`ratio`")
    return {group.root: (value, group) for group in graph.groups if group.prunable}


def shrink(
    model: Any,
    ratio: float | Mapping[str, float] = 0.5,
    *,
    criterion: str = "l1",
    exclude: tuple[str, ...] | list[str] = (),
) -> tuple[Any, pd.DataFrame]:
    """Remove whole channels (Conv filters, Dense units) and rebuild a smaller Keras 3 model.

    Channels that depend on each other (a conv and its BatchNormalization, every input of an
    ``Add``, a ``Concatenate``'s parts, the input channels of every consumer, a ``Dense``
    after ``Flatten``) are removed together, with the same indices. The model's inputs and
    outputs and the layers in ``exclude`` keep all their channels. The kept weights are
    copied, not masked: the result does less arithmetic (see the report's MACs). Fine-tune
    it afterwards to recover accuracy.

    Args:
        model: A built Keras 3 Sequential or functional model; not changed.
        ratio: The fraction of channels to remove in ``[0, 1)``: one number for every
            prunable layer, or ``{layer_name: ratio}`` for chosen Conv/Dense layers (layers
            joined by an ``Add`` share one ratio).
        criterion: ``"l1"`` (filter L1 norm, summed over the group), ``"l2"`` or ``"bn"``
            (``|gamma|`` of the following BatchNormalization).
        exclude: Names of layers kept whole: their output channels *and* input channels
            (so the layers feeding them keep theirs too).

    Returns:
        ``(smaller_model, report)``: the new model (compiled like ``model`` with a fresh
        optimizer if ``model`` was compiled) and a per-layer DataFrame (see
        :func:`tf_green.pruning.structured.report.shrink_report`; totals in ``.attrs``).

    Raises:
        TypeError: For a non-Keras 3 or subclassed model (use ``tg.prune`` there), or a
            ratio that is not a number.
        ValueError: For a ratio outside ``[0, 1)``, a selected layer that cannot be pruned,
            a group that reaches a layer the analysis does not understand (naming it), an
            unknown criterion or ``exclude`` name.

    Example:
        >>> import keras
        >>> x = keras.Input((8, 8, 3))
        >>> h = keras.layers.Conv2D(8, 3, padding="same")(x)
        >>> h = keras.layers.Add()([h, keras.layers.Conv2D(8, 1)(h)])
        >>> y = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h))
        >>> small, report = shrink(keras.Model(x, y), ratio=0.5)
        >>> report.attrs["macs_after"] < report.attrs["macs_before"]
        True
    """
    if engine_of(model) != "keras3":
        raise TypeError(
            "`model` is a tf_keras model; structured pruning works on Keras 3 models for now "
            "(tf_keras support comes later). Use tg.prune for unstructured pruning."
        )
    if criterion not in CRITERIA:
        raise ValueError(f"`criterion` must be one of {CRITERIA}, got {criterion!r}.")
    graph = analyse(model, exclude=tuple(exclude))
    kept: dict[int, np.ndarray] = {}
    for root, (value, group) in _group_ratios(graph, ratio).items():
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
            kept[root] = keep_indices(channel_scores(graph, group, criterion), value)
        except ValueError as error:
            names = [layer.name for layer in group.producers]
            raise ValueError(f"layer(s) {names}: {error}") from error
    kept = {root: index for root, index in kept.items() if len(index) < _size(graph, root)}
    small = rebuild(graph, kept)
    if is_compiled(model):
        compile_like(small, model)
    return small, shrink_report(model, small)


def _size(graph: ChannelGraph, root: int) -> int:
    return next(group.size for group in graph.groups if group.root == root)
