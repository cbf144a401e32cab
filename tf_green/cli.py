"""The ``tf-green`` command.

Example:
    $ tf-green demo --quick
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``tf-green`` command.

    Returns:
        The parser, with one sub-command per workflow step.

    Example:
        >>> build_parser().parse_args(["demo", "--quick"]).quick
        True
    """
    parser = argparse.ArgumentParser(
        prog="tf-green",
        description="Make trained Keras models smaller, faster and cheaper in energy.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="run the workflow on the embedded digits data")
    demo.add_argument("--quick", action="store_true", help="fewer epochs, for a smoke run")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--quiet", action="store_true", help="print only the result")
    return parser


def _demo(args: argparse.Namespace) -> int:
    from tf_green import datasets, models
    from tf_green._keras import keras

    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_val, y_val) = datasets.digits(seed=args.seed)
    model = models.cnn(width=32)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    epochs = 3 if args.quick else 15
    model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=32,
        validation_data=(x_val, y_val),
        verbose=0 if args.quiet else 2,
    )
    _, accuracy = model.evaluate(x_val, y_val, verbose=0)
    print(
        f"baseline {model.name}: {model.count_params():,} params, "
        f"validation accuracy {accuracy:.4f} after {epochs} epochs"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tf-green`` command.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The exit code: 0 on success, 1 on a failed run, 2 on a usage error.

    Example:
        >>> main(["--version"])  # doctest: +SKIP
        0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from tf_green._version import __version__

        print(__version__)
        return 0
    if args.command == "demo":
        return _demo(args)
    parser.print_help(sys.stderr)
    return 2
