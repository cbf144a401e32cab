"""Run a :class:`~tf_green.recipe.Recipe`: train, prune, distill, export, bench, report.

The steps themselves live in :mod:`tf_green.workflow_steps`. This module runs them in order,
after checking everything that can be checked before any training: the recipe (validated by
:func:`~tf_green.recipe.parse_recipe`), the data's labels, and every model the recipe loads
against the data (input shape, label range), so a bad file fails in seconds, not after the
first steps trained.

Everything is written into a staging folder beside ``out_dir`` and moved into place only
when every step succeeded: a failed or interrupted run (an error, Ctrl-C, SIGTERM) leaves no
half-written output, and staging folders of runs that were killed outright are removed by the
next run into the same parent (see :mod:`tf_green.workflow_staging`). Error messages name
``out_dir``, never the staging folder.

Only the caller can allow unsafe deserialization (``unsafe_deserialization=True``, the
command line's ``--unsafe-deserialization``); a recipe cannot.

Example:
    >>> from tf_green.recipe import parse_recipe
    >>> recipe = parse_recipe({"steps": [{"train": {"name": "m", "epochs": 1}},
    ...                                  {"save": {"sources": ["m"]}}]})
    >>> result = run_recipe(recipe, "runs/example", progress=None)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import pathlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tf_green import loading
from tf_green._engine import keras_named
from tf_green.recipe import Recipe, dump_recipe
from tf_green.workflow_checks import check_data, check_model, check_same_outputs
from tf_green.workflow_staging import clean_stale, finish, interruptible, make_staging
from tf_green.workflow_steps import RUNNERS, Context, is_language_model
from tf_green.workflow_summary import MAX_SAMPLES, from_bench_table, summarize

__all__ = ["RunResult", "run_recipe"]

Progress = Callable[[str], None] | None


@dataclass(frozen=True)
class RunResult:
    """What a recipe run produced.

    Attributes:
        out_dir: The folder holding every output.
        report: Path of report.md, if a bench step ran.
        table: The bench's pandas DataFrame, if a bench step ran.
        files: Every file written, relative to ``out_dir``.
        duration_s: Wall time of the run.
        summary: One row per model made or loaded: metric on the validation data, sparsity,
            params and size (see :mod:`tf_green.workflow_summary`); None with
            ``summary=False``.
        summary_samples: Validation samples the summary's metric used.

    Example:
        >>> RunResult(pathlib.Path("runs/x"), None, None, (), 1.0).report is None
        True
    """

    out_dir: pathlib.Path
    report: pathlib.Path | None
    table: Any
    files: tuple[str, ...]
    duration_s: float
    summary: Any = None
    summary_samples: int = 0


def _share_like_umask(folder: pathlib.Path) -> None:
    """Give the staged outputs the permissions a plain mkdir/open would have given them."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [folder, *folder.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _preflight(ctx: Context, recipe: Recipe) -> set[int]:
    """Check the data, run every load step and check its model against the data.

    Returns:
        The indices of the load steps already run.
    """
    check_data(ctx.data)
    done = set()
    for index, step in enumerate(recipe.steps):
        if step.kind == "load":
            RUNNERS["load"](ctx, step)
            model = ctx.models.get(step.args["name"])
            if model is not None:
                check_model(model, step.args["name"], f"step {index + 1}, 'load'", ctx.data)
            done.add(index)
    for index, step in enumerate(recipe.steps):
        a = step.args
        if step.kind == "distill" and a["student"] in ctx.models and a["teacher"] in ctx.models:
            where = f"step {index + 1}, 'distill'"
            check_same_outputs(ctx.models[a["teacher"]], ctx.models[a["student"]], where)
    return done


def _summary(ctx: Context, recipe: Recipe) -> Any:
    if "table" in ctx.outputs:
        return from_bench_table(ctx.outputs["table"], ctx.parents)
    _, (x_val, y_val) = ctx.data
    language = np.ndim(y_val) > 1 or any(is_language_model(m) for m in ctx.models.values())
    metric = "perplexity" if language else "accuracy"
    return summarize(ctx.models, ctx.tflite, ctx.parents, x_val, y_val, metric)


