"""Mask maths in numpy: magnitude masks at a sparsity, m:n masks, and their checks.

A magnitude mask keeps the ``k`` largest absolute values of a tensor, with TFMOT's count
``k = max(round(size * (1 - sparsity)), 1)`` (float32, round half to even), and zeros the
rest. Unlike TFMOT's threshold (``|w| >= t``, which keeps every tie), exactly ``k`` entries
are kept (of tied magnitudes, the first in memory order; a NaN weight is pruned first), so
the sparsity is exactly ``1 - k / size``. It is one ``np.partition`` (O(n), no index
array), as it runs between training steps.

An m:n mask zeros the ``m`` smallest of every ``n`` consecutive weights along the input
axis (``shape[-2]``) of a rank-2 (``(in, out)``) or rank-4 (``(h, w, in, out)``) kernel:
TFMOT's and TFLite's grouping.

Example:
    >>> magnitude_mask(np.array([0.1, -3.0, 2.0, 0.5]), 0.5).tolist()
    [0.0, 1.0, 1.0, 0.0]
"""

from __future__ import annotations

import numpy as np

from tf_green.pruning.report_table import mn_satisfied

__all__ = ["kept_count", "magnitude_mask", "mn_mask", "mn_problem", "mn_satisfied"]


def kept_count(size: int, sparsity: float) -> int:
    """How many entries a mask at ``sparsity`` keeps, as TFMOT counts them.

    Args:
        size: The tensor's number of entries.
        sparsity: The sparsity, in [0, 1).

    Returns:
        ``max(round(size * (1 - sparsity)), 1)`` in float32, half to even.

    Example:
        >>> kept_count(72, 0.8)
        14
    """
    f32 = np.float32
    kept = np.round(f32(size) * (f32(1.0) - f32(sparsity)))
    return int(min(max(kept, 1), size))


def magnitude_mask(weights: np.ndarray, sparsity: float) -> np.ndarray:
    """A 0/1 mask keeping the largest-magnitude entries of ``weights``.

    Args:
        weights: The tensor (any shape).
        sparsity: The fraction of entries to zero, in [0, 1).

    Returns:
        A mask of ``weights``' shape and dtype with exactly
        ``kept_count(weights.size, sparsity)`` ones.

    Example:
        >>> float(magnitude_mask(np.arange(10.0), 0.8).sum())
        2.0
    """
    weights = np.asarray(weights)
    flat = np.abs(weights).reshape(-1)
    keep = kept_count(flat.size, sparsity)
    if keep == flat.size:
        return np.ones_like(weights)
    nan = np.isnan(flat)
    if nan.any():  # a NaN weight counts as the smallest magnitude: pruned first
        flat[nan] = -1.0
    # O(n): the keep-th largest magnitude, then everything above it and, of the entries
    # equal to it, the first ones in memory order (ties broken deterministically).
    threshold = np.partition(flat, flat.size - keep)[flat.size - keep]
    kept = flat > threshold
    missing = keep - int(np.count_nonzero(kept))
    if missing:
        kept[np.flatnonzero(flat == threshold)[:missing]] = True
    mask = kept.astype(weights.dtype)
    return mask.reshape(weights.shape)


def mn_problem(shape: tuple[int, ...], m_by_n: tuple[int, int]) -> str | None:
    """Why a tensor of ``shape`` cannot hold m:n sparsity, or None if it can.

    Args:
        shape: The kernel's shape.
        m_by_n: ``(m, n)``.

    Returns:
        A sentence, or None.

    Example:
        >>> mn_problem((6, 4), (2, 4))
        'its input axis (size 6) is not a multiple of 4'
    """
    _, n = m_by_n
    if len(shape) not in (2, 4):
        return f"it has rank {len(shape)}, and m:n needs a rank-2 or rank-4 kernel"
    if shape[-2] % n:
        return f"its input axis (size {shape[-2]}) is not a multiple of {n}"
    return None


def mn_mask(weights: np.ndarray, m_by_n: tuple[int, int]) -> np.ndarray:
    """A 0/1 mask with ``m`` zeros (the smallest magnitudes) in every group of ``n``.

    Groups are ``n`` consecutive entries along the input axis (``shape[-2]``).

    Args:
        weights: A rank-2 or rank-4 kernel whose input axis is a multiple of ``n``.
        m_by_n: ``(m, n)``.

    Returns:
        The mask, of ``weights``' shape and dtype.

    Raises:
        ValueError: If the shape cannot hold the pattern (see :func:`mn_problem`).

    Example:
        >>> mn_mask(np.array([[1.0], [-4.0], [2.0], [0.5]]), (2, 4)).ravel().tolist()
        [0.0, 1.0, 1.0, 0.0]
    """
    weights = np.asarray(weights)
    problem = mn_problem(weights.shape, m_by_n)
    if problem:
        raise ValueError(f"a kernel of shape {weights.shape} cannot hold m:n sparsity: {problem}.")
    m, n = m_by_n
    moved = np.moveaxis(np.abs(weights), -2, -1)  # (..., out, in)
    groups = moved.reshape(-1, n)
    order = np.argsort(-groups, axis=1, kind="stable")
    mask = np.zeros_like(groups, dtype=weights.dtype)
    np.put_along_axis(mask, order[:, : n - m], 1, axis=1)
    return np.moveaxis(mask.reshape(moved.shape), -1, -2)
