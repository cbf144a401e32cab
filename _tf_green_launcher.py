"""The ``tf-green`` console script: quiet TensorFlow's import, then run :mod:`tf_green.cli`.

TensorFlow prints a screen of C++ log lines while it is imported (oneDNN, CUDA drivers, CPU
instructions), some even with ``TF_CPP_MIN_LOG_LEVEL=3``. Importing ``tf_green`` imports
TensorFlow, so this launcher lives outside the ``tf_green`` package: it sets
``TF_CPP_MIN_LOG_LEVEL=3`` and holds back the process's stderr while the CLI is imported,
unless ``--verbose`` is given. What the import printed is shown if the import fails.

Example:
    $ tf-green --help        # no TensorFlow log lines
    $ tf-green --verbose run recipe.yaml
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from types import ModuleType

__all__ = ["main"]


def _import_cli_quietly() -> ModuleType:
    """Import tf_green.cli with file descriptor 2 sent to a temporary file."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            from tf_green import cli
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.buffer.write(sink.read())
            sys.stderr.flush()
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tf-green`` with TensorFlow's import-time log lines hidden (unless --verbose).

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The exit code of :func:`tf_green.cli.main`.

    Example:
        >>> main(["--version"])  # doctest: +SKIP
        tf-green 0.1.0
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if "--verbose" in args:
        from tf_green import cli
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        try:
            cli = _import_cli_quietly()
        except KeyboardInterrupt:
            print("tf-green: interrupted (Ctrl-C)", file=sys.stderr)
            return 130
    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main())
