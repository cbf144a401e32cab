"""The ``tf-green`` command (also ``python -m tf_green``).

Every command builds a recipe (see :mod:`tf_green.recipe`), runs it into ``--out`` and writes
the recipe it ran there too, so each run can be reviewed and repeated with ``tf-green run``.

Models are built on Keras 3 by default (``demo --engine tf_keras`` and ``run --engine
tf_keras``, or the recipe key ``engine: tf_keras``, build them on tf_keras + TFMOT); a model
file given to ``prune``, ``distill``, ``export`` or ``bench`` keeps the engine of its file.

Every command ends with a short before/after table (metric on the validation data, sparsity,
size) of the models it loaded and made, so a failed compression shows as such.

Exit codes: 0 success; 2 bad input: a usage error (unknown command or flag, bad flag value,
unwritable ``--out``) or a ``ValueError``/``TypeError`` from the library (bad model or data
file, data that does not fit the model, bad recipe), printed as one ``tf-green: error:`` line;
1 any other failure; 130 (143) interrupted by Ctrl-C (SIGTERM), with nothing left in ``--out``.
``--verbose`` shows tracebacks and TensorFlow's own log lines, which are hidden otherwise.

Example:
    $ tf-green demo --quick
    $ tf-green demo --quick --engine tf_keras
    $ tf-green prune runs/demo-*/teacher.keras --sparsity 0.8 --data digits
    $ tf-green run runs/demo-20261128-101500/recipe.yaml --out runs/again
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import logging
import os
import pathlib
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence

from absl import logging as absl_logging

from tf_green._version import __version__
from tf_green.demo_recipes import demo_recipe
from tf_green.recipe import ENGINES, parse_recipe
from tf_green.recipe_checks import QUANTIZATIONS
from tf_green.workflow import RunResult, run_recipe
from tf_green.workflow_summary import format_summary

__all__ = ["build_parser", "demo_recipe", "main"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=pathlib.Path, help="output folder (default runs/<cmd>-<time>)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--quiet", action="store_true", help="print only where the results are")
    parser.add_argument("--no-energy", action="store_true", help="skip energy measurement")
    _verbose(parser, argparse.SUPPRESS)


def _verbose(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=default,
        help="show tracebacks and TensorFlow's log lines",
    )


def _data(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument(
        "--data",
        default="digits",
        required=required,
        help="'digits' or an .npz with x_train, y_train, x_val, y_val (default digits)",
    )
    _unsafe(parser)


def _engine(parser: argparse.ArgumentParser, default: str | None, help_text: str) -> None:
    parser.add_argument("--engine", choices=list(ENGINES), default=default, help=help_text)


def _unsafe(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--unsafe-deserialization",
        action="store_true",
        help="allow model files whose layers carry Python code (Lambda); trusted files only",
    )


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``tf-green`` command.

    Returns:
        The parser, one sub-command per workflow step.

    Example:
        >>> build_parser().parse_args(["demo", "--quick"]).quick
        True
    """
    parser = argparse.ArgumentParser(
        prog="tf-green",
        description="Make trained Keras models smaller, faster and cheaper in energy.",
    )
    parser.add_argument("--version", action="version", version=f"tf-green {__version__}")
    _verbose(parser, False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", help="the whole workflow on embedded data")
    demo.add_argument("--quick", action="store_true", help="a short run (< 3 minutes)")
    demo.add_argument(
        "--task", choices=["digits", "slm"], default="digits", help="digits CNN or the SLM"
    )
    _engine(demo, "keras3", "the Keras the models are built with (default keras3; tf_keras: TFMOT)")
    _common(demo)

    prune = commands.add_parser("prune", help="prune a saved model and fine-tune it")
    prune.add_argument("model", help="a .keras, .h5 or SavedModel path")
    prune.add_argument("--sparsity", type=float, default=0.8, help="target sparsity in [0, 1)")
    prune.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs")
    prune.add_argument("--structure", default="", help="m:n structured sparsity, e.g. 2:4")
    _data(prune)
    _common(prune)

    distill = commands.add_parser("distill", help="distill a saved teacher into a student")
    distill.add_argument("teacher", help="the teacher model path")
    distill.add_argument("student", help="the (untrained) student model path")
    distill.add_argument("--epochs", type=int, default=20)
    distill.add_argument("--alpha", type=float, default=0.1, help="weight of the label loss")
    distill.add_argument("--temperature", type=float, default=4.0)
    _data(distill)
    _common(distill)

    export = commands.add_parser("export", help="convert a saved model to .tflite")
    export.add_argument("model", help="the model path")
    export.add_argument(
        "--quantization",
        choices=QUANTIZATIONS,
        default=["int8"],
        nargs="+",
        help="one or more of %(choices)s (default int8)",
    )
    _data(export)
    _common(export)

    bench = commands.add_parser("bench", help="profile models and .tflite files side by side")
    bench.add_argument(
        "models", nargs="+", help="model or .tflite paths; the first is the baseline"
    )
    bench.add_argument("--max-metric-drop", type=float, default=0.02)
    bench.add_argument(
        "--min-size-reduction", type=float, default=2.0, help="size factor, 2.0 = half the size"
    )
    _data(bench)
    _common(bench)

    run = commands.add_parser("run", help="run a recipe file (.yaml or .json)")
    run.add_argument("recipe", type=pathlib.Path, help="the recipe file")
    _unsafe(run)
    _engine(run, None, "override the recipe's 'engine' key")
    _common(run)
    return parser


def _name(path: str) -> str:
    stem = pathlib.Path(path.rstrip("/")).name.split(".")[0]
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in stem) or "model"


