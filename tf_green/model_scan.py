"""Find what in a saved model's configs and graph would run code that is not Keras' own.

Three kinds of finding, each refused by :func:`tf_green.loading.load_model` unless the caller
passes ``unsafe_deserialization=True``:

* ``Lambda`` layers and ``__lambda__`` objects: marshalled Python bytecode.
* References that make Keras import a module or resolve a name outside Keras, tf_keras and
  tf_green: a ``module`` key such as ``"os"`` or ``"this"``, a dotted name (``"os.system"``
  looked up inside a Keras module), ``builtins`` functions that are not Keras built-ins, a
  module not already imported (importing it would run its code), and TF-op layers
  (``TFOpLambda``, ``ClassMethod``) naming file, print, Python or other system ops.
* SavedModel graph ops that touch files, processes, the network or call back into Python
  (``WriteFile``, ``PyFunc``, ...) in any function the loaded model can call, or any such op
  other than checkpoint save/restore in the saver's own functions.

Example:
    >>> config_findings({"class_name": "Lambda", "config": {"name": "f"}})
    ['f (Lambda)']
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from typing import Any

from tensorflow.python.util import tf_export

from tf_green._engine import keras_named

__all__ = ["CODE_CARRYING_LAYERS", "DANGEROUS_OPS", "config_findings", "graph_findings"]

CODE_CARRYING_LAYERS = frozenset({"Lambda"})
SAFE_MODULES = re.compile(r"^(keras|tf_keras|tf_green)(\.|$)")
KERAS_BUILTIN_MODULES = (
    "activations",
    "constraints",
    "initializers",
    "losses",
    "metrics",
    "optimizers",
    "regularizers",
)
TF_OP_LAYERS = {
    "TFOpLambda": "function",
    "SlicingOpLambda": "function",
    "ClassMethod": "cls_symbol",
}
# TF API namespaces and names a TF-op layer may not call: they read or write files, print,
# run Python, load libraries, or reach outside the computation.
TF_SYMBOL_DENY = frozenset(
    [
        "io",
        "gfile",
        "debugging",
        "summary",
        "saved_model",
        "train",
        "data",
        "distribute",
        "config",
        "sysconfig",
        "experimental",
        "autograph",
        "lookup",
        "tpu",
        "profiler",
        "raw_ops",
        "keras",
        "estimator",
        "queue",
        "xla",
        "test",
        "py_function",
        "numpy_function",
        "py_func",
        "print",
        "Print",
        "load_library",
        "load_op_library",
        "function",
        "write_file",
        "read_file",
        "matching_files",
        "audio",
        "feature_column",
    ]
)
TF_OP_MODULES_DENY = re.compile(
    r"(script_ops|io_ops|logging_ops|summary_ops|lookup_ops|data_flow_ops|parsing_config"
    r"|load_library|debug|gfile|file_io)"
)
FILE_AND_PROCESS_OPS = frozenset(
    [
        "WriteFile",
        "ReadFile",
        "MatchingFiles",
        "ImmutableConst",
        "FileSystemSetConfiguration",
        "InitializeTableFromTextFile",
        "InitializeTableFromTextFileV2",
        "LoadAndRemapMatrix",
        "GenerateVocabRemapping",
        "WholeFileReader",
        "WholeFileReaderV2",
        "TextLineReader",
        "TextLineReaderV2",
        "TFRecordReader",
        "TFRecordReaderV2",
        "FixedLengthRecordReader",
        "FixedLengthRecordReaderV2",
        "LMDBReader",
        "IdentityReader",
        "IdentityReaderV2",
        "TFRecordDataset",
        "TFRecordDatasetV2",
        "TextLineDataset",
        "FixedLengthRecordDataset",
        "FixedLengthRecordDatasetV2",
        "LMDBDataset",
        "ExperimentalLMDBDataset",
        "SqlDataset",
        "ExperimentalSqlDataset",
        "CSVDataset",
        "CSVDatasetV2",
        "ExperimentalCSVDataset",
        "MatchingFilesDataset",
        "ExperimentalMatchingFilesDataset",
        "CacheDataset",
        "CacheDatasetV2",
        "SnapshotDataset",
        "SnapshotDatasetV2",
        "SaveDataset",
        "SaveDatasetV2",
        "LoadDataset",
        "DatasetToTFRecord",
        "ExperimentalDatasetToTFRecord",
        "DistributedSave",
        "SnapshotDatasetReader",
        "SnapshotNestedDatasetReader",
        "SnapshotChunkDataset",
        "ListSnapshotChunksDataset",
        "CalibrationStatisticsSaver",
        "DataServiceDataset",
        "DataServiceDatasetV2",
        "DataServiceDatasetV3",
        "DataServiceDatasetV4",
        "CreateSummaryFileWriter",
        "CreateSummaryDbWriter",
        "WriteSummary",
        "WriteScalarSummary",
        "WriteHistogramSummary",
        "WriteImageSummary",
        "WriteAudioSummary",
        "WriteGraphSummary",
        "WriteRawProtoSummary",
        "DebugIdentity",
        "DebugIdentityV2",
        "DebugIdentityV3",
        "DebugNanCount",
        "DebugNumericSummary",
        "DebugNumericSummaryV2",
        "DumpTensor",
        "Print",
        "PrintV2",
        "PyFunc",
        "PyFuncStateless",
        "EagerPyFunc",
        "RpcCall",
        "RpcClient",
        "RpcServer",
        "RpcServerRegister",
        "RpcServerStart",
        "RemoteCall",
    ]
)
# Checkpoint ops: legitimate in the saver's own functions, never in what the model calls.
CHECKPOINT_OPS = frozenset(
    [
        "Save",
        "SaveSlices",
        "SaveV2",
        "Restore",
        "RestoreSlice",
        "RestoreV2",
        "MergeV2Checkpoints",
        "DTensorRestoreV2",
    ]
)
DANGEROUS_OPS = FILE_AND_PROCESS_OPS | CHECKPOINT_OPS


def _api_symbol(name: str, engine: str) -> Any:
    """What the engine's loader resolves an exported API name (``keras.layers.Dense``) to."""
    if engine == "keras3":
        # The table Keras 3's own deserializer looks names up in.
        return importlib.import_module("keras.src.api_export").get_symbol_from_name(name)
    return tf_export.get_symbol_from_name(name)


