"""What ships is what was tested: locked Lambda requirements, imports held to what they bring, and
assets holding only what their function reaches.

Every ``lambda_src`` package is checked (parametrized, so a new package is covered by itself), and
so is the custom-resource code that lives beside its construct; the checks are also exercised on
packages built in ``tmp_path`` that import what they must not.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from labeling_constructs import lambda_code
from labeling_constructs.lambda_code import RUNTIME, LocalPythonBundler, asset_files, source_hash
from labeling_constructs.lambda_dependencies import (
    LAMBDA_SRC, LOCK_FILE, PYTHON_VERSION, REQUIREMENTS_FILE, RUNTIME_DISTRIBUTIONS, RUNTIME_MODULES, RUNTIME_STDLIB,
    SHARED_PACKAGE, DependencyError, canonical_name, check_bundle, check_package, collect_imports,
    locked_distributions, read_lock, shared_modules_reached, undeclared_imports,
)

REPO = LAMBDA_SRC.parent
PACKAGES = sorted(p.name for p in LAMBDA_SRC.iterdir()
                  if p.is_dir() and p.name != SHARED_PACKAGE and (p / "__init__.py").exists())
LOCKED = [name for name in PACKAGES if (LAMBDA_SRC / name / REQUIREMENTS_FILE).exists()]
#: The smallest locked package whose lock brings numpy (its lock is borrowed by the tests below).
NUMPY_PACKAGE = min((name for name in LOCKED if "numpy" in read_lock(LAMBDA_SRC / name / LOCK_FILE)),
                    key=lambda name: (len(read_lock(LAMBDA_SRC / name / LOCK_FILE)), name))
NUMPY_VERSION = read_lock(LAMBDA_SRC / NUMPY_PACKAGE / LOCK_FILE)["numpy"]
#: Custom-resource code beside its construct: boto3 only, each an asset of its own folder.
CONSTRUCTS = LAMBDA_SRC.parent / "labeling_constructs"
RESOURCE_PACKAGES = ("labeling_job_resource", "workteam_portal_resource")


def test_every_function_package_is_found():
    import workflows

    for definition in workflows.definitions().values():
        assert {definition.pre_labeling.package, definition.consolidation.package} <= set(PACKAGES)
    assert LOCKED and NUMPY_PACKAGE in LOCKED
    assert not set(RESOURCE_PACKAGES) & set(PACKAGES)  # they live with their constructs


# -- every real package ----------------------------------------------------------------------------
@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_what_its_requirements_bring(package):
    sites = collect_imports(LAMBDA_SRC / package)
    assert any(site.top in RUNTIME_MODULES for site in sites), "expected the handler's boto3 import to be found"
    check_package(LAMBDA_SRC / package)


@pytest.mark.parametrize("package", LOCKED)
def test_lock_holds_every_top_level_pin_with_hashes(package):
    folder = LAMBDA_SRC / package
    pins = read_lock(folder / LOCK_FILE)
    for line in (folder / REQUIREMENTS_FILE).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            locked = pins[canonical_name(requirement.name)]
            exact = [spec.version for spec in requirement.specifier if spec.operator == "=="]
            if exact:  # a top-level pin: the same version in the lock
                assert exact == [locked], (requirement, locked)
            else:  # a bound (python-dateutil<3): a version it accepts
                assert requirement.specifier.contains(locked), (requirement, locked)
    # Every pin is followed by at least one sha256 hash, and the runtime's Python is the one resolved for.
    text = (folder / LOCK_FILE).read_text()
    for name in pins:
        block = re.search(rf"^{re.escape(name)}==\S+ \\\n((?:\s+--hash=sha256:[0-9a-f]{{64}}(?: \\)?\n)+)", text,
                          flags=re.MULTILINE | re.IGNORECASE)
        assert block, f"{name} has no hashes in {folder / LOCK_FILE}"
    assert locked_distributions(folder) == pins


def test_packages_without_requirements_need_no_lock():
    for package in set(PACKAGES) - set(LOCKED):
        assert not (LAMBDA_SRC / package / LOCK_FILE).exists()
        assert locked_distributions(LAMBDA_SRC / package) == {}


def test_runtime_list_is_boto3_and_its_own_dependencies():
    """The SDK the runtime ships, closed over its declared requirements; modules as its metadata says."""
    closure, pending = set(), ["boto3"]
    while pending:
        name = canonical_name(pending.pop())
        if name not in closure:
            closure.add(name)
            pending += [Requirement(r).name for r in importlib.metadata.requires(name) or []
                        if "extra ==" not in r]
    assert closure == set(RUNTIME_DISTRIBUTIONS)
    installed = importlib.metadata.packages_distributions()
    for name, modules in RUNTIME_DISTRIBUTIONS.items():
        for module in modules:
            assert name in {canonical_name(dist) for dist in installed.get(module, [])}, (name, module)


def test_runtime_stdlib_is_python_3_14s():
    assert RUNTIME.name == f"python{PYTHON_VERSION}"
    assert {"json", "dataclasses", "compression", "annotationlib"} <= RUNTIME_STDLIB
    assert not {"imghdr", "cgi", "distutils", "imp"} & RUNTIME_STDLIB  # removed in 3.12 / 3.13


# -- the static check on packages it must refuse -------------------------------------------------------
def make_src(tmp_path: Path, files: dict[str, str], lock_from: str | None = None) -> Path:
    """A lambda_src-like folder: package ``fn`` plus ``gt_common``, optionally with a real lock."""
    src = tmp_path / "lambda_src"
    for relative, text in {"fn/__init__.py": "", "gt_common/__init__.py": "", **files}.items():
        (src / relative).parent.mkdir(parents=True, exist_ok=True)
        (src / relative).write_text(text)
    if lock_from:
        for name in (REQUIREMENTS_FILE, LOCK_FILE):
            shutil.copy(LAMBDA_SRC / lock_from / name, src / "fn" / name)
    return src


def refusal(package_dir: Path) -> str:
    with pytest.raises(DependencyError) as raised:
        check_package(package_dir)
    return str(raised.value)


def test_import_outside_the_lock_is_named_with_package_module_and_file(tmp_path):
    src = make_src(tmp_path, {
        "fn/handler.py": "import json\nimport numpy as np\n\n\ndef lambda_handler(event, context):\n"
                         "    import pandas\n    return pandas.DataFrame(np.zeros(1))\n",
    }, lock_from=NUMPY_PACKAGE)
    message = refusal(src / "fn")
    assert "Lambda package 'fn'" in message
    assert "'pandas' (pandas) in lambda_src/fn/handler.py:6" in message  # the import inside the function
    assert "numpy" not in message.split("\n")[1]  # numpy is in the lock, json is stdlib
    assert "lambda_src/fn/requirements.txt" in message and "lock_lambda_requirements.sh" in message


def test_without_a_lock_even_numpy_is_refused(tmp_path):
    src = make_src(tmp_path, {"fn/handler.py": "from numpy import zeros\nimport boto3\nimport botocore.exceptions\n"})
    message = refusal(src / "fn")
    assert "'numpy' (numpy) in lambda_src/fn/handler.py:1" in message
    assert "boto3" not in message.split("\n")[1]


@pytest.mark.parametrize("source, module", [
    ("from pandas.io import json\n", "pandas.io"),
    ("import importlib\nimportlib.import_module('yaml')\n", "yaml"),
    ("import imghdr\n", "imghdr"),  # standard library of 3.11, gone in the runtime's 3.14
    ("try:\n    import tqdm\nexcept ImportError:\n    tqdm = None\n", "tqdm"),  # AWS would take the other path
])
def test_each_kind_of_import_is_seen(tmp_path, source, module):
    src = make_src(tmp_path, {"fn/sub/__init__.py": "", "fn/sub/mod.py": source})
    message = refusal(src / "fn")
    assert f"({module}) in lambda_src/fn/sub/mod.py" in message
    assert ("no longer in the standard library of Python 3.14" in message) == (module == "imghdr")


def test_relative_and_type_checking_imports_are_resolved(tmp_path):
    src = make_src(tmp_path, {
        "fn/sub/__init__.py": "from .mod import VALUE\n",
        "fn/sub/mod.py": "from typing import TYPE_CHECKING\nfrom .. import handler\nfrom . import other\n"
                         "if TYPE_CHECKING:\n    import pandas\nVALUE = 1\n",
        "fn/sub/other.py": "",
        "fn/handler.py": "from fn.sub import VALUE\n",
    })
    check_package(src / "fn")
    assert {site.module for site in collect_imports(src / "fn")} >= {"fn.sub.mod", "fn", "fn.sub", "typing"}
    (src / "fn" / "bad.py").write_text("from ... import x\n")
    assert "relative import beyond the top-level package" in refusal(src / "fn")


def test_shared_modules_count_when_the_package_reaches_them(tmp_path):
    src = make_src(tmp_path, {
        "gt_common/tables.py": "import pandas\n",
        "gt_common/helpers.py": "from . import tables\n",
        "gt_common/s3uri.py": "import urllib.parse\n",
        "fn/handler.py": "from gt_common.s3uri import parse\n",
    })
    check_package(src / "fn")  # tables.py is carried but never imported: it cannot fail
    (src / "fn" / "handler.py").write_text("from gt_common import helpers\n")
    assert "'pandas' (pandas) in lambda_src/gt_common/tables.py:1" in refusal(src / "fn")


def test_lock_out_of_step_with_requirements_is_refused(tmp_path):
    src = make_src(tmp_path, {"fn/handler.py": "import numpy\n"}, lock_from=NUMPY_PACKAGE)
    requirements = src / "fn" / REQUIREMENTS_FILE
    requirements.write_text("numpy==2.0.0\n")
    with pytest.raises(DependencyError, match=rf"requirements.lock does not match .*numpy=={re.escape(NUMPY_VERSION)}, "
                                              r"outside ==2\.0\.0"):
        locked_distributions(src / "fn")
    requirements.write_text(f"numpy=={NUMPY_VERSION}\nscipy==1.17.0\n")
    with pytest.raises(DependencyError, match="scipy is not in the lock"):
        check_package(src / "fn")
    (src / "fn" / LOCK_FILE).unlink()
    with pytest.raises(DependencyError, match=r"has no requirements.lock beside it: run ./scripts/lock_lambda_requirements.sh"):
        check_package(src / "fn")


def test_locked_distribution_missing_from_the_virtualenv_is_named(tmp_path):
    src = make_src(tmp_path, {"fn/handler.py": ""})
    (src / "fn" / REQUIREMENTS_FILE).write_text("no-such-dist==1.0\n")
    (src / "fn" / LOCK_FILE).write_text("no-such-dist==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(DependencyError, match="pins no-such-dist, which is not installed in this virtualenv"):
        check_package(src / "fn")


# -- the run-time guard (in child processes, as the local runner's Lambda processes) ---------------
GUARD_SCRIPT = """
import importlib, json, sys
from pathlib import Path
asset, handler_module, preloaded, extra = sys.argv[1:]
for name in filter(None, preloaded.split(",")):  # what a forked runner process already holds
    importlib.import_module(name)
