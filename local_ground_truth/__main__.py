"""`python -m local_ground_truth --workflow NAME ...`: a whole labeling job on this machine.

Synthesizes the app (or reads an already synthesized one), finds the workflow's stack among the app's
workflow stacks (``--list-workflows`` names them), starts an S3 endpoint on 127.0.0.1 that keeps the
job's bucket on disk (or uses --endpoint), replays what the stack deploys, runs the stack's
pre-labeling Lambda for every manifest line, collects answers, runs the consolidation Lambda, and
writes the output manifest where Ground Truth would. Workers answer in a browser at
http://127.0.0.1:PORT, or, with --simulate-workers, simulated workers answer every question of the
workflow's definition from the sample data's truth (headless). Objects pre-labeling marks
isHumanAnnotationRequired false are not given to workers and are reported. Every answer is on disk
before it is acknowledged; a stopped or killed run resumes exactly where it was, under the settings it
was started with (``job_settings``: a run with other settings is refused, naming them). The requester
is told as the job goes (``requester``): a line per consolidated batch, the quality reports saved in
the job's folder after each, "job complete: ..." when the last object is consolidated, and a page at
http://127.0.0.1:PORT/requester. With expert review on (the environment's setting, or --review), experts
decide what the crowd could not settle at http://127.0.0.1:PORT/review, and the final manifest records
who decided what. With --host (this machine's address on the network), workers and experts on other
machines label through links carrying a key per role (``team_access``).
"""
from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import logging
import os
import re
import shlex
import signal
import sys
import tempfile
import threading
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from botocore.exceptions import ClientError, EndpointConnectionError

from gt_common.labeling_job import JOB_NAME
from gt_common.review import ReviewSettings
from gt_common.s3uri import is_not_found
from local_ground_truth import data_growth, headless, local_s3, spaced_rewrite, worker_names
from local_ground_truth.function_grants import endpoint_grants
from local_ground_truth.job import LocalJob
from local_ground_truth.job_settings import (
    ACCEPT_TEMPLATE_OPTION, ANSWERS, DATA_FOLDER, INPUT_MANIFEST, SettingsChanged, appended_objects, check_or_record,
    job_settings, settings_path,
)
from local_ground_truth.requester import (
    PREFIX as REQUESTER_PATH, RequesterLog, printable, review_summary,
)
from local_ground_truth.older_runs import import_mirrored_answers, infer_who_answered
from local_ground_truth.pre_labeling import PreLabeling
from local_ground_truth.public_url import PublicAddress, parse_public_url
from local_ground_truth.review_desk import ReviewDesk
from local_ground_truth.run_lock import InUse, job_lock, port_in_use, refuse_port_in_use
from local_ground_truth.reviewer import PREFIX as REVIEW_PATH, routing_rule
from local_ground_truth.server import WorkerServer, WorkerSite, questions_of
from local_ground_truth.stack_reader import (REPO_ROOT, FunctionSpec, StackError, WorkflowSpec, read_workflow, synthesize,
                                            workflow_stacks)
from local_ground_truth.team_access import EXPERT, REQUESTER, WORKER, TeamKeys
from local_ground_truth.terminal import say
from local_ground_truth.truth import TruthError, load_truth
from local_ground_truth.wording import counted
from stacks.cdk_json import CDK_JSON_FILE, default_environment
from stacks.outputs import JOB_REQUEST_OUTPUT, WORKFLOW_NAME_OUTPUT
from workflows.model import MANIFEST_FILE, TRUTH_FILE, DefinitionError

STORE_FOLDER = "s3"  # <state dir>/s3/<bucket>/<key>: the job's buckets on disk
#: The folder the command was typed in, set by scripts/run_local.sh, which runs the runner from the repository:
#: a relative path given to it (``--data ./welds``) is of that folder, as every other script's are.
CALLER_DIR_ENV = "LOCAL_GT_CALLER_DIR"


