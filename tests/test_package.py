import os
import subprocess
import sys
import textwrap

import pytest

import tf_green as tg
from tf_green import cli
from tf_green.quantization._flatbuffer import _OP_NAMES as BUILTIN_OPS
from tf_green.quantization._flatbuffer import inspect


def test_version_and_public_names():
    assert tg.__version__.count(".") == 2
    for name in tg.__all__:
        assert getattr(tg, name) is not None, name


def _import_in_clean_dirs(tmp_path, label, statement):
    home, cwd = tmp_path / label / "home", tmp_path / label / "cwd"
    home.mkdir(parents=True)
    cwd.mkdir()
    script = textwrap.dedent(
        f"""
        import socket
        def refuse(*args, **kwargs):
            raise SystemExit("network used at import: %r" % (args,))
        socket.socket.connect = refuse
        socket.create_connection = refuse
        {statement}
        """
    )
    env = {**os.environ, "HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    written = {str(p.relative_to(home)) for p in home.rglob("*")}
    return result.stdout, written, list(cwd.iterdir())


def test_import_writes_no_files_and_opens_no_socket(tmp_path):
    out, written, cwd_files = _import_in_clean_dirs(
        tmp_path, "tf_green", "import tf_green; print(tf_green.__version__)"
    )
    assert out.strip() == tg.__version__
    assert cwd_files == []
    # The engines themselves write on import: tf_keras creates ~/.keras, and TFMOT imports
    # Keras 3, which imports matplotlib (font cache). tf_green must add nothing to that.
    _, baseline, _ = _import_in_clean_dirs(
        tmp_path, "engines", "import tensorflow, tf_keras, tensorflow_model_optimization"
    )
    assert written <= baseline


@pytest.mark.slow
def test_demo_runs_offline_and_writes_only_its_out_dir(
    tmp_path, monkeypatch, block_network, capsys
):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo", "--quick", "--quiet", "--out", "demo"]) == 0
    out = capsys.readouterr().out
    assert "results in demo" in out
    assert block_network == []
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]
    written = {p.name for p in (tmp_path / "demo").iterdir()}
    assert {"report.md", "results.csv", "tradeoff.png", "recipe.yaml"} <= written
    assert {"teacher_int8.tflite", "student_pruned_int8.tflite"} <= written
    assert "teacher_pruned_iterative.csv" in written  # the sparsity steps tried
    report = (tmp_path / "demo" / "report.md").read_text()
    for variant in ("teacher", "teacher_pruned", "student", "student_pruned_int8"):
        assert f"| {variant} |" in report
    assert "Energy to solution" in report and "Break-even" in report
    assert "engine: keras3" in (tmp_path / "demo" / "recipe.yaml").read_text()  # the default
    for tflite in (tmp_path / "demo").glob("*.tflite"):  # builtin ops only: no Flex, no custom
        ops = set(inspect(tflite.read_bytes()).op_names)
        assert "FULLY_CONNECTED" in ops and ops <= set(BUILTIN_OPS.values()) - {"CUSTOM"}, ops


def test_cli_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as excinfo:
        cli.main(["frobnicate"])
    assert excinfo.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
