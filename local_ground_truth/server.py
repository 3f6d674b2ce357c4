"""The worker UI on http://127.0.0.1:PORT: queues, leases, the stack's template, answers to S3.

Each task page is the stack's deployed Liquid template rendered with Ground Truth's semantics
(autoescape, ``grant_read_access`` as a signed link this server serves: ``media_links``), with the crowd
elements script swapped for the offline stand-in in ``static/``. Workers name themselves; a worker
who opens an object holds a lease on it for the task time limit (``leases``), others are offered the
next free one; each object goes to N distinct workers and is consolidated in the background.

The application is Flask, served by waitress (a maintained production WSGI server): request
bodies are bounded, slow or short bodies time out instead of holding a thread, a request must arrive
whole within two minutes and one address may hold at most half the connections (``slow_clients``), and
the listen backlog fits a team. The application itself answers only requests addressed to this server
(Host check: no DNS rebinding) and accepts answers only as same-origin JSON POSTs, parsed strictly
and checked against the page's own form rules before they are written, and, when the workflow's
questions are known (its consolidation function's ``WORKFLOW_QUESTIONS``), read as consolidation will
read them: an answer that leaves a required question unusable is refused with the question named.

Served on an address of the network (``WorkerServer(host=..., team=...)``), it answers only browsers
holding a key of the job's links for the part they ask for (``team_access``); behind a reverse proxy that
terminates TLS (``WorkerServer(public=...)``), it answers to the proxy's public name too, and writes that address,
not its own, into whatever a browser gets (``public_url``).
"""
from __future__ import annotations

import json
import logging
import mimetypes
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional
from urllib.parse import quote, unquote, urlencode, urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, Response, has_request_context, redirect, render_template_string, request
from liquid.exceptions import LiquidError
from markupsafe import Markup, escape

from gt_common import strict_json
from gt_common.answers import read_form
from gt_common.consolidation import WorkerAnswer
from gt_common.limits import MAX_TEXT_BYTES
from gt_common.questions import QUESTIONS_ENV, QuestionError, Spans, questions_from_json
from gt_common.review import ReviewSettings
from gt_common.s3uri import parse_s3_uri
from gt_common.shown_text import text_length_of
from gt_common.task_record import data_object_of, read_record
from local_ground_truth.consolidator import Consolidator
from local_ground_truth.form_rules import FormRules, rules_of
from local_ground_truth.job import LocalJob, store_failure
from local_ground_truth import slow_clients, worker_names, worker_pages
from local_ground_truth.leases import LeaseTable
from local_ground_truth.liquid import make_environment
from local_ground_truth.media_links import PREFIX as MEDIA_PREFIX, MediaLinks, MediaRefused
from local_ground_truth.public_url import PublicAddress
from local_ground_truth.requester import PREFIX as REQUESTER_PREFIX, register_requester, s3_chunks
from local_ground_truth.review_desk import ReviewDesk
from local_ground_truth.reviewer import PREFIX as REVIEW_PREFIX, register_reviewer
from local_ground_truth.task_order import WorkerOrder
from local_ground_truth.team_access import (KEY_PARAMETER, LINK_NAMES, WORKER, TeamKeys, cookie_name,
                                           is_switch_proof, role_of, switch_proof, without_key)

