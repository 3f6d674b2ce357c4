"""What a ``lambda_src`` package may import in AWS, and the checks that hold it to that.

A function's asset holds its package, the ``gt_common`` modules it reaches and the wheels of its
``requirements.lock`` (every pin resolved for the Lambda runtime, with hashes, generated from the
hand-edited ``requirements.txt`` by ``scripts/lock_lambda_requirements.sh``). In AWS it can import
nothing else but the runtime's standard library and the SDK the runtime ships. The virtualenv that
runs the tests and the local runner holds far more, so an import the function's requirements do not
bring would pass every local check and fail in AWS. Three checks share the rules below:

- ``check_package``: static (AST) check of every import of the package and of the ``gt_common``
  modules it reaches, run by the tests for every package and by the bundler on every asset;
- ``check_bundle``: the same imports against the modules the built asset really carries;
- ``guard_imports``: at run time, in a process that imports a handler from its staged folder, an
  import the function's requirements do not bring raises ``ModuleNotFoundError`` as in AWS.

This module must not import aws_cdk: the local runner's Lambda processes import it.
"""
from __future__ import annotations

import ast
import builtins
import importlib.metadata
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Optional

LAMBDA_SRC = Path(__file__).resolve().parent.parent / "lambda_src"


def import_lambda_src() -> None:
    """Put ``lambda_src`` on the import path: the constructs and the workflow definitions check what
    they synthesize by the functions' own rules (``gt_common``), defined once, there."""
    if str(LAMBDA_SRC) not in sys.path:
        sys.path.append(str(LAMBDA_SRC))
SHARED_PACKAGE = "gt_common"
REQUIREMENTS_FILE = "requirements.txt"
LOCK_FILE = "requirements.lock"
LOCK_COMMAND = "./scripts/lock_lambda_requirements.sh"

# The Lambda runtime the functions run on, and the wheels that fit it (pip's and uv's spellings).
PYTHON_VERSION = "3.14"
PIP_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
UV_PLATFORM = "x86_64-manylinux_2_28"

# "The Lambda Python runtimes include the AWS SDK for Python (Boto3) and its dependencies" (Lambda
# developer guide, Python): boto3 -> botocore, jmespath, s3transfer; botocore -> python-dateutil,
# urllib3; python-dateutil -> six. Distribution -> the top-level modules it installs.
RUNTIME_DISTRIBUTIONS: Mapping[str, tuple[str, ...]] = {
    "boto3": ("boto3",),
    "botocore": ("botocore",),
    "jmespath": ("jmespath",),
    "s3transfer": ("s3transfer",),
    "python-dateutil": ("dateutil",),
    "six": ("six",),
    "urllib3": ("urllib3",),
}
RUNTIME_MODULES = frozenset(module for modules in RUNTIME_DISTRIBUTIONS.values() for module in modules)

# The standard library of the runtime's Python, from this interpreter's (3.11 or later): modules
# removed in 3.12 and 3.13 (PEP 594 and others) are gone in AWS, 3.14's new ones are there.
_REMOVED_BY_RUNTIME = frozenset({
    "_bootsubprocess", "_crypt", "_msi", "_sha256", "_sha512", "aifc", "asynchat", "asyncore", "audioop",
    "cgi", "cgitb", "chunk", "crypt", "distutils", "imghdr", "imp", "lib2to3", "mailcap", "msilib", "nis",
    "nntplib", "ossaudiodev", "pipes", "smtpd", "sndhdr", "spwd", "sunau", "telnetlib", "uu", "xdrlib",
})
_ADDED_BY_RUNTIME = frozenset({"annotationlib", "compression"})
RUNTIME_STDLIB = (frozenset(sys.stdlib_module_names) - _REMOVED_BY_RUNTIME) | _ADDED_BY_RUNTIME


class DependencyError(Exception):
    """A Lambda package's requirements, lock or imports do not hold together."""


@dataclass(frozen=True)
class ImportSite:
    """One import in a package's source: the absolute module name, where it is written."""

    module: str
    file: Path
    line: int

    @property
    def top(self) -> str:
        return self.module.partition(".")[0]


# -- requirements and locks -----------------------------------------------------------------------
def canonical_name(name: str) -> str:
    """PEP 503 normalized distribution name (``Python_Dateutil`` -> ``python-dateutil``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def read_lock(lock: Path) -> dict[str, str]:
    """Distribution (canonical name) -> pinned version, from a hash-checked requirements lock."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(lock.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", "--hash")):
            continue
        match = _PIN.match(line)
        if not match:
            raise DependencyError(f"{lock}:{number}: not a pinned requirement: {line!r}")
        pins[canonical_name(match.group(1))] = match.group(2)
    return pins


