"""Python Lambda code from a folder of packages (the project's ``lambda_src/``), bundled on this
machine without Docker.

Each function is a package folder of the source root (``my_pre_labeling/`` ...). Its asset holds
that package, the modules of the shared ``gt_common`` package it reaches (``shared_modules_reached``:
what its imports, followed through ``gt_common``, can load; nothing else of it), and the wheels its
``requirements.lock`` pins (every distribution, transitive ones too, resolved for the Lambda runtime
and installed only if its hash matches), less the globs its ``bundle_exclude.txt`` lists. Bundling
fails if the lock does not match ``requirements.txt``, if the asset holds anything but the locked
wheels, or if the package imports a module the asset and the runtime do not provide
(``lambda_dependencies``). Every module of the asset is then compiled by the runtime's own Python
(``runtime_python``; bundling fails without it), so no execution environment compiles them again.

The asset hash is computed here over exactly those inputs: the package's files (its lock among
them), the shared modules it reaches, and the bundling procedure (pip's install options and
``_BUNDLER_VERSION``), so a change to any of them re-deploys the function and nothing else does:
editing a shared module one function never imports leaves that function as deployed.

``package_function_props`` turns a package into ``lambda_.FunctionProps`` for the constructs'
``*_function_props`` (memory and timeout left to the construct unless given); the constructs themselves take any
``FunctionProps`` (or an existing function).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Mapping, Optional

import jsii
from aws_cdk import AssetHashType, BundlingOptions, Duration, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from .lambda_dependencies import (
    LAMBDA_SRC, LOCK_FILE, PIP_PLATFORMS, PYTHON_VERSION, REQUIREMENTS_FILE, SHARED_PACKAGE, DependencyError, check_bundle,
    locked_distributions, shared_modules_reached,
)
from .runtime_python import runtime_python

RUNTIME: lambda_.Runtime = getattr(lambda_.Runtime, "PYTHON_" + PYTHON_VERSION.replace(".", "_"))
# Bump when the bundling procedure changes in a way the options below do not show.
_BUNDLER_VERSION = "4"  # 3: only the shared modules a package reaches; 4: bytecode compiled by the
#                          runtime's Python, build-only files pruned
# pip's options for installing a lock into an asset (the hash covers them).
_PIP_INSTALL_OPTIONS = (
    "--require-hashes", "--no-deps", "--only-binary=:all:", "--no-compile",
    *(option for platform in PIP_PLATFORMS for option in ("--platform", platform)),
    "--implementation", "cp", "--python-version", PYTHON_VERSION,
)
# Where Lambda unpacks the code: the path compiled modules name in tracebacks, whatever folder
# the bundle was built in (which would otherwise make every bundling's .pyc differ).
LAMBDA_TASK_ROOT = "/var/task"
# compileall's options for an asset. Hash-based .pyc that Python does not check against the source
# (the bundle's sources never change after it is built): no timestamps in the files, no hashing of
# sources at import. Plain .pyc only: Lambda's Python runs without -O.
_COMPILE_OPTIONS = ("-q", "--invalidation-mode", "unchecked-hash", "-p", LAMBDA_TASK_ROOT)
_COMPILE_PROCESSES = max(1, min(4, os.cpu_count() or 1))
_IGNORED = ("__pycache__", ".pytest_cache")
EXCLUDE_FILE = "bundle_exclude.txt"


def _package_files(folder: Path) -> list[Path]:
    return sorted(
        path for path in folder.rglob("*")
        if path.is_file() and not any(part in _IGNORED for part in path.parts) and path.suffix != ".pyc"
    )


def asset_files(package: str, src_root: Path = LAMBDA_SRC) -> list[Path]:
    """The source files a package's asset is built from: its own files and the shared modules it reaches."""
    package_dir = src_root / package
    return [*_package_files(package_dir), *shared_modules_reached(package_dir).values()]


