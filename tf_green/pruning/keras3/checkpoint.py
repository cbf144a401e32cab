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
from typing import Any

import keras
import numpy as np

from tf_green.pruning.checkpoint_files import RunFolder, write_atomically
from tf_green.pruning.keras3.engine import get_state

__all__ = ["PruningCheckpoint"]


class PruningCheckpoint(RunFolder):
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
        super().__init__(checkpoint_dir, settings)
        self.state_path = self.dir / "state.npz"
        self.resuming = self.state_path.is_file()
        if self.resuming:
            self.refuse_other_settings()

    def start(self, model: Any) -> int:
        """Prepare the folder; on a resume, restore ``model``'s state.

        Args:
            model: The model with masks (from ``wrap``/``prepare``), compiled.

        Returns:
            The epoch to start ``fit`` at (``initial_epoch``): 0 on a fresh run.
        """
        if not self.resuming:
            self.start_fresh()
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
        write_atomically(self.state_path, buffer.getvalue())

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


_WHAT = {"w": "weights", "o": "optimizer variables", "m": "masks"}


class _Backup(keras.callbacks.Callback):
    def __init__(self, run: PruningCheckpoint) -> None:
        super().__init__()
        self.run = run

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.run.save(self.model, epoch)