def _requirement_lines(requirements: Path) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(requirements.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            yield number, line


def locked_distributions(package_dir: Path) -> dict[str, str]:
    """The package's locked pins, checked against its ``requirements.txt``; ``{}`` without one.

    Every requirement must be in the lock at a version it accepts (an ``==`` pin at that version),
    so a requirement edited without regenerating the lock fails here, naming both files.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    requirements, lock = package_dir / REQUIREMENTS_FILE, package_dir / LOCK_FILE
    if not requirements.exists():
        if lock.exists():
            raise DependencyError(f"{lock} has no {REQUIREMENTS_FILE} beside it: delete it or add one")
        return {}
    wanted = list(_requirement_lines(requirements))
    if not wanted:
        return {}
    if not lock.exists():
        raise DependencyError(f"{requirements} has no {LOCK_FILE} beside it: run {LOCK_COMMAND}")
    pins = read_lock(lock)
    problems = []
    for number, line in wanted:
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise DependencyError(f"{requirements}:{number}: {error}") from None
        version = pins.get(canonical_name(requirement.name))
        if version is None:
            problems.append(f"{requirement.name} is not in the lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"the lock pins {requirement.name}=={version}, outside {requirement.specifier}")
    if problems:
        raise DependencyError(f"{lock} does not match {requirements}: {'; '.join(problems)}. Run {LOCK_COMMAND}")
    return pins


def distribution_modules(paths: Optional[Iterable[str]] = None,
                         names: Optional[frozenset[str]] = None) -> dict[str, frozenset[str]]:
    """Distribution (canonical name) -> the top-level modules it installs, read from the
    metadata of the distributions under ``paths`` (default: this interpreter's ``sys.path``);
    with ``names`` (canonical), of those distributions only (the others' file lists are not read)."""
    found: dict[str, set[str]] = {}
    for dist in importlib.metadata.distributions(**({"path": list(paths)} if paths is not None else {})):
        name = dist.metadata["Name"]
        if not name or (names is not None and canonical_name(name) not in names):
            continue
        declared = (dist.read_text("top_level.txt") or "").split()
        inferred = {_top_level_of(str(file)) for file in dist.files or ()}
        found.setdefault(canonical_name(name), set()).update(declared or (inferred - {None}))
    return {name: frozenset(modules) for name, modules in found.items()}


def _top_level_of(path: str) -> Optional[str]:
    """The top-level module a RECORD path installs, if it is Python code or an extension module
    (``numpy/_core/x.py`` -> numpy, ``six.py`` -> six; ``bin/f2py`` and ``share/...`` -> None)."""
    if not path.endswith((".py", ".so", ".pyd")):
        return None
    first = path.split("/", 1)[0]
    name = first if "/" in path else first.split(".", 1)[0]
    return name if name.isidentifier() and name != "__pycache__" else None


@lru_cache(maxsize=64)
def _virtualenv_modules(names: frozenset[str]) -> dict[str, frozenset[str]]:
    """This virtualenv's ``distribution_modules`` of ``names``: reading every distribution's file list (a Lambda
    environment starting up asks for its function's lock only) took most of an environment's start."""
    return distribution_modules(names=names) if names else {}


def locked_modules(package_dir: Path, modules_of: Optional[Mapping[str, frozenset[str]]] = None) -> frozenset[str]:
    """Top-level modules the distributions of the package's lock install.

    ``modules_of`` maps distributions to modules; by default this virtualenv's metadata, which
    must hold every locked distribution (the tests import them from there).
    """
    locked = locked_distributions(package_dir)
    modules_of = _virtualenv_modules(frozenset(locked)) if modules_of is None else modules_of
    lock = package_dir / LOCK_FILE
    modules: set[str] = set()
    for name in locked:
        if name not in modules_of:
            raise DependencyError(
                f"{lock} pins {name}, which is not installed in this virtualenv, so which modules it "
                f"provides is unknown and nothing local tests it: add it to requirements-dev.txt")
        modules |= modules_of[name]
    return frozenset(modules)


def allowed_modules(package_dir: Path, modules_of: Optional[Mapping[str, frozenset[str]]] = None) -> frozenset[str]:
    """Every top-level module the package may import in AWS: the runtime's standard library and
    SDK, the package itself, ``gt_common``, and what its lock installs (or, in a bundled asset, what
    the bundle installed beside it: ``bundled_modules``)."""
    return (RUNTIME_STDLIB | RUNTIME_MODULES | {package_dir.name, SHARED_PACKAGE} | locked_modules(package_dir, modules_of)
            | bundled_modules(package_dir.parent))


@lru_cache(maxsize=64)  # asked by the guard, its allowed modules and the Lambda host as an environment starts
def bundled_modules(asset_dir: Path) -> frozenset[str]:
    """The top-level modules of the distributions installed in a bundled asset (``cdk synth`` with bundling
    installs the lock there, beside the package, and leaves the lock itself out): in AWS exactly these are
    there to import. Empty for a folder with none (the source tree, an asset staged without bundling)."""
    if not any(Path(asset_dir).glob("*.dist-info")):
        return frozenset()
    return frozenset().union(*distribution_modules([str(asset_dir)]).values())


def bundled_distributions(asset_dir: Path) -> dict[str, tuple[str, bool]]:
    """Distribution (canonical name) -> (version, whether it holds compiled extension modules), of those
    installed in a bundled asset; empty for a folder with none."""
    if not any(Path(asset_dir).glob("*.dist-info")):
        return {}
    return {canonical_name(dist.metadata["Name"]): (dist.version, any(str(f).endswith(".so") for f in dist.files or ()))
            for dist in importlib.metadata.distributions(path=[str(asset_dir)]) if dist.metadata["Name"]}


# -- the static check ------------------------------------------------------------------------------
class _ImportCollector(ast.NodeVisitor):
    """Imports of one module, nested ones too; ``if TYPE_CHECKING:`` bodies never run, so skipped."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, int]] = []  # (absolute module name, line)
        self.submodules: list[str] = []  # ``from x import y``: x.y, in case y is a module
        self.problems: list[tuple[str, int]] = []

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [(alias.name, node.lineno) for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.package.split(".") if self.package else []
            if node.level > len(parts):
                self.problems.append((f"relative import beyond the top-level package ({'.' * node.level}{base})",
                                      node.lineno))
                return
            parent = ".".join(parts[:len(parts) - node.level + 1])
            base = f"{parent}.{base}" if base else parent
        self.found.append((base, node.lineno))
        self.submodules += [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]

    def visit_Call(self, node: ast.Call) -> None:
        """``importlib.import_module("x")`` and ``__import__("x")`` with a literal name."""
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
        if (name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str) and not node.args[0].value.startswith(".")):
            self.found.append((node.args[0].value, node.lineno))
        self.generic_visit(node)

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)


def _module_files(src_root: Path, top: str) -> dict[str, Path]:
    """Module name -> source file, for every module of one top-level package."""
    files = {}
    for path in sorted((src_root / top).rglob("*.py")):
        parts = path.relative_to(src_root).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def _parse_imports(path: Path, module: str) -> _ImportCollector:
    collector = _ImportCollector(module, path.name == "__init__.py")
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as error:
        raise DependencyError(f"{path}:{error.lineno}: cannot be parsed: {error.msg}") from None
    collector.visit(tree)
    return collector


def collect_imports(package_dir: Path) -> list[ImportSite]:
    """Every import of the package's modules and of the ``gt_common`` modules they reach.

    All of the package's own files count (any of them may be imported); of the shared package,
    only the modules the function can reach (``shared_modules_reached``), which are all its asset
    carries of it. Names are absolute (relative imports resolved).
    """
    return _scan_package(package_dir)[0]


def shared_modules_reached(package_dir: Path) -> dict[str, Path]:
    """The ``gt_common`` modules the package can import, directly or through each other: module
    name -> source file (``gt_common/__init__.py`` included whenever any is). The bundler copies
    exactly these into the function's asset, so a change to any other shared module leaves the
    function's asset, and its deployment, as they are."""
    return _scan_package(package_dir)[1]


_SCANS: dict[tuple, tuple[list[ImportSite], dict[str, Path]]] = {}


def _scan_package(package_dir: Path) -> tuple[list[ImportSite], dict[str, Path]]:
    """The package's imports and the shared modules they reach; remembered until a file of the
    package or of the shared package changes (a synth asks for each package several times)."""
    src_root = package_dir.parent
    files = [path for top in (package_dir.name, SHARED_PACKAGE) for path in sorted((src_root / top).rglob("*.py"))]
    key = (str(package_dir.resolve()), tuple((str(path), path.stat().st_mtime_ns, path.stat().st_size) for path in files))
    if key not in _SCANS:
        _SCANS[key] = _scan_package_files(package_dir)
    sites, reached = _SCANS[key]
    return list(sites), dict(reached)


def _scan_package_files(package_dir: Path) -> tuple[list[ImportSite], dict[str, Path]]:
    src_root = package_dir.parent
    own = _module_files(src_root, package_dir.name)
    shared = _module_files(src_root, SHARED_PACKAGE) if (src_root / SHARED_PACKAGE).is_dir() else {}
    sites: list[ImportSite] = []
    problems: list[str] = []

    def scan(module: str, path: Path) -> list[str]:
        """Record the module's imports; return every module name they may load."""
        collector = _parse_imports(path, module)
        sites.extend(ImportSite(name, path, line) for name, line in collector.found)
        problems.extend(f"{path}:{line}: {message}" for message, line in collector.problems)
        return [name for name, _ in collector.found] + collector.submodules

    pending = [name for module, path in own.items() for name in scan(module, path)]
    reached: dict[str, Path] = {}
    while pending:
        parts = pending.pop().split(".")
        for end in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__, a/b/__init__, a/b/c
            module = ".".join(parts[:end])
            if module in shared and module not in reached:
                reached[module] = shared[module]
                pending += scan(module, shared[module])
    if problems:
        raise DependencyError("\n".join(problems))
    return sites, dict(sorted(reached.items()))


def undeclared_imports(package_dir: Path, allowed: frozenset[str]) -> list[ImportSite]:
    """Imports of ``package_dir`` (and the shared modules it reaches) outside ``allowed``."""
    return [site for site in collect_imports(package_dir) if site.top not in allowed]


def _refusal(package_dir: Path, sites: list[ImportSite], source: str) -> DependencyError:
    src_root = package_dir.parent
    lines = "\n".join(f"  {site.top!r} ({site.module}) in {_shown(site.file, src_root)}:{site.line}{_why(site.top)}"
                      for site in sorted(sites, key=lambda s: (s.top, str(s.file), s.line)))
    return DependencyError(
        f"Lambda package {package_dir.name!r} imports modules that {source} does not bring, so in AWS "
        f"these imports fail:\n{lines}\nA function has only the standard library of Python "
        f"{PYTHON_VERSION}, the runtime's {', '.join(sorted(RUNTIME_DISTRIBUTIONS))}, its own package, "
        f"{SHARED_PACKAGE} and the distributions of its {LOCK_FILE}: add the distribution to "
        f"{_shown(package_dir / REQUIREMENTS_FILE, src_root)} and run {LOCK_COMMAND}.")


def _why(module: str) -> str:
    return f" (no longer in the standard library of Python {PYTHON_VERSION})" if module in _REMOVED_BY_RUNTIME else ""


def _shown(path: Path, src_root: Path) -> str:
    try:
        return str(Path(src_root.name) / path.relative_to(src_root))
    except ValueError:
        return str(path)


def check_package(package_dir: Path, modules_of: Optional[Mapping[str, frozenset[str]]] = None) -> None:
    """Raise ``DependencyError`` naming each module the package imports that its lock (mapped to
    modules through this virtualenv's metadata), the runtime and the standard library do not bring."""
    undeclared = undeclared_imports(package_dir, allowed_modules(package_dir, modules_of))
    if undeclared:
        raise _refusal(package_dir, undeclared, "its requirements.lock")


def check_bundle(package_dir: Path, asset_dir: Path) -> None:
    """Check a built asset: it holds exactly the locked distributions and every shared module the
    package reaches, and every import of the package is satisfied by the runtime, the package, those
    shared modules or a module the asset's own wheel metadata declares."""
    pins = locked_distributions(package_dir)
    installed = {canonical_name(dist.metadata["Name"] or ""): dist.version
                 for dist in importlib.metadata.distributions(path=[str(asset_dir)])}
    if installed != pins:
        raise DependencyError(
            f"the asset of {package_dir.name!r} holds {sorted(installed.items())} but "
            f"{package_dir / LOCK_FILE} pins {sorted(pins.items())}")
    missing = [str(path.relative_to(package_dir.parent)) for path in shared_modules_reached(package_dir).values()
               if not (asset_dir / path.relative_to(package_dir.parent)).is_file()]
    if missing:
        raise DependencyError(f"the asset of {package_dir.name!r} lacks the shared modules it imports: {missing}")
    declared = {m for modules in distribution_modules([str(asset_dir)]).values() for m in modules}
    carried = frozenset(m for m in declared if _present(asset_dir, m))  # bundle_exclude.txt may prune
    allowed = RUNTIME_STDLIB | RUNTIME_MODULES | {package_dir.name, SHARED_PACKAGE} | carried
    undeclared = undeclared_imports(package_dir, allowed)
    if undeclared:
        raise _refusal(package_dir, undeclared, "its bundled asset")


def _present(folder: Path, module: str) -> bool:
    """Whether ``folder`` holds the top-level module (a package, a .py file or an extension)."""
    return (folder / module).is_dir() or (folder / f"{module}.py").is_file() or any(folder.glob(f"{module}.*.so"))


# -- the run-time guard ----------------------------------------------------------------------------
class ImportGuard:
    """Makes a process import for one function what its Lambda environment would hold, no more.

    Two hooks, because a process may already hold modules the function must not use (a forked
    child inherits its parent's): a ``sys.meta_path`` finder refuses loading any top-level module
    that is neither allowed nor part of this interpreter's standard library, whoever imports it
    (an optional import of a library then takes its ImportError path, as in AWS); and an
    ``__import__`` hook refuses the function's own imports (its package and ``gt_common``) of a
    module outside ``allowed`` even when it is already loaded. Refusals are ``ModuleNotFoundError``,
    naming the function and the module.
    """

    def __init__(self, function: str, allowed: frozenset[str], requirements: Path, bundled: bool = False) -> None:
        self.function = function
        self.allowed = allowed
        self.requirements = requirements
        self.bundled = bundled  # a synthesized bundle: its requirements are in the function's source folder
        self._own = frozenset({function, SHARED_PACKAGE})
        self._original_import = builtins.__import__

    def install(self) -> "ImportGuard":
        sys.meta_path.insert(0, self)
        self._original_import = builtins.__import__
        builtins.__import__ = self._import
        return self

    def uninstall(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        if builtins.__import__ == self._import:
            builtins.__import__ = self._original_import

    # importlib.abc.MetaPathFinder protocol
    def find_spec(self, fullname: str, path=None, target=None):  # noqa: ARG002 - finder signature
        top = fullname.partition(".")[0]
        if top in self.allowed or top in sys.stdlib_module_names or top in sys.modules:
            return None
        raise self.refusal(top, _importer())

    def invalidate_caches(self) -> None:
        pass

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002 - __import__ signature
        if level == 0 and globals:
            importer = globals.get("__name__") or ""
            top = name.partition(".")[0]
            if importer.partition(".")[0] in self._own and top not in self.allowed:
                raise self.refusal(top, importer)
        return self._original_import(name, globals, locals, fromlist, level)

    def refusal(self, module: str, importer: Optional[str]) -> ModuleNotFoundError:
        by = f" (imported by {importer})" if importer else ""
        if module in _REMOVED_BY_RUNTIME:
            fix = f"it is no longer in the standard library of Python {PYTHON_VERSION}"
        elif self.bundled:
            fix = (f"add it to {self.function}/{REQUIREMENTS_FILE} in the function's source folder, run {LOCK_COMMAND} "
                   "and synthesize again")
        else:
            fix = f"add it to {self.requirements} and run {LOCK_COMMAND}"
        brings = "its bundle does not hold" if self.bundled else "its requirements do not bring"
        return ModuleNotFoundError(
            f"Lambda function {self.function!r} imports {module!r}{by}, which {brings}: in AWS there is no module "
            f"named {module!r}; {fix}", name=module)


def _importer() -> Optional[str]:
    """The module whose code is importing, skipping the import machinery and this module."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not name.startswith(("importlib", __name__)):
            return name
        frame = frame.f_back
    return None


def guard_imports(package_dir: Path, allowed: Optional[frozenset[str]] = None) -> ImportGuard:
    """Install an ``ImportGuard`` for the function whose package is ``package_dir`` (its staged
    asset folder holds it beside ``gt_common``); ``allowed`` defaults to ``allowed_modules``."""
    package_dir = Path(package_dir)
    allowed = allowed_modules(package_dir) if allowed is None else frozenset(allowed)
    bundled = bool(bundled_modules(package_dir.parent))
    return ImportGuard(package_dir.name, allowed, package_dir / REQUIREMENTS_FILE, bundled=bundled).install()
