"""checkpoint_dir on Keras 3: an interrupted prune resumes at the saved epoch and step."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from k3_helpers import k3_cnn

from tf_green.pruning import keras3


class SimulatedCrashError(Exception):
    pass


class StopAfterEpoch(keras.callbacks.Callback):
    """Simulate a crash at the end of an epoch (after the backup is written)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise SimulatedCrashError(f"stopped after epoch {epoch}")


def _prune(model, data, folder, **kwargs):
    (x, y), _ = data
    return keras3.prune(
        model, x, y, target_sparsity=0.7, epochs=3, checkpoint_dir=folder, verbose=0, **kwargs
    )


def test_interrupted_run_resumes_at_the_saved_epoch_and_step(k3_digits, tmp_path):
    model = k3_cnn()
    reference = _prune(model, k3_digits, tmp_path / "reference")
    assert not (tmp_path / "reference" / "state.npz").exists()  # deleted when complete

    folder = tmp_path / "run"
    with pytest.raises(SimulatedCrashError):
        _prune(model, k3_digits, folder, callbacks=[StopAfterEpoch(0)])
    assert (folder / "state.npz").is_file()
    assert json.loads((folder / "run.json").read_text())["epochs"] == 3
    (x, y), _ = k3_digits
    with pytest.raises(ValueError, match=r"`checkpoint_dir` .* interrupted run with other"):
        keras3.prune(model, x, y, target_sparsity=0.5, epochs=3, checkpoint_dir=folder)
    epochs_run, steps_seen = [], []
    counter = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: epochs_run.append(epoch),
        on_epoch_end=lambda epoch, logs: steps_seen.append(logs["pruning_step"]),
    )
    resumed = _prune(model, k3_digits, folder, callbacks=[counter])
    assert epochs_run == [1, 2]  # epoch 0 is not re-run
    assert steps_seen == [16, 24]  # the pruning step continued from 8
    assert resumed.pruning_history["pruning_step"] == [8, 16, 24]
    assert reference.pruning_history["pruning_step"] == [8, 16, 24]
    for name in ("conv1", "conv2", "logits"):
        ref = np.asarray(reference.get_layer(name).kernel)
        got = np.asarray(resumed.get_layer(name).kernel)
        assert np.mean(got == 0) == pytest.approx(np.mean(ref == 0))
    assert not (folder / "state.npz").exists()
