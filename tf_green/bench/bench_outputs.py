"""What a run bench gives back: energy to solution, break-even, markdown, CSV, plot, report.

:class:`BenchOutputs` is the part of :class:`~tf_green.bench.bench.Bench` that reads its
results after :meth:`~tf_green.bench.bench.Bench.run`; it holds no state of its own.

Example:
    >>> import numpy as np
    >>> from tf_green.bench import Bench
    >>> Bench(np.zeros((2, 2)), np.zeros(2)).to_markdown()
    Traceback (most recent call last):
    ...
    ValueError: no results yet; call bench.run() first.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from tf_green.bench._inputs import num_samples
from tf_green.bench.report import (
    SUMMARY_COLUMNS,
    atomic_write_text,
    labelled,
    report_markdown,
    summary_markdown,
)
from tf_green.bench.solution import break_even, energy_to_solution

if TYPE_CHECKING:  # matplotlib is imported only when a plot is drawn
    from matplotlib.figure import Figure

    from tf_green.bench.metrics import Metric
    from tf_green.bench.targets import Targets

__all__ = ["BenchOutputs"]


class BenchOutputs:
    """Tables, files and plots of a bench's results (mixed into :class:`Bench`).

    Attributes:
        results: The results of ``run()`` (None before).
        metric: The bench metric.
        targets: The KPIs.
        x: The validation inputs.

    Example:
        >>> from tf_green.bench import Bench
        >>> issubclass(Bench, BenchOutputs)
        True
    """

    results: pd.DataFrame | None
    metric: Metric
    targets: Targets
    x: Any

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
            >>> from tf_green.bench import Bench
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
            >>> from tf_green.bench import Bench
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