def _unstaged(error: BaseException, staging: pathlib.Path, out: pathlib.Path) -> BaseException:
    """The same error with the staging folder's path replaced by ``out``'s."""
    message = str(error.args[0]) if len(error.args) == 1 else str(error)
    shown = message
    for form in {str(staging.resolve()), str(staging)}:
        shown = shown.replace(form, str(out))
    if shown == message:
        return error
    try:
        return type(error)(shown)
    except Exception:  # an exception type that takes other arguments
        return ValueError(shown)


def run_recipe(
    recipe: Recipe,
    out_dir: str | pathlib.Path,
    *,
    data: tuple | None = None,
    energy: bool = True,
    progress: Progress = print,
    unsafe_deserialization: bool = False,
    summary: bool = True,
) -> RunResult:
    """Run every step of ``recipe`` and write its outputs into ``out_dir``, atomically.

    Args:
        recipe: A validated recipe (see :func:`tf_green.recipe.parse_recipe`).
        out_dir: Folder to create; it must not exist yet, or be empty.
        data: ``((x_train, y_train), (x_val, y_val))`` to use instead of ``recipe.data``.
        energy: Measure the energy of each step (CodeCarbon); False skips all metering.
        progress: Called with one line per stage; None for silence.
        unsafe_deserialization: Allow loading model files whose layers carry Python code
            (``Lambda``); only for files you trust. A recipe cannot set this.
        summary: End with the before/after table of every model (``RunResult.summary``).

    Returns:
        A :class:`RunResult`.

    Raises:
        ValueError: If ``out_dir`` exists and is not empty or cannot be created, the data or
            a loaded model does not fit, or a step fails on bad input (nothing is left in
            ``out_dir`` then; the message names ``out_dir``, not the staging folder).
        KeyboardInterrupt: On Ctrl-C or SIGTERM (:class:`~tf_green.workflow_staging.Interrupted`),
            after removing the staging folder.

    Example:
        >>> run_recipe(recipe, "runs/demo")  # doctest: +SKIP
    """
    started = time.perf_counter()
    out = pathlib.Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"`out_dir` {str(out)!r} already exists and is not empty; pick a new one.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        stale = clean_stale(out.parent)
        staging = make_staging(out)
    except OSError as error:
        raise ValueError(f"`out_dir` {str(out)!r} cannot be written: {error}") from None
    if stale and progress is not None:
        progress(f"removed {len(stale)} staging folder(s) of interrupted runs in {out.parent}")
    try:
        with interruptible():
            keras_named(recipe.engine).utils.set_random_seed(recipe.seed)
            loaded = (
                data
                if data is not None
                else loading.load_data(recipe.data, seed=recipe.seed, **recipe.data_options)
            )
            ctx = Context(
                staging=staging,
                data=loaded,
                progress=progress,
                energy=energy,
                unsafe_deserialization=unsafe_deserialization,
                engine=recipe.engine,
            )
            dump_recipe(recipe, staging / "recipe.yaml")
            done = _preflight(ctx, recipe)
            for index, step in enumerate(recipe.steps):
                if index not in done:
                    RUNNERS[step.kind](ctx, step)
            table = _summary(ctx, recipe) if summary else None
            finish(staging)
            _share_like_umask(staging)
            if out.exists():
                out.rmdir()
            staging.rename(out)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        shown = _unstaged(error, staging, out)
        if shown is error:
            raise
        raise shown from error
    files = tuple(sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()))
    report = out / "report.md" if "report" in ctx.outputs else None
    val_samples = len(loaded[1][0])
    samples = val_samples if "table" in ctx.outputs else min(val_samples, MAX_SAMPLES)
    return RunResult(
        out,
        report,
        ctx.outputs.get("table"),
        files,
        time.perf_counter() - started,
        summary=table,
        summary_samples=samples,
    )