def source_hash(package: str, src_root: Path = LAMBDA_SRC) -> str:
    """Hash of the package (its lock included), the shared modules it reaches and the bundling procedure."""
    procedure = ":".join((_BUNDLER_VERSION, PYTHON_VERSION, " ".join(_PIP_INSTALL_OPTIONS), " ".join(_COMPILE_OPTIONS),
                          " ".join(_BUILD_ONLY)))
    digest = hashlib.sha256(procedure.encode())
    for path in asset_files(package, src_root):
        digest.update(str(path.relative_to(src_root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class LocalPythonBundler:
    """Builds the asset folder with pip's cross-platform install (no Docker on this machine)."""

    def __init__(self, package: str, src_root: Path = LAMBDA_SRC) -> None:
        self._package = package
        self._src_root = src_root

    def try_bundle(self, output_dir: str, *, image=None, **_options) -> bool:  # noqa: ARG002 - jsii signature
        out = Path(output_dir)
        package_dir = self._src_root / self._package
        if locked_distributions(package_dir):
            _install_lock(package_dir / LOCK_FILE, out)
            _prune(out, bundle_exclusions(package_dir))
        shutil.copytree(
            package_dir, out / self._package, dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(*_IGNORED, "*.pyc", REQUIREMENTS_FILE, LOCK_FILE, EXCLUDE_FILE),
        )
        for source in shared_modules_reached(package_dir).values():
            target = out / source.relative_to(self._src_root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        check_bundle(package_dir, out)
        compile_bytecode(out)
        return True


def compile_bytecode(out: Path) -> None:
    """Compile every module of the asset with the runtime's Python (``runtime_python``), so a new
    execution environment loads bytecode instead of compiling what it imports (Lambda's code folder
    is read-only: what it compiles is lost with the environment). Deterministic: hash-based .pyc,
    paths rewritten to ``LAMBDA_TASK_ROOT``, a fixed string-hash seed (set and frozenset constants
    are written in hash order)."""
    interpreter = runtime_python()
    sources = sorted(str(path) for path in out.rglob("*.py"))
    # One interpreter per core, each compiling its share of the files from a list (compileall's
    # own workers would start the bare interpreter binary, which needs its loader to run here).
    groups = [group for group in (sources[start::_COMPILE_PROCESSES] for start in range(_COMPILE_PROCESSES)) if group]
    env = {"PYTHONHASHSEED": "0", "LC_ALL": "C.UTF-8"}
    failures = []
    with tempfile.TemporaryDirectory() as lists:
        workers = []
        for number, group in enumerate(groups):
            listing, log = Path(lists) / f"{number}.txt", Path(lists) / f"{number}.log"
            listing.write_text("\n".join(group) + "\n", encoding="utf-8")
            command = [str(interpreter.executable), "-m", "compileall", *_COMPILE_OPTIONS, "-s", str(out),
                       "-i", str(listing)]
            with log.open("w") as output:
                workers.append((subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env), log))
        for worker, log in workers:
            if worker.wait() != 0:
                failures.append(log.read_text(encoding="utf-8", errors="replace").strip())
    if failures:
        details = "\n".join(failures)[-4000:]
        raise DependencyError(
            f"Python {interpreter.version} could not compile the asset in {out}: in AWS these modules would fail "
            f"to import:\n{details}")


def _install_lock(lock: Path, out: Path) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               *_PIP_INSTALL_OPTIONS, "--target", str(out), "-r", str(lock)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise DependencyError(
            f"pip could not install {lock} for Python {PYTHON_VERSION} ({', '.join(PIP_PLATFORMS)}):\n"
            f"{result.stderr.strip() or result.stdout.strip()}")


def bundle_exclusions(package_dir: Path) -> list[str]:
    """Globs (relative to the asset root) a package's ``bundle_exclude.txt`` removes after pip install."""
    path = package_dir / EXCLUDE_FILE
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


# What wheels carry for building other extensions against them (C and Cython sources and headers,
# static libraries, pkg-config files): a compiler reads them, an interpreter never loads them.
_BUILD_ONLY = ("*.c", "*.h", "*.cpp", "*.hpp", "*.pyx", "*.pxd", "*.pxi", "*.a", "*.pc")


def _prune(site: Path, extra_patterns: list[str]) -> None:
    """Drop what a Lambda never imports: test suites, caches, type stubs, build-only files, the
    package's exclusions."""
    build_only = [f"**/{pattern}" for pattern in _BUILD_ONLY]
    for pattern in ("**/tests", "**/__pycache__", "**/*.pyi", *build_only, *extra_patterns):
        for path in list(site.glob(pattern)):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()


def python_lambda_code(package: str, src_root: Path = LAMBDA_SRC) -> lambda_.Code:
    """``lambda_.Code`` for one package of ``src_root``, bundled locally for the project's runtime."""
    if not (src_root / package).is_dir():
        raise ValueError(f"Lambda package {package!r} not found under {src_root}")
    shared = [str(path.relative_to(src_root)) for path in shared_modules_reached(src_root / package).values()]
    return lambda_.Code.from_asset(
        str(src_root),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=source_hash(package, src_root),
        # The bundle's own files, should the source be staged unbundled. (When a stack skips bundling,
        # CDK points the asset at the source folder itself: the local runner then imports the
        # package from lambda_src, held to the bundle's imports by lambda_dependencies.guard_imports.)
        exclude=["*", f"!{package}", f"!{package}/**", f"!{SHARED_PACKAGE}", *(f"!{path}" for path in shared),
                 "**/__pycache__", "**/*.pyc"],
        bundling=BundlingOptions(
            image=RUNTIME.bundling_image,  # only used if local bundling declined
            local=LocalPythonBundler(package, src_root),
        ),
    )


def package_function_props(
    package: str,
    *,
    handler: str = "handler.lambda_handler",
    memory_size: Optional[int] = None,
    timeout: Optional[Duration] = None,
    environment: Optional[Mapping[str, str]] = None,
    description: Optional[str] = None,
    src_root: Path = LAMBDA_SRC,
) -> lambda_.FunctionProps:
    """``FunctionProps`` of a function whose code is ``src_root/<package>`` (``handler`` relative to
    it), bundled by ``python_lambda_code`` for ``RUNTIME``.

    ``memory_size`` and ``timeout`` are set only when given: left out, the construct the props are passed to
    decides them, as it knows what each of its functions needs (its docstring gives its defaults: ``ExpertReview``'s
    start and merge functions get far more than the others). Props passed to ``lambda_.Function`` directly get
    Lambda's own defaults (128 MB, 3 seconds) instead: give both there."""
    return lambda_.FunctionProps(
        code=python_lambda_code(package, src_root),
        handler=f"{package}.{handler}",
        runtime=RUNTIME,
        memory_size=memory_size,
        timeout=timeout,
        environment=dict(environment or {}),
        description=description,
    )