def path_argument(text: str) -> Path:
    """A path the user typed: ``~`` expanded, and a relative one taken from where they typed the command."""
    path = Path(text).expanduser()
    caller = os.environ.get(CALLER_DIR_ENV)
    return Path(caller) / path if caller and not path.is_absolute() else path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local_ground_truth", description=__doc__.splitlines()[0])
    parser.add_argument("--workflow", help="the workflow to run: one of the synthesized app's workflow stacks "
                                           "(--list-workflows names them)")
    parser.add_argument("--list-workflows", action="store_true", help="name the app's workflows and stop")
    parser.add_argument("--env", help="cdk.json environment to synthesize (default: cdk.json's defaultEnvironment); an "
                                      "assembly given with --cloud-assembly is the environment it was synthesized for")
    parser.add_argument("--cloud-assembly", type=path_argument, metavar="DIR",
                        help="an app already synthesized (e.g. by `cdk synth`) instead of synthesizing it again")
    parser.add_argument("--data", type=path_argument, metavar="FOLDER",
                        help="label this folder's data instead of the workflow's sample data: laid out as "
                             "sample_data/<workflow>/ is (its manifest.jsonl and the files it names; a truth.json "
                             "for --simulate-workers); the job is local-<workflow>-<folder name> unless --job-name says "
                             "otherwise")
    parser.add_argument("--endpoint", help="an S3-compatible endpoint to use instead of the embedded one (the functions "
                                           "then reach it with this shell's credentials: their roles' grants are not "
                                           "checked as the embedded endpoint checks them)")
    parser.add_argument("--job-name", help="default: local-<workflow>, and local-<workflow>-simulated with "
                                           "--simulate-workers (simulated answers never join real workers' job)")
    parser.add_argument("--state-dir", type=path_argument, help="the job's folder (default: .local-gt/<job>)")
    parser.add_argument("--simulate-workers", type=int, metavar="N",
                        help="headless: N simulated workers answer from the sample data's truth (default: serve the UI)")
    parser.add_argument("--port", type=int, default=8080, help="worker UI port (default 8080)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to serve workers on (default 127.0.0.1: this machine only). This machine's "
                             "address on your network (e.g. 192.168.1.20) or its name lets a team label from their "
                             "own machines: the server then answers only browsers that opened one of the links it "
                             "prints (workers', experts', requester's)")
    parser.add_argument("--public-url", metavar="URL",
                        help="serve a team through a reverse proxy on this machine that terminates TLS (Caddy, nginx) "
                             "at this address (e.g. https://label.example.org) and forwards to the server on --host "
                             "and --port, passing the browser's Host: the links the runner prints and every link a page "
                             "gets are of this address, and the server answers only browsers that opened one of them")
    parser.add_argument("--worker", action="append", default=[], metavar="NAME", dest="workers",
                        help="with --host or --public-url: a named worker of the team, once per worker; each gets a "
                             "link of their own that signs them in (the shared workers' link then opens nothing)")
    parser.add_argument("--accuracy", type=float, default=0.8, help="simulated workers' accuracy (default 0.8)")
    parser.add_argument("--truth", type=path_argument, help="default: the workflow definition's truth.json")
    parser.add_argument("--processes", type=int, help="pre-labeling processes (default: one per core)")
    parser.add_argument("--seed", type=int, default=0,
                        help="with --simulate-workers: the seed the simulated answers are drawn with (default 0)")
    parser.add_argument(ACCEPT_TEMPLATE_OPTION, action="store_true", dest="accept_template",
                        help="resume a job whose UI template alone changed since it started (an edited page, or a "
                             "newer version of this project): its answers are kept (default: refused, naming it)")
    parser.add_argument("--review", action=argparse.BooleanOptionalAction, default=None,
                        help="expert review of what the crowd could not settle, at /review (default: as the "
                             "environment sets it in the stack's ReviewSettings, off in dev); the threshold is "
                             "always the environment's")
    parser.add_argument("--serve-review", action="store_true",
                        help="with --simulate-workers and review on: once the simulated crowd is done, serve the "
                             "expert page (and the requester's) until Ctrl-C, so that experts decide in a browser what "
                             "the simulated crowd could not settle; the same command serves them again")
    args = parser.parse_args(argv)
    if args.serve_review and args.simulate_workers is None:
        parser.error("--serve-review serves experts after a simulated crowd (--simulate-workers N); a job of workers "
                     "in a browser serves its expert page at /review all along")
    if args.serve_review and args.review is False:
        parser.error("--serve-review serves the expert page: leave out --no-review")
    if args.env is not None and args.cloud_assembly is not None:
        parser.error(f"--env {args.env} with --cloud-assembly: an assembly holds the environment it was synthesized "
                     "for (./scripts/synth.sh ENV writes cdk.out); leave out one of them")
    if args.data is not None:
        if not args.workflow:
            parser.error(f"--data {args.data}: name the workflow whose data it is (--workflow)")
        if args.cloud_assembly is not None:
            parser.error(f"--data {args.data} with --cloud-assembly: an assembly holds the data it was synthesized "
                         "with; name the folder in the environment's data in cdk.json, or leave out --cloud-assembly")
        args.data = args.data.expanduser().resolve()
        if not (args.data / MANIFEST_FILE).is_file():
            parser.error(f"--data {args.data}: not a folder with a {MANIFEST_FILE} (lay it out as "
                         "sample_data/<workflow>/ is: the manifest and the files it names; for a folder of images, "
                         f"./scripts/folder_manifest.sh {shlex.quote(str(args.data))} writes it)")
    if not args.env and args.cloud_assembly is None:  # the environment of the app synthesized now
        try:
            args.env = default_environment(REPO_ROOT / CDK_JSON_FILE)
        except (OSError, ValueError) as error:
            parser.error(f"--env not given: {error}")
    if not 0 <= args.accuracy <= 1:
        parser.error("--accuracy must be between 0 and 1")
    if args.simulate_workers is not None and args.simulate_workers < 1:
        parser.error("--simulate-workers must be at least 1")
    if args.host in UNSPECIFIED_ADDRESSES:
        parser.error(f"--host {args.host}: give the address or name workers will type (this machine's address on "
                     "your network, e.g. 192.168.1.20): the links the runner prints must reach it")
    if args.public_url is not None:
        try:
            args.public_url = parse_public_url(args.public_url)
        except ValueError as error:
            parser.error(f"--public-url {error}")
        if args.simulate_workers is not None:
            parser.error("--public-url serves workers in browsers; --simulate-workers runs without them")
    if args.workers and not serves_a_team(args):
        parser.error("--worker names a team's workers, who label from other machines: give --host or --public-url too")
    try:
        args.workers = list(dict.fromkeys(worker_names.canonical(name) for name in args.workers))
    except worker_names.BadName as error:
        parser.error(f"--worker: {error}")
    first: dict[str, str] = {}  # person -> the first spelling named: names differing only in case are one worker
    for name in args.workers:
        earlier = first.setdefault(worker_names.person(name), name)
        if earlier != name:
            parser.error(f"--worker {earlier} and --worker {name} name one worker (names that differ only in case are "
                         "one person to the server: their links would label as one); name each worker once")
    args.parser = parser
    return args


