"""Profile a baseline and its variants side by side: :class:`Bench`.

Example:
    >>> from tf_green import datasets, models
    >>> (_, _), (x_val, y_val) = datasets.digits()
    >>> bench = Bench(x_val, y_val, targets=Targets(max_metric_drop=0.02), energy=False)
    >>> _ = bench.add("baseline", models.cnn(width=8)).add("small", models.cnn(width=4))
    >>> results = bench.run(progress=False)  # doctest: +SKIP
    >>> list(results["name"])  # doctest: +SKIP
    ['baseline', 'small']
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pandas as pd

from tf_green.bench._inputs import Data, head
from tf_green.bench.bench_outputs import BenchOutputs
from tf_green.bench.compare import compare_profiles
from tf_green.bench.metrics import Metric, resolve_metric
from tf_green.bench.profile import Profile, profile
from tf_green.bench.targets import Targets
from tf_green.bench.variants import Variant, as_variant

__all__ = ["Bench"]

_PROFILE_OPTIONS = frozenset(
    {
        "batch_size",
        "repeats",
        "throughput_batch_size",
        "latency_calls",
        "energy_window_s",
        "energy_source",
        "energy_attribution",
        "energy_budget_s",
        "country_iso_code",
        "carbon_intensity_g_per_kwh",
    }
)


class Bench(BenchOutputs):
    """Profile a baseline and variants on the same data, and compare them to targets.

    Args:
        x: Validation inputs as Keras ``evaluate`` takes them: an array; for several inputs
            a list of arrays (model input order) or a dict keyed by input name; or a
            ``tf.data.Dataset``, batched or not, of ``x``, ``(x, y)`` or ``(dict, y)``.
        y: Validation targets (or None if ``x`` yields them, or for a bench without a
            metric: latency, size, energy only).
        metric: "accuracy", "macro_f1" (higher is better), "perplexity", "mse", "mae",
            "rmse" (lower is better: ``metric_drop`` is ``variant - baseline``), a
            :class:`~tf_green.bench.metrics.Metric`, or a callable ``fn(y_true, y_pred)``
            with ``higher_is_better`` given (a callable without a direction is refused).
            Classification metrics refuse continuous targets and class ids outside the
            output's classes with a ``ValueError``.
        higher_is_better: The direction of a callable ``metric``.
        baseline: Name of the baseline variant; default the first one added.
        targets: The KPIs (default ``Targets()``: at most 0.02 metric drop; without targets
            the default has no metric bound).
        energy: Measure energy for every variant.
        **profile_options: Passed to :func:`~tf_green.bench.profile.profile` for every variant:
            ``batch_size``, ``repeats``, ``throughput_batch_size``, ``latency_calls``,
            ``energy_window_s``, ``energy_source``, ``energy_attribution`` ("process" by
            default, see :mod:`tf_green.bench.profile_energy`), ``energy_budget_s``,
            ``country_iso_code``, ``carbon_intensity_g_per_kwh``.

    Raises:
        ValueError: If ``x`` and ``y`` lengths differ, the metric is unknown or has no
            direction, or ``targets`` bound the metric but there are no targets ``y``.
        TypeError: On an unknown profile option or bad targets.

    Example:
        >>> import numpy as np
        >>> Bench(np.zeros((4, 2)), np.zeros(5))
        Traceback (most recent call last):
        ...
        ValueError: `x` has 4 samples but `y` has 5; they must match (one target per input sample).
    """

    def __init__(
        self,
        x: Any,
        y: Any = None,
        *,
        metric: str | Callable | Metric = "accuracy",
        higher_is_better: bool | None = None,
        baseline: str | None = None,
        targets: Targets | None = None,
        energy: bool = True,
        **profile_options: Any,
    ) -> None:
        unknown = sorted(set(profile_options) - _PROFILE_OPTIONS)
        if unknown:
            raise TypeError(
                f"unknown Bench option(s) {unknown}; valid ones are {sorted(_PROFILE_OPTIONS)}."
            )
        if targets is not None and not isinstance(targets, Targets):
            raise TypeError(f"`targets` must be a Targets, got {type(targets).__name__}.")
        self.metric = resolve_metric(metric, higher_is_better)
        self._data = Data(x, y)
        self.x, self.y = self._data.arrays()
        if self.y is None and targets is not None and targets.max_metric_drop is not None:
            raise ValueError(
                "`targets` bound the metric (max_metric_drop) but there are no targets: pass "
                "`y` (or a dataset of (x, y)), or Targets(max_metric_drop=None) for a bench "
                "without a metric."
            )
        self.baseline = baseline
        self.targets = targets or (Targets() if self.y is not None else Targets(None))
        self.energy = bool(energy)
        self.profile_options = dict(profile_options)
        self._variants: dict[str, Variant] = {}
        self.profiles: dict[str, Profile] = {}
        self.results: pd.DataFrame | None = None

    @property
    def names(self) -> list[str]:
        """Names of the variants added, in order."""
        return list(self._variants)

    def add(self, name: str, model: Any) -> Bench:
        """Add a variant (checked against the data now, profiled by :meth:`run`).

        Args:
            name: Unique name.
            model: A tf_keras model, a Keras 3 model (TensorFlow or JAX backend), a
                ``TFLiteModel``, .tflite bytes, or a path to a .tflite / .keras / .h5 file or
                SavedModel directory.

        Returns:
            The bench, for chaining.

        Raises:
            ValueError: On a duplicate name, a missing path, or a model whose input shape does
                not match the data.

        Example:
            >>> import numpy as np
            >>> Bench(np.zeros((2, 64)), np.zeros(2)).add("a", "missing.tflite")
            Traceback (most recent call last):
            ...
            ValueError: `model` path 'missing.tflite' does not exist; give an existing .tflite, \
