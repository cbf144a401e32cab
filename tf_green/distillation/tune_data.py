"""Checks and data plumbing of :func:`tf_green.distillation.tune`: the held-out split.

Engine-neutral (numpy and tensorflow's nest only): the split, the arguments' checks, the
labels as class ids, rows of the one teacher cache for the arms trained on the fit split.

The held-out split is taken from the *labelled training* samples, stratified by class,
with a fixed seed; unlabelled samples (label ``-1``, a transfer set) all stay in the fit
split. The user's validation or test data is never used for the choice.

Example:
    >>> y = np.array([0, 1] * 20 + [-1] * 10)
    >>> split = holdout_split(y, 0.25, seed=0)
    >>> len(split.fit), len(split.holdout), bool(np.all(y[split.holdout] >= 0))
    (40, 10, True)
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

import tf_green.distillation._inputs as _inputs  # numpy + tensorflow only

__all__ = [
    "MIN_HOLDOUT",
    "Split",
    "check_grid",
    "class_ids",
    "holdout_split",
    "subset_cache",
    "take",
]

MIN_HOLDOUT = 10
"""The fewest labelled held-out samples an arm is scored on."""


@dataclasses.dataclass(frozen=True)
class Split:
    """Indices into the training data: ``fit`` trains the arms, ``holdout`` scores them.

    Example:
        >>> Split(np.arange(3), np.arange(3, 5)).holdout.tolist()
        [3, 4]
    """

    fit: np.ndarray
    holdout: np.ndarray


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_grid(
    temperatures: Any,
    alphas: Any,
    names: tuple[str, str] = ("temperatures", "alphas"),
    allow_empty: bool = False,
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Check the sweep's grid and return it as tuples of floats, duplicates dropped.

    Args:
        temperatures: Softmax temperatures, each > 0.
        alphas: Hard-label weights, each in [0, 1].
        names: The arguments' names, for the messages.
        allow_empty: Accept an empty sequence (for optional extra values).

    Returns:
        ``(temperatures, alphas)``.

    Raises:
        ValueError: For an empty grid or a value out of range, naming the argument.
        TypeError: For a non-sequence or a non-number.

    Example:
        >>> check_grid([4, 2, 4], (0.1,))
        ((4.0, 2.0), (0.1,))
    """
    checked = []
    for name, values, ok, rule in (
        (names[0], temperatures, lambda v: v > 0, "> 0"),
        (names[1], alphas, lambda v: 0 <= v <= 1, "in [0, 1]"),
    ):
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise TypeError(
                f"`{name}` must be a sequence of numbers (e.g. (2.0, 4.0)), got {values!r}."
            )
        if len(values) == 0 and not allow_empty:
            raise ValueError(f"`{name}` is empty; the sweep needs at least one value {rule}.")
        for value in values:
            if not _number(value) or not np.isfinite(value) or not ok(value):
                raise ValueError(f"every value of `{name}` must be a number {rule}, got {value!r}.")
        checked.append(tuple(dict.fromkeys(float(v) for v in values)))
    return checked[0], checked[1]


