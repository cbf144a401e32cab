"""Where an export goes: check the path before converting, then write it atomically.

Engine-neutral (no Keras imported): shared by :func:`tf_green.quantization.to_tflite` for
tf_keras and Keras 3 models.

Example:
    >>> import tempfile, pathlib
    >>> folder = tempfile.mkdtemp()
    >>> target = check_path(pathlib.Path(folder) / "model.tflite")
    >>> write_atomically(target, b"bytes")
    >>> target.read_bytes()
    b'bytes'
"""

from __future__ import annotations

import os
import pathlib
import tempfile

__all__ = ["check_path", "write_atomically"]


def check_path(path: str | os.PathLike) -> pathlib.Path:
    """Check, before any work, that ``path`` can be written; return it as a Path.

    Besides the folder's permission bits, a temporary file is created (and removed) next to
    ``path``: that is what :func:`write_atomically` does later, and it also catches folders
    that ``os.access`` calls writable but are not (read-only mounts, ``/proc``, root).
    """
    try:
        target = pathlib.Path(os.path.expanduser(os.fspath(path)))
    except TypeError:
        raise TypeError(
            f"`path` must be a str or os.PathLike, got {type(path).__name__}."
        ) from None
    folder = target.parent
    if not folder.is_dir():
        raise ValueError(
            f"`path` {str(target)!r}: folder {str(folder)!r} does not exist; create it first "
            "or choose another path."
        )
    if target.is_dir():
        raise ValueError(f"`path` {str(target)!r} is a folder; give a file name (model.tflite).")
    if target.exists() and not os.access(target, os.W_OK):
        raise ValueError(
            f"`path` {str(target)!r} exists and is read-only; remove it or choose another path."
        )
    unwritable = ValueError(
        f"`path` {str(target)!r}: folder {str(folder)!r} is not writable; choose a folder "
        "you can write to."
    )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise unwritable
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise ValueError(f"{unwritable.args[0][:-1]} ({error.strerror or error}).") from None
    os.close(fd)
    os.unlink(probe)
    return target


def write_atomically(target: pathlib.Path, content: bytes) -> None:
    """Write via a temporary file in the same folder and ``os.replace``; no partial file."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as error:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(error, OSError):
            raise OSError(
                error.errno, f"could not write `path` {str(target)!r}: {error.strerror or error}"
            ) from error
        raise
