"""An app synthesized with bundling (``./scripts/synth.sh``) runs in the local runner: a bundle's packages are built
for the Lambda runtime's Python, so its compiled ones come from this interpreter (the same versions, or said), the
import guard allows what the bundle holds, and what it lacks is named with where to add it."""
from __future__ import annotations

import importlib.metadata
import logging
import textwrap
from pathlib import Path

import pytest

from local_ground_truth.lambda_host import LocalFunction
from local_ground_truth.stack_reader import FunctionSpec, StackError, check_bundle_runs_here

HANDLER = '''
import numpy


def lambda_handler(event, context):
    if event.get("also"):
        __import__(event["also"])
    return {"numpy": numpy.__file__, "sum": int(numpy.arange(4).sum())}
'''


def fake_distribution(asset: Path, name: str, version: str, compiled: bool = True) -> None:
    """A distribution as pip installs it into a bundle; its module only raises, as a build for another Python."""
    (asset / name).mkdir()
    (asset / name / "__init__.py").write_text('raise ImportError("built for the Lambda runtime\'s Python")\n')
    info = asset / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    extension = f"{name}/_core.cpython-314-x86_64-linux-gnu.so,,\n" if compiled else ""
    (info / "RECORD").write_text(f"{name}/__init__.py,,\n{extension}")


@pytest.fixture
def bundle(tmp_path) -> Path:
    asset = tmp_path / "asset"
    (asset / "fn").mkdir(parents=True)
    (asset / "fn" / "__init__.py").write_text("")
    (asset / "fn" / "handler.py").write_text(textwrap.dedent(HANDLER))
    fake_distribution(asset, "numpy", importlib.metadata.version("numpy"))
    return asset


def invoke(asset: Path, event: dict) -> tuple[bool, object]:
    function = LocalFunction(FunctionSpec(logical_id="Bundled", handler="fn.handler.lambda_handler", asset_dir=asset,
                                          environment={}, timeout_seconds=60), "http://127.0.0.1:9")
    try:
        return function.invoke(event)
    finally:
        function.close()


def test_a_bundled_function_imports_its_compiled_packages_from_this_python(bundle):
    ok, response = invoke(bundle, {})
    assert ok, response
    assert response["sum"] == 6 and not response["numpy"].startswith(str(bundle))  # not the bundle's build


def test_a_module_the_bundle_does_not_hold_is_refused_saying_where_to_add_it(bundle):
    ok, response = invoke(bundle, {"also": "pandas"})  # in this virtualenv, not in the bundle
    assert not ok
    assert "Lambda function 'fn' imports 'pandas'" in response and "which its bundle does not hold" in response
    assert "add it to fn/requirements.txt in the function's source folder" in response


def test_a_compiled_package_this_python_lacks_is_refused_before_the_job_starts(bundle):
    fake_distribution(bundle, "no_such_compiled_pkg", "1.0")
    with pytest.raises(StackError, match=r"stack S: function F's bundle .* holds no-such-compiled-pkg 1\.0, built for "
                                         r"the Lambda runtime's Python 3\.14, .* this Python has no no-such-compiled-pkg"):
        check_bundle_runs_here("S", "F", bundle)


def test_versions_that_differ_from_the_bundles_are_said_and_pure_python_ones_are_not_checked(bundle, caplog):
    fake_distribution(bundle, "six", "0.1", compiled=False)  # pure Python: imported from the bundle if need be
    check_bundle_runs_here("S", "F", bundle)
    assert caplog.text == ""
    info = next(bundle.glob("numpy-*.dist-info"))
    info.rename(bundle / "numpy-0.0.1.dist-info")
    (bundle / "numpy-0.0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 0.0.1\n")
    with caplog.at_level(logging.WARNING, logger="local_ground_truth"):
        check_bundle_runs_here("S", "F", bundle)
    assert (f"function F's bundle is built for Python 3.14; it runs here with this Python's numpy "
            f"{importlib.metadata.version('numpy')} (the bundle's: 0.0.1)") in caplog.text
