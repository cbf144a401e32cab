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

import os
from typing import Any

from tf_green._keras import keras
from tf_green.pruning.checkpoint_files import RunFolder

__all__ = ["CheckpointRun"]


class CheckpointRun(RunFolder):
    """The checkpoint folder of one ``tg.prune`` run (see the module docstring).

    Args:
        checkpoint_dir: The folder; created if missing.
        settings: JSON-serialisable settings that must match to resume.

    Raises:
        ValueError: If the path is a file, or the folder holds an interrupted run with
            different settings.

    Example:
        >>> import tempfile
        >>> CheckpointRun(tempfile.mkdtemp(), {"epochs": 2}).backup_dir.name
        'backup'
    """

    def __init__(self, checkpoint_dir: str | os.PathLike, settings: dict[str, Any]) -> None:
        super().__init__(checkpoint_dir, settings)
        self.backup_dir = self.dir / "backup"
        self.resuming = self.backup_dir.is_dir() and any(self.backup_dir.rglob("*"))
        if self.resuming:
            self.refuse_other_settings()

    def start(self) -> None:
        """Prepare the folder: on a fresh run, record the settings and reset the history."""
        if not self.resuming:
            self.start_fresh()

    def callbacks(self) -> list[keras.callbacks.Callback]:
        """``CSVLogger`` (appending) then ``BackupAndRestore``, to run after the pruning ones."""
        return [
            keras.callbacks.CSVLogger(str(self.history_path), append=True),
            keras.callbacks.BackupAndRestore(str(self.backup_dir), delete_checkpoint=True),
        ]
