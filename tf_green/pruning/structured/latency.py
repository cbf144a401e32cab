"""Measured LiteRT latency of a pruned model as a fraction of the original's (``latency=``).

The latency target of :func:`~tf_green.pruning.structured.shrink.shrink` is measured, not
estimated: each model is converted with :func:`tf_green.quantization.to_tflite` (float32)
and run at batch 1 on one thread by LiteRT (XNNPACK), exactly as the bench runs a
``TFLiteModel`` (:class:`tf_green.bench.variants.TFLiteVariant`), and timed with the bench's
latency timer (:func:`tf_green.bench.latency.measure_latency`). On a shared machine timings
drift within a run, so the original and the candidate are timed *interleaved*: each round
times the original, then the candidate, and the fraction is the median of the per-round
ratios of their p50s.

Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3),
    ...                           keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> probe = LatencyProbe(model, rounds=2, calls=5)  # doctest: +SKIP
    >>> probe.measure(model).fraction  # doctest: +SKIP
    1.0...
"""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any

import numpy as np

from tf_green.bench.latency import measure_latency
from tf_green.bench.variants import TFLiteVariant
from tf_green.quantization.convert import to_tflite
from tf_green.quantization.tflite_model import TFLiteModel

__all__ = ["LatencyProbe", "LatencyReading", "check_latency"]


def check_latency(latency: Any) -> float:
    """``latency`` as a float in ``(0, 1)``, or an error naming the argument.

    Example:
        >>> check_latency(0.5)
        0.5
    """
    if isinstance(latency, bool) or not isinstance(latency, (int, float, np.floating, np.integer)):
        raise TypeError(f"`latency` must be a number in (0, 1), got {type(latency).__name__}.")
    if not 0.0 < float(latency) < 1.0:
        raise ValueError(
            f"`latency` is {latency}: it is the fraction of the original's measured float32 "
            "LiteRT batch-1 latency to reach, in (0, 1) (0.5 asks for twice as fast)."
        )
    return float(latency)


@dataclasses.dataclass(frozen=True)
class LatencyReading:
    """One interleaved comparison of a candidate with the original.

    Attributes:
        fraction: Median over rounds of candidate p50 / original p50.
        ms: Median over rounds of the candidate's p50, ms.
        original_ms: Median over rounds of the original's p50, ms.
        rounds: Rounds timed.

    Example:
        >>> LatencyReading(0.5, 1.0, 2.0, 3).fraction
        0.5
    """

    fraction: float
    ms: float
    original_ms: float
    rounds: int


def _sample(model: Any) -> np.ndarray:
    """One fixed batch-1 input for ``model`` (latency does not depend on the values)."""
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1:
        raise ValueError(
            f"`latency=` times single-input models; this one has {len(inputs)} inputs. Use "
            "`macs=` (an analytic target) instead."
        )
    shape = tuple(inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise ValueError(
            f"`latency=` needs a fixed input size to time the model at batch 1; the input has "
            f"shape {inputs[0].shape}. Build the model with a full Input shape, or use `macs=`."
        )
    return np.random.default_rng(0).uniform(size=(1, *shape)).astype(np.float32)


class LatencyProbe:
    """Times candidates against ``original``'s float32 LiteRT export, interleaved in rounds.

    Args:
        original: The unpruned Keras model (converted once, here).
        rounds: Rounds per measurement, >= 1 (each times the original and the candidate).
        calls: Timed calls per model and round; None lets the bench's timer pick enough for
            about 0.25 s (between 20 and 2000).

    Raises:
        ValueError: For a model with several inputs or an input of unknown size, or bad
            ``rounds``/``calls``.

    Example:
        >>> probe = LatencyProbe(model, rounds=3)  # doctest: +SKIP
        >>> probe.measure(smaller_model).fraction  # doctest: +SKIP
        0.55
    """

    def __init__(self, original: Any, rounds: int = 5, calls: int | None = None) -> None:
        for name, value in (("latency_rounds", rounds), ("latency_calls", calls)):
            if value is None and name == "latency_calls":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")
        self.rounds, self.calls = int(rounds), calls
        self.sample = _sample(original)
        self.original = self._runner(original)

    @staticmethod
    def _runner(model: Any) -> TFLiteVariant:
        return TFLiteVariant(TFLiteModel(to_tflite(model), num_threads=1, name=model.name))

    def _p50(self, runner: TFLiteVariant) -> float:
        stats = measure_latency(
            lambda _: runner.run(self.sample), repeats=1, calls=self.calls, warmup=3
        )
        return stats.latency_ms_p50

    def measure(self, model: Any) -> LatencyReading:
        """Convert ``model`` and time it against the original, interleaved.

        Args:
            model: A Keras model with the original's input.

        Returns:
            The :class:`LatencyReading`.

        Example:
            >>> LatencyProbe(model, rounds=2).measure(model).rounds  # doctest: +SKIP
            2
        """
        runner = self._runner(model)
        ratios, mine, theirs = [], [], []
        for _ in range(self.rounds):
            before = self._p50(self.original)
            after = self._p50(runner)
            ratios.append(after / max(before, 1e-9))
            mine.append(after)
            theirs.append(before)
        return LatencyReading(
            fraction=float(statistics.median(ratios)),
            ms=float(statistics.median(mine)),
            original_ms=float(statistics.median(theirs)),
            rounds=self.rounds,
        )
