"""Pruning schedules in pure Python: TFMOT's step semantics without TFMOT or a Keras import.

A schedule answers, for a training step (counted from 1, the first batch), whether the
masks are updated at that step (``should_prune``) and to which sparsity (``sparsity``),
exactly as TFMOT's ``PolynomialDecay`` (Zhu & Gupta, 2017) and ``ConstantSparsity`` do:
the same float32 arithmetic, the same ``[begin_step, end_step]`` range and ``frequency``.
The Keras 3 engine (:mod:`tf_green.pruning.keras3`) uses these; the tf_keras engine uses
TFMOT's own classes (:mod:`tf_green.pruning.schedules`). Configs have TFMOT's layout, so a
TFMOT schedule converts with :func:`as_schedule`.

Example:
    >>> s = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=100, frequency=10)
    >>> s.should_prune(50), round(s.sparsity(50), 4)
    (True, 0.7)
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = [
    "ConstantSparsity",
    "PolynomialDecay",
    "PruningSchedule",
    "as_schedule",
    "check_sparsity",
    "parse_structure",
]


def check_sparsity(value: Any, argument: str) -> float:
    """Return ``value`` as a float if it is a sparsity in [0, 1); else raise.

    Args:
        value: The sparsity to check.
        argument: The argument (or layer) it came from, used in the message.

    Returns:
        ``float(value)``.

    Raises:
        TypeError: If ``value`` is not a real number.
        ValueError: If it is outside [0, 1) (a sparsity of 1 would remove every weight).

    Example:
        >>> check_sparsity(0.8, "target_sparsity")
        0.8
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{argument}` must be a number in [0, 1), got {value!r}.")
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(
            f"`{argument}` must be in [0, 1), got {value!r}: it is the fraction of weights "
            "set to zero (0.8 keeps 20%); 1.0 would remove every weight."
        )
    return value


def parse_structure(structure: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """Parse an ``"m:n"`` structured-sparsity spec (m zeros in every n weights).

    Args:
        structure: ``"2:4"``, ``(2, 4)`` or None (unstructured).

    Returns:
        ``(m, n)`` or None.

    Raises:
        TypeError: If ``structure`` is neither a string, a pair of ints nor None.
        ValueError: If it is malformed or not ``1 <= m < n``.

    Example:
        >>> parse_structure("2:4")
        (2, 4)
    """
    if structure is None:
        return None
    if isinstance(structure, str):
        parts = structure.split(":")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(
                f"`structure` must look like 'm:n' (m zeros in every n weights), e.g. '2:4'; "
                f"got {structure!r}."
            )
        m, n = (int(p) for p in parts)
    elif isinstance(structure, (tuple, list)) and len(structure) == 2:
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in structure):
            raise TypeError(f"`structure` must be a pair of ints like (2, 4), got {structure!r}.")
        m, n = int(structure[0]), int(structure[1])
    else:
        raise TypeError(
            f"`structure` must be an 'm:n' string such as '2:4', or None; got {structure!r}."
        )
    if not 1 <= m < n:
        raise ValueError(
            f"`structure`={structure!r} is invalid: it needs 1 <= m < n (m zeros in every n "
            "consecutive weights; m >= n would zero everything). Use e.g. '2:4' or '1:2'."
        )
    return m, n


class PruningSchedule:
    """Base class: ``should_prune(step)`` and ``sparsity(step)`` over steps counted from 1.

    Subclasses set ``begin_step``, ``end_step`` (-1: no end) and ``frequency`` and
    implement :meth:`sparsity`; ``schedule(step)`` returns ``(should_prune, sparsity)``
    like a TFMOT schedule.

    Example:
        >>> ConstantSparsity(0.5, begin_step=0, frequency=4)(8)
        (True, 0.5)
    """

    begin_step: int
    end_step: int
    frequency: int

    def should_prune(self, step: int) -> bool:
        """Whether the masks are updated at ``step`` (TFMOT's ``_should_prune_in_step``).

        Args:
            step: The training step, from 1.

        Returns:
            True inside ``[begin_step, end_step]`` (no end if ``end_step < 0``) on every
            ``frequency``-th step counted from ``begin_step``.
        """
        step = int(step)
        in_range = step >= self.begin_step and (step <= self.end_step or self.end_step < 0)
        return in_range and (step - self.begin_step) % self.frequency == 0

    def sparsity(self, step: int) -> float:
        """The sparsity the masks get if they are updated at ``step``.

        Args:
            step: The training step, from 1.

        Returns:
            The sparsity in [0, 1).
        """
        raise NotImplementedError

    def __call__(self, step: int) -> tuple[bool, float]:
        """``(should_prune(step), sparsity(step))``, as TFMOT schedules return them."""
        return self.should_prune(step), self.sparsity(step)

    @property
    def target(self) -> float:
        """The sparsity once the schedule is over (its final sparsity)."""
        return self.sparsity(2**40)

    def get_config(self) -> dict[str, Any]:
        """``{"class_name": ..., "config": {...}}``, TFMOT's layout."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PruningSchedule:
        """Rebuild a schedule from ``get_config()["config"]``."""
        return cls(**config)

    def with_target(self, target: float) -> PruningSchedule:
        """A copy with another final sparsity (for per-layer targets).

        Args:
            target: The new final sparsity, in [0, 1).

        Returns:
            The new schedule.
        """
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash(repr(self.get_config()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config()["config"].items())
        return f"{type(self).__name__}({args})"


def _validate_steps(begin_step: int, end_step: int, frequency: int, allow_no_end: bool) -> None:
    for name, value in (("begin_step", begin_step), ("end_step", end_step)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"`{name}` must be an int, got {value!r}.")
    if isinstance(frequency, bool) or not isinstance(frequency, numbers.Integral) or frequency < 1:
        raise ValueError(f"`frequency` must be an integer >= 1, got {frequency!r}.")
    if begin_step < 0:
        raise ValueError(f"`begin_step` must be >= 0, got {begin_step}.")
    if end_step == -1 and allow_no_end:
        return
    if end_step < begin_step:
        raise ValueError(
            f"`end_step` ({end_step}) must be >= `begin_step` ({begin_step})"
            + (" or -1 (no end)." if allow_no_end else ".")
        )


class PolynomialDecay(PruningSchedule):
    """Sparsity rising from ``initial_sparsity`` to ``final_sparsity`` as ``1 - (1 - p)**power``.

    ``p = clip((step - begin_step) / (end_step - begin_step), 0, 1)`` and
    ``sparsity = final + (initial - final) * (1 - p) ** power``, in float32 as TFMOT computes
    it; masks are updated every ``frequency`` steps from ``begin_step`` to ``end_step``.

    Args:
        initial_sparsity: Sparsity at ``begin_step``, in [0, 1).
        final_sparsity: Sparsity from ``end_step`` on, in [0, 1).
        begin_step: First step of the ramp, >= 0.
        end_step: Last step of the ramp, >= ``begin_step``.
        power: Exponent of the decay (3 in Zhu & Gupta).
        frequency: Steps between mask updates, >= 1.

    Raises:
        ValueError: On a sparsity outside [0, 1) or invalid steps.

    Example:
        >>> round(PolynomialDecay(0.0, 0.8, 0, 10, frequency=1).sparsity(5), 4)
        0.7
    """

    def __init__(
        self,
        initial_sparsity: float,
        final_sparsity: float,
        begin_step: int,
        end_step: int,
        power: float = 3,
        frequency: int = 100,
    ) -> None:
        self.initial_sparsity = check_sparsity(initial_sparsity, "initial_sparsity")
        self.final_sparsity = check_sparsity(final_sparsity, "final_sparsity")
        _validate_steps(begin_step, end_step, frequency, allow_no_end=False)
        self.begin_step, self.end_step = int(begin_step), int(end_step)
        self.frequency = int(frequency)
        self.power = power

    def sparsity(self, step: int) -> float:
        """The polynomial sparsity at ``step`` (float32 maths, as TFMOT)."""
        f32 = np.float32
        span = self.end_step - self.begin_step
        if span == 0:  # TFMOT divides by zero here; the ramp is a step at begin_step
            p = f32(1.0) if int(step) >= self.begin_step else f32(0.0)
        else:
            p = f32(int(step) - self.begin_step) / f32(span)
            p = np.minimum(f32(1.0), np.maximum(f32(0.0), p))
        value = f32(self.initial_sparsity - self.final_sparsity) * np.power(
            f32(1.0) - p, f32(self.power)
        ) + f32(self.final_sparsity)
        return float(f32(value))

    def get_config(self) -> dict[str, Any]:
        """TFMOT's config layout for ``PolynomialDecay``."""
        return {
            "class_name": "PolynomialDecay",
            "config": {
                "initial_sparsity": self.initial_sparsity,
                "final_sparsity": self.final_sparsity,
                "power": self.power,
                "begin_step": self.begin_step,
                "end_step": self.end_step,
                "frequency": self.frequency,
            },
        }

    def with_target(self, target: float) -> PolynomialDecay:
        """A copy ending at ``target`` (its initial sparsity capped at ``target``)."""
        config = dict(self.get_config()["config"])
        config["final_sparsity"] = check_sparsity(target, "target")
        config["initial_sparsity"] = min(config["initial_sparsity"], config["final_sparsity"])
        return PolynomialDecay(**config)


class ConstantSparsity(PruningSchedule):
    """One sparsity throughout, the masks updated every ``frequency`` steps.

    Args:
        target_sparsity: The sparsity, in [0, 1).
        begin_step: First update step, >= 0.
        end_step: Last update step, or -1 (TFMOT's default) for no end.
        frequency: Steps between mask updates, >= 1.

    Raises:
        ValueError: On a sparsity outside [0, 1) or invalid steps.

    Example:
        >>> ConstantSparsity(0.5, begin_step=0, frequency=10).should_prune(15)
        False
    """

    def __init__(
        self, target_sparsity: float, begin_step: int, end_step: int = -1, frequency: int = 100
    ) -> None:
        self.target_sparsity = check_sparsity(target_sparsity, "target_sparsity")
        _validate_steps(begin_step, end_step, frequency, allow_no_end=True)
        self.begin_step, self.end_step = int(begin_step), int(end_step)
        self.frequency = int(frequency)

    def sparsity(self, step: int) -> float:
        """The constant sparsity (as a float32 value, as TFMOT returns it)."""
        return float(np.float32(self.target_sparsity))

    def get_config(self) -> dict[str, Any]:
        """TFMOT's config layout for ``ConstantSparsity``."""
        return {
            "class_name": "ConstantSparsity",
            "config": {
                "target_sparsity": self.target_sparsity,
                "begin_step": self.begin_step,
                "end_step": self.end_step,
                "frequency": self.frequency,
            },
        }

    def with_target(self, target: float) -> ConstantSparsity:
        """A copy at ``target``."""
        config = dict(self.get_config()["config"])
        config["target_sparsity"] = check_sparsity(target, "target")
        return ConstantSparsity(**config)


_CLASSES = {"PolynomialDecay": PolynomialDecay, "ConstantSparsity": ConstantSparsity}


def as_schedule(schedule: Any, argument: str = "schedule") -> PruningSchedule:
    """This module's schedule for ``schedule``: itself, or a TFMOT schedule converted.

    A TFMOT ``PolynomialDecay`` or ``ConstantSparsity`` (or a config dict as their
    ``get_config()`` returns) converts by its config, without importing TFMOT.

    Args:
        schedule: A :class:`PruningSchedule`, a TFMOT schedule of those two classes, or
            their ``{"class_name": ..., "config": ...}`` config.
        argument: The argument it came from, used in messages.

    Returns:
        The schedule.

    Raises:
        TypeError: For anything else (e.g. a custom TFMOT schedule class).

    Example:
        >>> as_schedule({"class_name": "ConstantSparsity",
        ...              "config": {"target_sparsity": 0.5, "begin_step": 0}}).target
        0.5
    """
    if isinstance(schedule, PruningSchedule):
        return schedule
    config = schedule if isinstance(schedule, dict) else None
    if config is None and callable(getattr(schedule, "get_config", None)):
        config = schedule.get_config()
    cls = _CLASSES.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None or not isinstance(config.get("config"), dict):
        raise TypeError(
            f"`{argument}` must be 'polynomial', 'constant', a "
            "tf_green.pruning.schedule_math.PruningSchedule (PolynomialDecay, "
            "ConstantSparsity or a subclass), or a TFMOT PolynomialDecay/ConstantSparsity; "
            f"got {type(schedule).__name__}. For a custom schedule, subclass "
            "PruningSchedule and implement `sparsity(step)`."
        )
    return cls.from_config(dict(config["config"]))
