"""How ``prune`` picks a schedule from epochs and data size: the rules both engines share.

Engine-neutral (no Keras, no TFMOT): the tf_keras engine builds TFMOT schedule objects
from these parameters (:mod:`tf_green.pruning.schedules`), the Keras 3 engine builds the
pure-Python ones of :mod:`tf_green.pruning.schedule_math`
(:mod:`tf_green.pruning.keras3.schedules`), so both prune on the same steps to the same
sparsities, and refuse too few epochs with the same message.

Example:
    >>> polynomial_parameters(0.8, epochs=3, steps_per_epoch=40)["frequency"]
    8
"""

from __future__ import annotations

import numbers
from typing import Any

from tf_green.pruning.schedule_math import check_sparsity

__all__ = [
    "check_positive_int",
    "constant_parameters",
    "polynomial_parameters",
    "raise_if_target_missed",
]

MAX_FREQUENCY = 100  # TFMOT's default: a mask update every 100 steps at most.
MASK_UPDATES = 10  # ... at least about this many updates along the ramp ...
UPDATES_PER_EPOCH = 4  # ... and about this many per epoch: small steps recover better.


def check_positive_int(value: Any, argument: str) -> int:
    """Return ``value`` as an int if it is an integer >= 1; else raise naming ``argument``.

    Example:
        >>> check_positive_int(3, "epochs")
        3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{argument}` must be an integer >= 1, got {value!r}.")
    return int(value)


def polynomial_parameters(
    target_sparsity: float,
    *,
    epochs: int,
    steps_per_epoch: int,
    initial_sparsity: float = 0.0,
    power: int = 3,
) -> dict[str, Any]:
    """``PolynomialDecay``'s arguments to reach the target at the end of epoch ``epochs - 1``.

    Sparsity ramps from ``initial_sparsity`` to ``target_sparsity`` over the first
    ``epochs - 1`` epochs; the last epoch fine-tunes at the target. The mask is updated
    every ``frequency`` steps: about 10 updates along the ramp and 4 per epoch, at least
    every 100 steps (TFMOT's default); ``begin_step`` puts the last update on ``end_step``.

    Args:
        target_sparsity: Final sparsity, in [0, 1).
        epochs: Fine-tuning epochs, >= 2.
        steps_per_epoch: Batches per epoch, >= 1.
        initial_sparsity: Sparsity at the first update, in [0, target_sparsity].
        power: Exponent of the decay.

    Returns:
        ``{initial_sparsity, final_sparsity, begin_step, end_step, power, frequency}``.

    Raises:
        ValueError: If ``epochs`` < 2, or on invalid sparsities or step counts.

    Example:
        >>> polynomial_parameters(0.9, epochs=2, steps_per_epoch=43)["end_step"]
        43
    """
    target = check_sparsity(target_sparsity, "target_sparsity")
    initial = check_sparsity(initial_sparsity, "initial_sparsity")
    if initial > target:
        raise ValueError(
            f"`initial_sparsity` ({initial}) must not exceed `target_sparsity` ({target})."
        )
    steps_per_epoch = check_positive_int(steps_per_epoch, "steps_per_epoch")
    if check_positive_int(epochs, "epochs") < 2:
        raise ValueError(
            f"`epochs`={epochs} is too few for schedule='polynomial': it ramps the sparsity "
            "over epochs - 1 epochs and keeps the last one to recover accuracy. "
            "Pass epochs >= 2, or schedule='constant' for a single epoch."
        )
    end_step = (epochs - 1) * steps_per_epoch
    frequency = max(
        1, min(MAX_FREQUENCY, end_step // MASK_UPDATES, steps_per_epoch // UPDATES_PER_EPOCH)
    )
    return {
        "initial_sparsity": initial,
        "final_sparsity": target,
        "begin_step": end_step % frequency,
        "end_step": end_step,
        "power": power,
        "frequency": frequency,
    }


def constant_parameters(target_sparsity: float, *, steps_per_epoch: int) -> dict[str, Any]:
    """``ConstantSparsity``'s arguments: the target from the first update, re-masked each epoch.

    Args:
        target_sparsity: The sparsity, in [0, 1).
        steps_per_epoch: Batches per epoch; the mask is updated every
            ``min(steps_per_epoch, 100)`` steps, so the first update is within epoch 1.

    Returns:
        ``{target_sparsity, begin_step, frequency}``.

    Raises:
        ValueError: On a sparsity outside [0, 1) or ``steps_per_epoch`` < 1.

    Example:
        >>> constant_parameters(0.5, steps_per_epoch=20)["frequency"]
        20
    """
    target = check_sparsity(target_sparsity, "target_sparsity")
    steps = check_positive_int(steps_per_epoch, "steps_per_epoch")
    return {"target_sparsity": target, "begin_step": 0, "frequency": min(MAX_FREQUENCY, steps)}


def raise_if_target_missed(
    target: float,
    reached: float,
    *,
    epochs: int,
    steps_per_epoch: int,
    layer: str | None = None,
    end_step: int | None = None,
) -> None:
    """Raise if the last mask update within training (``reached``) is below ``target``.

    Args:
        target: The schedule's final sparsity.
        reached: The sparsity of its last update within ``epochs * steps_per_epoch`` steps.
        epochs: Fine-tuning epochs.
        steps_per_epoch: Batches per epoch.
        layer: The layer the schedule is for, named in the message.
        end_step: The schedule's ``end_step``, if it has one (named in the message).

    Raises:
        ValueError: If ``reached`` is below ``target``.

    Example:
        >>> raise_if_target_missed(0.5, 0.5, epochs=1, steps_per_epoch=10)
    """
    if reached + 1e-6 < target:
        total = epochs * steps_per_epoch
        where = f" for layer {layer!r}" if layer else ""
        hint = f" (its end_step is {end_step})" if end_step is not None else ""
        raise ValueError(
            f"`epochs`={epochs} is too few: with {steps_per_epoch} steps per epoch training "
            f"runs {total} steps, and the schedule{where}{hint} only reaches sparsity "
            f"{reached:.3f} of its target {target:.3f} by then. Raise `epochs`, or end the "
            f"schedule at step <= {total}."
        )