UNSPECIFIED_ADDRESSES = ("0.0.0.0", "::", "[::]", "")


def serves_the_network(host: str) -> bool:
    """Whether other machines may reach a server on ``host`` (anything but a loopback address or localhost)."""
    if host.lower() == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return True  # a name: this machine's on the network


def proxy_note(public: PublicAddress, own_url: str) -> str:
    """What the reverse proxy in front of the server must do, said when the server starts (``--public-url``)."""
    note = (f"Reverse proxy: {public.origin} must forward to {own_url}, passing the browser's Host "
            "header on (Caddy does; nginx needs proxy_set_header Host $host); every link above is of that address.")
    if not public.secure:
        note += (f" {public.origin} is plain HTTP: the team's keys and answers cross the network readable; give the "
                 "proxy a certificate and an https:// address.")
    return note


def serves_a_team(args: argparse.Namespace) -> bool:
    """Whether the server is open to other machines, directly (``--host``) or through a proxy (``--public-url``): it
    then answers only browsers holding a key of its links (``team_access``)."""
    return serves_the_network(args.host) or args.public_url is not None


#: What an app without a workflow stack is told.
NO_WORKFLOW_STACK = (f"the synthesized app has no workflow stack (no stack with the {WORKFLOW_NAME_OUTPUT} and "
                     f"{JOB_REQUEST_OUTPUT} outputs)")


def choose_workflow(args: argparse.Namespace, assembly: Path) -> WorkflowSpec:
    """The chosen workflow's stack; an argparse error naming the app's workflows when there is no such one."""
    choices = sorted(workflow_stacks(assembly))
    if not choices:
        args.parser.exit(2, f"{args.parser.prog}: error: {NO_WORKFLOW_STACK}\n")
    if args.workflow not in choices:
        given = f"no workflow {args.workflow!r} in the synthesized app" if args.workflow else "--workflow is required"
        args.parser.exit(2, f"{args.parser.prog}: error: {given}; choose one of: {', '.join(choices)}\n")
    spec = read_workflow(assembly, args.workflow)
    name_job(args)
    return spec


def name_job(args: argparse.Namespace) -> None:
    """The job's name and folder (``args.job_name``, ``args.state_dir``), from the command line alone; an argparse
    error when they cannot be used. Done once."""
    if getattr(args, "job_named", False):
        return
    args.job_named = True
    simulated = "-simulated" if args.simulate_workers is not None else ""
    if not args.job_name:
        base = f"local-{args.workflow}"
        # A long folder name is cut, never the "-simulated" that keeps simulated answers out of real workers' job.
        room = 63 - len(base) - len(simulated) - 1
        folder = (re.sub(r"[^a-z0-9]+", "-", args.data.name.lower())[:room].strip("-") or "data") if args.data else ""
        args.job_name = f"{base}{'-' + folder if folder else ''}{simulated}"
    if not JOB_NAME.fullmatch(args.job_name):  # the functions read it back from the job's ARN (gt_common.labeling_job)
        args.parser.exit(2, f"{args.parser.prog}: error: job name {args.job_name!r}: use at most 63 letters, digits, "
                            "'-' and '_', starting with a letter or digit (--job-name)\n")
    args.default_state_dir = args.state_dir is None  # the runner's own folder, which it may make private
    args.state_dir = args.state_dir or REPO_ROOT / ".local-gt" / args.job_name
    if args.data is not None and args.data in [args.state_dir.resolve(), *args.state_dir.resolve().parents]:
        # The folder is uploaded as the job's data: its answers, keys and bucket would go up with it at every run,
        # each copy holding the one before.
        args.parser.exit(2, f"{args.parser.prog}: error: the job's folder {args.state_dir} is inside --data "
                            f"{args.data}, which is uploaded as the job's data: keep the job's folder elsewhere "
                            "(--state-dir)\n")


@contextmanager
def resumed_store_loading(args: argparse.Namespace) -> Iterator[None]:
    """When the job is resumed with the runner's own endpoint, the job's lock taken and its endpoint started now, so
    that the endpoint loads the job's store (seconds for thousands of objects) while the app is synthesized
    (``args.early_endpoint``, which ``prepared_job`` takes over). Only for a job that has run (its settings are
    recorded): nothing is made or locked here for a new one, nor for a workflow the app may not have."""
    args.early_endpoint = None
    if args.endpoint or args.list_workflows or not args.workflow:
        yield
        return
    name_job(args)
    store = args.state_dir / STORE_FOLDER
    if not (store.is_dir() and settings_path(args.state_dir, args.job_name).is_file()):
        yield
        return
    with job_lock(args.state_dir, args.job_name, runners_own=args.default_state_dir, say=say):
        args.early_endpoint = local_s3.start_endpoint(store)
        try:
            yield
        finally:
            local_s3.stop_endpoint(args.early_endpoint)  # at once when handed over and ended, else ended here


