"""Schedules for ``prune``'s arguments (epochs and data size), with the tf_keras engine's rules.

The same choices as :mod:`tf_green.pruning.schedules` (begin/end step, frequency), built
on the pure-Python classes of :mod:`tf_green.pruning.schedule_math`, so both engines
prune on the same steps to the same sparsities.

Example:
    >>> s = polynomial_schedule(0.8, epochs=3, steps_per_epoch=40)
    >>> (s.begin_step, s.end_step, s.frequency)
    (0, 80, 8)
    >>> round(reached_sparsity(s, total_steps=120), 6)
    0.8
"""

from __future__ import annotations

from typing import Any

from tf_green.pruning.schedule_math import (
    ConstantSparsity,
    PolynomialDecay,
    PruningSchedule,
    as_schedule,
    check_sparsity,
)
from tf_green.pruning.schedule_plan import (
    constant_parameters,
    polynomial_parameters,
    raise_if_target_missed,
)

__all__ = [
    "check_reaches_target",
    "constant_schedule",
    "make_schedule",
    "polynomial_schedule",
    "reached_sparsity",
]


def polynomial_schedule(
    target_sparsity: float,
    *,
    epochs: int,
    steps_per_epoch: int,
    initial_sparsity: float = 0.0,
    power: int = 3,
) -> PolynomialDecay:
    """``PolynomialDecay`` reaching the target at the end of epoch ``epochs - 1``.

    The last epoch fine-tunes at the target. Masks are updated every ``frequency`` steps
    (about 10 updates along the ramp and 4 per epoch, at most every 100 steps), with
    ``begin_step`` chosen so the last update falls exactly on ``end_step``.

    Args:
        target_sparsity: Final sparsity, in [0, 1).
        epochs: Fine-tuning epochs, >= 2.
        steps_per_epoch: Batches per epoch, >= 1.
        initial_sparsity: Sparsity at the first update, in [0, target_sparsity].
        power: Exponent of the decay.

    Returns:
        The schedule.

    Raises:
        ValueError: If ``epochs`` < 2, or on invalid sparsities.

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
    """``ConstantSparsity`` from the first update, re-masked every ``min(steps, 100)`` steps.

    Args:
        target_sparsity: The sparsity, in [0, 1).
        steps_per_epoch: Batches per epoch.

    Returns:
        The schedule.

    Example:
        >>> constant_schedule(0.5, steps_per_epoch=20).frequency
        20
    """
    return ConstantSparsity(**constant_parameters(target_sparsity, steps_per_epoch=steps_per_epoch))


def make_schedule(
    schedule: Any,
    *,
    target_sparsity: float,
    initial_sparsity: float,
    epochs: int,
    steps_per_epoch: int,
) -> PruningSchedule:
    """Resolve ``prune``'s ``schedule`` argument to a schedule.

    Args:
        schedule: ``"polynomial"``, ``"constant"``, a schedule (its own target wins), or a
            TFMOT ``PolynomialDecay``/``ConstantSparsity`` (converted by its config).
        target_sparsity: Final sparsity for the named schedules.
        initial_sparsity: Starting sparsity for ``"polynomial"``.
        epochs: Fine-tuning epochs.
        steps_per_epoch: Batches per epoch.

    Returns:
        The schedule.

    Raises:
        TypeError: For an unsupported schedule object.
        ValueError: On an unknown name.

    Example:
        >>> make_schedule("constant", target_sparsity=0.5, initial_sparsity=0.0,
        ...               epochs=1, steps_per_epoch=10).target
        0.5
    """
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
            f"`schedule` must be 'polynomial', 'constant' or a PruningSchedule, got {schedule!r}."
        )
    return as_schedule(schedule)


def with_target(schedule: PruningSchedule, target: float, layer: str) -> PruningSchedule:
    """``schedule`` with another final sparsity, for ``layers={name: sparsity}``.

    Args:
        schedule: The base schedule.
        target: The layer's sparsity, in [0, 1).
        layer: The layer, named in messages.

    Returns:
        The new schedule.

    Raises:
        ValueError: On an invalid sparsity or a schedule class without ``with_target``.

    Example:
        >>> with_target(ConstantSparsity(0.5, 0), 0.9, "dense").target_sparsity
        0.9
    """
    check_sparsity(target, f"layers[{layer!r}]")
    try:
        return schedule.with_target(target)
    except NotImplementedError:
        raise ValueError(
            f"`layers` gives layer {layer!r} its own sparsity, but a {type(schedule).__name__} "
            "schedule's target cannot be changed per layer. Pass schedule='polynomial' or "
            "'constant', or a list of layers with a single schedule."
        ) from None


def reached_sparsity(schedule: PruningSchedule, total_steps: int) -> float:
    """The sparsity of the last mask update at or before ``total_steps`` (0.0 if none).

    Example:
        >>> s = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=100, frequency=10)
        >>> round(reached_sparsity(s, 50), 4), round(reached_sparsity(s, 100), 4)
        (0.7, 0.8)
    """
    for step in range(int(total_steps), 0, -1):
        if schedule.should_prune(step):
            return schedule.sparsity(step)
    return 0.0


def check_reaches_target(
    schedule: PruningSchedule, *, epochs: int, steps_per_epoch: int, layer: str | None = None
) -> None:
    """Raise if ``schedule`` cannot reach its target within ``epochs`` of training.

    Raises:
        ValueError: If the last mask update within training is below the target.

    Example:
        >>> check_reaches_target(ConstantSparsity(0.5, 0, frequency=10),
        ...                      epochs=1, steps_per_epoch=10)
    """
    raise_if_target_missed(
        schedule.target,
        reached_sparsity(schedule, epochs * steps_per_epoch),
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        layer=layer,
        end_step=getattr(schedule, "end_step", None),
    )
