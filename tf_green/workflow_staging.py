"""Staging folders of recipe runs: made with an owner file, cleaned when their run is gone.

A run writes into a hidden folder ``.<out name>.<random>`` beside its output folder and
renames it into place only when every step succeeded. The folder holds an owner file (the pid,
start time and host of the run), so the next run into the same parent can tell a folder whose
run was killed (SIGKILL, power loss) from one that another live run is still writing, and
remove only the first kind. :func:`interruptible` turns SIGTERM into an exception while a run
is in progress, so that run removes its own folder as it does on Ctrl-C.

Example:
    >>> import pathlib, tempfile
    >>> parent = pathlib.Path(tempfile.mkdtemp())
    >>> staging = make_staging(parent / "out")
    >>> staging.name.startswith(".out."), clean_stale(parent)
    (True, [])
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator

import psutil

__all__ = [
    "OWNER_FILE",
    "Interrupted",
    "clean_stale",
    "finish",
    "interruptible",
    "make_staging",
]

#: The file inside a staging folder naming the run that writes it.
OWNER_FILE = ".tf-green-run.json"


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal (SIGTERM); ``signum`` says which.

    Example:
        >>> Interrupted(15).signum
        15
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum


def _process_started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def make_staging(out: pathlib.Path) -> pathlib.Path:
    """Create the staging folder of a run into ``out``, with its owner file.

    Args:
        out: The run's output folder (its parent must exist).

    Returns:
        The new hidden folder beside ``out``.

    Raises:
        OSError: If the parent is not writable.

    Example:
        >>> make_staging(pathlib.Path("runs/demo"))  # doctest: +SKIP
        PosixPath('runs/.demo.k2x9q1ab')
    """
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    owner = {
        "pid": os.getpid(),
        "started": _process_started(os.getpid()),
        "host": socket.gethostname(),
    }
    (staging / OWNER_FILE).write_text(json.dumps(owner))
    return staging


def _abandoned(folder: pathlib.Path) -> bool:
    """Whether the run that owns ``folder`` is gone (False when unsure)."""
    try:
        owner = json.loads((folder / OWNER_FILE).read_text())
        pid, started, host = int(owner["pid"]), owner["started"], owner["host"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if host != socket.gethostname():
        return False  # another machine's run (shared file system): cannot tell
    now = _process_started(pid)
    return now is None or started is None or abs(now - float(started)) > 1.0


def clean_stale(parent: pathlib.Path) -> list[pathlib.Path]:
    """Remove the staging folders in ``parent`` whose run no longer exists.

    Only folders holding an :data:`OWNER_FILE` are considered; one whose process is still
    alive (same pid and start time, same host) is left alone.

    Args:
        parent: The folder runs write into.

    Returns:
        The folders removed.

    Example:
        >>> clean_stale(pathlib.Path("runs"))  # doctest: +SKIP
        [PosixPath('runs/.demo.k2x9q1ab')]
    """
    removed = []
    if not parent.is_dir():
        return removed
    for folder in sorted(parent.glob(".*")):
        if folder.is_dir() and (folder / OWNER_FILE).is_file() and _abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder)
    return removed


def finish(staging: pathlib.Path) -> None:
    """Remove the owner file before the folder becomes the output.

    Example:
        >>> finish(pathlib.Path("runs/.demo.k2x9q1ab"))  # doctest: +SKIP
    """
    (staging / OWNER_FILE).unlink(missing_ok=True)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Raise :class:`Interrupted` on SIGTERM inside the block (main thread only).

    Ctrl-C already raises ``KeyboardInterrupt``; with this, ``kill`` (SIGTERM) also unwinds the
    run, so its ``except``/``finally`` clauses remove the staging folder.

    Example:
        >>> with interruptible():
        ...     pass
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