def review_settings(args: argparse.Namespace, spec: WorkflowSpec) -> ReviewSettings:
    """The environment's review settings, turned on or off by ``--review`` / ``--no-review``."""
    if args.review is None:
        return spec.review
    return dataclasses.replace(spec.review, enabled=args.review)


class PrintableFormatter(logging.Formatter):
    """Log lines with whatever a request carried (an object id from a URL) shown escaped: a newline or a terminal
    escape sequence in it cannot forge a line of the runner's own or recolour the terminal. (Tracebacks, added
    after the message, keep their lines.)"""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)


@contextmanager
def assembly_of(args: argparse.Namespace) -> Iterator[Path]:
    """The synthesized app: ``--cloud-assembly``, or the app synthesized now (for as long as it is used)."""
    if args.cloud_assembly is not None:
        yield args.cloud_assembly
        return
    say(f"synthesizing the app ({args.env}{'' if args.data is None else f', data of {args.workflow}: {args.data}'}) ...")
    if args.data is not None:  # the manifest as this synthesis reads it: a change from here on joins the job
        args.manifest_read = data_growth.signature(args.data / MANIFEST_FILE)
    with tempfile.TemporaryDirectory() as folder:
        yield synthesize(Path(folder), args.env, data=None if args.data is None else {args.workflow: str(args.data)})


@contextmanager
def prepared_job(args: argparse.Namespace, spec: WorkflowSpec) -> Iterator[tuple[LocalJob, Path, RequesterLog, PreLabeling]]:
    """Start S3 (resuming what is on disk), deploy, check the job's settings and start pre-labeling; the job, its
    folder, what tells the requester how it goes, and the pre-labeling going on (stopped when the job is done with)."""
    with ExitStack() as stack:
        early = getattr(args, "early_endpoint", None)  # the lock is held already then
        if early is None:
            stack.enter_context(job_lock(args.state_dir, args.job_name, runners_own=args.default_state_dir,
                                         say=say))  # one runner per job folder
        store = None if args.endpoint else args.state_dir / STORE_FOLDER
        functions = (spec.pre_labeling, spec.consolidation)
        endpoint = stack.enter_context(local_s3.s3_endpoint(args.endpoint, store, grants=endpoint_grants(functions),
                                                            on_lost=stop_on_lost_endpoint, started=early))
        tell_unchecked_grants(args, functions)
        s3 = local_s3.client(endpoint)
        plan = local_s3.plan_deployment(spec, s3, store)
        grew = check_settings(args, spec, s3, plan)  # before a file is written: a refused resume leaves the data be
        deployed = plan.apply(s3)
        import_mirrored_answers(args, spec, s3)
        job = LocalJob(spec, s3, endpoint, args.job_name, store=store, folder=args.state_dir,
                       own_endpoint=not args.endpoint)
        manifest = spec.task.manifest
        tell_replaced(job, plan.replaced_besides(manifest.bucket, manifest.key) if grew else plan.replaced)
        if grew:
            say(f"the input manifest {manifest.uri} grew by {counted(grew, 'object')} since the job's last run (lines "
                 f"added at its end): they join the job, {len(job.lines)} objects in all; the earlier ones keep their "
                 "tasks, answers and labels")
        stack.callback(job.close)
        log = args.requester_log = RequesterLog(job, say).attach()
        progress = job.progress()
        kept = f"kept in {store}" if store else f"kept by {endpoint}"
        say(f"S3 endpoint {endpoint}: {deployed} files of stack {spec.stack_name} deployed; the job's bucket is {kept} "
             f"({counted(progress['answers'], 'answer')} and {counted(progress['consolidated'], 'consolidated object')} "
             "from earlier runs)")
        pre_labeling = PreLabeling(job, args.processes, log)
        stack.callback(pre_labeling.stop)
        yield job, args.state_dir, log, pre_labeling


