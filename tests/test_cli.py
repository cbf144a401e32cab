"""The tf-green command: usage errors, each sub-command on a Keras 3 model file (the default
engine), a tf_keras .h5 file (tf_keras path, named so in its test), and the demo recipes."""

import keras
import numpy as np
import pytest

from tf_green import cli, models
from tf_green.demo_recipes import demo_recipe
from tf_green.engine import engine_of, tf_keras
from tf_green.recipe import parse_recipe


@pytest.fixture(scope="module")
def small_data(tmp_path_factory, digits_data):
    (x, y), (xv, yv) = digits_data
    path = tmp_path_factory.mktemp("data") / "small.npz"
    np.savez(path, x_train=x[:300], y_train=y[:300], x_val=xv[:100], y_val=yv[:100])
    return path


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, small_data):
    with np.load(small_data) as d:
        x, y = d["x_train"], d["y_train"]
    model = models.cnn(width=4, engine="keras3")
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path_factory.mktemp("model") / "base.keras"
    model.save(path)
    return path


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_usage_errors_exit_2(capsys, tmp_path):
    cases = {
        "frobnicate": "invalid choice: 'frobnicate'",
        "prune": "the following arguments are required: model",
        "demo --bogus": "unrecognized arguments: --bogus",
        "": "the following arguments are required: COMMAND",
    }
    for argv, message in cases.items():
        with pytest.raises(SystemExit) as excinfo:
            cli.main(argv.split())
        assert excinfo.value.code == 2, argv
        assert message in capsys.readouterr().err, argv
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(SystemExit) as excinfo:
        cli.main(["demo", "--quick", "--out", str(afile / "sub")])
    assert excinfo.value.code == 2
    assert "--out" in capsys.readouterr().err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit):
        cli.main(["demo", "--out", str(busy)])
    assert "not empty" in capsys.readouterr().err
    assert (busy / "keep.txt").read_text() == "mine"


def test_help_on_every_command(capsys):
    for command in ("demo", "prune", "distill", "export", "bench", "run"):
        with pytest.raises(SystemExit) as excinfo:
            cli.main([command, "--help"])
        assert excinfo.value.code == 0
        assert "--out" in capsys.readouterr().out


def test_missing_model_and_bad_data_fail_cleanly(capsys, tmp_path, saved_model):
    out = tmp_path / "out"
    code, _, err = run(capsys, "prune", tmp_path / "nope.keras", "--out", out, "--no-energy")
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=np.zeros(3))
    code, _, err = run(capsys, "prune", saved_model, "--data", bad, "--out", out, "--no-energy")
    assert code == 2 and "lacks the arrays" in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]  # no staging folder left behind


