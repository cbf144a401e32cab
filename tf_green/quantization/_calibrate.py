"""Run an INT8 calibration + conversion in a child process, where a crash cannot kill ours.

TensorFlow's calibrator (``converter.representative_dataset``) runs the model through a
TFLite interpreter in C++; on graphs with control flow (e.g. the WHILE loop of a GRU that
could not be unrolled) it can die with a segmentation fault, which would take the user's
Python process (a notebook kernel) down with it. :func:`convert_isolated` saves the traced
model as a SavedModel in a temporary folder, runs this file as a script in a fresh Python
(``python -P _calibrate.py FOLDER``, which imports TensorFlow only, not tf_green) and reads
the flatbuffer back; a child killed by a signal becomes a clear error here.

Cost: the child imports TensorFlow again (measured 5-10 s on a busy 2-core machine) and the
model is saved and reloaded, which roughly doubles the export time of a small model. So
:func:`~tf_green.quantization.to_tflite` uses it only for INT8 exports of recurrent models,
the case where the crash is known to happen; other models calibrate in process.

Test hook (private): if the environment variable ``TF_GREEN_CALIBRATION_TEST_SIGNAL`` holds
a signal number, the child sends itself that signal before converting, which lets a test
check how a crash is reported without a model that really crashes TensorFlow.

Example:
    >>> import signal
    >>> describe_exit(-signal.SIGSEGV)
    'SIGSEGV'
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

TEST_SIGNAL_ENV = "TF_GREEN_CALIBRATION_TEST_SIGNAL"
_CONVERTER_ERROR = 3
_OTHER_ERROR = 4


class ConverterFailedError(Exception):
    """The converter, in the child, raised a ``ConverterError``; the message is its text."""


class CalibrationCrashError(RuntimeError):
    """The child process died (a signal or an unexpected exit) during INT8 calibration."""


def describe_exit(returncode: int) -> str:
    """Name a child's exit: the signal name for a negative return code, else the code.

    Args:
        returncode: ``subprocess`` return code.

    Returns:
        e.g. ``"SIGSEGV"`` or ``"exit code 1"``.
    """
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def convert_isolated(
    variables: Sequence[tf.Variable],
    function: Any,
    arrays: Sequence[np.ndarray],
    names: Sequence[str],
    *,
    batch: int,
    samples: int,
    int8_io: bool,
    sparse: bool,
    allow_flex: bool = False,
) -> bytes:
    """Convert ``function`` to full INT8 in a child process; return the flatbuffer.

    Args:
        variables: The variables ``function`` captures (the model's).
        function: A concrete function with a fixed batch axis.
        arrays: Representative arrays, one per input, in ``names`` order, samples first.
        names: The function's input names.
        batch: The function's batch size; calibration batches have that many samples.
        samples: How many samples to calibrate on at most.
        int8_io: Make inputs and outputs int8.
        sparse: Add ``Optimize.EXPERIMENTAL_SPARSITY``.
        allow_flex: Also allow TensorFlow (Flex) kernels (``SELECT_TF_OPS``).

    Returns:
        The INT8 flatbuffer bytes.

    Raises:
        ConverterFailedError: If the converter raised a ``ConverterError`` (its text).
        CalibrationCrashError: If the child died or failed otherwise.
    """
    with tempfile.TemporaryDirectory(prefix="tf_green_int8_") as folder:
        work = pathlib.Path(folder)
        holder = tf.Module()
        holder.variables_ = list(variables)
        tf.saved_model.save(holder, str(work / "saved_model"), signatures=function)
        settings = {"batch": batch, "samples": samples, "int8_io": int8_io, "sparse": sparse}
        return _convert_in_child(work, arrays, names, allow_flex=allow_flex, **settings)


def convert_saved_model_isolated(
    saved_model: str | os.PathLike,
    arrays: Sequence[np.ndarray],
    names: Sequence[str],
    *,
    batch: int,
    samples: int,
    int8_io: bool,
    sparse: bool,
    allow_flex: bool = False,
) -> bytes:
    """Convert a SavedModel's ``serving_default`` to full INT8 in a child process.

    The Keras 3 engine's path for recurrent models (their calibration can crash as above).

    Args:
        saved_model: The SavedModel folder (copied; not changed).
        arrays: Representative arrays, one per input, in ``names`` order, samples first.
        names: The signature's input names.
        batch: The signature's batch size; calibration batches have that many samples.
        samples: How many samples to calibrate on at most.
        int8_io: Make inputs and outputs int8.
        sparse: Add ``Optimize.EXPERIMENTAL_SPARSITY``.
        allow_flex: Also allow TensorFlow (Flex) kernels (``SELECT_TF_OPS``).

    Returns:
        The INT8 flatbuffer bytes.

    Raises:
        ConverterFailedError: If the converter raised a ``ConverterError`` (its text).
        CalibrationCrashError: If the child died or failed otherwise.

    Example:
        >>> callable(convert_saved_model_isolated)
        True
    """
    with tempfile.TemporaryDirectory(prefix="tf_green_int8_") as folder:
        work = pathlib.Path(folder)
        shutil.copytree(saved_model, work / "saved_model")
        settings = {"batch": batch, "samples": samples, "int8_io": int8_io, "sparse": sparse}
        return _convert_in_child(work, arrays, names, allow_flex=allow_flex, **settings)


def _convert_in_child(
    work: pathlib.Path,
    arrays: Sequence[np.ndarray],
    names: Sequence[str],
    *,
    batch: int,
    samples: int,
    int8_io: bool,
    sparse: bool,
    allow_flex: bool,
) -> bytes:
    """Run the child on ``work``/saved_model; return its flatbuffer or raise its failure."""
    np.savez(work / "representative.npz", *arrays)
    settings = {
        "names": list(names),
        "batch": int(batch),
        "samples": int(samples),
        "int8_io": bool(int8_io),
        "sparse": bool(sparse),
        "allow_flex": bool(allow_flex),
    }
    (work / "settings.json").write_text(json.dumps(settings))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    child = subprocess.run(
        [sys.executable, "-P", __file__, str(work)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    result = work / "model.tflite"
    if child.returncode == 0 and result.is_file():
        return result.read_bytes()
    error = work / "error.json"
    if child.returncode in (_CONVERTER_ERROR, _OTHER_ERROR) and error.is_file():
        details = json.loads(error.read_text())
        if child.returncode == _CONVERTER_ERROR:
            raise ConverterFailedError(details["message"])
        raise CalibrationCrashError(
            f"INT8 conversion failed in the calibration subprocess: {details['type']}: "
            f"{details['message'][:500]}"
        )
    tail = "\n".join(child.stderr.strip().splitlines()[-3:])
    raise CalibrationCrashError(
        "INT8 calibration of this model crashed TensorFlow's calibrator (the conversion "
        f"subprocess died with {describe_exit(child.returncode)}; your Python process is "
        "unaffected). Try quantization='dynamic' (int8 weights, float activations, no "
        "calibration) or quantization='float16'; for a GRU/SimpleRNN, give the model's "
        "Input a fixed sequence length so the layer can be unrolled for INT8."
        + (f" Last output of the subprocess: {tail}" if tail else "")
    )


def _batches(
    arrays: list[np.ndarray], names: list[str], batch: int, samples: int
) -> Iterator[dict[str, np.ndarray]]:
    n = min(samples, len(arrays[0]))
    for start in range(0, max(n - batch, 0) + 1, batch):
        yield {name: a[start : start + batch] for name, a in zip(names, arrays, strict=True)}


def _main(folder: str) -> int:
    """The child: calibrate and convert ``folder``/saved_model; write model.tflite."""
    work = pathlib.Path(folder)
    test_signal = os.environ.get(TEST_SIGNAL_ENV)
    if test_signal:
        os.kill(os.getpid(), int(test_signal))
    settings = json.loads((work / "settings.json").read_text())
    with np.load(work / "representative.npz") as stored:
        arrays = [stored[f"arr_{i}"] for i in range(len(settings["names"]))]
    converter = tf.lite.TFLiteConverter.from_saved_model(str(work / "saved_model"))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if settings["sparse"]:
        converter.optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.representative_dataset = lambda: _batches(
        arrays, settings["names"], settings["batch"], settings["samples"]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if settings["allow_flex"]:
        converter.target_spec.supported_ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    if settings["int8_io"]:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    try:
        content = converter.convert()
    except Exception as error:
        converter_error = type(error).__name__ == "ConverterError"
        details = {"type": type(error).__name__, "message": str(error)}
        (work / "error.json").write_text(json.dumps(details))
        return _CONVERTER_ERROR if converter_error else _OTHER_ERROR
    (work / "model.tflite").write_bytes(content)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
