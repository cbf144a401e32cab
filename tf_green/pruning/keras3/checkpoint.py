"""Resumable Keras 3 pruning runs: back up after every epoch, resume at the right step.

A checkpoint folder holds:

* ``state.npz``: the model's weights, its optimizer's variables, the masks, the pruning
  step and the epoch, written atomically at the end of every epoch (one file, so weights,
  masks and step always belong together); deleted when the run completes.
* ``run.json``: the settings of the run (schedules, epochs, steps per epoch, ...), so a
  resume with different settings is refused instead of silently mixing schedules.
* ``history.csv``: the per-epoch logs, appended across resumes, so the returned history
  covers the whole run.

Example:
    >>> import tempfile
    >>> PruningCheckpoint(tempfile.mkdtemp(), {"epochs": 2}).resuming
    False
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import tempfile
from typing import Any

import keras
import numpy as np
import pandas as pd

from tf_green.pruning.keras3.engine import get_state

__all__ = ["PruningCheckpoint"]


class PruningCheckpoint:
    """The checkpoint folder of one Keras 3 ``prune`` run (see the module docstring).

    Args:
        checkpoint_dir: The folder; created if missing.
        settings: JSON-serialisable settings that must match to resume.

    Raises:
        ValueError: If the path is a file, or the folder holds an interrupted run with
            different settings.

    Example:
        >>> import tempfile
        >>> PruningCheckpoint(tempfile.mkdtemp(), {}).state_path.name
        'state.npz'
    """

    def __init__(self, checkpoint_dir: str | os.PathLike, settings: dict[str, Any]) -> None:
        self.dir = pathlib.Path(checkpoint_dir)
        if self.dir.exists() and not self.dir.is_dir():
            raise ValueError(f"`checkpoint_dir` {str(self.dir)!r} exists and is not a folder.")
        self.settings = json.loads(json.dumps(settings, sort_keys=True, default=str))
        self.state_path = self.dir / "state.npz"
        self.history_path = self.dir / "history.csv"
        self.settings_path = self.dir / "run.json"
        self.resuming = self.state_path.is_file()
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

    def start(self, model: Any) -> int:
        """Prepare the folder; on a resume, restore ``model``'s state.

        Args:
            model: The model with masks (from ``wrap``/``prepare``), compiled.

        Returns:
            The epoch to start ``fit`` at (``initial_epoch``): 0 on a fresh run.
        """
        if not self.resuming:
            self.dir.mkdir(parents=True, exist_ok=True)
            _write_atomically(
                self.settings_path,
                json.dumps(self.settings, indent=2, sort_keys=True).encode(),
            )
            self.history_path.unlink(missing_ok=True)
            return 0
        return self._restore(model)

    def callbacks(self) -> list[keras.callbacks.Callback]:
        """``CSVLogger`` (appending) then the backup, to run after the pruning callbacks."""
        return [
            keras.callbacks.CSVLogger(str(self.history_path), append=True),
            _Backup(self),
        ]

    def finish(self) -> None:
        """Delete the backup of a completed run (the settings and history stay)."""
        self.state_path.unlink(missing_ok=True)

    def history(self) -> dict[str, list]:
        """The logged epochs of the whole run (a re-run epoch counts once: its last log)."""
        if not self.history_path.exists() or self.history_path.stat().st_size == 0:
            return {}
        frame = pd.read_csv(self.history_path)
        frame = frame.drop_duplicates("epoch", keep="last").sort_values("epoch")
        return {column: frame[column].tolist() for column in frame.columns if column != "epoch"}

    def save(self, model: Any, epoch: int) -> None:
        """Write the model's weights, optimizer variables, masks and step after ``epoch``."""
        state = get_state(model)
        sync = getattr(model, "jax_state_sync", None)
        if sync is not None:
            sync()
        arrays: dict[str, np.ndarray] = {}
        for prefix, variables in (
            ("w", model.weights),
            ("o", model.optimizer.variables),
            ("m", [entry.mask for entry in state.entries]),
        ):
            for i, variable in enumerate(variables):
                arrays[f"{prefix}_{i}"] = keras.ops.convert_to_numpy(variable)
        meta = {"epoch": epoch, "step": state.step}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        _write_atomically(self.state_path, buffer.getvalue())

    def _restore(self, model: Any) -> int:
        state = get_state(model)
        optimizer = model.optimizer
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        with np.load(self.state_path) as saved:
            meta = json.loads(saved["meta"].tobytes().decode())
            groups = (
                ("w", model.weights),
                ("o", optimizer.variables),
                ("m", [entry.mask for entry in state.entries]),
            )
            for prefix, variables in groups:
                count = sum(1 for key in saved.files if key.startswith(prefix + "_"))
                if count != len(variables):
                    raise ValueError(
                        f"`checkpoint_dir` {str(self.dir)!r}: the backup holds {count} "
                        f"{_WHAT[prefix]} but the model has {len(variables)}; pass an empty "
                        "folder to start a new run."
                    )
                for i, variable in enumerate(variables):
                    variable.assign(saved[f"{prefix}_{i}"])
        state.step = int(meta["step"])
        return int(meta["epoch"]) + 1

    def _saved_settings(self) -> dict[str, Any]:
        try:
            return json.loads(self.settings_path.read_text())
        except (OSError, ValueError):
            return {}


_WHAT = {"w": "weights", "o": "optimizer variables", "m": "masks"}


class _Backup(keras.callbacks.Callback):
    def __init__(self, run: PruningCheckpoint) -> None:
        super().__init__()
        self.run = run

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.run.save(self.model, epoch)


def _write_atomically(path: pathlib.Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