def _load_steps(paths: Sequence[str], args: argparse.Namespace) -> tuple[list[dict], list[str]]:
    steps, names = [], []
    for path in paths:
        name = _name(path)
        while name in names:
            name += "_"
        names.append(name)
        steps.append({"load": {"name": name, "path": path}})
    return steps, names


def _recipe_for(args: argparse.Namespace) -> dict:
    if args.command == "demo":
        return demo_recipe(args.task, args.quick, args.seed, args.engine)
    if args.command == "run":
        return None  # parsed from the file
    loads, names = _load_steps(
        {
            "prune": lambda: [args.model],
            "distill": lambda: [args.teacher, args.student],
            "export": lambda: [args.model],
            "bench": lambda: args.models,
        }[args.command](),
        args,
    )
    if args.command == "prune":
        steps = [
            {
                "prune": {
                    "name": f"{names[0]}_pruned",
                    "source": names[0],
                    "sparsity": args.sparsity,
                    "epochs": args.epochs,
                    "structure": args.structure,
                }
            },
            {"save": {"sources": [f"{names[0]}_pruned"]}},
        ]
    elif args.command == "distill":
        steps = [
            {
                "distill": {
                    "name": f"{names[1]}_distilled",
                    "teacher": names[0],
                    "student": names[1],
                    "epochs": args.epochs,
                    "alpha": args.alpha,
                    "temperature": args.temperature,
                }
            },
            {"save": {"sources": [f"{names[1]}_distilled"]}},
        ]
    elif args.command == "export":
        steps = [{"export": {"sources": [names[0]], "quantization": list(args.quantization)}}]
    else:
        steps = [
            {
                "bench": {
                    "baseline": names[0],
                    "max_metric_drop": args.max_metric_drop,
                    "min_size_reduction": args.min_size_reduction,
                }
            }
        ]
    return {"data": args.data, "seed": args.seed, "steps": loads + steps}


def _check_out(parser: argparse.ArgumentParser, args: argparse.Namespace) -> pathlib.Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or pathlib.Path("runs") / f"{args.command}-{stamp}"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        parser.error(f"--out {str(out)!r} exists and is not empty; choose a new folder")
    parent = out.parent if str(out.parent) else pathlib.Path(".")
    existing = next((p for p in [parent, *parent.parents] if p.exists()), pathlib.Path("."))
    if not existing.is_dir():
        parser.error(f"--out {str(out)!r} is not writable ({existing} is a file, not a folder)")
    if not os.access(existing, os.W_OK):
        parser.error(f"--out {str(out)!r} is not writable (no write permission on {existing})")
    return out


@contextlib.contextmanager
def _quiet_logs(verbose: bool) -> Iterator[None]:
    """Hide absl's and TensorFlow's Python log lines and other packages' warnings.

    tf_green's own warnings still show, as one ``tf-green: warning:`` line each. TensorFlow's
    C++ lines at import are hidden by the console script's launcher (``_tf_green_launcher``).
    """
    if verbose:
        yield
        return
    tf_logger = logging.getLogger("tensorflow")
    absl_level, tf_level = absl_logging.get_verbosity(), tf_logger.level

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if f"{os.sep}tf_green{os.sep}" in str(filename):
            print(f"tf-green: warning: {message}", file=sys.stderr)

    absl_logging.set_verbosity(absl_logging.ERROR)
    tf_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = show
            yield
    finally:
        absl_logging.set_verbosity(absl_level)
        tf_logger.setLevel(tf_level)


def _print_result(result: RunResult, quiet: bool) -> None:
    if result.table is not None and not quiet:
        print(result.table.to_string(max_cols=12))
    if result.summary is not None and not result.summary.empty:
        print(format_summary(result.summary, result.summary_samples))
    print(f"results in {result.out_dir}" + (f" (report: {result.report})" if result.report else ""))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tf-green`` command.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The exit code: 0 on success, 2 on bad input (a one-line ``tf-green: error:``), 1 on
        any other failure, 130/143 when interrupted. Usage errors exit with 2 through
        ``SystemExit``, as argparse does.

    Example:
        >>> main(["demo", "--quick", "--out", "runs/quick"])  # doctest: +SKIP
        0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    out = _check_out(parser, args)
    with _quiet_logs(args.verbose):
        return _run(args, out)


def _run(args: argparse.Namespace, out: pathlib.Path) -> int:

    def say(message: str) -> None:
        print(f"[tf-green] {message}", flush=True)

    try:
        recipe = parse_recipe(args.recipe if args.command == "run" else _recipe_for(args))
        if args.command == "run" and args.engine is not None:
            recipe = dataclasses.replace(recipe, engine=args.engine)
        result = run_recipe(
            recipe,
            out,
            energy=not args.no_energy,
            progress=None if args.quiet else say,
            unsafe_deserialization=getattr(args, "unsafe_deserialization", False),
        )
    except KeyboardInterrupt as error:
        signum = getattr(error, "signum", signal.SIGINT)
        name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
        print(f"tf-green: interrupted ({name}); nothing was written to {out}", file=sys.stderr)
        return 128 + int(signum)
    except (ValueError, TypeError) as error:
        if args.verbose:
            raise
        print(f"tf-green: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        if args.verbose:
            raise
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        print(
            f"tf-green: error: {type(error).__name__}: {first} (run with --verbose for the "
            "traceback)",
            file=sys.stderr,
        )
        return 1
    _print_result(result, args.quiet)
    return 0
