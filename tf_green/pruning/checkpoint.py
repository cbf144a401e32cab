"""Resumable pruning runs: back up after every epoch, resume at the right pruning step.

A checkpoint folder holds:

* ``backup/``: Keras ``BackupAndRestore`` state (all weights, including the wrappers'
  masks and pruning steps, the optimizer, and the epoch); deleted when a run completes.
* ``run.json``: the settings of the run (schedule, epochs, steps per epoch, layers ...),
  so a resume with different settings is refused instead of silently mixing schedules.
* ``history.csv``: the per-epoch logs, appended across resumes, so the returned history
  covers the whole run.

Example:
    >>> import tempfile
    >>> run = CheckpointRun(tempfile.mkdtemp(), {"epochs": 2})
    >>> run.resuming
    False
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile
from typing import Any

import pandas as pd

from tf_green._keras import keras

__all__ = ["CheckpointRun"]


class CheckpointRun:
    """The checkpoint folder of one ``tg.prune`` run (see the module docstring).

    Args:
        checkpoint_dir: The folder; created if missing.
        settings: JSON-serialisable settings that must match to resume.

    Raises:
        ValueError: If the folder holds an interrupted run with different settings.

    Example:
        >>> import tempfile
        >>> CheckpointRun(tempfile.mkdtemp(), {"epochs": 2}).backup_dir.name
        'backup'
    """

    def __init__(self, checkpoint_dir: str | os.PathLike, settings: dict[str, Any]) -> None:
        self.dir = pathlib.Path(checkpoint_dir)
        if self.dir.exists() and not self.dir.is_dir():
            raise ValueError(f"`checkpoint_dir` {str(self.dir)!r} exists and is not a folder.")
        self.settings = json.loads(json.dumps(settings, sort_keys=True, default=str))
        self.backup_dir = self.dir / "backup"
        self.history_path = self.dir / "history.csv"
        self.settings_path = self.dir / "run.json"
        self.resuming = self.backup_dir.is_dir() and any(self.backup_dir.rglob("*"))
        if self.resuming:
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

    def start(self) -> None:
        """Prepare the folder: on a fresh run, record the settings and reset the history."""
        if self.resuming:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.settings_path, json.dumps(self.settings, indent=2, sort_keys=True))
        self.history_path.unlink(missing_ok=True)

    def callbacks(self) -> list[keras.callbacks.Callback]:
        """``CSVLogger`` (appending) then ``BackupAndRestore``, to run after the pruning ones."""
        return [
            keras.callbacks.CSVLogger(str(self.history_path), append=True),
            keras.callbacks.BackupAndRestore(str(self.backup_dir), delete_checkpoint=True),
        ]

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


def _write_atomically(path: pathlib.Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
