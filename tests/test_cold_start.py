"""Bundles ship bytecode compiled by the Lambda runtime's own Python: every module the handler
imports at start-up loads from a .pyc of the runtime's magic number, and two bundlings are the same
bytes. Runs the runtime's interpreter (``scripts/install_runtime_python.sh``; bootstrap installs it)."""
from __future__ import annotations

import filecmp
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from labeling_constructs import lambda_code, runtime_python
from labeling_constructs.lambda_code import LAMBDA_TASK_ROOT, LocalPythonBundler, compile_bytecode, source_hash
from labeling_constructs.lambda_dependencies import PYTHON_VERSION, DependencyError
from labeling_constructs.runtime_python import SDK_PATH, RuntimePythonError

PACKAGE = "consolidation"  # locked numpy and most of gt_common: a real asset that bundles in seconds
HASH_BASED_UNCHECKED = 0b01  # PEP 552 flags: hash-based, source not checked

# Imports the handler in the runtime's Python as Lambda does (bundle first, SDK after the standard
# library) and reports, for every module loaded from the bundle, the .pyc it came from.
_CHILD = r"""
import importlib.util, json, sys
bundle, sdk, module = sys.argv[1:4]
sys.path.insert(0, bundle)
sys.path.append(sdk)
handler = __import__(module, fromlist=["lambda_handler"])
loaded = {}
for name, mod in list(sys.modules.items()):
    origin = getattr(getattr(mod, "__spec__", None), "origin", None) or ""
    if origin.startswith(bundle + "/") and origin.endswith(".py"):
        loaded[name] = {"source": origin[len(bundle) + 1:], "cached": getattr(mod.__spec__, "cached", None)}
import marshal
code = marshal.loads(open(handler.__spec__.cached, "rb").read()[16:])
print(json.dumps({"magic": importlib.util.MAGIC_NUMBER.hex(), "loaded": loaded, "code_file": code.co_filename}))
"""


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> tuple[Path, Path]:
    first, second = tmp_path_factory.mktemp("first") / "asset", tmp_path_factory.mktemp("second") / "asset"
    for out in (first, second):
        assert LocalPythonBundler(PACKAGE).try_bundle(str(out)) is True
    return first, second


def test_the_runtime_python_is_the_functions_version():
    interpreter = runtime_python.runtime_python()
    assert interpreter.version.startswith(PYTHON_VERSION + ".")
    assert interpreter.cache_tag == "cpython-" + PYTHON_VERSION.replace(".", "")
    assert lambda_code.RUNTIME.name == f"python{PYTHON_VERSION}"


def test_every_module_the_handler_imports_at_start_up_loads_from_the_runtimes_bytecode(bundles, tmp_path):
    bundle = shutil.copytree(bundles[0], tmp_path / "asset")
    # Sources the import must never read: the shipped .pyc stand for them (hash-based, unchecked).
    for source in (f"{PACKAGE}/handler.py", "gt_common/__init__.py"):
        (bundle / source).write_text("raise RuntimeError('compiled from source, not loaded from the .pyc')\n")
    interpreter = runtime_python.runtime_python()
    result = subprocess.run([str(interpreter.executable), "-c", _CHILD, str(bundle), str(SDK_PATH), f"{PACKAGE}.handler"],
                            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["magic"] == interpreter.magic_number.hex()
    loaded = report["loaded"]
    # the handler, gt_common and numpy at least: the import reaches hundreds of the bundle's modules
    assert {f"{PACKAGE}.handler", "gt_common", "numpy"} <= set(loaded) and len(loaded) > 100
    for name, module in loaded.items():
        source = bundle / module["source"]
        pyc = source.parent / "__pycache__" / f"{source.stem}.{interpreter.cache_tag}.pyc"
        assert module["cached"] == str(pyc), name
        header = pyc.read_bytes()[:8]
        assert header[:4] == interpreter.magic_number, name
        assert int.from_bytes(header[4:8], "little") == HASH_BASED_UNCHECKED, name
    # Tracebacks name the file where Lambda unpacks it, not the folder the bundle was built in.
    assert report["code_file"] == f"{LAMBDA_TASK_ROOT}/{PACKAGE}/handler.py"


def test_every_module_of_the_bundle_is_compiled(bundles):
    bundle = bundles[0]
    tag = runtime_python.runtime_python().cache_tag
    sources = [p for p in bundle.rglob("*.py")]
    missing = [str(p.relative_to(bundle)) for p in sources
               if not (p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc").is_file()]
    assert sources and missing == []


def test_build_only_files_are_pruned_and_nothing_imported_needs_them(bundles):
    """C/Cython sources, headers and static libraries are gone (numpy's wheel carries all of them);
    the import test above then shows the handler's start-up loads nothing of them."""
    bundle = bundles[0]
    left = [str(p.relative_to(bundle)) for pattern in lambda_code._BUILD_ONLY for p in bundle.rglob(pattern)]
    assert left == []
    assert any(bundle.rglob("*.so"))  # the compiled extensions stay


def test_two_bundlings_are_the_same_bytes(bundles):
    first, second = bundles
    files = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(second)) for p in second.rglob("*") if p.is_file())
    assert any(name.endswith(".pyc") for name in files)
    _, mismatch, errors = filecmp.cmpfiles(first, second, files, shallow=False)
    assert mismatch == [] and errors == []


def test_the_asset_hash_covers_the_compile_step_and_not_the_build(monkeypatch, bundles):
    before = source_hash(PACKAGE)
    assert source_hash(PACKAGE) == before  # a re-synth: same inputs, same hash (the .pyc are no input)
    monkeypatch.setattr(lambda_code, "_COMPILE_OPTIONS", ("-q", "--invalidation-mode", "checked-hash"))
    assert source_hash(PACKAGE) != before


def test_bundling_without_the_runtime_python_fails_naming_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv(runtime_python.ENV_VARIABLE, str(tmp_path / "no-python"))
    (tmp_path / "asset").mkdir()
    with pytest.raises(RuntimePythonError) as raised:
        compile_bytecode(tmp_path / "asset")
    assert runtime_python.INSTALL_COMMAND in str(raised.value) and "no-python" in str(raised.value)


def test_an_interpreter_of_another_version_is_refused(tmp_path, monkeypatch):
    other = tmp_path / "python"
    other.write_text("#!/bin/sh\necho '{\"version\": \"3.11.2\", \"magic\": \"a70d0d0a\", \"tag\": \"cpython-311\"}'\n")
    other.chmod(0o755)
    monkeypatch.setenv(runtime_python.ENV_VARIABLE, str(other))
    with pytest.raises(RuntimePythonError, match=f"Python 3.11.2, the functions run on {PYTHON_VERSION}"):
        runtime_python.runtime_python()


def test_a_module_the_runtime_cannot_compile_fails_the_bundling_naming_it(tmp_path):
    asset = tmp_path / "asset"
    (asset / "fn").mkdir(parents=True)
    (asset / "fn" / "broken.py").write_text("def f(:\n    pass\n")
    with pytest.raises(DependencyError, match=r"broken\.py"):
        compile_bytecode(asset)
