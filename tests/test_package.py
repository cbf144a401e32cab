import os
import subprocess
import sys
import textwrap

import tf_green as tg
from tf_green import cli


def test_version_and_public_names():
    assert tg.__version__.count(".") == 2
    for name in tg.__all__:
        assert getattr(tg, name) is not None, name


def test_import_writes_no_files_and_opens_no_socket(tmp_path):
    script = textwrap.dedent(
        """
        import socket
        def refuse(*args, **kwargs):
            raise SystemExit("network used at import: %r" % (args,))
        socket.socket.connect = refuse
        socket.create_connection = refuse
        import tf_green
        print(tf_green.__version__)
        """
    )
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    env = {**os.environ, "HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == tg.__version__
    assert list(cwd.iterdir()) == []
    # tf_keras itself creates ~/.keras/ (its config) at import; tf_green adds nothing else.
    assert {p.name for p in home.iterdir()} <= {".keras"}


def test_demo_runs_offline_and_writes_nothing(tmp_path, monkeypatch, block_network, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo", "--quick", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "validation accuracy" in out
    accuracy = float(out.split("validation accuracy")[1].split()[0])
    assert accuracy > 0.5
    assert block_network == []
    assert list(tmp_path.iterdir()) == []


def test_cli_usage_errors_exit_2(capsys):
    import pytest

    with pytest.raises(SystemExit) as excinfo:
        cli.main(["frobnicate"])
    assert excinfo.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    assert cli.main([]) == 2