def _keras_builtin(name: str, engine: str) -> bool:
    return any(
        _api_symbol(f"keras.{module}.{name}", engine) is not None
        for module in KERAS_BUILTIN_MODULES
    )


def _registered(name: Any, engine: str) -> bool:
    if not isinstance(name, str):
        return False
    return keras_named(engine).saving.get_registered_object(name) is not None


def _reference_problem(node: dict, engine: str) -> str | None:
    """Why a serialized class/function reference would resolve outside Keras, or None."""
    module = node.get("module")
    class_name = node["class_name"]
    registered = node.get("registered_name")
    if class_name == "function":
        name = node.get("config")
    elif class_name == "__typespec__":
        name = node.get("spec_name")
    else:
        name = class_name
    if module is None:
        return None  # legacy lookup: registered and Keras objects only, nothing imported
    if not isinstance(module, str) or not isinstance(name, str):
        return f"a malformed reference {class_name!r}"
    if module == "builtins":
        if class_name == "function" and _keras_builtin(name, engine):
            return None
        return f"builtins.{name}"
    if class_name == "__typespec__" and module.startswith("tensorflow."):
        return None if name.isidentifier() else f"{module}.{name}"
    if not SAFE_MODULES.match(module):
        return f"module {module!r} ({name})"
    for text in (name, registered):
        if isinstance(text, str) and "." in text and not _registered(text, engine):
            return f"the dotted name {text!r} in module {module!r}"
    if registered not in (None, name, class_name) and not _registered(registered, engine):
        return f"the registered name {registered!r} for {name!r} in module {module!r}"
    if _registered(registered if class_name != "function" else name, engine):
        return None
    api = module.split(".")[0] in ("keras", "tf_keras")
    if api and _api_symbol(f"{module}.{name}", engine) is not None:
        return None
    # tf_keras reads the module "keras.x" as "tf_keras.x"; Keras 3 imports it as named.
    tf_keras_name = engine == "tf_keras" and module.startswith("keras")
    imported = "tf_" + module if tf_keras_name else module
    if imported not in sys.modules:
        return f"module {imported!r}, which is not imported yet (importing it would run it)"
    return None


def _tf_symbol_problem(symbol: Any) -> str | None:
    """Why a TF-op layer's symbol name (``nn.relu``) is not a plain computation, or None."""
    if not isinstance(symbol, str):
        return f"a malformed TF symbol {symbol!r}"
    parts = symbol.split(".")
    if any(part in TF_SYMBOL_DENY for part in parts):
        return f"TF symbol tf.{symbol}"
    target = tf_export.get_symbol_from_name(symbol)
    if target is None:
        return None  # tf_keras fails to rebuild the layer: nothing is called
    where = str(getattr(target, "__module__", ""))
    if not where.startswith("tensorflow.python.") or TF_OP_MODULES_DENY.search(where):
        return f"TF symbol tf.{symbol} ({where})"
    return None