.keras or .h5 file or SavedModel directory.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"`name` must be a non-empty string, got {name!r}.")
        if name in self._variants:
            raise ValueError(
                f"a variant named {name!r} was already added; give each variant a unique name "
                f"(added: {self.names})."
            )
        variant = as_variant(model, name)
        if self._data.ambiguous and not self._variants:  # an unbatched dataset? the model says
            self.x, self.y = self._data.arrays(variant.input_ranks())
        variant.check_input(head(self.x, 1))
        self._variants[name] = variant
        return self

    def _baseline_name(self) -> str:
        if not self._variants:
            raise ValueError("no variants to run; add at least one with bench.add(name, model).")
        if self.baseline is None:
            return self.names[0]
        if self.baseline not in self._variants:
            raise ValueError(
                f"`baseline` {self.baseline!r} was not added; add it with "
                f"bench.add({self.baseline!r}, model) or pick one of {self.names}."
            )
        return self.baseline

    def run(self, progress: bool = True) -> pd.DataFrame:
        """Profile every variant (never trains) and compare it to the baseline.

        Args:
            progress: Print one line per variant and stage to stderr.

        Returns:
            One row per variant: the :class:`Profile` fields plus ``is_baseline``,
            ``metric_drop``, ``size_reduction``, ``gzip_reduction``, ``speedup``,
            ``energy_reduction``,
            ``analytic_energy_reduction``, ``meets_targets`` and ``targets_missed``.

        Raises:
            ValueError: If no variant was added or the baseline name was not added.

        Example:
            >>> results = bench.run(progress=False)  # doctest: +SKIP
            >>> results[["name", "size_reduction", "speedup", "meets_targets"]]  # doctest: +SKIP
        """
        base = self._baseline_name()
        total = len(self._variants)
        for index, (name, variant) in enumerate(self._variants.items(), start=1):
            if progress:
                print(f"[tf_green.bench] [{index}/{total}] {name}", file=sys.stderr, flush=True)
            self.profiles[name] = profile(
                variant,
                self.x,
                self.y,
                metric=self.metric,
                energy=self.energy,
                progress=progress,
                **self.profile_options,
            )
        self.results = compare_profiles(self.profiles, base, self.metric, self.targets)
        return self.results
