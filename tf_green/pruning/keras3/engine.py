"""Mask state of a Keras 3 model being pruned, and how the masks are enforced.

Each pruned variable gets a 0/1 mask variable and a :class:`MaskConstraint` as its
``constraint``. Keras 3 optimizers apply ``variable.constraint`` right after every update,
inside the train step (``BaseOptimizer.apply``), so a pruned weight is exactly zero after
every optimizer step, whatever the optimizer's state (Adam's moments included), on both
backends and in a user's own ``GradientTape`` loop:

* TensorFlow: the mask variables are read by the compiled train step like any variable.
* JAX: ``fit`` runs a jitted step on a copy of the state (trainable, non-trainable,
  optimizer and metrics variables). The mask variables are added to the *optimizer's*
  variables, so the step reads them from that state (a mask captured as a constant would
  never change). When the masks change, the state is synced back first
  (``model.jax_state_sync()``), and the updated variables are read again at the next step.

The masks are updated (from the weights' magnitudes, per the schedule) between steps by
:class:`tf_green.pruning.keras3.fit_callbacks.UpdatePruningStep`, at most every ``frequency``
steps, so most steps pay only one multiply per pruned tensor. A large float32 weight gets its
new mask on the device from :mod:`tf_green.pruning.keras3.graph_masks` (one compiled
function, the weights never copied to the host); a small one, or another dtype, from the
numpy reference :mod:`tf_green.pruning.keras3.masks` (see ``graph_masks.on_device``); both
give the same masks.

Example:
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="d")])
    >>> from tf_green.pruning.keras3.selection import select_weights
    >>> from tf_green.pruning.schedule_math import ConstantSparsity
    >>> state = attach(m, select_weights(m, None), {"d": ConstantSparsity(0.5, begin_step=1)})
    >>> update_masks(m, state, step=1)
    True
    >>> float((keras.ops.convert_to_numpy(m.layers[0].kernel) == 0).mean())
    0.5
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from tf_green._engine import require_keras3_backend
from tf_green.pruning.keras3 import graph_masks
from tf_green.pruning.keras3.masks import kept_count, magnitude_mask, mn_mask
from tf_green.pruning.schedule_math import PruningSchedule

__all__ = [
    "MaskConstraint",
    "MaskedWeight",
    "PruningState",
    "attach",
    "get_state",
    "require_backend",
    "track_masks",
    "update_masks",
]

SUPPORTED_BACKENDS = ("tensorflow", "jax")
_STATE_ATTRIBUTE = "_tf_green_pruning"


def require_backend() -> str:
    """Keras 3's backend name, if the pruning engine supports it.

    Returns:
        ``"tensorflow"`` or ``"jax"``.

    Raises:
        ValueError: For another backend (torch, numpy, openvino), naming the supported ones.

    Example:
        >>> require_backend() in SUPPORTED_BACKENDS
        True
    """
    return require_keras3_backend()


class MaskConstraint(keras.constraints.Constraint):
    """``variable.constraint`` that multiplies a weight by its mask after every update.

    Args:
        mask: The 0/1 mask variable, of the weight's shape.
        inner: The weight's previous constraint (e.g. ``MaxNorm``), applied first, or None.

    Example:
        >>> mask = keras.Variable(np.array([1.0, 0.0]), trainable=False)
        >>> keras.ops.convert_to_numpy(MaskConstraint(mask)(keras.ops.ones(2))).tolist()
        [1.0, 0.0]
    """

    def __init__(self, mask: keras.Variable, inner: Any = None) -> None:
        self.mask = mask
        self.inner = inner

    def __call__(self, w: Any) -> Any:
        """Return ``inner(w) * mask``."""
        if self.inner is not None:
            w = self.inner(w)
        return w * keras.ops.cast(self.mask, w.dtype)

    def get_config(self) -> dict[str, Any]:
        """Not serialisable: strip the model (tf_green.pruning.strip) before saving."""
        raise NotImplementedError(
            "A pruning mask is training state; strip the model with "
            "tf_green.pruning.strip(model) before saving it."
        )


@dataclass
class MaskedWeight:
    """One pruned variable: its mask, schedule and layer.

    Attributes:
        layer: The name of the selected layer it belongs to.
        variable: The weight variable.
        mask: Its 0/1 mask variable.
        schedule: When and to which sparsity its mask is updated.
        constraint: The :class:`MaskConstraint` set on ``variable``.

    Example:
        >>> [entry.layer for entry in get_state(wrapped).entries]   # doctest: +SKIP
        ['conv1', 'conv2', 'logits']
    """

    layer: str
    variable: keras.Variable
    mask: keras.Variable
    schedule: PruningSchedule
    constraint: MaskConstraint


@dataclass
class PruningState:
    """The masks of a model being pruned and the pruning step (batches trained, from 0).

    Attributes:
        entries: One :class:`MaskedWeight` per pruned variable.
        m_by_n: ``(m, n)`` structured sparsity (masks set once, at step 1), or None.
        step: Training steps seen so far (like TFMOT's ``pruning_step``).

    Example:
        >>> PruningState().sparsity()
        0.0
    """

    entries: list[MaskedWeight] = field(default_factory=list)
    m_by_n: tuple[int, int] | None = None
    step: int = 0

    def sparsity(self) -> float:
        """Fraction of zeros over all masks (weighted by size); 0.0 without masks."""
        values = [keras.ops.convert_to_numpy(e.mask) for e in self.entries]
        size = sum(v.size for v in values)
        zeros = sum(v.size - np.count_nonzero(v) for v in values)
        return float(zeros / size) if size else 0.0


def get_state(model: Any) -> PruningState | None:
    """The :class:`PruningState` attached to ``model`` by :func:`attach`, or None.

    Example:
        >>> get_state(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])) is None
        True
    """
    return getattr(model, _STATE_ATTRIBUTE, None)


def attach(
    model: Any,
    selected: list,
    schedules: dict[str, PruningSchedule],
    m_by_n: tuple[int, int] | None = None,
) -> PruningState:
    """Give each selected weight of ``model`` a mask and a :class:`MaskConstraint`.

    Changes ``model`` in place (call it on a copy). Compile the model first on JAX, so
    the masks join its optimizer's variables (otherwise the first ``fit`` does that).

    Args:
        model: A built Keras 3 model.
        selected: ``Selected`` entries from :func:`select_weights`.
        schedules: ``{selected layer name: schedule}``.
        m_by_n: ``(m, n)`` structured sparsity, or None.

    Returns:
        The state, also stored on the model (see :func:`get_state`).

    Example:
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
        >>> from tf_green.pruning.keras3.selection import select_weights
        >>> from tf_green.pruning.schedule_math import ConstantSparsity
        >>> len(attach(m, select_weights(m, None), {"d": ConstantSparsity(0.5, 0)}).entries)
        1
    """
    state = PruningState(m_by_n=m_by_n)
    for chosen in selected:
        for variable in chosen.weights:
            mask = _new_mask(model, variable, np.ones(tuple(variable.shape)))
            constraint = MaskConstraint(mask, variable.constraint)
            variable.constraint = constraint
            state.entries.append(
                MaskedWeight(chosen.name, variable, mask, schedules[chosen.name], constraint)
            )
    object.__setattr__(model, _STATE_ATTRIBUTE, state)
    return state


def _new_mask(model: Any, variable: keras.Variable, value: np.ndarray) -> keras.Variable:
    name = f"{variable.path.replace('/', '_')}_mask"
    optimizer = getattr(model, "optimizer", None)
    if keras.backend.backend() == "jax" and optimizer is not None:
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        mask = optimizer.add_variable(
            tuple(variable.shape), initializer="ones", dtype=variable.dtype, name=name
        )
        mask.assign(value.astype(mask.dtype))
        return mask
    return keras.Variable(
        value.astype(variable.dtype), dtype=variable.dtype, trainable=False, name=name
    )


def track_masks(model: Any, state: PruningState) -> bool:
    """On JAX, move masks that are not yet among the optimizer's variables into it.

    Needed when the model was compiled (or recompiled) after :func:`attach`. On
    TensorFlow nothing is needed: the train step reads the mask variables directly.

    Args:
        model: The pruned model.
        state: Its state.

    Returns:
        True if masks were moved (the caller must rebuild the train function).

    Example:
        >>> track_masks(keras.Sequential(), PruningState())
        False
    """
    optimizer = getattr(model, "optimizer", None)
    if keras.backend.backend() != "jax" or optimizer is None:
        return False
    known = {id(v) for v in optimizer.variables}
    moved = False
    for entry in state.entries:
        if id(entry.mask) not in known:
            value = keras.ops.convert_to_numpy(entry.mask)
            entry.mask = _new_mask(model, entry.variable, value)
            entry.constraint.mask = entry.mask
            moved = True
    return moved


def _due(state: PruningState, entry: MaskedWeight, step: int) -> bool:
    if state.m_by_n is not None:
        return step == 1  # TFMOT sets m:n masks once, at the first step
    return entry.schedule.should_prune(step)


def update_masks(model: Any, state: PruningState, step: int) -> bool:
    """Update the masks due at ``step`` from the weights' magnitudes, and apply them.

    Args:
        model: The pruned model.
        state: Its state.
        step: The training step about to run (from 1).

    Returns:
        True if any mask changed at this step.

    Example:
        >>> update_masks(keras.Sequential(), PruningState(), step=1)
        False
    """
    due = [entry for entry in state.entries if _due(state, entry, step)]
    if not due:
        return False
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()  # JAX: bring the jitted step's state back into the variables first
    for entry in due:
        if graph_masks.on_device(entry.variable.dtype, int(np.prod(entry.variable.shape))):
            _update_on_device(entry, state.m_by_n, step)
            continue
        weights = keras.ops.convert_to_numpy(entry.variable)
        if state.m_by_n is not None:
            mask = mn_mask(weights, state.m_by_n)
        else:
            mask = magnitude_mask(weights, entry.schedule.sparsity(step))
        entry.mask.assign(mask.astype(weights.dtype, copy=False))
        entry.variable.assign(weights * mask)
    return True


def _update_on_device(entry: MaskedWeight, m_by_n: tuple[int, int] | None, step: int) -> None:
    """The numpy path's update, by :mod:`graph_masks` (same masks; weights stay on device)."""
    weights = entry.variable.value
    if m_by_n is not None:
        mask = graph_masks.mn_mask(weights, m_by_n)
    else:
        size = int(np.prod(entry.variable.shape))
        mask = graph_masks.magnitude_mask(weights, kept_count(size, entry.schedule.sparsity(step)))
    entry.mask.assign(mask)
    entry.variable.assign(weights * mask)


def masked_values(model: Any) -> dict[int, np.ndarray]:
    """``{id(variable): value * mask}`` for each pruned variable of ``model``.

    Example:
        >>> masked_values(keras.Sequential())
        {}
    """
    state = get_state(model)
    if state is None:
        return {}
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()
    return {
        id(e.variable): keras.ops.convert_to_numpy(e.variable) * keras.ops.convert_to_numpy(e.mask)
        for e in state.entries
    }
