"""Run by test_k3_jax.py with KERAS_BACKEND=jax: prune, wrap+fit, check exact zeros; print JSON."""

import contextlib
import json
import sys
import tempfile

import keras
import numpy as np

from tf_green.pruning import keras3
from tf_green.pruning.keras3.engine import get_state
from tf_green.pruning.schedule_math import ConstantSparsity

assert keras.backend.backend() == "jax", keras.backend.backend()
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8, 8, 1)).astype("float32")
y = (x.reshape(256, -1).sum(axis=1) > 0).astype("int32")


class Block(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(8, 3, activation="relu", name="conv")
        self.proj = keras.layers.Dense(8, name="proj")

    def call(self, inputs):
        return self.proj(self.conv(inputs))


class Net(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.block = Block(name="block")
        self.flat = keras.layers.Flatten()
        self.head = keras.layers.Dense(2, name="head")

    def call(self, inputs):
        return self.head(self.flat(self.block(inputs)))


def zeros(v):
    return float(np.mean(keras.ops.convert_to_numpy(v) == 0))


model = Net()
model(x[:1])
model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(True))
before = [np.array(w) for w in model.get_weights()]
pruned = keras3.prune(model, x, y, target_sparsity=0.8, epochs=2, verbose=0)
result = {
    "prune": {n: zeros(getattr(pruned.block, n).kernel) for n in ("conv", "proj")},
    "head": zeros(pruned.head.kernel),
    "unchanged": all(
        np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True)
    ),
}
# One mask update at step 1, then 15 jitted Adam steps: masked entries must stay exactly 0.
wrapped = keras3.wrap(model, ConstantSparsity(0.7, begin_step=1, end_step=1, frequency=1))
wrapped.fit(x, y, epochs=2, batch_size=32, callbacks=keras3.callbacks(), verbose=0)
state = get_state(wrapped)
exact = []
for entry in state.entries:
    mask = keras.ops.convert_to_numpy(entry.mask)
    value = keras.ops.convert_to_numpy(entry.variable)
    exact.append(bool(np.all(value[mask == 0] == 0.0) and abs(np.mean(mask == 0) - 0.7) < 0.02))
result["exact_zeros"] = exact
result["step"] = state.step
result["report"] = (
    keras3.sparsity_report(keras3.strip(wrapped))
    .query("prunable == True")["sparsity"]
    .round(3)
    .tolist()
)
# Recompiled after wrap (a new optimizer): the masks move into it at on_train_begin (the
# update at step 3 comes after the step is traced: a mask outside the state would be stale).
recompiled = keras3.wrap(model, ConstantSparsity(0.5, begin_step=3, end_step=3, frequency=1))
recompiled.compile(keras.optimizers.SGD(0.5), keras.losses.SparseCategoricalCrossentropy(True))
recompiled.fit(x, y, epochs=1, batch_size=32, callbacks=keras3.callbacks(), verbose=0)
result["recompiled"] = [zeros(e.variable) for e in get_state(recompiled).entries]

# DataParallel over two host devices (XLA_FLAGS=--xla_force_host_platform_device_count=2).
data_parallel = keras.distribution.DataParallel()
wrapped = keras3.wrap(
    model, ConstantSparsity(0.6, begin_step=1, end_step=1, frequency=1), strategy=data_parallel
)
with data_parallel.scope():
    wrapped.fit(x, y, epochs=1, batch_size=32, callbacks=keras3.callbacks(), verbose=0)
result["devices"] = len(wrapped.head.kernel.value.sharding.device_set)
result["data_parallel"] = [zeros(e.variable) for e in get_state(wrapped).entries]
pruned = keras3.prune(model, x, y, target_sparsity=0.5, epochs=2, strategy=data_parallel, verbose=0)
result["data_parallel_prune"] = zeros(pruned.head.kernel)


# checkpoint_dir: crash after epoch 0, resume at epoch 1 with the saved pruning step.
class Crash(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise RuntimeError("simulated crash")


folder = tempfile.mkdtemp()
with contextlib.suppress(RuntimeError):
    keras3.prune(model, x, y, epochs=2, checkpoint_dir=folder, callbacks=[Crash()], verbose=0)
seen = []
resumed = keras3.prune(
    model,
    x,
    y,
    epochs=2,
    checkpoint_dir=folder,
    callbacks=[keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))],
    verbose=0,
)
result["resumed_epochs"] = seen
result["resumed_steps"] = resumed.pruning_history["pruning_step"]
result["resumed_head"] = zeros(resumed.head.kernel)
json.dump(result, sys.stdout)
