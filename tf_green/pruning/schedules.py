"""Pruning schedules: build TFMOT schedules from epochs and data size, and check their maths.

TFMOT updates a layer's mask at the training steps where its schedule says so
(``should_prune``), to the sparsity the schedule gives at that step. Steps count from 1
(the first batch of ``fit``). A schedule *reaches* its target only if its last mask update
within training is at the target sparsity: :func:`reached_sparsity` computes that, and
:func:`check_reaches_target` turns a miss into a clear error before any training.

Example:
    >>> s = polynomial_schedule(0.8, epochs=3, steps_per_epoch=40)
    >>> (s.begin_step, s.end_step, s.frequency)
    (0, 80, 8)
    >>> round(reached_sparsity(s, total_steps=120), 6)
    0.8
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tf_green._keras import tf
from tf_green.pruning._tfmot import pruning_schedule as tfmot_schedules
from tf_green.pruning.schedule_math import check_sparsity, parse_structure
from tf_green.pruning.schedule_plan import (
    constant_parameters,
    polynomial_parameters,
    raise_if_target_missed,
)

__all__ = [
    "ConstantSparsity",
    "PolynomialDecay",
    "PruningSchedule",
    "check_reaches_target",
    "check_sparsity",
    "constant_schedule",
    "final_sparsity",
    "make_schedule",
    "parse_structure",
    "polynomial_schedule",
    "reached_sparsity",
    "with_target",
]

PruningSchedule = tfmot_schedules.PruningSchedule
PolynomialDecay = tfmot_schedules.PolynomialDecay
ConstantSparsity = tfmot_schedules.ConstantSparsity


def polynomial_schedule(
    target_sparsity: float,
    *,
    epochs: int,
    steps_per_epoch: int,
    initial_sparsity: float = 0.0,
    power: int = 3,
) -> PolynomialDecay:
    """TFMOT ``PolynomialDecay`` that reaches the target at the end of epoch ``epochs - 1``.

    Sparsity ramps from ``initial_sparsity`` to ``target_sparsity`` (cubic by default, fast
    first, then flat) over the first ``epochs - 1`` epochs; the last epoch fine-tunes at
    the target to recover accuracy. The mask is updated every ``frequency`` steps: at
    least about 10 updates along the ramp and 4 per epoch, and at least every 100 steps
    (TFMOT's default), since small sparsity steps are easier to recover from.
    ``begin_step`` is chosen so that the last update falls exactly on ``end_step``.

    Args:
        target_sparsity: Final sparsity, in [0, 1).
        epochs: Fine-tuning epochs, >= 2.
        steps_per_epoch: Batches per epoch, >= 1.
        initial_sparsity: Sparsity at the first update, in [0, target_sparsity].
        power: Exponent of the decay.

    Returns:
        The schedule.

    Raises:
        ValueError: If ``epochs`` < 2 (too few to ramp and then recover), or on a sparsity
            outside [0, 1) or ``initial_sparsity`` > ``target_sparsity``.

    Example:
        >>> polynomial_schedule(0.9, epochs=2, steps_per_epoch=43).end_step
        43
    """
    return PolynomialDecay(
        **polynomial_parameters(
            target_sparsity,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            initial_sparsity=initial_sparsity,
            power=power,
        )
    )


def constant_schedule(target_sparsity: float, *, steps_per_epoch: int) -> ConstantSparsity:
    """TFMOT ``ConstantSparsity``: the target from the first update, re-masked each epoch.

    Args:
        target_sparsity: The sparsity, in [0, 1).
        steps_per_epoch: Batches per epoch; the mask is updated every
            ``min(steps_per_epoch, 100)`` steps, so the first update is within epoch 1.

    Returns:
        The schedule.

    Raises:
        ValueError: On a sparsity outside [0, 1) or ``steps_per_epoch`` < 1.

    Example:
        >>> constant_schedule(0.5, steps_per_epoch=20).frequency
        20
    """
    return ConstantSparsity(**constant_parameters(target_sparsity, steps_per_epoch=steps_per_epoch))


def make_schedule(
    schedule: str | PruningSchedule,
    *,
    target_sparsity: float,
    initial_sparsity: float,
    epochs: int,
    steps_per_epoch: int,
) -> PruningSchedule:
    """Resolve ``prune``'s ``schedule`` argument to a TFMOT schedule.

    Args:
        schedule: ``"polynomial"``, ``"constant"`` or a TFMOT ``PruningSchedule`` instance
            (returned as is; its own target wins over ``target_sparsity``).
        target_sparsity: Final sparsity for the named schedules.
        initial_sparsity: Starting sparsity for ``"polynomial"``.
        epochs: Fine-tuning epochs.
        steps_per_epoch: Batches per epoch.

    Returns:
        The schedule.

    Raises:
        TypeError: If ``schedule`` is neither a known name nor a ``PruningSchedule``.
        ValueError: On an unknown name, or arguments the named schedule rejects.

    Example:
        >>> make_schedule("constant", target_sparsity=0.5, initial_sparsity=0.0,
        ...               epochs=1, steps_per_epoch=10).target_sparsity
        0.5
    """
    if isinstance(schedule, PruningSchedule):
        return schedule
    if schedule == "polynomial":
        return polynomial_schedule(
            target_sparsity,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            initial_sparsity=initial_sparsity,
        )
    if schedule == "constant":
        return constant_schedule(target_sparsity, steps_per_epoch=steps_per_epoch)
    if isinstance(schedule, str):
        raise ValueError(
            f"`schedule` must be 'polynomial', 'constant' or a TFMOT PruningSchedule, "
            f"got {schedule!r}."
        )
    raise TypeError(
        "`schedule` must be 'polynomial', 'constant' or a "
        f"tfmot.sparsity.keras.PruningSchedule instance, got {type(schedule).__name__}."
    )


def with_target(schedule: PruningSchedule, target_sparsity: float, layer: str) -> PruningSchedule:
    """Copy a TFMOT schedule with another final sparsity (for per-layer targets).

    Args:
        schedule: A ``PolynomialDecay`` or ``ConstantSparsity``.
        target_sparsity: The new final sparsity, in [0, 1).
        layer: The layer it is for, used in messages.

    Returns:
        A new schedule with the same steps and the new target.

    Raises:
        ValueError: If the sparsity is invalid, or the schedule is of another class (its
            target cannot be changed generically).

    Example:
        >>> base = ConstantSparsity(0.5, begin_step=0)
        >>> with_target(base, 0.9, "dense").target_sparsity
        0.9
    """
    target = check_sparsity(target_sparsity, f"layers[{layer!r}]")
    config = dict(schedule.get_config()["config"])
    if isinstance(schedule, PolynomialDecay):
        config["final_sparsity"] = target
        config["initial_sparsity"] = min(config["initial_sparsity"], target)
    elif isinstance(schedule, ConstantSparsity):
        config["target_sparsity"] = target
    else:
        raise ValueError(
            f"`layers` gives layer {layer!r} its own sparsity, but a {type(schedule).__name__} "
            "schedule's target cannot be changed per layer. Pass schedule='polynomial' or "
            "'constant', or a list of layers with a single schedule."
        )
    return type(schedule).from_config(config)


def final_sparsity(schedule: PruningSchedule) -> float:
    """The sparsity a schedule gives once its steps are over (its target).

    Args:
        schedule: A TFMOT schedule.

    Returns:
        The schedule's sparsity at a step far beyond any training.

    Example:
        >>> final_sparsity(PolynomialDecay(0.0, 0.75, begin_step=0, end_step=10))
        0.75
    """
    return _as_float(schedule(tf.constant(2**40, tf.int64))[1])


def reached_sparsity(schedule: PruningSchedule, total_steps: int) -> float:
    """The sparsity of the last mask update at or before ``total_steps``.

    Args:
        schedule: A TFMOT schedule.
        total_steps: Training steps (batches) run, counted from 1.

    Returns:
        The sparsity the masks hold at the end of training (0.0 if no update falls within).

    Example:
        >>> s = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=100, frequency=10)
        >>> round(reached_sparsity(s, 50), 4), round(reached_sparsity(s, 100), 4)
        (0.7, 0.8)
    """
    steps = np.arange(1, int(total_steps) + 1, dtype=np.int64)
    if steps.size == 0:
        return 0.0
    try:
        should, sparsity = schedule(tf.constant(steps))
        should = np.broadcast_to(np.asarray(should), steps.shape)
        sparsity = np.broadcast_to(np.asarray(sparsity, dtype=np.float64), steps.shape)
    except (TypeError, ValueError, tf.errors.OpError):  # a schedule written for scalars only
        pairs = [schedule(tf.constant(s, tf.int64)) for s in steps]
        should = np.array([bool(p[0]) for p in pairs])
        sparsity = np.array([_as_float(p[1]) for p in pairs])
    updates = np.flatnonzero(should)
    return float(sparsity[updates[-1]]) if updates.size else 0.0


def check_reaches_target(
    schedule: PruningSchedule, *, epochs: int, steps_per_epoch: int, layer: str | None = None
) -> None:
    """Raise if ``schedule`` cannot reach its target within ``epochs`` of training.

    Args:
        schedule: A TFMOT schedule.
        epochs: Fine-tuning epochs.
        steps_per_epoch: Batches per epoch.
        layer: The layer the schedule is for, named in the message.

    Raises:
        ValueError: If the last mask update within ``epochs * steps_per_epoch`` steps is
            below the schedule's final sparsity.

    Example:
        >>> check_reaches_target(ConstantSparsity(0.5, 0, frequency=10),
        ...                      epochs=1, steps_per_epoch=10)
    """
    raise_if_target_missed(
        final_sparsity(schedule),
        reached_sparsity(schedule, epochs * steps_per_epoch),
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        layer=layer,
        end_step=getattr(schedule, "end_step", None),
    )


def _as_float(value: Any) -> float:
    result = float(np.asarray(value))
    return 0.0 if math.isnan(result) else result