LOG = logging.getLogger(__name__)
CROWD_ELEMENTS_URL = "https://assets.crowd.aws/crowd-html-elements.js"
STAND_IN = Path(__file__).resolve().parent / "static" / "crowd-html-elements.js"
MAX_ANSWER_BYTES = 2_000_000  # far above any real answer (a long text's spans are ~100 KB)
MAX_ANSWER_DEPTH = 32  # answers are shallow JSON; deeper nesting is hostile
BODY_TIMEOUT_SECONDS = 30  # a connection that sends nothing for this long is closed
KEY_COOKIE_SECONDS = 30 * 24 * 3600  # how long a browser keeps the key of a link it opened
SERVER_THREADS = 8
STOP_SECONDS = 3  # at a stop, how long requests under way may take to be answered
LISTEN_BACKLOG = 128
CONNECTION_LIMIT = 200  # connections open at once (waitress's default is 100)
#: What a worker page's notice can say. An address names one by its key (``?notice=taken``): a link someone sends
#: cannot make the job's pages say words of its own.
NOTICES = {
    "answered": "You already answered that task.",
    "taken": "That task is being labeled by others; here is your next one.",
    "skipped": "You skipped your last task; it is still in your queue.",
    "preparing": "No task is ready for you yet: more are being prepared.",
    "held": "The tasks left are being labeled by others right now.",
    "done": "Nothing is left for you. Thank you!",
}
#: The notices that say why the queue was empty when the worker was sent to it: stale once it holds tasks.
QUEUE_STATE_NOTICES = ("preparing", "held", "done")
GENERIC_TYPES = ("", "binary/octet-stream", "application/octet-stream")  # what S3 says of an object stored without one

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;line-height:1.4;overflow-wrap:anywhere}
li{margin:.3rem 0}
input,button{font:inherit;padding:.3rem .5rem}
/* A finger needs a 44 px target (WCAG 2.5.5): the name field, Start, and each task of the queue */
@media (pointer:coarse){input,button{min-height:44px;box-sizing:border-box}
#start,#queue a,#switch-worker{display:inline-flex;align-items:center;min-height:44px;min-width:44px}li{margin:0}}
.notice{background:#fff4ce;border:1px solid #e0c060;padding:.5rem .8rem}</style>
</head><body><main>{% if notice %}<p class="notice" role="status">{{ notice }}</p>{% endif %}{{ body }}</main></body></html>"""

class WorkerSite:
    """What the HTTP application needs: the job, its template, leases and background consolidation."""

    def __init__(self, job: LocalJob, consolidate_in_background: bool = True,
                 review: Optional[ReviewSettings] = None, desk: Optional[ReviewDesk] = None) -> None:
        self.job = job
        template = job.spec.task.ui_template
        self.template = job.s3.get_object(Bucket=template.bucket, Key=template.key)["Body"].read().decode("utf-8")
        # An undefined variable is shown empty, as Ground Truth shows it, and said once per variable (``page``).
        self.undefined_reads: dict[str, str] = {}  # what the template read that a task input lacks -> first object
        self._rendering = threading.local()
        self.environment = make_environment(self.presign, on_undefined=self._undefined_read)
        self._parsed: Optional[tuple[str, Any]] = None  # (the template's text, parsed): parsed once, not per page
        self.media = MediaLinks()  # grant_read_access: signed links served by this server (``media_links``)
        self.origin = "http://127.0.0.1"  # where links point outside a request (the server sets its own address)
        self.team: Optional[TeamKeys] = None  # served to the network: the keys of its links (``team_access``)
        self.public: Optional[PublicAddress] = None  # behind a reverse proxy: the address a team opens (``public_url``)
        self.port = 0  # the port the server listens on (set once it does)
        self.watched_manifest: Optional[Path] = None  # a data folder's manifest whose added lines join the job as it runs
        # Kept in the job's folder: a page open across a restart keeps its task (``leases``).
        self.leases = LeaseTable(job.spec.workers_per_object, float(job.spec.task.time_limit_seconds), job.workers_of,
                                 path=job.folder / f"{job.job_name}-leases.json" if job.folder is not None else None)
        self.consolidator = Consolidator(job) if consolidate_in_background else None
        self._submitting = threading.Lock()  # check-then-record of one answer at a time
        # The task pages open for a worker on an object, by token: the last of them to go away unanswered gives
        # the task back (``leave``); while another is open (a reload, a second tab) the worker keeps it. Changed
        # with the lease, under one lock.
        self._open_pages: dict[tuple[str, str], set[str]] = {}
        self._page_heard: dict[str, float] = {}  # page token -> when the page last said it is open (monotonic)
        self._pages = threading.RLock()  # leave gives back while it holds it
        # Tasks held before a restart: their pages are unknown here, so each gets a stand-in page, heard of now. A
        # page open across the restart is adopted when it next says it is open (``alive``); a task whose page
        # went while the runner was down goes silent, and is given back like any other.
        now = time.monotonic()
        for object_id, holders in self.leases.every_holder().items():
            for worker in holders:
                stand_in = _restart_stand_in(worker, object_id)
                self._open_pages[(worker, object_id)] = {stand_in}
                self._page_heard[stand_in] = now
        self._rules: dict[str, FormRules] = {}
        self._text_lengths: dict[str, int] = {}
        self.questions = questions_of(job)
        self._asks_spans = any(isinstance(question, Spans) for question in self.questions)  # answers hold offsets
        self.order = WorkerOrder(job.job_name)
        # Expert review (the stack's settings unless the runner was told otherwise; ``desk``: the job's, attached
        # already); its final manifest follows every batch from here on.
        self.review = desk if desk is not None else ReviewDesk(
            job, self.questions, review if review is not None else job.spec.review).attach()
        # One person, one worker: how the job writes each person's name (the spelling of their first answer), so
        # "carol" signing in after "Carol" answered labels as Carol and never answers one object twice.
        first: dict[str, tuple[str, str]] = {}  # person -> (time, spelling) of their first answer: one pass, no sort
        for answers in job.answers().values():
            for answer in answers:
                person, when = worker_names.person(answer["workerId"]), answer.get("submissionTime", "")
                if person not in first or when < first[person][0]:
                    first[person] = (when, answer["workerId"])
        self._spellings = {person: spelling for person, (_time, spelling) in first.items()}
        self._spellings_lock = threading.Lock()
        job.on_answer.append(lambda _object_id, worker, _key: self._remember_spelling(worker))

    def _remember_spelling(self, worker: str) -> None:
        with self._spellings_lock:
            self._spellings.setdefault(worker_names.person(worker), worker)

    def spelling(self, worker: str) -> str:
        """How the job writes the person ``worker`` names: the spelling of their first answer, else as given."""
        with self._spellings_lock:
            return self._spellings.get(worker_names.person(worker), worker)

    def start(self) -> "WorkerSite":
        if self.consolidator:
            self.consolidator.start()
        return self

    def stop(self) -> None:
        if self.consolidator:
            self.consolidator.stop(timeout=60)
        self.job.flush_rewrites()  # the manifests show every label and decision so far

    def presign(self, uri: str) -> str:
        """``grant_read_access``: a signed link of this server to the object (``media_links``), for the URI read
        literally, on the address the page was asked for."""
        location = parse_s3_uri(uri, what="grant_read_access")
        origin = self.request_origin() if has_request_context() else self.origin
        return self.media.url(origin, location.bucket, location.key)

    def request_origin(self) -> str:
        """The origin the browser made this request to: the public address (https, through the proxy) when it came
        by its name, else this server's own address as the request named it."""
        if self.public is not None and request.host == self.public.host:
            return self.public.origin
        return f"http://{request.host}"

    # -- what a worker may do ------------------------------------------------------------------
    def _done(self, worker: str) -> int:
        """How many of the job's objects for workers this worker answered."""
        return len(self.job.answered_by(worker) & self.job.object_id_set())

    def _waiting(self, worker: str) -> int:
        """How many objects this worker holds or may lease now."""
        return self.leases.count_available(self.job.object_id_set(), worker, self.job.in_flight_object_ids(),
                                           self.job.full_object_ids())

    def _open_in_order(self, worker: str, ids: tuple[str, ...], held: list[str]) -> Iterator[str]:
        """``worker``'s order without the objects every worker they need has answered (unless she holds one)."""
        full = self.job.full_object_ids().difference(held)
        return (oid for oid in self.order.iterate(worker, ids) if oid not in full)

    def _candidates(self, worker: str) -> Iterator[str]:
        """The objects this worker holds or may lease now, the ones they hold first (a second tab, a reload of
        /next), then in their order; lazily, so the next task costs what reaching it costs, not the whole job."""
        ids = self.job.object_id_tuple()
        places = self.order.places(worker, ids)
        held = sorted((oid for oid in self.leases.held_by(worker) if oid in places), key=places.__getitem__)
        yield from held
        passed = set(held)
        for oid in self._open_in_order(worker, ids, held):
            if oid not in passed and self.leases.can_take(oid, worker):
                yield oid

    def held_by_others(self, worker: str) -> int:
        """Objects this worker could still answer that others hold now, with no slot left for them: each comes
        back when its holder skips it, leaves its page unanswered or lets the task's time limit run out."""
        full = self.job.full_object_ids()
        return sum(1 for object_id, holders in self.leases.every_holder().items()
                   if worker not in holders and object_id not in full and worker not in self.job.workers_of(object_id)
                   and not self.leases.can_take(object_id, worker))

    def next_for(self, worker: str) -> Optional[str]:
        """Lease the next object this worker may take (one they hold first); None when none is left."""
        self.give_back_silent()
        for object_id in self._candidates(worker):
            if self.leases.acquire(object_id, worker):
                return object_id
        return None

    def peek_next(self, worker: str, besides: str = "") -> Optional[str]:
        """The object this worker's next task would be (not leased yet: opening it leases it), other than
        ``besides``; None when none is left."""
        return next((oid for oid in self._candidates(worker) if oid != besides), None)

    def skip(self, worker: str, object_id: str) -> None:
        """Give the task back (its slot returns to the pool) and put it last in this worker's order."""
        self._give_back(worker, object_id)
        self.order.skip(worker, object_id)

    def open_task(self, worker: str, object_id: str) -> Optional[str]:
        """Take (or keep) the worker's lease on ``object_id`` for a task page about to be shown: the page's token,
        or None when no slot is free."""
        self.give_back_silent()
        with self._pages:
            if self.leases.acquire(object_id, worker) is None:
                return None
            token = secrets.token_urlsafe(16)
            self._open_pages.setdefault((worker, object_id), set()).add(token)
            self._page_heard[token] = time.monotonic()
            return token

    def alive(self, worker: str, object_id: str, token: str) -> str:
        """The task page ``token`` says it is still open. What the page is told: "open" (the task is the worker's;
        a page the server does not know, opened before a restart, is adopted while its worker holds the task),
        "answered" (in another tab or window), or "released" (given back: its time ran out, or the requester
        freed it; an answer is still taken while the slot is free)."""
        with self._pages:
            pages = self._open_pages.get((worker, object_id), set())
            if token not in pages:
                if worker in self.job.workers_of(object_id):
                    return "answered"
                if self.leases.held(object_id, worker) is None:
                    return "released"
                stand_in = _restart_stand_in(worker, object_id)
                self._page_heard.pop(stand_in, None)
                self._open_pages[(worker, object_id)] = (pages - {stand_in}) | {token}
            self._page_heard[token] = time.monotonic()
            return "open"

    def give_back_silent(self) -> list[tuple[str, str]]:
        """Give back each task whose pages all went silent (none said it is open for ``SILENT_SECONDS``: a browser
        that crashed or sleeps, a network gone); the (worker, object) pairs given back. A task held before a restart
        counts as heard of at the restart (``_restart_stand_in``)."""
        cutoff = time.monotonic() - worker_pages.SILENT_SECONDS
        given = []
        with self._pages:
            for (worker, object_id), pages in list(self._open_pages.items()):
                if pages and all(self._page_heard.get(token, 0.0) < cutoff for token in pages):
                    self._give_back(worker, object_id)
                    given.append((worker, object_id))
        for worker, object_id in given:
            LOG.info("gave back object %s: no page of worker %r on it was heard of for %d s", object_id, worker,
                     worker_pages.SILENT_SECONDS)
        return given

    def leave(self, worker: str, object_id: str, token: str) -> bool:
        """The task page ``token`` went away unanswered (its tab closed, the worker went to the queue). When it was
        the worker's last page open on the task, the slot returns to the pool at once, not when the time limit
        runs out (True). Nothing changes while another of their pages on it is open (a reload, a second tab), or
        once the task was answered or skipped, or for a token the server never gave this worker for this task.
        (A page whose going away was never heard of keeps the task until its time limit, as before.)"""
        with self._pages:
            pages = self._open_pages.get((worker, object_id))
            if pages == {_restart_stand_in(worker, object_id)}:
                token = next(iter(pages))  # the page opened before a restart leaves: it was the stand-in's
            if not pages or token not in pages:
                return False
            pages.discard(token)
            self._page_heard.pop(token, None)
            if pages:
                return False
            self._give_back(worker, object_id)  # under the same lock: no page can open in between
            return True

    def take_back(self, worker: str, object_id: str) -> bool:
        """The requester frees a task ``worker`` (the person, whatever the name's case) holds: their browser died, and
        it would keep it until its time limit; whether they held it. Their page, if it is still open, may still submit
        while the slot stays free."""
        holders = [held for held in self.leases.holders(object_id) if worker_names.same_person(held, worker)]
        for holder in holders:
            self._give_back(holder, object_id)
        return bool(holders)

    def _give_back(self, worker: str, object_id: str) -> None:
        """End the worker's lease on the object and forget their pages on it (skipped, answered or left)."""
        with self._pages:
            for token in self._open_pages.pop((worker, object_id), ()):
                self._page_heard.pop(token, None)
            self.leases.release(object_id, worker)

    def place(self, worker: str, object_id: str) -> worker_pages.Place:
        ids = self.job.object_id_tuple()
        return worker_pages.Place(position=self.order.position(worker, object_id, ids), total=len(ids),
                                  done=self._done(worker), waiting=self._waiting(worker),
                                  seconds_left=self.leases.seconds_left(object_id, worker))

    def tasks(self, worker: str, limit: Optional[int] = None) -> tuple[list[tuple[str, int]], int, int, int]:
        """(this worker's open tasks with their numbers, in their order, the first ``limit`` of them; answered by
        them; total objects; how many are open)."""
        ids = self.job.object_id_tuple()
        places = self.order.places(worker, ids)
        open_ids = self.leases.available(self._open_in_order(worker, ids, self.leases.held_by(worker)), worker, limit)
        return [(oid, places[oid]) for oid in open_ids], self._done(worker), len(ids), self._waiting(worker)

    def page(self, object_id: str) -> str:
        self._rendering.object_id = object_id
        parsed = self._parsed
        if parsed is None or parsed[0] is not self.template:
            parsed = self._parsed = (self.template, self.environment.from_string(self.template))
        return parsed[1].render(task={"input": self.job.task_input(object_id)})

    def _undefined_read(self, hint: str) -> None:
        object_id = getattr(self._rendering, "object_id", "?")
        if hint not in self.undefined_reads:
            self.undefined_reads[hint] = object_id
            LOG.warning("object %s (said once; others may be alike): the worker template reads what its task input "
                        "lacks (%s); shown empty, as Ground Truth shows it. If the page needs it, pre-labeling should "
                        "send it", object_id, hint)

    def rules(self, object_id: str) -> FormRules:
        if object_id not in self._rules:
            self._rules[object_id] = rules_of(self.page(object_id))
        return self._rules[object_id]

    def text_length(self, object_id: str) -> int:
        """Code points of the text the object's task showed, as consolidation reads it (the task record pre-labeling
        wrote, ``gt_common.shown_text``): span answers must end within it. ``MAX_TEXT_BYTES`` without a record."""
        if object_id not in self._text_lengths:
            record = read_record(self.job.s3, data_object_of(self.job.lines[int(object_id)]), self.job.job_name,
                                 self.job.spec.consolidation.environment)
            length = text_length_of(record)
            self._text_lengths[object_id] = MAX_TEXT_BYTES if length is None else length
        return self._text_lengths[object_id]

    def render_task(self, worker: str, object_id: str, notice: str = "", page_token: str = "") -> str:
        """The task page; ``page_token`` (from ``open_task``) is what the page sends back when it is left."""
        page = self.page(object_id)
        self._rules[object_id] = rules_of(page)
        return worker_pages.task_page(
            page.replace(CROWD_ELEMENTS_URL, "/static/crowd-html-elements.js"), job_title=self.job.spec.task.title,
            job_name=self.job.job_name, worker=worker, object_id=object_id, place=self.place(worker, object_id),
            notice=notice, page_token=page_token)

    def submit(self, worker: str, object_id: str, answer: dict[str, Any]) -> bool:
        """Record ``answer``; False when this worker's answer to this object was already recorded.

        Raises ``Refused`` (with the reason a worker can act on) when it cannot be accepted.
        """
        if not self.job.is_for_workers(object_id):
            raise Refused(404, f"object {object_id} is not one of this job's tasks")
        problems = self.rules(object_id).problems(answer)
        if self.questions:  # read as consolidation will read it: a required question must be usable
            form = read_form(self.questions, WorkerAnswer(worker, answer),
                             self.text_length(object_id) if self._asks_spans else MAX_TEXT_BYTES)

            def said_of(name: str) -> list[str]:
                return [problem for problem in form.problems if problem.startswith(f"{name} ")]

            # "answer X" for a required question left unanswered (or unusable with nothing said of why); what is
            # wrong with an answer that is there but unusable (a label that is no category) is said as it is.
            unanswered = [q.name for q in self.questions if q.required and q.name not in form.values
                          and (q.name in form.unanswered or not said_of(q.name))]
            if unanswered:
                problems.append("answer " + ", ".join(unanswered))
            # ... and once per question: the page's rules may have said it ("notes must be text")
            page_said = [q.name for q in self.questions if any(p.startswith(f"{q.name} ") for p in problems)]
            problems += [problem for problem in form.problems
                         if not any(problem.startswith(f"{name} ") for name in unanswered + page_said)]
        with self._submitting:
            # The person's spelling again, now that no other answer can be recorded: "lee" and "Lee" submitting at
            # once, before either had answered, each looked it up as their own and gave one object two answers.
            holder, worker = worker, self.spelling(worker)
            recorded = next((self.job.answer_of(object_id, name) for name in self.job.workers_of(object_id)
                             if worker_names.same_person(name, worker)), None)
            if recorded == answer:
                return False  # a retry of an answer that was recorded: nothing to do twice
            if recorded is not None:
                raise Refused(409, f"You already answered object {object_id}, and an answer cannot be changed once "
                                   "it is saved: your first answer is kept.")
            if problems:
                raise Refused(422, "This answer cannot be saved yet: " + "; ".join(problems) + ".")
            if not self.leases.may_submit(object_id, holder):
                if len(self.job.workers_of(object_id)) >= self.job.spec.workers_per_object:
                    raise Refused(409, f"Object {object_id} already has all the answers it needs; yours was not "
                                       "recorded. Take the next task from your queue.")
                raise Refused(409, f"Object {object_id} is being labeled by other workers (its page was left or went "
                                   "silent, your time on it ran out, the requester gave it back, or you never opened "
                                   "it); yours was not recorded. Take the next "
                                   "task from your queue.")
            lease = self.leases.held(object_id, holder)  # the page was opened, and its lease taken, as ``holder``
            started = lease.acquired if lease else time.monotonic()
            try:
                self.job.record_answer(object_id, worker, answer, seconds=time.monotonic() - started)
            except (BotoCoreError, ClientError) as error:  # the store refused it or is gone: nothing was recorded
                logged, said = store_failure(error)
                LOG.error("the answer of %r to object %s could not be saved: %s", worker, object_id, logged)
                raise Refused(503, f"Your answer could not be saved ({said}); nothing was recorded. Submit "
                                   "again; if it keeps failing, tell whoever runs the job.") from None
            self._give_back(holder, object_id)
        if self.consolidator:
            self.consolidator.notify()
        return True


def questions_of(job: LocalJob) -> tuple:
    """The workflow's questions, from its consolidation function's configuration (``WORKFLOW_QUESTIONS``);
    empty for a consolidation function configured otherwise."""
    text = job.spec.consolidation.environment.get(QUESTIONS_ENV)
    if not text:
        return ()
    try:
        return questions_from_json(text)
    except QuestionError as error:
        LOG.warning("%s of the consolidation function is unusable (%s); answers are checked against the page only",
                    QUESTIONS_ENV, error)
        return ()


def _restart_stand_in(worker: str, object_id: str) -> str:
    """The token that stands for a page opened before a restart (the page's own token was never seen here)."""
    return f"held before a restart: {worker} {object_id}"


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def parse_answer(body: bytes) -> dict[str, Any]:
    """The submitted answer: one JSON object, strict JSON (the consolidation functions' own rules:
    no NaN/Infinity, no out-of-range numbers), at most ``MAX_ANSWER_DEPTH`` levels deep."""
    try:
        answer = strict_json.loads(body, max_depth=MAX_ANSWER_DEPTH, unique_keys=True)
    except strict_json.JSONError as error:
        raise Refused(400, f"The answer {error}.") from None
    if not isinstance(answer, dict):
        raise Refused(400, "The answer is not a JSON object.")
    return answer


def make_app(site: WorkerSite, allowed_hosts: set[str]) -> Flask:
    """The Flask application; ``allowed_hosts`` are the ``host:port`` names it answers to."""
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_ANSWER_BYTES
    app.wsgi_app = _worker_paths_as_sent(app.wsgi_app)
    task_title = site.job.spec.task.title

    def page(title: str, body: str, status: int = 200, notice: str = "") -> Response:
        return Response(render_template_string(_PAGE, title=title, body=Markup(body), notice=notice), status,
                        mimetype="text/html", headers=PAGE_HEADERS)

    def refusal(status: int, reason: str, worker: Optional[str]) -> Response:
        back = worker_pages.worker_base(worker) if worker else "/"
        return Response(json.dumps({"error": reason, "back": back}), status, mimetype="application/json",
                        headers={"Cache-Control": "no-store"})

    def worker_of(segment: str) -> str:
        """The worker a path segment names, as the job writes that person (``BadName`` when it names none)."""
        return site.spelling(worker_names.kept_name_in_path(segment))

    def to_sign_in(segment: str) -> Response:
        """A worker address whose name is not one: the sign-in page says why (or signs the name in as kept)."""
        return redirect("/?worker=" + quote(worker_names.typed_in_path(segment), safe=""), 303)

    def with_notice(url: str, notice: str) -> str:
        """``url`` with one of ``NOTICES`` (by its key) for its page to say."""
        if notice and notice not in NOTICES:
            raise KeyError(f"no notice {notice!r}")
        return f"{url}?notice={notice}" if notice else url

    def notice_asked() -> str:
        """The key of the notice the address asks its page to say ("" for none or one that is not a notice)."""
        asked = request.args.get("notice", "")
        return asked if asked in NOTICES else ""

    def next_url(worker: str, besides: str = "", done_notice: str = "") -> str:
        """The worker's next task (opening it leases it), else their queue with ``done_notice`` (a key of ``NOTICES``);
        without one, /next,
        which says why there is none (nothing left, or the tasks left are held by others or still being prepared)."""
        object_id = site.peek_next(worker, besides)
        base = worker_pages.worker_base(worker)
        if object_id is not None:
            return f"{base}/task/{object_id}"
        return with_notice(base, done_notice) if done_notice else f"{base}/next"

    def html(text: str) -> Response:
        return Response(text, mimetype="text/html", headers=PAGE_HEADERS)

    def sent_from_elsewhere() -> bool:
        """Whether the browser says another site made this request (a link, an image or a frame of another page;
        another port of this host is another origin too). A request that takes or gives back a task is a worker's
        own only when it comes from this server's pages, an address typed or a bookmark ("none"), or a browser
        that does not say."""
        return request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none")

    @app.before_request
    def addressed_to_us():
        if request.host not in allowed_hosts:  # another name pointing here (DNS rebinding) is not us
            return Response("This server answers only to " + ", ".join(sorted(allowed_hosts)), 421,
                            mimetype="text/plain")
        return None if site.team is None else team_member(site.team)

    def foreign(req) -> Optional[tuple[int, str]]:
        return _foreign(req, site.request_origin())

    def own_port() -> str:
        """The port the server listens on (its key cookies are named with it; a public address may name none)."""
        return str(site.port) if site.port else request.host.rsplit(":", 1)[-1]

    def team_member(team: TeamKeys) -> Optional[Response]:
        """Served to the network: a key link sets its cookie; a request without the key of its part is refused."""
        port = own_port()
        given = request.args.get(KEY_PARAMETER)
        if given is not None:
            role = team.role_with(given)
            if role is None:
                return page("Not this job's link", "<p>This link's key is not one of this job's: the link is another "
                                                   "job's, or a worker's who is no longer on its team (served without "
                                                   "their name), or the job's keys were made anew. Ask whoever runs "
                                                   "the job for the link again.</p>", 403)
            current, theirs = team.signed_in_as(request.cookies, port), team.worker_with(given)
            kept = [(name, value) for name, value in request.args.items(multi=True) if name != "switch"]
            current_key = request.cookies.get(cookie_name(WORKER, port), "")
            if current is not None and theirs is not None and current != theirs and not is_switch_proof(
                    request.args.get("switch", ""), current_key, given):
                # Another named worker's link in a browser signed in as someone: asked, never switched silently (the
                # answers that browser then sends would be counted as that other worker's), nor by a link made for it
                # (team_access.switch_proof).
                switch = without_key(request.path, []) + "?" + urlencode(
                    {KEY_PARAMETER: given, "switch": switch_proof(current_key, given)})
                return page("Signed in as another worker", (
                    f"<p>This browser is signed in as <strong>{escape(current)}</strong>. The link you opened is "
                    f"<strong>{escape(theirs)}</strong>'s own: every answer sent from this browser would then count "
                    f"as {escape(theirs)}'s.</p><p><a href=\"{escape(worker_pages.worker_base(current))}\">Stay "
                    f"{escape(current)}</a> · <a id=\"switch\" href=\"{escape(switch)}\">I am {escape(theirs)}: "
                    f"sign in as {escape(theirs)}</a></p>"), 409)
            response = redirect(without_key(request.path, kept), 303)
            # Kept across browser restarts (a bookmarked queue opened the next day gave 403): the link is kept too.
            response.set_cookie(cookie_name(role, port), given, max_age=KEY_COOKIE_SECONDS, httponly=True,
                                samesite="Lax", path="/", secure=site.request_origin().startswith("https://"))
            return response
        needed = role_of(request.path, REVIEW_PREFIX, REQUESTER_PREFIX)
        if team.allowed(needed, request.cookies, port):
            return None if needed != WORKER else own_pages_only(team, port)
        link = "your own link" if needed == WORKER and team.workers else LINK_NAMES.get(needed, "any of its links")
        return forbidden("Ask for the link", "This labeling server is open to its team only: open the link whoever "
                         f"runs the job gave you ({link}) in this browser.")

    def forbidden(title: str, reason: str, worker: Optional[str] = None) -> Response:
        """403 with the reason: as JSON to a page's request, as a page to a browser's navigation."""
        if request.method not in ("GET", "HEAD"):
            return refusal(403, reason, worker)
        return page(title, f"<p>{escape(reason)}</p>", 403)

    def own_pages_only(team: TeamKeys, port: str) -> Optional[Response]:
        """A named worker's browser opens that worker's pages only; the requester's opens any of the team's (a name
        not on a named team labels nowhere: its answers would count as a worker's)."""
        name = team.signed_in_as(request.cookies, port)
        if name is not None and request.path == "/":
            return redirect(worker_pages.worker_base(name), 303)
        segments = request.path.split("/")
        if not (len(segments) > 2 and segments[1] == "worker") or (name is None and not team.workers):
            return None  # not a worker's page, or a team whose workers name themselves
        try:
            asked: Optional[str] = worker_of(segments[2])
        except worker_names.BadName:
            asked = None  # the page itself says what is wrong with the name (to a named worker: not theirs)
        if name is not None:  # a named worker's own link
            if asked is None or not worker_names.same_person(asked, name):
                return forbidden("Signed in as another worker", f"This browser is signed in as {name}: its link opens "
                                 f"{name}'s tasks only. Another worker labels from their own link.", name)
        elif asked is not None and not any(worker_names.same_person(asked, member) for member in team.workers):
            return forbidden("Not on this job's team", f"{asked} is not on this job's team "
                             f"({', '.join(team.workers)}): a named team's workers label from their own links, "
                             "and only they do.", asked)
        return None

    @app.get(f"{MEDIA_PREFIX}<token>")
    def media(token: str):
        """A file a page shows, by one of this run's signed links (``media_links``), streamed from the job's store."""
        try:
            bucket, key, left = site.media.open(token)
        except MediaRefused as error:
            return Response(f"{error}.", 403, mimetype="text/plain", headers={"Cache-Control": "no-store"})
        try:
            found = site.job.s3.get_object(Bucket=bucket, Key=key)
        except (BotoCoreError, ClientError) as error:
            LOG.info("media %s/%s not served: %s", bucket, key, error)
            return Response("No such file.", 404, mimetype="text/plain", headers={"Cache-Control": "no-store"})
        headers = {"Cache-Control": f"private, max-age={int(left)}", "X-Content-Type-Options": "nosniff",
                   "Content-Security-Policy": "sandbox", "Content-Length": str(found["ContentLength"])}
        stored = found.get("ContentType") or ""
        if stored in GENERIC_TYPES:  # uploaded without a type: named by its ending, as a browser would guess it
            stored = mimetypes.guess_type(key)[0] or "application/octet-stream"
        return Response(s3_chunks(found["Body"]), content_type=stored, headers=headers)

    @app.get("/static/crowd-html-elements.js")
    def crowd_elements():
        return Response(STAND_IN.read_bytes(), mimetype="text/javascript", headers={"Cache-Control": "no-store"})

    @app.get("/")
    def sign_in():
        typed = request.args.get("worker")
        if typed is None:
            return page("Sign in", worker_pages.sign_in(task_title))
        try:
            worker = site.spelling(worker_names.canonical(typed))
        except worker_names.BadName as error:
            return page("Choose another name", worker_pages.sign_in(task_title, typed[:500], str(error)), 400)
        return redirect(worker_pages.worker_base(worker), 303)

    @app.get("/worker/<name>")
    def queue(name: str):
        try:
            worker = worker_of(name)
        except worker_names.BadName:
            return to_sign_in(name)
        tasks, done, total, waiting = site.tasks(worker, limit=worker_pages.QUEUE_LISTED)
        own_link = site.team is not None and site.team.signed_in_as(request.cookies, own_port())
        body = worker_pages.queue(worker, tasks, done, total, waiting=waiting,
                                  held_by_others=0 if tasks else site.held_by_others(worker),
                                  preparing=not site.job.pre_labeling_finished(), switch=not own_link,
                                  more_may_come=site.watched_manifest is not None)
        notice = notice_asked()
        if tasks and notice in QUEUE_STATE_NOTICES:  # said when the queue was empty; tasks have come since
            notice = ""
        return page("Your tasks", body, notice=NOTICES.get(notice, ""))

    @app.get("/worker/<name>/next")
    def next_task(name: str):
        try:
            worker = worker_of(name)
        except worker_names.BadName:
            return to_sign_in(name)
        base = worker_pages.worker_base(worker)
        if sent_from_elsewhere():  # another site's page would take tasks by the dozen (an image each): the queue
            return redirect(base, 303)
        # A HEAD is a probe, not a worker taking a task: it leases nothing.
        object_id = site.peek_next(worker) if request.method == "HEAD" else site.next_for(worker)
        notice = notice_asked()
        if object_id is None:
            if not site.job.pre_labeling_finished():
                return redirect(with_notice(base, notice or "preparing"), 303)
            if site.held_by_others(worker):
                return redirect(with_notice(base, notice or "held"), 303)
            return redirect(with_notice(base, notice or "done"), 303)
        return redirect(with_notice(f"{base}/task/{object_id}", notice), 303)

    @app.get("/worker/<name>/task/<object_id>")
    def task(name: str, object_id: str):
        try:
            worker = worker_of(name)
        except worker_names.BadName:
            return to_sign_in(name)
        object_id = unquote(object_id)
        if not site.job.is_for_workers(object_id):
            return page("Not found", "<p>There is no such task in this job.</p>", 404)
        base = worker_pages.worker_base(worker)
        if worker in site.job.workers_of(object_id):
            return redirect(with_notice(base, "answered"), 303)
        if request.method == "HEAD":  # a probe, not a worker opening the task: it holds nothing
            return Response(status=200, mimetype="text/html", headers={"Cache-Control": "no-store"})
        if sent_from_elsewhere():  # opening a task holds it: only the worker's own navigation does
            return redirect(base, 303)
        token = site.open_task(worker, object_id)
        if token is None:
            return redirect(with_notice(f"{base}/next", "taken"), 303)
        try:
            return html(site.render_task(worker, object_id, NOTICES.get(notice_asked(), ""), page_token=token))
        except LiquidError as error:  # this object's page only: the worker goes on with the others
            site.skip(worker, object_id)
            said = str(error).splitlines()[0][:300]
            LOG.error("object %s: the worker template could not be drawn for it (%s); given back and put last in "
                      "%s's queue", object_id, said, worker)
            return page("This task could not be shown", (
                f"<p>The page of task {escape(object_id)} could not be drawn (the template, on this task's data): "
                f"<code>{escape(said)}</code>. Nothing was recorded; the task was put last "
                f"in your queue, and the runner's log names it for the requester.</p>"
                f'<p><a href="{escape(next_url(worker, besides=object_id))}">Your next task</a></p>'), 500)

    def from_task_page(name: str, object_id: str, act: Callable[[str, str, str], Any]) -> Response:
        """A task page's own request (leave, alive): ``act(worker, object_id, page token)``, then 204, or 200 with
        ``{"state": <what act returned>}`` when it returns words for the page; a refusal when it is not such a
        request."""
        try:
            worker = worker_of(name)
        except worker_names.BadName as error:
            return refusal(404, f"Unknown worker: {error}", None)
        if (refused := foreign(request)) is not None:
            return refusal(*refused, worker)
        try:
            body = strict_json.loads(request.get_data(), max_depth=2, unique_keys=True)
        except strict_json.JSONError as error:
            return refusal(400, f"The request {error}.", worker)
        token = body.get("page") if isinstance(body, dict) else None
        if not isinstance(token, str):
            return refusal(400, 'Send {"page": <the page token>}.', worker)
        said = act(worker, unquote(object_id), token)
        if isinstance(said, str):
            return Response(json.dumps({"state": said}), mimetype="application/json", headers={"Cache-Control": "no-store"})
        return Response(status=204, headers={"Cache-Control": "no-store"})

    @app.post("/worker/<name>/task/<object_id>/leave")
    def leave(name: str, object_id: str):
        """Sent by a task page as it goes away unanswered (closed, reloaded, left for the queue)."""
        return from_task_page(name, object_id, site.leave)

    @app.post("/worker/<name>/task/<object_id>/alive")
    def alive(name: str, object_id: str):
        """Sent by an open task page now and then (``worker_pages.ALIVE_SECONDS``): it is still open."""
        return from_task_page(name, object_id, site.alive)

    @app.get("/worker/<name>/task/<object_id>/skip")
    def skip(name: str, object_id: str):
        """Skip task: give it back, put it last in this worker's queue, open their next one. A navigation rather
        than a request from the page, so a template's own "leave with unsaved work?" prompt comes first and the
        task is given back only if the worker does leave. It changes nothing but this worker's own lease and order
        (as /next takes a lease); a HEAD changes nothing."""
        try:
            worker = worker_of(name)
        except worker_names.BadName:
            return to_sign_in(name)
        object_id = unquote(object_id)
        if not site.job.is_for_workers(object_id):
            return page("Not found", "<p>There is no such task in this job.</p>", 404)
        base = worker_pages.worker_base(worker)
        if request.method == "HEAD" or sent_from_elsewhere():
            return redirect(base, 303)
        site.skip(worker, object_id)
        return redirect(next_url(worker, besides=object_id, done_notice="skipped"), 303)

    @app.post("/worker/<name>/task/<object_id>/submit")
    def submit(name: str, object_id: str):
        try:
            worker = worker_of(name)
        except worker_names.BadName as error:
            return refusal(404, f"Unknown worker: {error}", None)
        if (refused := foreign(request)) is not None:
            return refusal(*refused, worker)
        object_id = unquote(object_id)
        try:
            recorded = site.submit(worker, object_id, parse_answer(request.get_data(cache=False)))
        except Refused as error:
            LOG.info("refused an answer of %r to object %s: %s", worker, object_id, error.reason)
            return refusal(error.status, error.reason, worker)
        # a recorded answer is printed once, by the job's answer listener (local_ground_truth.requester)
        return Response(json.dumps({"next": next_url(worker), "recorded": recorded}),
                        mimetype="application/json", headers={"Cache-Control": "no-store"})

    register_requester(app, site, foreign)  # the requester's view: /requester
    register_reviewer(app, site, site.review, foreign, own_port)  # the experts' view: /review

    @app.errorhandler(413)
    def too_large(_error):
        return refusal(413, f"The answer is larger than {MAX_ANSWER_BYTES:,} bytes.", None)

    @app.get("/favicon.ico")
    def favicon():
        return Response(status=204)  # no icon: browsers ask for one on every page (a 404 logs a console error)

    @app.errorhandler(404)
    def not_found(_error):
        return page("Not found", "<p>Not found.</p>", 404)

    return app


#: Every worker page: never kept by a cache, and framed by none but this server's own pages (another site could
#: otherwise lay its own buttons over Submit or Skip).
PAGE_HEADERS = {"Cache-Control": "no-store", "Content-Security-Policy": "frame-ancestors 'self'",
                "X-Frame-Options": "SAMEORIGIN"}

def _worker_paths_as_sent(wsgi_app):
    """Route ``/worker/...`` and ``/review/...`` on the path as the browser sent it, still percent-encoded.

    A worker's name may hold "/" (sent as %2F); the server decodes the path before routing, which
    would split such a name in two. The views decode each segment themselves (``worker_names``); a
    reviewer's name travels the same way.
    """
    named = ("/worker/", REVIEW_PREFIX + "/")

    def app(environ, start_response):
        raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
        if raw and environ.get("PATH_INFO", "").startswith(named):
            path = urlsplit(raw).path
            if path.startswith(named):
                environ["PATH_INFO"] = path
        return wsgi_app(environ, start_response)

    return app


def _foreign(req, own_origin: str) -> Optional[tuple[int, str]]:
    """Why a POST is not the worker page's own JSON request (another site's form, a script...); ``own_origin``: the
    origin the browser made it to (``WorkerSite.request_origin``)."""
    origin = req.headers.get("Origin")
    if origin is not None and origin != own_origin:
        return 403, "This is accepted only from this server's own pages."
    if req.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return 403, "This is accepted only from this server's own pages."
    if req.mimetype != "application/json":  # a cross-site form cannot send JSON without asking first
        return 415, "This must be sent as application/json."
    return None


def _in_url(host: str) -> str:
    """A host as an address writes it (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host else host


class WorkerServer:
    """The site under waitress (on 127.0.0.1 unless told otherwise), in a thread of its own (``start`` / ``stop``)."""

    def __init__(self, site: WorkerSite, port: int = 8080, host: str = "127.0.0.1",
                 body_timeout: float = BODY_TIMEOUT_SECONDS, team: Optional[TeamKeys] = None,
                 request_seconds: float = slow_clients.REQUEST_SECONDS,
                 per_address: Optional[int] = None, public: Optional[PublicAddress] = None) -> None:
        """``host``: the address to serve on (127.0.0.1: this machine only); ``team``: the keys a browser must
        hold (``team_access``), for a server other machines reach; ``request_seconds`` and ``per_address``: how long a
        request may take to arrive and how many connections one address may hold (default: half of them;
        ``slow_clients``); ``public``: the address of a reverse proxy in front of it (``public_url``), through which
        every connection comes from one address (the proxy's), so ``per_address`` is then not applied."""
        from waitress.server import create_server

        self.site, self.host = site, host
        site.team, site.public = team, public
        # The application is created before the socket is bound, the allowed hosts after: one set shared.
        self._hosts: set[str] = set()
        self.server = create_server(
            make_app(site, self._hosts), host=host, port=port, threads=SERVER_THREADS, backlog=LISTEN_BACKLOG,
            channel_timeout=body_timeout, cleanup_interval=max(1, int(body_timeout / 2)),
            max_request_body_size=MAX_ANSWER_BYTES,
            connection_limit=CONNECTION_LIMIT, ident="local-ground-truth", clear_untrusted_proxy_headers=True)
        slow_clients.guard(self.server, request_seconds, CONNECTION_LIMIT if public is not None else per_address)
        self.port = site.port = self.server.effective_port
        self._hosts.update({f"127.0.0.1:{self.port}", f"localhost:{self.port}", f"{_in_url(host)}:{self.port}"})
        if public is not None:
            self._hosts.add(public.host)
        site.origin = self.url
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        """What workers open: the public address behind a proxy, else the server's own."""
        return self.site.public.origin if self.site.public is not None else self.own_url

    @property
    def own_url(self) -> str:
        """Where the server itself listens (what a reverse proxy forwards to)."""
        return f"http://{_in_url(self.host)}:{self.port}"

    def _loop(self) -> None:
        """waitress's event loop, one poll at a time so that ``stop`` can end it; the sockets are closed
        in this same thread (closing them from another would pull them from under the poll)."""
        try:
            while not self._stopping.is_set():
                self.server.asyncore.loop(timeout=0.2, map=self.server._map, use_poll=self.server.adj.asyncore_use_poll,
                                          count=1)
        finally:
            self._answer_requests_under_way()
            for channel in list(self.server._map.values()):  # the listening socket, connections, the trigger
                channel.close()
            self.server.task_dispatcher.shutdown(timeout=5)

    def _answer_requests_under_way(self, seconds: float = STOP_SECONDS) -> None:
        """At a stop, take no new connection and keep the loop turning until the requests under way have answered
        (at most ``seconds``): closing every channel under one made its thread write to a closed descriptor, a
        traceback in the log and an answer the worker never heard of (it was recorded, and read back on resume)."""
        from waitress import wasyncore

        wasyncore.dispatcher.close(self.server)  # the listening socket only (the server's own close ends the trigger,
        # which a request's thread pulls to have its answer sent)
        dispatcher, deadline = self.server.task_dispatcher, time.monotonic() + seconds
        while time.monotonic() < deadline:
            with dispatcher.lock:
                busy = dispatcher.active_count > 0 or bool(dispatcher.queue)
            if not busy and not any(getattr(channel, "total_outbufs_len", 0) for channel in
                                    list(self.server._map.values())):
                return
            self.server.asyncore.loop(timeout=0.05, map=self.server._map,
                                      use_poll=self.server.adj.asyncore_use_poll, count=1)

    def start(self) -> "WorkerServer":
        self.site.start()
        self._thread = threading.Thread(target=self._loop, name="worker-ui", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C (or SIGTERM, which the runner turns into the same)."""
        self.site.start()
        try:
            self._loop()
        except KeyboardInterrupt:
            pass

    def stop(self) -> None:
        self._stopping.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.site.stop()
