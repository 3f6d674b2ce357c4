"""Python Lambda code from ``lambda_src/``, bundled on this machine without Docker.

Each function is a package folder of ``lambda_src`` (``my_pre_labeling/`` ...). Its asset holds
that package, the shared ``gt_common`` package, and the wheels its ``requirements.txt`` names,
installed for the Lambda runtime's platform, less the globs its ``bundle_exclude.txt`` lists. The asset hash is computed here over exactly those
inputs, so a change to the shared package or the pins re-deploys the function and nothing else does.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

LAMBDA_SRC = Path(__file__).resolve().parent.parent / "lambda_src"
SHARED_PACKAGE = "gt_common"
RUNTIME = lambda_.Runtime.PYTHON_3_14
_PYTHON_VERSION = "3.14"
# Bump when the bundling procedure changes: the hash covers sources, not this file.
_BUNDLER_VERSION = "1"
_IGNORED = ("__pycache__", ".pytest_cache")
EXCLUDE_FILE = "bundle_exclude.txt"


def _package_files(folder: Path) -> list[Path]:
    return sorted(
        path for path in folder.rglob("*")
        if path.is_file() and not any(part in _IGNORED for part in path.parts) and path.suffix != ".pyc"
    )


def source_hash(package: str, src_root: Path = LAMBDA_SRC) -> str:
    """Hash of the package, the shared package and the bundler version."""
    digest = hashlib.sha256(f"{_BUNDLER_VERSION}:{_PYTHON_VERSION}".encode())
    for folder in (src_root / package, src_root / SHARED_PACKAGE):
        for path in _package_files(folder):
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
        requirements = self._src_root / self._package / "requirements.txt"
        if requirements.exists():
            subprocess.run(
                [
                    sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64",
                    "--implementation", "cp", "--python-version", _PYTHON_VERSION,
                    "--only-binary=:all:", "--no-compile", "--target", str(out), "-r", str(requirements),
                ],
                check=True,
            )
            _prune(out, bundle_exclusions(self._src_root / self._package))
        for package in (self._package, SHARED_PACKAGE):
            shutil.copytree(
                self._src_root / package, out / package, dirs_exist_ok=True,
                ignore=shutil.ignore_patterns(*_IGNORED, "*.pyc", "requirements.txt", EXCLUDE_FILE),
            )
        return True


def bundle_exclusions(package_dir: Path) -> list[str]:
    """Globs (relative to the asset root) a package's ``bundle_exclude.txt`` removes after pip install."""
    path = package_dir / EXCLUDE_FILE
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _prune(site: Path, extra_patterns: list[str]) -> None:
    """Drop what a Lambda never imports: test suites, caches, type stubs, the package's exclusions."""
    for pattern in ("**/tests", "**/__pycache__", "**/*.pyi", *extra_patterns):
        for path in list(site.glob(pattern)):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()


def python_lambda_code(package: str, src_root: Path = LAMBDA_SRC) -> lambda_.Code:
    """``lambda_.Code`` for one ``lambda_src`` package, bundled locally for the project's runtime."""
    if not (src_root / package).is_dir():
        raise ValueError(f"Lambda package {package!r} not found under {src_root}")
    return lambda_.Code.from_asset(
        str(src_root),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=source_hash(package, src_root),
        # Only this function's files are staged when bundling is skipped (tests, other stacks).
        exclude=["*", f"!{package}/**", f"!{SHARED_PACKAGE}/**", "**/__pycache__", "**/*.pyc"],
        bundling=BundlingOptions(
            image=RUNTIME.bundling_image,  # only used if local bundling declined
            local=LocalPythonBundler(package, src_root),
        ),
    )