def take_more_data(args: argparse.Namespace, job: LocalJob, log: RequesterLog, pre_labeling: PreLabeling,
                   stopping: Callable[[], bool] = lambda: False) -> None:
    """The data folder's manifest changed while the job runs: deploy the folder again as the same command would at
    its start (the app synthesized with it, the deployment checked against the job's settings), and the objects
    added at the manifest's end join the job, to be pre-labeled and labeled like the rest. A change that is not
    lines added at the end (or any other setting changed) is said and deploys nothing: the job goes on as it was."""
    manifest_file = args.data / MANIFEST_FILE
    held = len(job.lines)
    # Said at once: the synthesis and deployment take seconds, and on a folder of thousands of files a minute, with
    # nothing else on the terminal meanwhile.
    say(f"{manifest_file} changed: deploying the folder again as the same command would (the app synthesized with "
         "it) before any new line joins the job ...")
    with tempfile.TemporaryDirectory() as folder:
        try:
            spec = read_workflow(synthesize(Path(folder), args.env, data={args.workflow: str(args.data)}),
                                 args.workflow)
            plan = local_s3.plan_deployment(spec, job.s3, job.store)
            grew = check_settings(args, spec, job.s3, plan)
        except (StackError, SettingsChanged, DefinitionError, ValueError) as error:
            if stopping():
                return  # the runner stops (a Ctrl-C reached the synthesis too): the next run takes the change
            if isinstance(error, SettingsChanged) and INPUT_MANIFEST in error.changed:
                say(f"{manifest_file} changed while the job runs, but not only by lines added at its end (a line "
                     "removed, moved or edited would renumber or change objects already answered): the change is not "
                     f"taken, and the job goes on with its {counted(held, 'object')}. Put the file back as it was "
                     "(lines added at its end are then taken), or label the changed folder as a job of its own "
                     "(--job-name); the same command refuses it too.")
            else:  # only the manifest is watched: a fix elsewhere in the folder (a link removed) is taken with it
                say(f"{manifest_file} changed while the job runs, and the change is not taken: {error}\nThe job goes "
                     f"on with its {counted(held, 'object')}. Once that is mended, save {MANIFEST_FILE} again (touch "
                     "it) and the change is taken; the same command takes it too.")
            return
        if not grew:
            return  # saved again as it was (or only its spacing changed): nothing joins the job
        plan.apply(job.s3)
    added = job.take_appended_lines()
    log.objects_joined()
    tell_replaced(job, plan.replaced_besides(spec.task.manifest.bucket, spec.task.manifest.key), while_running=True)
    say(f"the input manifest {spec.task.manifest.uri} grew by {counted(added, 'object')} while the job runs (lines "
         f"added at the end of {manifest_file}): they join the job, {len(job.lines)} objects in all, and are "
         "pre-labeled now")
    pre_labeling.more()


def awaiting_review(desk: ReviewDesk) -> str:
    """"1 awaits review", "3 await review"."""
    awaiting = desk.counts()["awaiting"]
    return f"{awaiting} {'awaits' if awaiting == 1 else 'await'} review"


def tell_unchecked_grants(args: argparse.Namespace, functions: Iterable[FunctionSpec]) -> None:
    """Say which functions' S3 requests are not held to their roles' grants here (``function_grants``)."""
    if args.endpoint:
        say(f"the functions' S3 requests go to {args.endpoint} with this shell's credentials: their roles' grants "
             "are not checked there as the runner's own endpoint checks them")
        return
    for function in functions:
        if function.grants.unchecked:
            say(f"function {function.logical_id}'s S3 requests are not checked against its role here: "
                 f"{function.grants.unchecked}")


def tell_replaced(job: LocalJob, replaced: list[str], while_running: bool = False) -> None:
    """Say which deployed files this run changed or removed under a job already under way: its tasks show their
    images as they are in the bucket now, so a file edited or deleted in the data folder changes what workers and
    experts see of objects already pre-labeled (and answered), though their tasks stay."""
    if not replaced or not job.pre_labeled_ids():
        return
    shown = "; ".join(printable(uri) for uri in replaced[:5])
    more = f"; and {len(replaced) - 5} more" if len(replaced) > 5 else ""
    since = "since the job started" if while_running else "since the job's last run"
    say(f"{counted(len(replaced), 'file')} of the stack's data changed or removed {since}: {shown}{more}. "
         "Objects already pre-labeled keep their tasks, which now show these files as they are; for changed data, "
         "start a job of its own (--job-name).")


def check_settings(args: argparse.Namespace, spec: WorkflowSpec, s3,
                   plan: Optional[local_s3.DeploymentPlan] = None) -> int:
    """Refuse (``SettingsChanged``) to resume the job under other settings than it was started with; record
    them when it starts. With ``plan``, the manifest and template are read as it would deploy them (else, and for
    files it does not deploy, from the bucket). How many objects ``plan`` appends to the job's input manifest: an
    input manifest that only grew resumes the job, its new objects joining it (``job_settings.appended_objects``)."""
    def deployed(location) -> bytes:
        planned = plan.body_of(location.bucket, location.key) if plan is not None else None
        return planned if planned is not None else s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()

    simulated = getattr(args, "simulate_workers", None) is not None
    template, manifest = deployed(spec.task.ui_template), deployed(spec.task.manifest)
    settings = job_settings(spec, manifest, template, simulated=simulated, data=args.data)
    grown_from = None
    if plan is not None and plan.rewrites(spec.task.manifest.bucket, spec.task.manifest.key):
        before = _stored(s3, spec.task.manifest)  # the manifest the job's objects were numbered from
        if before is not None:
            grown_from = (job_settings(spec, before, template, simulated=simulated, data=args.data)[INPUT_MANIFEST],
                          appended_objects(before, manifest))
    how = (f"--cloud-assembly {args.cloud_assembly}" if args.cloud_assembly
           else f"--env {args.env}" + ("" if args.data is None else f" --data {args.data}"))
    infer_who_answered(args, spec, s3)
    try:
        recorded_now = check_or_record(args.state_dir, args.job_name, settings, started_with=how,
                                       accept_template=args.accept_template, grown_from=grown_from)
    except SettingsChanged as error:
        if ANSWERS in error.changed:
            raise SettingsChanged(f"{error}\nWho answers: a job of simulated workers resumes with --simulate-workers, "
                                  "a job of workers in a browser without it.", error.changed) from None
        if DATA_FOLDER in error.changed:
            raise SettingsChanged(f"{error}\nThe job was started on another data folder: a folder of the same name "
                                  "makes the same job name. Label this folder as a job of its own (--job-name); or, "
                                  "if it is the job's own folder moved, put it back where it was to resume the job.",
                                  error.changed) from None
        if args.data is None or INPUT_MANIFEST not in error.changed:
            raise
        # The same command as ever: what changed is the folder's manifest, which "the settings it was started with"
        # does not say.
        raise SettingsChanged(f"{error}\nThe input manifest is {args.data / MANIFEST_FILE}, which changed since the "
                              "job started (a line removed, moved or edited: lines added at its end would join the "
                              "job): put it back as it was to resume this job, or label the changed folder as a job of "
                              "its own (--job-name).",
                              error.changed) from None
    if recorded_now:
        say(f"job {args.job_name}: its settings are recorded in {args.state_dir}; a later run resumes it only "
             "under the same settings")
        return 0
    return grown_from[1] if grown_from is not None else 0


