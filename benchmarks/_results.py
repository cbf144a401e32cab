"""Shared by the benchmark scripts: write one section of benchmarks/RESULTS.md.

Each script owns one section, delimited by HTML comments, and replaces only that section,
atomically and under a file lock, so scripts can run in any order (or at once).
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import os
import pathlib
import platform
import sys
import tempfile

RESULTS = pathlib.Path(__file__).resolve().parent / "RESULTS.md"
HEADER = (
    "# tf_green benchmark results\n\n"
    "Written by the scripts in `benchmarks/` (`make bench` runs them all).\n"
    "Every ratio is measured side by side in one run.\n"
    "Energy figures on machines without RAPL are CodeCarbon estimates\n"
    "(CPU TDP x load + a RAM power model), not measurements: each section says which.\n"
)


def machine() -> str:
    """One line describing this machine and the software stack."""
    import tensorflow as tf

    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, TensorFlow {tf.__version__}"
    )


def write_section(name: str, body: str, command: str | None = None) -> pathlib.Path:
    """Replace the section ``name`` of RESULTS.md with ``body`` (markdown), stamped.

    Args:
        name: Section key, e.g. "pruning"; also its heading.
        body: Markdown of the figures.
        command: The command that produced them; defaults to this process's argv.

    Returns:
        The path of RESULTS.md.
    """
    command = command or "python " + " ".join(
        [pathlib.Path(sys.argv[0]).as_posix().split("/work/")[-1], *sys.argv[1:]]
    )
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"{start}\n## {name}\n\n"
        f"Command: `{command}`  \nMachine: {machine()}  \nDate: {stamp}\n\n"
        f"{body.strip()}\n{end}"
    )
    lock_path = RESULTS.with_suffix(".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = RESULTS.read_text() if RESULTS.exists() else HEADER
        if start in text and end in text:
            before, rest = text.split(start, 1)
            after = rest.split(end, 1)[1]
            text = before + section + after
        else:
            text = text.rstrip() + "\n\n" + section + "\n"
        fd, tmp = tempfile.mkstemp(dir=RESULTS.parent, prefix=".RESULTS.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, RESULTS)
    return RESULTS
