"""The Lambda runtime's own Python (``PYTHON_VERSION``), on this machine, for compiling bytecode.

Lambda's code folder is read-only, so a module shipped without ``.pyc`` is compiled again in every
new execution environment; a ``.pyc`` only counts if the runtime's exact Python wrote it (its magic
number and cache tag). ``scripts/install_runtime_python.sh`` installs that interpreter into
``.runtime-python/`` (``RUNTIME_PYTHON`` names another one). Bundling a Lambda asset needs it: a
missing or wrong interpreter is an error naming the install command, never a bundle left
uncompiled.

This module must not import aws_cdk (the benchmarks use it without).
"""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .lambda_dependencies import PYTHON_VERSION

REPO = Path(__file__).resolve().parent.parent
INSTALL_COMMAND = "./scripts/install_runtime_python.sh"
ENV_VARIABLE = "RUNTIME_PYTHON"
DEFAULT_PATH = REPO / ".runtime-python" / "bin" / f"python{PYTHON_VERSION}"
# The AWS SDK the runtime ships, installed beside it for measuring (the bundles do not carry it).
SDK_PATH = REPO / ".runtime-python" / "sdk"


class RuntimePythonError(Exception):
    """The runtime's Python is missing here, or is not the runtime's version."""


@dataclass(frozen=True)
class RuntimePython:
    executable: Path
    version: str  # "3.14.10"
    magic_number: bytes  # importlib.util.MAGIC_NUMBER: what a .pyc must start with
    cache_tag: str  # "cpython-314": the .pyc file names under __pycache__


_PROBE = ("import importlib.util, json, sys; print(json.dumps({'version': sys.version.split()[0], "
          "'magic': importlib.util.MAGIC_NUMBER.hex(), 'tag': sys.implementation.cache_tag}))")


def runtime_python_path() -> Path:
    return Path(os.environ.get(ENV_VARIABLE) or DEFAULT_PATH)


@lru_cache(maxsize=None)
def _probe(executable: Path) -> RuntimePython:
    if not executable.exists():
        raise RuntimePythonError(
            f"the Lambda runtime's Python {PYTHON_VERSION} is not installed at {executable}: run {INSTALL_COMMAND} "
            f"(or set {ENV_VARIABLE} to a python{PYTHON_VERSION}); it compiles the bundles' bytecode")
    try:
        result = subprocess.run([str(executable), "-I", "-c", _PROBE], capture_output=True, text=True, timeout=60)
    except OSError as error:
        raise RuntimePythonError(f"{executable} does not run ({error}): run {INSTALL_COMMAND}") from None
    if result.returncode != 0:
        raise RuntimePythonError(f"{executable} does not run: {result.stderr.strip()[-500:]}; run {INSTALL_COMMAND}")
    found = json.loads(result.stdout)
    if ".".join(found["version"].split(".")[:2]) != PYTHON_VERSION:
        raise RuntimePythonError(
            f"{executable} is Python {found['version']}, the functions run on {PYTHON_VERSION}: its bytecode would "
            f"be ignored in AWS; run {INSTALL_COMMAND}")
    return RuntimePython(executable, found["version"], bytes.fromhex(found["magic"]), found["tag"])


def runtime_python() -> RuntimePython:
    """The runtime's interpreter, checked to be of ``PYTHON_VERSION``."""
    return _probe(runtime_python_path())
