"""Shared fixtures: a real S3 endpoint on 127.0.0.1 (moto's server) and import paths for lambda_src."""
from __future__ import annotations

import fcntl
import os
import shutil
import sys
from pathlib import Path
from typing import Callable

import boto3
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = REPO_ROOT / "lambda_src"
for path in (REPO_ROOT, LAMBDA_SRC):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from scripts.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from stacks.node_runtime import NO_TEMPLATE_VALIDATION, QUIET_NODE  # noqa: E402

# Tests never reach AWS: dummy credentials and a fixed region for every client.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
# The tests' syntheses deploy nothing and cfn-lint checks every template (tests/test_workflow_stacks.py); one test runs
# the app with CDK's built-in validation on, as `cdk synth` does (tests/test_template_validation.py).
for name, value in {**QUIET_NODE, **NO_TEMPLATE_VALIDATION}.items():
    os.environ.setdefault(name, value)
os.environ.setdefault("MPLCONFIGDIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "mplconfig"))


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto S3 server on a free 127.0.0.1 port, in a thread of this process; boto3 clients reach it via
    AWS_ENDPOINT_URL_S3. It serves as the local runner's endpoint does (``local_s3``): a connection stays open
    between requests (otherwise every request of every client opened one), and moto's list of its own modules is
    read once, not on every request."""
    import threading

    from local_ground_truth import local_s3

    server = local_s3.keep_alive_server(local_s3.moto_s3_app())
    thread = threading.Thread(target=server.serve_forever, name="moto-s3", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    previous = os.environ.get("AWS_ENDPOINT_URL_S3")
    os.environ["AWS_ENDPOINT_URL_S3"] = url
    yield url
    if previous is None:
        os.environ.pop("AWS_ENDPOINT_URL_S3", None)
    else:
        os.environ["AWS_ENDPOINT_URL_S3"] = previous
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture
def s3(s3_endpoint):
    """A boto3 S3 client on the local endpoint."""
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def bucket(s3, request):
    """A fresh, empty bucket per test (named after the test so failures are easy to trace)."""
    name = "t-" + "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:50].strip("-")
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=version["Key"], VersionId=version["VersionId"])
    s3.delete_bucket(Bucket=name)


STACK_TEST_ENVIRONMENTS = ("dev", "prod")


def once_per_run(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder ``build`` fills once for the whole test run, however many pytest-xdist workers ask for it: the first
    to ask builds it while the others wait for it, and every one then reads the same folder (nobody may write to it
    after). A build that failed is tried again by the next worker to ask, so each fails on its own."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's temporary folder, which holds every worker's own
    folder, complete = root / f"shared-{name}", root / f"shared-{name}.complete"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not complete.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            complete.touch()
    return folder


@pytest.fixture(scope="session")
def assemblies(tmp_path_factory):
    """The real app synthesized once per run for each test environment (cdk-nag on: any
    unacknowledged finding raises here), shared by every worker."""
    import aws_cdk as cdk

    from tests.cdk_helpers import synth_app

    return {name: cdk.cx_api.CloudAssembly(str(once_per_run(tmp_path_factory, f"cdk-{name}",
                                                            lambda outdir, name=name: synth_app(name, outdir))))
            for name in STACK_TEST_ENVIRONMENTS}


@pytest.fixture(scope="session")
def runner_assembly(tmp_path_factory):
    """The app synthesized once per run the way the local runner does it (``stack_reader.synthesize``:
    the context `python app.py` gets, bundling skipped, asset paths recorded): every runner test of every worker
    reads its stacks from here. Synthesized in a test process, whose CDK runtime the other synths share, rather
    than in a new one (``synthesize`` itself runs in tests/test_scaffold.py)."""
    def synthesize(outdir: Path) -> None:
        import aws_cdk as cdk

        from app import build_app
        from local_ground_truth.stack_reader import synthesis_context

        build_app(cdk.App(outdir=str(outdir), context=synthesis_context("dev"))).synth()

    return once_per_run(tmp_path_factory, "runner-assembly", synthesize)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (the system's; a missing one fails) for every browser test of the session;
    each page gets a context of its own (``Browser.new_page``), so no test sees another's storage."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def pytest_configure(config):
    """``--snapshot-update`` in more than one test process is refused: syrupy's processes each rewrite the whole
    ``.ambr`` file of the snapshots they ran, so two of them updating one file lose each other's snapshots without
    a word (syrupy's own issue #1237). ``./scripts/test.sh`` runs one process when it is given."""
    workers = getattr(config.option, "numprocesses", None)
    if config.getoption("--snapshot-update", default=False) and workers not in (None, 0, 1):
        raise pytest.UsageError("--snapshot-update needs one test process: add -n 0 (./scripts/test.sh adds it)")


def pytest_make_parametrize_id(config, val, argname):
    """Long parameters (hostile bodies of 100,000 brackets) named by their start and length: a test's id goes
    into the environment (PYTEST_CURRENT_TEST), and a process started under a 200,000-byte id (an endpoint, the
    CDK's node) fails with "Argument list too long"."""
    if isinstance(val, (bytes, str)) and len(val) > 80:
        return f"{val[:24]!r}...{len(val)}{'B' if isinstance(val, bytes) else 'ch'}"
    return None