def class_ids(y: Any, classes: int) -> np.ndarray:
    """Labels as class ids, ``-1`` for an unlabelled sample (one-hot rows converted).

    Args:
        y: Class ids (``-1`` = no label), shape ``(n,)`` or ``(n, 1)``, or one-hot rows of
            width ``classes`` (a row of ``-1`` = no label).
        classes: The model's number of output classes.

    Returns:
        An int64 array of shape ``(n,)``.

    Raises:
        ValueError: For labels outside ``[-1, classes)`` or another shape.

    Example:
        >>> class_ids(np.array([[0, 1], [-1, -1]]), 2).tolist()
        [1, -1]
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == classes and classes > 1:
        unlabelled = np.all(y == -1, axis=1)
        ids = np.where(unlabelled, -1, np.argmax(y, axis=1))
    elif y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
        ids = y.reshape(-1)
        if not np.all(np.equal(np.mod(ids, 1), 0)):
            raise ValueError("`y` must hold integer class ids (or one-hot rows), not fractions.")
    else:
        raise ValueError(
            f"`y` has shape {y.shape}; pass class ids of shape (n,) or one-hot rows of shape "
            f"(n, {classes}) (-1 marks a sample without a label)."
        )
    ids = ids.astype(np.int64)
    bad = (ids < -1) | (ids >= classes)
    if np.any(bad):
        raise ValueError(
            f"`y` has label {int(ids[np.argmax(bad)])} at index {int(np.argmax(bad))}; labels "
            f"must be class ids in [0, {classes}) or -1 for a sample without a label."
        )
    return ids


def holdout_split(ids: np.ndarray, holdout: float, seed: int) -> Split:
    """Hold out a stratified fraction of the labelled samples; the rest trains the arms.

    Each class keeps ``round(holdout * its count)`` samples out (at most all but one), drawn
    with ``numpy.random.default_rng(seed)``; unlabelled samples (``-1``) all go to ``fit``.

    Args:
        ids: Class ids, ``-1`` for unlabelled samples.
        holdout: The fraction of labelled samples to hold out, in (0, 1).
        seed: The split's seed.

    Returns:
        A :class:`Split`, both index arrays sorted.

    Raises:
        ValueError: For ``holdout`` outside (0, 1), or fewer than :data:`MIN_HOLDOUT`
            held-out samples (naming ``holdout`` and how many labels there are).

    Example:
        >>> holdout_split(np.repeat([0, 1], 10), 0.5, seed=0).holdout.size
        10
    """
    if not _number(holdout) or not 0 < holdout < 1:
        raise ValueError(f"`holdout` must be a fraction in (0, 1), e.g. 0.2; got {holdout!r}.")
    rng = np.random.default_rng(seed)
    held = []
    labelled = ids >= 0
    for label in np.unique(ids[labelled]):
        where = np.flatnonzero(ids == label)
        count = min(len(where) - 1, round(holdout * len(where)))
        held.append(rng.choice(where, size=count, replace=False))
    held = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    if held.size < MIN_HOLDOUT:
        raise ValueError(
            f"too little labelled data to tune: {int(labelled.sum())} labelled samples and "
            f"`holdout`={holdout} hold out {held.size} to score the arms on, fewer than "
            f"{MIN_HOLDOUT}. Pass more labelled samples in `x`/`y`, raise `holdout`, or call "
            "tg.distill with a fixed temperature and alpha."
        )
    fit = np.setdiff1d(np.arange(len(ids)), held)
    return Split(fit=fit, holdout=held)


def take(data: Any, index: np.ndarray) -> Any:
    """The rows ``index`` of arrays, or of every array in a dict/list/tuple of them.

    Example:
        >>> take({"a": np.arange(4)}, np.array([3, 0]))["a"].tolist()
        [3, 0]
    """
    if data is None:
        return None
    if isinstance(data, Mapping) or (
        isinstance(data, (list, tuple)) and any(np.ndim(v) > 0 for v in data)
    ):
        return tf.nest.map_structure(lambda a: np.asarray(a)[index], data)
    return np.asarray(data)[index]


def subset_cache(cache: Any, index: np.ndarray) -> Any:
    """The cached teacher outputs of the samples ``index``, without running the teacher.

    Uses ``cache.subset`` where the cache has one; otherwise rebuilds an in-memory
    :class:`~tf_green.distillation.TeacherCache` from the rows (outputs and fingerprints).

    Args:
        cache: A :class:`~tf_green.distillation.TeacherCache` of all the training samples.
        index: The rows to keep, in order.

    Returns:
        A cache of ``len(index)`` samples that pairs with ``take(x, index)``.

    Example:
        >>> from tf_green import models
        >>> from tf_green.distillation import cache_teacher
        >>> cache = cache_teacher(models.mlp(hidden=(4,)), np.eye(5, 64), batch_size=2)
        >>> len(subset_cache(cache, np.array([4, 1])))
        2
    """
    if hasattr(cache, "subset"):
        return cache.subset(index)
    keys = {"logits": _inputs.LOGITS, "values": _inputs.VALUES, "indices": _inputs.INDICES}
    targets = {keys[name]: array[index] for name, array in cache.numpy().items()}
    return type(cache)(
        targets,
        np.asarray(cache._fingerprints)[index],
        cache.sample_shape,
        cache.dtype,
        cache.top_k,
    )
