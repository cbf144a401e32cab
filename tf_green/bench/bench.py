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

import math
import os
import pathlib
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from tf_green.bench._inputs import Data, head, num_samples
from tf_green.bench.metrics import Metric, resolve_metric
from tf_green.bench.profile import Profile, profile

if TYPE_CHECKING:  # matplotlib is imported only when a plot is drawn
    from matplotlib.figure import Figure
from tf_green.bench.report import (
    SUMMARY_COLUMNS,
    atomic_write_text,
    labelled,
    report_markdown,
    summary_markdown,
)
from tf_green.bench.solution import break_even, energy_to_solution
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


def _ratio(numerator: Any, denominator: Any) -> float:
    try:
        a, b = float(numerator), float(denominator)
    except (TypeError, ValueError):
        return math.nan
    if math.isnan(a) or math.isnan(b) or b <= 0 or a <= 0:
        return math.nan
    return a / b


class Bench:
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
            model: A tf_keras model, a ``TFLiteModel``, .tflite bytes, or a path to a
                .tflite / .keras / .h5 file or SavedModel directory.

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
        self.results = self._compare(base)
        return self.results

    def _compare(self, base: str) -> pd.DataFrame:
        frame = pd.DataFrame([p.to_dict() for p in self.profiles.values()])
        ref = self.profiles[base]
        frame.insert(1, "is_baseline", frame["name"] == base)
        drops = []
        for value in frame["metric_value"]:
            known = value is not None and ref.metric_value is not None and not pd.isna(value)
            drops.append(self.metric.drop(ref.metric_value, float(value)) if known else math.nan)
        frame["metric_drop"] = drops
        frame["size_reduction"] = [_ratio(ref.size_bytes, v) for v in frame["size_bytes"]]
        frame["gzip_reduction"] = [_ratio(ref.gzip_bytes, v) for v in frame["gzip_bytes"]]
        frame["speedup"] = [_ratio(ref.latency_ms_p50, v) for v in frame["latency_ms_p50"]]
        frame["energy_reduction"] = [
            _ratio(ref.energy_j_per_1k, v) for v in frame["energy_j_per_1k"]
        ]
        frame["analytic_energy_reduction"] = [
            _ratio(ref.analytic_energy_j_per_1k, v) for v in frame["analytic_energy_j_per_1k"]
        ]
        missed = [
            self.targets.missed(
                metric_drop=row.metric_drop,
                size_reduction=row.size_reduction,
                speedup=row.speedup,
                energy_reduction=row.energy_reduction,
                params=row.params,
            )
            for row in frame.itertuples()
        ]
        frame["meets_targets"] = [not m for m in missed]
        frame["targets_missed"] = ["; ".join(m) for m in missed]
        return frame

    def _results(self) -> pd.DataFrame:
        if self.results is None:
            raise ValueError("no results yet; call bench.run() first.")
        return self.results

    def energy_to_solution(self, requests: int | None = None) -> pd.DataFrame:
        """Energy to serve ``requests`` inferences, for variants that meet the metric target.

        See :func:`tf_green.bench.solution.energy_to_solution`.

        Args:
            requests: Number of requests; default the number of validation samples.

        Returns:
            One row per variant: ``requests``, ``energy_j`` (measured, net of idle),
            ``energy_j_per_1k``, ``analytic_energy_j``, ``co2_g`` and ``status``
            ("attained", or "not attained: <why>", with the energy columns left empty).

        Raises:
            ValueError: If ``requests`` < 1 or :meth:`run` was not called.

        Example:
            >>> import numpy as np
            >>> Bench(np.zeros((2, 2)), np.zeros(2)).energy_to_solution()
            Traceback (most recent call last):
            ...
            ValueError: no results yet; call bench.run() first.
        """
        frame = self._results()
        return energy_to_solution(
            frame, self.targets, num_samples(self.x) if requests is None else requests
        )

    def break_even(
        self, compression_energy_j: float | Mapping[str, float], *, basis: str = "measured"
    ) -> pd.DataFrame:
        """Inferences after which a variant's energy savings repay the energy spent making it.

        See :func:`tf_green.bench.solution.break_even`.

        Args:
            compression_energy_j: Energy spent producing the variants (e.g. measured with
                :class:`~tf_green.bench.energy.EnergyMeter` around prune/distill): one figure
                for all, or a mapping from variant name to joules.
            basis: "measured" (net measured J per 1k) or "analytic".

        Returns:
            One row per non-baseline variant: ``basis``, ``compression_energy_j``,
            ``saved_j_per_1k``, ``break_even_inferences``.

        Raises:
            ValueError: On an unknown basis or variant name, a negative energy, or before
                :meth:`run`.

        Example:
            >>> import numpy as np
            >>> Bench(np.zeros((2, 2)), np.zeros(2)).break_even(10.0)
            Traceback (most recent call last):
            ...
            ValueError: no results yet; call bench.run() first.
        """
        return break_even(self._results(), compression_energy_j, basis=basis)

    def to_markdown(self) -> str:
        """The summary table (key columns of :meth:`run`'s results) as markdown.

        Returns:
            The table.

        Raises:
            ValueError: Before :meth:`run`.

        Example:
            >>> print(bench.to_markdown())  # doctest: +SKIP
            | name | kind | metric_value | ...
        """
        return summary_markdown(self._results(), SUMMARY_COLUMNS)

    def to_csv(self, path: str | os.PathLike) -> pathlib.Path:
        """Write all result columns to a CSV file, atomically (energy columns labelled).

        The meter's energy columns are written as ``estimated_energy_j_per_1k`` or
        ``measured_energy_j_per_1k`` (and so on), after what the figures are.

        Args:
            path: Destination; its folder must exist.

        Returns:
            The path.

        Raises:
            ValueError: Before :meth:`run`, or if the folder does not exist.

        Example:
            >>> bench.to_csv("results.csv")  # doctest: +SKIP
            PosixPath('results.csv')
        """
        return atomic_write_text(path, labelled(self._results()).to_csv(index=False))

    def plot(self, path: str | os.PathLike | None = None) -> Figure:
        """Metric vs size and vs energy, Pareto front marked, baseline highlighted.

        Args:
            path: If given, also save the PNG there (atomically).

        Returns:
            The matplotlib figure.

        Raises:
            ValueError: Before :meth:`run`.

        Example:
            >>> bench.plot("tradeoff.png").axes[0].get_xlabel()  # doctest: +SKIP
            'size (bytes)'
        """
        frame = self._results()
        base = frame.loc[frame["is_baseline"], "name"]
        from tf_green.bench.plot import plot_tradeoff

        return plot_tradeoff(
            frame,
            metric=self.metric.name,
            higher_is_better=self.metric.higher_is_better,
            baseline=None if base.empty else str(base.iloc[0]),
            path=path,
        )

    def report(
        self,
        directory: str | os.PathLike,
        compression_energy_j: float | Mapping[str, float] | None = None,
    ) -> pathlib.Path:
        """Write ``report.md``, ``results.csv`` and ``tradeoff.png`` into ``directory``.

        Args:
            directory: Folder to write into (created if missing; nothing is written elsewhere).
            compression_energy_j: Energy spent making the variants (see :meth:`break_even`);
                when given, the report has a break-even section.

        Returns:
            The folder.

        Raises:
            ValueError: Before :meth:`run`, or on a bad ``compression_energy_j``.

        Example:
            >>> bench.report("runs/r", compression_energy_j={"pruned": 120.0})  # doctest: +SKIP
        """
        frame = self._results()
        even = None if compression_energy_j is None else self.break_even(compression_energy_j)
        folder = pathlib.Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        self.plot(folder / "tradeoff.png")
        self.to_csv(folder / "results.csv")
        atomic_write_text(folder / "report.md", self._report_markdown(frame, even))
        return folder

    def _report_markdown(self, frame: pd.DataFrame, even: pd.DataFrame | None = None) -> str:
        return report_markdown(
            frame,
            summary=self.to_markdown(),
            solution=self.energy_to_solution(),
            metric=self.metric.name,
            targets=self.targets,
            break_even=even,
        )