def _stored(s3, location) -> Optional[bytes]:
    """An object's bytes in the local bucket; None when it is not there."""
    try:
        return s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
    except ClientError as error:
        if is_not_found(error):
            return None
        raise


def _output_location(job: LocalJob) -> str:
    path = job.local_path(job.output_manifest_key)
    return str(path) if path else job.uri(job.output_manifest_key)


def run_headless(args: argparse.Namespace, spec: WorkflowSpec) -> dict:
    import workflows

    try:
        definition = workflows.definition(spec.workflow)
    except ValueError as error:
        raise headless.CannotSimulate(f"headless mode cannot simulate workers for workflow {spec.workflow!r}: {error}. "
                                      "Its stack runs with workers in a browser (leave out --simulate-workers).") from None
    truth_path = args.truth or (definition.truth_path if args.data is None else args.data / TRUTH_FILE)
    truth = load_truth(truth_path)
    workers = args.simulate_workers
    if workers != spec.workers_per_object:  # as a job created with that NumberOfHumanWorkersPerDataObject
        say(f"headless: {counted(workers, 'simulated worker')} {'answers' if workers == 1 else 'answer'} each object, so "
            f"the job runs with {counted(workers, 'worker')} per object (the stack's NumberOfHumanWorkersPerDataObject "
            f"is {spec.workers_per_object})")
        spec = dataclasses.replace(spec, task=dataclasses.replace(spec.task, workers_per_object=workers))
    if args.serve_review and not review_settings(args, spec).enabled:
        raise headless.CannotSimulate("--serve-review serves the expert page, and expert review is off in this "
                                      "environment: add --review")
    with prepared_job(args, spec) as (job, state_dir, log, pre_labeling):
        simulation = headless.prepare(job, definition, truth, str(truth_path), pre_labeling.ended)
        desk = log.review = ReviewDesk(job, questions_of(job), review_settings(args, spec)).attach()
        if args.serve_review and not desk.enabled:  # said before the crowd is simulated
            raise headless.CannotSimulate("--serve-review serves the expert page, and this workflow has no question "
                                          "an expert decides")
        headless.simulate(job, simulation, workers, args.accuracy, seed=args.seed, pre_labeling_ended=pre_labeling.ended)
        report = job.consolidate()
        for object_id, error in sorted(report.failed.items(), key=lambda item: int(item[0])):
            say(f"consolidation failed for object {object_id}: {error}")
        summary = headless.summarize(job, simulation, state_dir / f"{job.job_name}-summary.png")
        summary["quality_reports"] = report_quality(log)
        log.tell_if_complete()  # a resumed job with nothing left to consolidate
        summary.update(output_manifest=_output_location(job), pre_labeling_failures=len(job.pre_labeling_failures()),
                       consolidation_failures=len(report.failed), pre_labeling_stopped=pre_labeling.error)
        if args.serve_review:
            serve_review(args, job, desk)
        elif desk.enabled and (awaiting := desk.counts()["awaiting"]):
            say(f"{counted(awaiting, 'routed object')} await{'s' if awaiting == 1 else ''} an expert: to decide them "
                 "in the browser, run the same command with --serve-review")
        if desk.enabled:  # no expert answers headless: the routed objects wait for one in the browser
            path = job.local_path(desk.final_manifest_key)
            summary["review"] = {**desk.counts(), "threshold": desk.settings.threshold,
                                 "final_manifest": str(path) if path else job.uri(desk.final_manifest_key)}
    return summary


def serve_review(args: argparse.Namespace, job: LocalJob, desk: ReviewDesk) -> None:
    """``--serve-review``: after the simulated crowd, the expert page and the requester's, served until Ctrl-C or
    SIGTERM. Workers have nothing to do there (the simulated crowd gave every object all its answers), so no answer of
    a person joins the simulated ones; experts' decisions are kept like any (the same command serves them again)."""
    server, _team, links = start_server(args, WorkerSite(job, desk=desk))
    final = job.local_path(desk.final_manifest_key) or job.uri(desk.final_manifest_key)
    say(f"\nExperts: open {links[EXPERT]} and sign in with a name to decide what the simulated crowd could not settle "
         f"(where {routing_rule(desk.settings, desk.questions)}); {awaiting_review(desk)} now. Final manifest (the "
         f"crowd's labels with the experts' decisions): {final}\nRequester: open {links[REQUESTER]}. Ctrl-C stops "
         "serving (every decision is saved; the same command serves the rest).")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def report_quality(log: RequesterLog) -> dict:
    """Print the consolidation Lambda's quality reports, saved in the job's folder (drawn again only if changed)."""
    saved = log.save_reports()
    for question, files in saved.items():
        say(f"\n{files.pop('text')}\n(saved to {files['png']} and {files['json']})")
    return saved


