"""The engine-neutral part of a resumable pruning run's folder: settings, history, writes.

Both engines' checkpoints (tf_keras: :class:`tf_green.pruning.checkpoint.CheckpointRun`,
Keras 3: :class:`tf_green.pruning.keras3.checkpoint.PruningCheckpoint`) derive from
:class:`RunFolder`, which owns ``run.json`` (the settings a resume must match) and
``history.csv`` (the per-epoch logs across resumes); each engine adds its own backup of
the training state. No Keras import.

Example:
    >>> import tempfile
    >>> RunFolder(tempfile.mkdtemp(), {"epochs": 2}).settings_path.name
    'run.json'
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile
from typing import Any

import pandas as pd

__all__ = ["RunFolder", "write_atomically"]


class RunFolder:
    """A checkpoint folder's settings and history (see the module docstring).

    Subclasses set ``resuming`` (whether an interrupted run's backup is there) and then
    call :meth:`refuse_other_settings`.

    Args:
        checkpoint_dir: The folder; created by :meth:`start_fresh` if missing.
        settings: JSON-serialisable settings that must match to resume.

    Raises:
        ValueError: If the path exists and is not a folder.

    Example:
        >>> import tempfile
        >>> RunFolder(tempfile.mkdtemp(), {}).history()
        {}
    """

    def __init__(self, checkpoint_dir: str | os.PathLike, settings: dict[str, Any]) -> None:
        self.dir = pathlib.Path(checkpoint_dir)
        if self.dir.exists() and not self.dir.is_dir():
            raise ValueError(f"`checkpoint_dir` {str(self.dir)!r} exists and is not a folder.")
        self.settings = json.loads(json.dumps(settings, sort_keys=True, default=str))
        self.history_path = self.dir / "history.csv"
        self.settings_path = self.dir / "run.json"
        self.resuming = False

    def refuse_other_settings(self) -> None:
        """Raise if the folder's interrupted run was started with other settings.

        Raises:
            ValueError: Naming the settings that differ.
        """
        saved = self._saved_settings()
        if saved != self.settings:
            changed = sorted(
                key
                for key in set(saved) | set(self.settings)
                if saved.get(key) != self.settings.get(key)
            )
            raise ValueError(
                f"`checkpoint_dir` {str(self.dir)!r} holds an interrupted run with other "
                f"settings (differing: {changed}). Resume it with the same arguments, or "
                "pass an empty folder to start a new run."
            )

    def start_fresh(self) -> None:
        """Create the folder, record the settings (atomically) and reset the history."""
        self.dir.mkdir(parents=True, exist_ok=True)
        write_atomically(
            self.settings_path, json.dumps(self.settings, indent=2, sort_keys=True).encode()
        )
        self.history_path.unlink(missing_ok=True)

    def history(self) -> dict[str, list]:
        """The logged epochs of the whole run (a re-run epoch counts once: its last log)."""
        if not self.history_path.exists() or self.history_path.stat().st_size == 0:
            return {}
        frame = pd.read_csv(self.history_path)
        frame = frame.drop_duplicates("epoch", keep="last").sort_values("epoch")
        return {column: frame[column].tolist() for column in frame.columns if column != "epoch"}

    def _saved_settings(self) -> dict[str, Any]:
        try:
            return json.loads(self.settings_path.read_text())
        except (OSError, ValueError):
            return {}


def write_atomically(path: pathlib.Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
        >>> write_atomically(target, b"ok"); target.read_bytes()
        b'ok'
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
