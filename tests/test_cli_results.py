"""The command line's results and failures: summary tables, compiled saves, clear errors,
interrupts, staging folders, the export default and a quiet console script.

The model file is a Keras 3 one (the default engine); the Lambda test's .h5 is tf_keras.
"""

import configparser
import os
import pathlib
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest

from tf_green import cli, models, workflow_staging, workflow_steps
from tf_green.engine import tf_keras

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small(tmp_path_factory, digits_data):
    (x, y), (xv, yv) = digits_data
    folder = tmp_path_factory.mktemp("cli_results")
    data = folder / "small.npz"
    np.savez(data, x_train=x[:200], y_train=y[:200], x_val=xv[:80], y_val=yv[:80])
    keras.utils.set_random_seed(0)
    model = models.compile_classifier(models.cnn(width=4, engine="keras3"))
    model.fit(x[:200], y[:200], epochs=3, verbose=0)
    path = folder / "base.keras"
    model.save(path)
    return data, path, (x[:200], y[:200]), (xv[:80], yv[:80])


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_export_without_quantization_writes_int8(capsys, tmp_path, small):
    data, model, _, _ = small
    out = tmp_path / "e"
    code, stdout, err = run(capsys, "export", model, "--data", data, "--out", out, "--no-energy")
    assert code == 0, err
    assert sorted(p.name for p in out.glob("*.tflite")) == ["base_int8.tflite"]
    assert "tflite-int8" in stdout  # the summary table lists the export


def test_run_takes_unsafe_deserialization_from_the_command_line_only(capsys, tmp_path, small):
    data, _, _, _ = small
    k2 = tf_keras()  # tf_keras path: a tf_keras .h5 file with a Lambda layer
    inputs = k2.Input((8, 8, 1))
    h = k2.layers.Lambda(lambda t: t * 1.0, name="code")(inputs)
    lam = k2.Model(inputs, k2.layers.Dense(10)(k2.layers.Flatten()(h)))
    path = tmp_path / "lambda.h5"
    lam.save(path)
    recipe = tmp_path / "r.yaml"
    steps = f"  - load: {{name: m, path: {path}}}\n  - save: {{sources: [m]}}\n"
    recipe.write_text(f"data: {data}\nsteps:\n{steps}")
    code, _, err = run(capsys, "run", recipe, "--out", tmp_path / "o1", "--no-energy")
    assert code == 2 and "--unsafe-deserialization" in err
    sneaky = tmp_path / "sneaky.yaml"
    sneaky.write_text(recipe.read_text().replace("}\n", ", unsafe_deserialization: true}\n", 1))
    code, _, err = run(capsys, "run", sneaky, "--out", tmp_path / "o2", "--no-energy")
    assert code == 2 and "cannot be set in a recipe" in err
    assert not (tmp_path / "o2").exists()
    code, _, err = run(
        capsys, "run", recipe, "--unsafe-deserialization", "--out", tmp_path / "o3", "--no-energy"
    )
    assert code == 0, err
    assert (tmp_path / "o3" / "m.keras").exists()


def test_prune_twice_prints_summary_and_saves_a_compiled_model(capsys, tmp_path, small):
    data, model, _, (xv, yv) = small
    common = ["--data", data, "--no-energy", "--quiet", "--epochs", "2"]
    code, out, err = run(
        capsys, "prune", model, "--sparsity", "0.5", "--out", tmp_path / "p1", *common
    )
    assert code == 0, err
    assert "accuracy" in out and "sparsity" in out and "size_kb" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert "base" in lines and "base_pruned" in lines
    assert "%" in lines["base_pruned"]
    pruned = tmp_path / "p1" / "base_pruned.keras"
    loaded = keras.models.load_model(pruned)
    assert loaded.optimizer is not None and loaded.loss is not None
    loaded.evaluate(xv, yv, verbose=0)
    code, out, err = run(
        capsys, "prune", pruned, "--sparsity", "0.7", "--out", tmp_path / "p2", *common
    )
    assert code == 0, err
    again = keras.models.load_model(tmp_path / "p2" / "base_pruned_pruned.keras")
    zeros = np.mean(again.get_layer("conv2").kernel.numpy() == 0)
    assert zeros == pytest.approx(0.7, abs=0.02)


def _npz(path, x, y, xv, yv):
    np.savez(path, x_train=x, y_train=y, x_val=xv, y_val=yv)
    return path


def test_data_that_does_not_fit_the_model_fails_before_training(capsys, tmp_path, small):
    _, model, (x, y), (xv, yv) = small
    cases = {
        "labels": (_npz(tmp_path / "l.npz", x, y + 5, xv, yv), "has 10 output units"),
        "shape": (
            _npz(tmp_path / "s.npz", x.reshape(len(x), -1), y, xv.reshape(len(xv), -1), yv),
            "takes samples of shape (8, 8, 1)",
        ),
        "onehot": (
            _npz(tmp_path / "o.npz", x, np.eye(10)[y], xv, np.eye(10)[yv]),
            "one-hot",
        ),
    }
    for label, (data, message) in cases.items():
        out = tmp_path / label
        code, _, err = run(capsys, "prune", model, "--data", data, "--out", out, "--no-energy")
        assert code == 2, (label, err)
        assert err.startswith("tf-green: error: ") and message in err, (label, err)
        assert "Traceback" not in err and len(err.splitlines()) == 1
        assert ".base" not in err and not out.exists()


def test_ctrl_c_and_sigterm_exit_cleanly_and_leave_no_staging(capsys, tmp_path, small, monkeypatch):
    data, model, _, _ = small

    def interrupt(ctx, step):
        raise KeyboardInterrupt

    def terminate(ctx, step):
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    for runner, code_expected, word in ((interrupt, 130, "Ctrl-C"), (terminate, 143, "SIGTERM")):
        monkeypatch.setitem(workflow_steps.RUNNERS, "save", runner)
        out = tmp_path / f"out{code_expected}"
        code, _, err = run(capsys, "prune", model, "--data", data, "--out", out, "--no-energy")
        assert code == code_expected
        assert err.strip() == f"tf-green: interrupted ({word}); nothing was written to {out}"
        assert not list(tmp_path.glob(".*"))  # the staging folder is gone
        assert not out.exists()
    assert signal.getsignal(signal.SIGTERM) == before


def test_stale_staging_folders_are_removed_live_ones_kept(capsys, tmp_path, small):
    data, model, _, _ = small
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = workflow_staging.make_staging(tmp_path / "old")
    owner = stale / workflow_staging.OWNER_FILE
    owner.write_text(
        owner.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {dead.stdout.strip()}')
    )
    live = workflow_staging.make_staging(tmp_path / "busy")  # this process: still running
    foreign = tmp_path / ".mine.abc"
    foreign.mkdir()  # not a staging folder: no owner file
    code, out, err = run(
        capsys,
        "export",
        model,
        "--quantization",
        "float32",
        "--data",
        data,
        "--out",
        tmp_path / "new",
        "--no-energy",
    )
    assert code == 0, err
    assert not stale.exists() and live.exists() and foreign.exists()
    assert "removed 1 staging folder(s) of interrupted runs" in out
    assert not (tmp_path / "new" / workflow_staging.OWNER_FILE).exists()


def test_console_script_prints_nothing_on_stderr(tmp_path):
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    entry = config["options.entry_points"]["console_scripts"].strip()
    name, target = (part.strip() for part in entry.split("="))
    module, function = target.split(":")
    assert name == "tf-green"
    script = f"import sys; from {module} import {function}; sys.exit({function}())"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-c", script, "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0
    assert "usage: tf-green" in result.stdout
    assert result.stderr == ""