def test_recipe_errors_name_the_line(capsys, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps:\n  - train: {name: a, epochs: 1}\n  - prunee: {name: b}\n")
    code, _, err = run(capsys, "run", recipe, "--out", tmp_path / "o")
    assert code == 2 and "line 3" in err and "unknown step 'prunee'" in err
    assert not (tmp_path / "o").exists()


def test_tf_keras_lambda_model_is_refused_unless_unsafe(capsys, tmp_path, small_data):
    # tf_keras path: a tf_keras .h5 file is loaded and exported by its own engine.
    k2 = tf_keras()
    inputs = k2.Input((8, 8, 1))
    h = k2.layers.Lambda(lambda t: t * 1.0, name="code")(inputs)
    model = k2.Model(inputs, k2.layers.Dense(10)(k2.layers.Flatten()(h)))
    path = tmp_path / "lambda.h5"
    model.save(path)
    code, _, err = run(
        capsys, "export", path, "--quantization", "float32", "--out", tmp_path / "o1"
    )
    assert code == 2 and "--unsafe-deserialization" in err
    code, out, _ = run(
        capsys,
        "export",
        path,
        "--quantization",
        "float32",
        "--unsafe-deserialization",
        "--out",
        tmp_path / "o2",
        "--quiet",
        "--no-energy",
    )
    assert code == 0 and (tmp_path / "o2" / "lambda_float32.tflite").exists()


@pytest.mark.slow
def test_prune_export_bench_and_rerun_recipe(capsys, tmp_path, saved_model, small_data):
    common = ["--data", small_data, "--no-energy", "--quiet"]
    code, out, _ = run(
        capsys,
        "prune",
        saved_model,
        "--sparsity",
        "0.5",
        "--epochs",
        "2",
        "--out",
        tmp_path / "p",
        *common,
    )
    assert code == 0, out
    pruned = tmp_path / "p" / "base_pruned.keras"
    loaded = keras.models.load_model(pruned)  # a Keras 3 file in, a Keras 3 file out
    zeros = np.mean(loaded.get_layer("conv2").kernel.numpy() == 0)
    assert zeros == pytest.approx(0.5, abs=0.02)
    code, _, _ = run(
        capsys,
        "export",
        pruned,
        "--quantization",
        "int8",
        "dynamic",
        "--out",
        tmp_path / "e",
        *common,
    )
    assert code == 0
    tflite = tmp_path / "e" / "base_pruned_int8.tflite"
    assert tflite.exists() and (tmp_path / "e" / "base_pruned_dynamic.tflite").exists()
    code, out, _ = run(capsys, "bench", saved_model, tflite, "--out", tmp_path / "b", *common)
    assert code == 0
    report = (tmp_path / "b" / "report.md").read_text()
    assert "base_pruned_int8" in report and "| base |" in report
    assert (tmp_path / "b" / "tradeoff.png").exists()
    code, _, _ = run(
        capsys,
        "run",
        tmp_path / "p" / "recipe.yaml",
        "--out",
        tmp_path / "again",
        "--no-energy",
        "--quiet",
    )
    assert code == 0 and (tmp_path / "again" / "base_pruned.keras").exists()


@pytest.mark.slow
def test_distill_command(capsys, tmp_path, saved_model, small_data):
    student = tmp_path / "student.keras"
    models.cnn(width=2, engine="keras3").save(student)
    code, _, err = run(
        capsys,
        "distill",
        saved_model,
        student,
        "--epochs",
        "2",
        "--data",
        small_data,
        "--out",
        tmp_path / "d",
        "--no-energy",
        "--quiet",
    )
    assert code == 0, err
    distilled = keras.models.load_model(tmp_path / "d" / "student_distilled.keras")
    assert engine_of(distilled) == "keras3"
    assert distilled.count_params() == models.cnn(width=2, engine="keras3").count_params()


def test_demo_runs_on_keras3_by_default_and_on_tf_keras_when_asked():
    parser = cli.build_parser()
    for task in ("digits", "slm"):
        args = parser.parse_args(["demo", "--task", task])
        assert args.engine == "keras3"
        assert parse_recipe(cli._recipe_for(args)).engine == "keras3"
        args = parser.parse_args(["demo", "--task", task, "--engine", "tf_keras"])
        assert parse_recipe(cli._recipe_for(args)).engine == "tf_keras"
    assert parser.parse_args(["run", "r.yaml"]).engine is None  # the recipe's key decides
    assert parser.parse_args(["run", "r.yaml", "--engine", "tf_keras"]).engine == "tf_keras"


def test_demo_recipes_are_valid_and_quick_is_smaller():
    for task in ("digits", "slm"):
        full = parse_recipe(demo_recipe(task))
        quick = parse_recipe(demo_recipe(task, quick=True))
        assert [s.kind for s in full.steps] == [s.kind for s in quick.steps]
        epochs = [s.args.get("epochs", 0) for s in full.steps]
        assert sum(s.args.get("epochs", 0) for s in quick.steps) < sum(epochs)
    slm = parse_recipe(demo_recipe("slm"))
    assert slm.data == "python_docs"
    assert "dynamic" in next(s for s in slm.steps if s.kind == "export").args["quantization"]
    exported = {q for s in slm.steps if s.kind == "export" for q in s.args["quantization"]}
    assert {"float32", "dynamic", "int16x8", "int4"} <= exported  # issue #16's four exports
    bench = next(s for s in slm.steps if s.kind == "bench").args["variants"]
    assert {"student_pruned_int16x8", "student_pruned_int4"} <= set(bench)
    with pytest.raises(ValueError, match="'digits' or 'slm'"):
        demo_recipe("imagenet")
    assert cli.demo_recipe is demo_recipe  # still importable from tf_green.cli