def run_browser(args: argparse.Namespace, spec: WorkflowSpec) -> None:
    with prepared_job(args, spec) as (job, state_dir, log, pre_labeling):
        server, team, links = start_server(args, WorkerSite(job, review=review_settings(args, spec)))
        desk = log.review = server.site.review
        watch = None
        # From here a Ctrl-C stops as the normal way does (the server stopped, the reports and the summary said):
        # a resumed job's pre-labeling is done at once, so one pressed on seeing it arrived before serving began.
        try:
            objects = (f"{len(job.object_ids())} objects" if job.pre_labeling_finished() else
                       f"{len(job.lines)} objects in the manifest, pre-labeling goes on: each is a task as soon as it is "
                       "ready")
            how = ("each opens their own link (listed below), which signs them in" if team is not None and team.workers
                   else f"open {links[WORKER]} and sign in with a name")
            say(f"\nWorkers: {how} ({job.spec.workers_per_object} worker(s) per "
                 f"object, {objects}). Every answer is written to {state_dir} before the "
                 f"worker's page is told it was saved: Ctrl-C or a kill loses nothing, and running the same command "
                 f"again resumes.\nRequester: open {links['requester']} for progress, quality and output. "
                 f"Output manifest (rewritten after every batch; one whose rewrite takes over "
                 f"{spaced_rewrite.SPACE_ABOVE_SECONDS:g} s at most every {spaced_rewrite.SPACING:g} times that, and always "
                 f"when the job completes or stops): {_output_location(job)}")
            if team is not None and team.workers:
                say("Workers' links (each signs its worker in; give each only to that worker):" + worker_links(server, team))
            if args.public_url is not None:
                say(proxy_note(args.public_url, server.own_url))
            if desk.enabled:
                final = job.local_path(desk.final_manifest_key) or job.uri(desk.final_manifest_key)
                say(f"Experts: open {links['expert']} and sign in with a name to decide the objects the crowd "
                     f"could not settle (where {routing_rule(desk.settings, desk.questions)}); {awaiting_review(desk)} "
                     f"now. Final manifest (the crowd's labels with the experts' decisions): {final}")
            elif decided_before := desk.objects_decided_before():
                say(f"Expert review is off for this run, and experts decided {counted(decided_before, 'object')} in "
                     "earlier runs: their decisions are kept and the final manifest is left as it was. Run with --review "
                     "to go on with them.")
            if args.data is not None:
                manifest_file = args.data / MANIFEST_FILE
                say(f"More data: lines added at the end of {manifest_file} join the job as it runs (for a folder of "
                     f"images, ./scripts/folder_manifest.sh {shlex.quote(str(args.data))} --append adds the new ones).")
                server.site.watched_manifest = manifest_file
                watch = data_growth.ManifestWatch(
                    manifest_file, lambda: take_more_data(args, job, log, pre_labeling, stopping=lambda: watch.stopping),
                    seen=args.manifest_read)
            log.tell_if_complete()  # resumed after the last object was consolidated
            server.serve_forever()  # until Ctrl-C or SIGTERM: the normal way to stop serving
        except KeyboardInterrupt:
            pass
        finally:
            try:
                if watch is not None:
                    watch.stop()  # a change being taken is finished first: no deployment after the job is closed
                # Pre-labeling first: its environments are ended at once (it would otherwise go on using every core
                # while the server stops and the files are written), and what it changed is written with the rest.
                pre_labeling.stop()
                server.stop()
                if not ENDPOINT_LOST.is_set():  # else each of its requests would only fail, after boto3's retries
                    report_quality(log)
            except KeyboardInterrupt:
                pass  # a second Ctrl-C while the server closes: stop all the same (the reports are saved per batch)
            if job.is_complete():
                if not log.tell_if_complete():  # said when the last batch finished: the last line says it again, as
                    say("job complete: " + log.complete_summary())  # of now (experts may have decided since)
            else:
                review = review_summary(job, desk)
                say(stopped_message(job.progress(), None if job.pre_labeling_finished() else len(job.pre_labeled_ids()),
                                     len(job.lines), _output_location(job))
                     + (f" {review[0].upper()}{review[1:]}." if review else ""))


def serves_pages(args: argparse.Namespace) -> bool:
    """Whether this run serves pages (a browser run, or ``--serve-review`` after a simulated crowd)."""
    return not args.list_workflows and (args.simulate_workers is None or bool(args.serve_review))


def start_server(args: argparse.Namespace, site: WorkerSite) -> tuple[WorkerServer, Optional[TeamKeys], dict[str, str]]:
    """The server of ``site``'s job on ``--host`` and ``--port`` (with the team's keys when it serves a team), its
    team, and the address each role opens (``team_links``); a port in use is refused naming it."""
    team = (TeamKeys.kept_in(args.state_dir / f"{site.job.job_name}-team-keys.json", args.workers)
            if serves_a_team(args) else None)
    try:
        server = WorkerServer(site, args.port, host=args.host.strip("[]"), team=team, public=args.public_url)
    except OSError as error:
        raise port_in_use(error, args.host, args.port) or error
    return server, team, team_links(server, team)