from labeling_constructs.lambda_dependencies import allowed_modules, guard_imports
sys.path.insert(0, asset)
package_dir = Path(asset) / handler_module.split(".")[0]
guard = guard_imports(package_dir, allowed_modules(package_dir) | set(filter(None, extra.split(","))))
try:
    result = importlib.import_module(handler_module).lambda_handler({}, None)
    print(json.dumps({"result": result}))
except ImportError as error:
    print(json.dumps({"error": type(error).__name__, "message": str(error), "name": error.name}))
guard.uninstall()
import builtins, tqdm  # refused no more
print(json.dumps({"restored": type(builtins.__import__).__name__ == "builtin_function_or_method"
                  and guard not in sys.meta_path}))
"""


def run_guarded(asset: Path, handler_module: str, *preloaded: str, also_allowed: tuple[str, ...] = ()) -> dict:
    """Import ``handler_module`` from ``asset`` through the guard in a fresh interpreter; call it."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLCONFIGDIR": os.environ.get("MPLCONFIGDIR", "/tmp")}
    command = [sys.executable, "-c", GUARD_SCRIPT, str(asset), handler_module, ",".join(preloaded), ",".join(also_allowed)]
    result = subprocess.run(command,
                            capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()[-2:]
    assert json.loads(second) == {"restored": True}
    return json.loads(first)


@pytest.mark.parametrize("preloaded", [(), ("pandas",)], ids=["not-loaded", "already-loaded"])
def test_guard_refuses_a_module_the_requirements_do_not_bring(tmp_path, preloaded):
    src = make_src(tmp_path, {"fn/handler.py": "import numpy\n\ndef lambda_handler(event, context):\n"
                                               "    import pandas\n    return 1\n"}, lock_from=NUMPY_PACKAGE)
    outcome = run_guarded(src, "fn.handler", *preloaded)
    assert outcome["error"] == "ModuleNotFoundError" and outcome["name"] == "pandas"
    assert "Lambda function 'fn' imports 'pandas' (imported by fn.handler)" in outcome["message"]


def test_guard_refuses_what_python_3_14_no_longer_has(tmp_path):
    src = make_src(tmp_path, {"fn/handler.py": "import imghdr\n\ndef lambda_handler(event, context):\n    return 1\n"})
    outcome = run_guarded(src, "fn.handler")
    assert outcome["name"] == "imghdr" and "no longer in the standard library of Python 3.14" in outcome["message"]


def test_guard_refuses_through_shared_code_and_for_libraries(tmp_path):
    src = make_src(tmp_path, {"gt_common/frames.py": "import pandas\n",
                              "fn/handler.py": "def lambda_handler(event, context):\n"
                                               "    from gt_common import frames\n    return 1\n"})
    outcome = run_guarded(src, "fn.handler", "pandas")
    assert outcome["name"] == "pandas" and "(imported by gt_common.frames)" in outcome["message"]
    # A library's own import of a module outside the function's lock fails as in AWS (the finder).
    (src / "extlib.py").write_text("def load():\n    import tqdm\n")
    (src / "fn" / "handler.py").write_text("import extlib\n\ndef lambda_handler(event, context):\n"
                                           "    extlib.load()\n    return 1\n")
    outcome = run_guarded(src, "fn.handler", also_allowed=("extlib",))
    assert outcome["name"] == "tqdm" and "Lambda function 'fn' imports 'tqdm' (imported by extlib)" in outcome["message"]


def test_guard_allows_what_the_lock_runtime_and_stdlib_bring(tmp_path):
    src = make_src(tmp_path, {"fn/handler.py": "import json, boto3, numpy as np\nfrom gt_common.util import double\n"
                                               "def lambda_handler(event, context):\n"
                                               "    return double(int(np.arange(4).sum()))\n",
                              "gt_common/util.py": "from dateutil import parser\n\ndef double(x):\n    return 2 * x\n"},
                   lock_from=NUMPY_PACKAGE)
    assert run_guarded(src, "fn.handler", "pandas") == {"result": 12}


PROBE = """
import io

import boto3

import {package}.handler


def lambda_handler(event, context):
    boto3.client("s3", region_name="us-east-1")  # botocore's lazy imports happen here
    if {draws}:  # matplotlib's lazy imports (fonts, PNG writer) happen on the first draw
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        figure = Figure()
        FigureCanvasAgg(figure)
        figure.subplots().plot([0, 1], [1, 2], label="x")
        figure.legend()
        figure.savefig(io.BytesIO(), format="png")
    return "loaded"
"""


def stage_as_bundled(package: str, asset: Path) -> None:
    """The asset's own files, as the bundler copies them: the package and the shared modules it reaches."""
    for source in asset_files(package):
        target = asset / source.relative_to(LAMBDA_SRC)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


@pytest.mark.parametrize("package", PACKAGES)
def test_real_handlers_load_and_run_through_the_guard(tmp_path, package):
    """Staged with only the shared modules the package reaches (what its asset holds), numpy
    preloaded as in the runner: the reach the bundler computes is enough to load and run it."""
    asset = tmp_path / "asset"
    stage_as_bundled(package, asset)
    draws = "matplotlib" in locked_distributions(LAMBDA_SRC / package)
    (asset / package / "probe.py").write_text(PROBE.format(package=package, draws=draws))
    assert run_guarded(asset, f"{package}.probe", "numpy") == {"result": "loaded"}


@pytest.mark.parametrize("package", RESOURCE_PACKAGES)
def test_custom_resource_code_needs_only_the_runtime(tmp_path, package):
    """The custom resources' code imports nothing but the standard library, boto3 and itself (no
    gt_common: its asset is its own folder), and loads through the guard from a copy of that folder."""
    folder = CONSTRUCTS / package
    assert undeclared_imports(folder, RUNTIME_STDLIB | RUNTIME_MODULES | {package}) == []
    assert any(site.top in RUNTIME_MODULES for site in collect_imports(folder))
    asset = tmp_path / "asset"
    shutil.copytree(folder, asset / package, ignore=shutil.ignore_patterns("__pycache__"))
    (asset / package / "probe.py").write_text(PROBE.format(package=package, draws=False))
    assert run_guarded(asset, f"{package}.probe") == {"result": "loaded"}


# -- what each asset holds of the shared package --------------------------------------------------------
def test_an_asset_holds_only_the_shared_modules_its_package_reaches(tmp_path):
    src = make_src(tmp_path, {
        "gt_common/__init__.py": '"""shared"""\n',
        "gt_common/uris.py": "from .text import clean\n",
        "gt_common/text.py": "import unicodedata\n",
        "gt_common/plots.py": "import json\n",  # nobody here imports it
        "gt_common/lazy.py": "",
        "fn/handler.py": "import boto3\nfrom gt_common.uris import clean\n\n\ndef lambda_handler(event, context):\n"
                         "    import importlib\n    return importlib.import_module('gt_common.lazy')\n",
    })
    assert list(shared_modules_reached(src / "fn")) == ["gt_common", "gt_common.lazy", "gt_common.text", "gt_common.uris"]
    out = tmp_path / "asset"
    out.mkdir()
    assert LocalPythonBundler("fn", src).try_bundle(str(out)) is True
    assert sorted(path.name for path in (out / "gt_common").glob("*.py")) == ["__init__.py", "lazy.py", "text.py", "uris.py"]
    # A shared module the function never reaches does not redeploy it; one it reaches does.
    first = source_hash("fn", src)
    (src / "gt_common" / "plots.py").write_text("import json, math\n")
    assert source_hash("fn", src) == first
    (src / "gt_common" / "text.py").write_text("import unicodedata, string\n")
    assert source_hash("fn", src) != first


def test_a_bundle_missing_a_shared_module_it_reaches_is_refused(tmp_path):
    src = make_src(tmp_path, {"gt_common/uris.py": "", "fn/handler.py": "from gt_common import uris\n"})
    out = tmp_path / "asset"
    (out / "fn").mkdir(parents=True)
    (out / "gt_common").mkdir()
    (out / "gt_common" / "__init__.py").write_text("")
    with pytest.raises(DependencyError, match=r"lacks the shared modules it imports: \['gt_common/uris.py'\]"):
        check_bundle(src / "fn", out)


@pytest.mark.parametrize("package", PACKAGES)
def test_each_real_asset_is_built_from_its_package_and_the_shared_modules_it_reaches(tmp_path, package):
    """Editing a shared module outside a function's reach leaves its asset hash (and deployment) as it is."""
    reached = shared_modules_reached(LAMBDA_SRC / package)
    shared_files = {path for path in asset_files(package) if path.is_relative_to(LAMBDA_SRC / SHARED_PACKAGE)}
    assert shared_files == set(reached.values()) and LAMBDA_SRC / SHARED_PACKAGE / "__init__.py" in shared_files
    src = tmp_path / "lambda_src"
    shutil.copytree(LAMBDA_SRC, src, ignore=shutil.ignore_patterns("__pycache__"))
    first = source_hash(package, src)
    outside = sorted(set((src / SHARED_PACKAGE).glob("*.py")) - {src / path.relative_to(LAMBDA_SRC) for path in shared_files})
    for path in outside:
        path.write_text(path.read_text() + "\n# edited\n")
    assert source_hash(package, src) == first
    inside = src / sorted(shared_files)[-1].relative_to(LAMBDA_SRC)
    inside.write_text(inside.read_text() + "\n# edited\n")
    assert source_hash(package, src) != first


def test_the_functions_do_not_all_carry_the_whole_shared_package():
    shared = set((LAMBDA_SRC / SHARED_PACKAGE).glob("*.py"))
    assert any(set(shared_modules_reached(LAMBDA_SRC / package).values()) < shared for package in PACKAGES)


def test_custom_resource_assets_are_their_own_folder_alone(tmp_path):
    """own_folder_code stages the package's folder and nothing beside it; a sibling's edit leaves the
    hash (so the function) as it is, the package's own edit does not."""
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from labeling_constructs.lambda_function import own_folder_code

    parent = tmp_path / "constructs"
    (parent / "resource").mkdir(parents=True)
    (parent / "resource" / "__init__.py").write_text("")
    (parent / "resource" / "handler.py").write_text("import boto3\n\n\ndef on_event(event, context):\n    return {}\n")
    (parent / "resource" / "__pycache__").mkdir()
    (parent / "resource" / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"junk")
    (parent / "construct.py").write_text("# the construct\n")

    def synth() -> tuple[str, Path]:
        app = cdk.App(outdir=str(tmp_path / f"out{len(list(tmp_path.glob('out*')))}"))
        stack = cdk.Stack(app, "S")
        lambda_.Function(stack, "F", code=own_folder_code(parent / "resource"), handler="resource.handler.on_event",
                         runtime=RUNTIME)
        assembly = app.synth()
        [function] = [r for r in assembly.get_stack_by_name("S").template["Resources"].values()
                      if r["Type"] == "AWS::Lambda::Function"]
        key = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
        return key, Path(assembly.directory) / f"asset.{key}"

    first, staged = synth()
    assert sorted(str(path.relative_to(staged)) for path in staged.rglob("*") if path.is_file()) == [
        "resource/__init__.py", "resource/handler.py"]
    (parent / "construct.py").write_text("# the construct, edited\n")
    assert synth()[0] == first
    (parent / "resource" / "handler.py").write_text("import boto3\n\n\ndef on_event(event, context):\n    return 1\n")
    assert synth()[0] != first


# -- the asset hash and the bundler -----------------------------------------------------------------
def test_asset_hash_covers_the_lock_and_the_bundling_procedure(tmp_path, monkeypatch):
    src = make_src(tmp_path, {"fn/handler.py": "import numpy\n"}, lock_from=NUMPY_PACKAGE)
    first = source_hash("fn", src)
    lock = src / "fn" / LOCK_FILE
    lock.write_text(lock.read_text().replace("--hash=sha256:0", "--hash=sha256:1", 1))
    second = source_hash("fn", src)
    assert second != first
    monkeypatch.setattr(lambda_code, "_PIP_INSTALL_OPTIONS", lambda_code._PIP_INSTALL_OPTIONS[1:])
    assert source_hash("fn", src) != second
    monkeypatch.undo()
    monkeypatch.setattr(lambda_code, "_BUNDLER_VERSION", "test")
    assert source_hash("fn", src) != second


def test_bundler_refuses_an_import_the_asset_does_not_bring(tmp_path):
    src = make_src(tmp_path, {"fn/handler.py": "import boto3\n\n\ndef lambda_handler(event, context):\n"
                                               "    import pandas\n"})
    out = tmp_path / "asset"
    out.mkdir()
    with pytest.raises(DependencyError, match=r"'fn' imports modules that its bundled asset does not bring(.|\n)*"
                                              r"'pandas' \(pandas\) in lambda_src/fn/handler.py:5"):
        LocalPythonBundler("fn", src).try_bundle(str(out))


def test_bundler_refuses_requirements_without_a_lock_before_installing(tmp_path):
    src = make_src(tmp_path, {"fn/handler.py": "import numpy\n"})
    (src / "fn" / REQUIREMENTS_FILE).write_text(f"numpy=={NUMPY_VERSION}\n")
    out = tmp_path / "asset"
    out.mkdir()
    with pytest.raises(DependencyError, match="has no requirements.lock"):
        LocalPythonBundler("fn", src).try_bundle(str(out))
    assert not list(out.iterdir())


def test_real_bundle_installs_the_lock_with_hashes_and_satisfies_the_import_check(tmp_path):
    """Needs the package index (CI has it). One small package: numpy for Python 3.14, manylinux."""
    out = tmp_path / "asset"
    out.mkdir()
    assert LocalPythonBundler(NUMPY_PACKAGE).try_bundle(str(out)) is True  # runs check_bundle
    pins = read_lock(LAMBDA_SRC / NUMPY_PACKAGE / LOCK_FILE)
    assert sorted(p.name for p in out.glob("*.dist-info")) == [f"numpy-{pins['numpy']}.dist-info"]
    assert list(out.glob("numpy/_core/_multiarray_umath.cpython-314-x86_64-linux-gnu.so"))
    assert not (out / NUMPY_PACKAGE / LOCK_FILE).exists() and not (out / NUMPY_PACKAGE / REQUIREMENTS_FILE).exists()
    # Independently of check_bundle: every imported top-level module is in the asset or the runtime.
    for site in collect_imports(LAMBDA_SRC / NUMPY_PACKAGE):
        assert site.top in RUNTIME_STDLIB | RUNTIME_MODULES or (out / site.top).is_dir(), site
    # The asset proves itself against the check; without numpy it no longer does.
    check_bundle(LAMBDA_SRC / NUMPY_PACKAGE, out)
    shutil.rmtree(out / "numpy")
    with pytest.raises(DependencyError, match="'numpy'"):
        check_bundle(LAMBDA_SRC / NUMPY_PACKAGE, out)


def test_a_wheel_whose_hash_is_not_in_the_lock_is_refused(tmp_path):
    """Needs the package index. six is an 11 kB wheel; its real hash is replaced with another."""
    src = make_src(tmp_path, {"fn/handler.py": "import six\n"})
    (src / "fn" / REQUIREMENTS_FILE).write_text("six==1.17.0\n")
    (src / "fn" / LOCK_FILE).write_text("six==1.17.0 \\\n    --hash=sha256:" + "ab" * 32 + "\n")
    out = tmp_path / "asset"
    out.mkdir()
    with pytest.raises(DependencyError, match=r"pip could not install .*requirements.lock(.|\n)*(?i:hash)"):
        LocalPythonBundler("fn", src).try_bundle(str(out))


# -- importable without aws_cdk -------------------------------------------------------------------------
def test_dependency_rules_import_without_aws_cdk_and_constructs_still_import():
    script = ("import sys, labeling_constructs.lambda_dependencies as d; assert 'aws_cdk' not in sys.modules, 'cdk'\n"
              "import labeling_constructs\n"
              "try:\n    labeling_constructs.NoSuchConstruct\nexcept AttributeError as e:\n    print(e)\n"
              "from labeling_constructs import CustomLabelingWorkflow, ManifestBucket, RUNTIME\n"
              "print(CustomLabelingWorkflow.__name__, RUNTIME.name, 'aws_cdk' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["module 'labeling_constructs' has no attribute 'NoSuchConstruct'",
                                          f"CustomLabelingWorkflow python{PYTHON_VERSION} True"]
