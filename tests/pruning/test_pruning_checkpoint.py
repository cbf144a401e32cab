import json

import numpy as np
import pytest
from pruning_helpers import compile_classifier

import tf_green.pruning as tgp
from tf_green import models
from tf_green._keras import keras


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


def prune(model, data, checkpoint_dir, **kwargs):
    (x, y), _ = data
    return tgp.prune(
        model,
        x,
        y,
        target_sparsity=0.7,
        epochs=3,
        checkpoint_dir=checkpoint_dir,
        verbose=0,
        **kwargs,
    )


@pytest.mark.slow
def test_interrupted_run_resumes_at_the_right_pruning_step(small_digits, tmp_path, weights_digest):
    keras.utils.set_random_seed(0)
    model = compile_classifier(models.cnn(width=4, engine="tf_keras"))
    before = weights_digest(model)
    reference = prune(model, small_digits, tmp_path / "reference")
    assert not any((tmp_path / "reference" / "backup").rglob("*"))  # deleted when complete

    folder = tmp_path / "run"
    with pytest.raises(SimulatedCrashError):
        prune(model, small_digits, folder, callbacks=[StopAfterEpoch(0)])
    assert any((folder / "backup").rglob("*"))
    assert json.loads((folder / "run.json").read_text())["epochs"] == 3
    with pytest.raises(ValueError, match=r"`checkpoint_dir` .* interrupted run with other.*"):
        tgp.prune(model, *small_digits[0], target_sparsity=0.5, epochs=3, checkpoint_dir=folder)
    epochs_run = []
    counter = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: epochs_run.append(e))
    resumed = prune(model, small_digits, folder, callbacks=[counter])

    assert epochs_run == [1, 2]  # epoch 0 was not trained again
    assert weights_digest(model) == before
    assert resumed.pruning_history["pruning_step"] == [8, 16, 24]
    assert resumed.pruning_history["pruning_step"] == reference.pruning_history["pruning_step"]
    np.testing.assert_allclose(
        resumed.pruning_history["sparsity"], reference.pruning_history["sparsity"]
    )
    final, expected = tgp.sparsity_report(resumed), tgp.sparsity_report(reference)
    assert final["zeros"].tolist() == expected["zeros"].tolist()
    assert final["sparsity"].iloc[0] == pytest.approx(expected["sparsity"].iloc[0])
    assert not any((folder / "backup").rglob("*"))


def test_checkpoint_dir_must_be_a_folder(small_digits, tmp_path):
    (x, y), _ = small_digits
    path = tmp_path / "file"
    path.write_text("")
    with pytest.raises(ValueError, match=r"`checkpoint_dir` .* exists and is not a folder"):
        tgp.prune(
            compile_classifier(models.cnn(width=4, engine="tf_keras")), x, y, checkpoint_dir=path
        )