def team_links(server: WorkerServer, team: Optional[TeamKeys]) -> dict[str, str]:
    """The address each role opens: with the key in it when the server is open to a team (``team_access``; a named
    team's workers open their own instead, ``worker_links``)."""
    paths = {WORKER: "/", EXPERT: REVIEW_PATH, REQUESTER: REQUESTER_PATH}
    if team is None:
        return {role: f"{server.url}{path}" for role, path in paths.items()}
    return {role: team.link(server.url, role, path) for role, path in paths.items()}


def worker_links(server: WorkerServer, team: Optional[TeamKeys]) -> str:
    """A named team's links, one line per worker ("" otherwise)."""
    if team is None or not team.workers:
        return ""
    return "".join(f"\n  {printable(name)}: {team.worker_link(server.url, name)}" for name in team.workers)


def stopped_message(progress: dict, pre_labeled: Optional[int], in_manifest: int, output: str) -> str:
    """The last line of a browser run stopped before its job was complete. ``progress``: ``LocalJob.progress()``;
    ``pre_labeled``: the objects pre-labeled so far, None once pre-labeling is done."""
    if pre_labeled == 0:
        return (f"Stopped before any of the {in_manifest} objects in the manifest was pre-labeled: there is nothing to "
                "label yet. Run the same command again to pre-label them and start the job.")
    so_far = ("" if pre_labeled is None else
              f" (of the {pre_labeled} objects pre-labeled so far; {in_manifest} in the manifest)")
    return (f"Stopped with {progress['consolidated']} of {progress['objects']} objects consolidated{so_far} (their labels "
            f"are in the output manifest, {output}); every answer so far is saved. Run the same command again to resume.")


def _stop_on_terminate(*_signal_args) -> None:
    raise KeyboardInterrupt  # `kill` stops the runner as Ctrl-C does (nothing is lost either way)


#: Set when the local S3 endpoint ended under the run: it stops, and says so in its last line.
ENDPOINT_LOST = threading.Event()


def stop_on_lost_endpoint() -> None:
    """Stop the run as `kill` does, from any thread (the local S3 endpoint ended under it): SIGTERM, whose handler
    this process installs (SIGINT may be ignored: a job started in the background by a shell ignores it)."""
    ENDPOINT_LOST.set()
    os.kill(os.getpid(), signal.SIGTERM)


def lost_endpoint_message(args: argparse.Namespace, detail: str = "") -> str:
    return (f"{args.parser.prog}: error: the S3 endpoint stopped answering{f' ({detail})' if detail else ''}; every "
            "answer it acknowledged is saved. Run the same command again to resume.")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ENDPOINT_LOST.clear()  # a run of its own (the tests run several in one process)
    previous = signal.signal(signal.SIGTERM, _stop_on_terminate)
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter("%(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("local_ground_truth").setLevel(logging.INFO)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" notes under a burst
    try:
        if serves_pages(args):
            refuse_port_in_use(args.host.strip("[]"), args.port)
        with resumed_store_loading(args), assembly_of(args) as assembly:
            if args.list_workflows:
                listed = sorted(workflow_stacks(assembly).items())
                if not listed:  # an empty or foreign cdk.out: said, as choose_workflow says it
                    args.parser.exit(2, f"{args.parser.prog}: error: {NO_WORKFLOW_STACK}\n")
                print("\n".join(f"{name}\t{stack}" for name, stack in listed))
                return 0
            spec = choose_workflow(args, assembly)
            if args.simulate_workers is None:
                run_browser(args, spec)
                if ENDPOINT_LOST.is_set():
                    say(lost_endpoint_message(args))
                    return 1
                return 0
            summary = run_headless(args, spec)
    except KeyboardInterrupt:
        if ENDPOINT_LOST.is_set():
            say(lost_endpoint_message(args))
            return 1
        log = getattr(args, "requester_log", None)
        if log is not None and log.complete_message is not None:  # stopped after the job was complete
            say("stopped; the job was complete: " + log.complete_summary())  # as of now, as the normal stop says
        else:
            say("stopped; every answer so far is saved. Run the same command again to resume.")
        return 130
    except (StackError, TruthError, headless.CannotSimulate, SettingsChanged, DefinitionError, InUse) as error:
        say(f"{args.parser.prog}: error: {error}")
        return 2
    except EndpointConnectionError as error:  # the endpoint went away under the run (its end is logged where seen)
        say(lost_endpoint_message(args, str(error)))
        return 1
    print(json.dumps(summary, indent=2))
    failed = summary["pre_labeling_failures"] or summary["consolidation_failures"] or summary["pre_labeling_stopped"]
    return 1 if failed else 0


def exit_without_teardown(code: int) -> None:
    """Exit with ``code``, leaving out the interpreter's teardown (every object of the job's state freed one by one:
    1 to 3 s of a stop at 20,000 objects, measured) once everything is written and closed and nothing runs but this
    thread: no other thread that is not a daemon, no child process. Else the ordinary exit, which waits for them."""
    import multiprocessing
    import os

    others = [thread for thread in threading.enumerate() if thread is not threading.current_thread() and not thread.daemon]
    if others or multiprocessing.active_children():
        sys.exit(code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_without_teardown(main())