def _walk(config: Any, engine: str) -> Iterator[str]:
    if isinstance(config, list):
        for value in config:
            yield from _walk(value, engine)
        return
    if not isinstance(config, dict):
        return
    class_name = config.get("class_name")
    if isinstance(class_name, str):
        inner = config.get("config")
        name = inner.get("name", config.get("name", "?")) if isinstance(inner, dict) else "?"
        if class_name in CODE_CARRYING_LAYERS:
            yield f"{name} ({class_name})"
            return  # its code is refused as a whole; nothing inside it matters any more
        if class_name == "__lambda__":
            yield "a lambda function (__lambda__)"
            return
        problem = _reference_problem(config, engine)
        if problem:
            yield f"{name} ({class_name}) names {problem}"
        key = TF_OP_LAYERS.get(class_name)
        if key and isinstance(inner, dict):
            problem = _tf_symbol_problem(inner.get(key))
            if problem:
                yield f"{name} ({class_name}) calls {problem}"
    for value in config.values():
        yield from _walk(value, engine)


def config_findings(config: Any, engine: str = "tf_keras") -> list[str]:
    """List what in a JSON model config would run code that is not Keras' own.

    Args:
        config: A model config tree (``config.json``, an HDF5 ``model_config`` or
            ``training_config``, a ``keras_metadata.pb`` node).
        engine: The Keras that will load it, ``"tf_keras"`` or ``"keras3"``: names are
            resolved against that engine's registry and API, as its loader resolves them.

    Returns:
        One line per finding, e.g. ``"evil (Lambda)"`` or
        ``"? (function) names module 'os' (system)"``; empty if none.

    Example:
        >>> config_findings({"class_name": "function", "module": "os", "config": "system"})
        ["? (function) names module 'os' (system)"]
    """
    found: list[str] = []
    for entry in _walk(config, engine):
        if entry not in found:
            found.append(entry)
    return found


def _functions(attr_values: Any) -> Iterator[str]:
    for value in attr_values:
        if value.HasField("func"):
            yield value.func.name
        yield from (func.name for func in value.list.func)


def _callees(nodes: Any, library: set[str]) -> set[str]:
    names = set()
    for node in nodes:
        if node.op in library:
            names.add(node.op)
        names.update(_functions(node.attr.values()))
    return names


def _closure(roots: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in edges:
            continue
        seen.add(name)
        todo.extend(edges[name])
    return seen


def graph_findings(saved_model: Any) -> list[str]:
    """List the dangerous ops of a SavedModel, per function, without loading it.

    Every function the loaded model can call (all those the object graph names, what they
    call, their gradients, and any not called from the saver graph) must be free of
    :data:`DANGEROUS_OPS`. The saver's functions and the top-level graph may hold checkpoint
    save/restore ops, and nothing else from that list.

    Args:
        saved_model: A parsed ``saved_model_pb2.SavedModel``.

    Returns:
        ``"<op> in <function>"`` per finding; empty if none.

    Example:
        >>> from tensorflow.core.protobuf import saved_model_pb2
        >>> graph_findings(saved_model_pb2.SavedModel())
        []
    """
    found: list[str] = []
    for meta_graph in saved_model.meta_graphs:
        library = meta_graph.graph_def.library
        functions = {function.signature.name: function for function in library.function}
        names = set(functions)
        edges = {name: _callees(fn.node_def, names) for name, fn in functions.items()}
        for name, function in functions.items():
            edges[name] |= set(_functions(function.attr.values()))
        for gradient in library.gradient:
            edges.setdefault(gradient.function_name, set()).add(gradient.gradient_func)
        from_saver = _closure(_callees(meta_graph.graph_def.node, names), edges)
        roots = set(meta_graph.object_graph_def.concrete_functions) | (names - from_saver)
        callable_ = _closure(roots, edges)
        checks = [("the top-level graph", meta_graph.graph_def.node, FILE_AND_PROCESS_OPS)]
        for name in sorted(names):
            ops = DANGEROUS_OPS if name in callable_ else FILE_AND_PROCESS_OPS
            checks.append((name, functions[name].node_def, ops))
        for where, nodes, refused in checks:
            for op in sorted({node.op for node in nodes} & refused):
                entry = f"graph op {op} in {where}"
                if entry not in found:
                    found.append(entry)
    return found
