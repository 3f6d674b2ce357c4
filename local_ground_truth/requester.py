"""The requester's view of a local job: a page of its progress and quality, and a line per batch.

**The page** (``register_requester(app, site)``: ``/requester`` on the worker server, linked from the
sign-in page) shows, refreshed every few seconds while the job runs (the page fetches its live part
again; nothing else reloads):

- the job's state: objects consolidated of those for workers, answers of those needed, leases held,
  skipped and failed objects, and "Job complete" once every object is consolidated (or failed);
- where everything is: the output manifest, the answers, each quality report (the JSON and PNG the page
  shows, the PNG and JSON saved in the job's folder), the job's folder;
- each quality report drawn as its PNG (``quality_plots``), redrawn when the consolidation function
  rewrites it (after each batch) or an expert decides: with experts' decisions, workers are compared
  with the final labels (``quality.final_report``), and the page says how many objects experts decided;
- per worker: answers, leases held, the last answer's time; per object (100 a page, filtered by
  state): its source (a file in the job's store linked through this run's signed links, ``media_links``, so a label
  can be checked against the image or file it labels), answers of those needed with a link to each, who holds it,
  its state (waiting,
  in progress, ready, consolidated with its label, skipped, failed with the reason);
- with expert review on (``reviewer``): how many objects await review, a link to the review page and
  the final manifest, and per object "awaiting review" or who decided it.

Files are served read-only from the job's own folder in its bucket (``/requester/files/<key under
the job's folder>``): no key outside it (no ``.``/``..``/empty segment, no control character), JSON
as ``application/json``, manifests as plain text, anything else as a download; every answer is
``nosniff`` and sandboxed, so a worker's text can never run as a page. The page itself is escaped
by Jinja and allows only its own script, style and images (Content-Security-Policy).

**The terminal** (``RequesterLog``, attached by the runner): after each consolidation batch a line
(how many objects it labeled or failed, how far the job is), the quality reports saved beside the
job's folder (``<job>-quality-<question>.png`` / ``.json``, redrawn only when rewritten), and once
the last object is consolidated, one ``job complete: ...`` line with where the output manifest,
reports and answers are.
"""
from __future__ import annotations

import io
import json
import logging
import shlex
import threading
import unicodedata
from pathlib import Path
from typing import AbstractSet, Any, Callable, Iterator, Optional
from urllib.parse import quote

from botocore.exceptions import EndpointConnectionError
from flask import Flask, Response, render_template_string, request
from markupsafe import Markup

from gt_common import strict_json
from gt_common.s3uri import InputError, is_s3_uri
from labeling_constructs.data_prefix import MAX_KEY_BYTES

from local_ground_truth import answers_csv, labels_csv
from local_ground_truth.job import BatchOutcome, LocalJob, source_of
from local_ground_truth.quality import (QualityReportFiles, convergence, final_report, headline, read_report,
                                       report_versions, review_version)
from local_ground_truth.quality_plots import compared_with_experts, quality_report_png, worker_flags
from local_ground_truth.reviewer import PREFIX as REVIEW_PREFIX
from local_ground_truth.spaced_rewrite import SpacedRewrite
from local_ground_truth.team_access import EXPERT, WORKER
from local_ground_truth.wording import counted, printable, shown_confidence

LOG = logging.getLogger(__name__)
PREFIX = "/requester"
PAGE_SIZE = 100  # objects per page of the table
MAX_FIND_CHARS = 200  # what the page's search box takes: a file name or part of one, or an object id
POLL_SECONDS = 2
FILE_TYPES = {".json": "application/json", ".manifest": "text/plain; charset=utf-8",
              ".jsonl": "text/plain; charset=utf-8", ".txt": "text/plain; charset=utf-8"}
FILTERS = {  # ?show=... -> the object states it lists
    "all": None,
    "open": {"waiting", "in progress", "ready"},
    "done": {"consolidated"},
    "problems": {"failed", "pre-labeling failed"},
    "skipped": {"skipped"},
}
HEADLINE_NAMES = {"krippendorff_alpha": "Krippendorff's alpha", "fleiss_kappa": "Fleiss' kappa",
                  "precision": "precision vs result", "recall": "recall vs result", "f1": "F1 vs result",
                  "inter_worker_f1": "pairwise F1 between workers"}
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
FILE_POLICY = "default-src 'none'; sandbox"
LABELS_PATH = f"{PREFIX}/labels.csv"  # the labels as CSV (``labels_csv``)
ANSWERS_PATH = f"{PREFIX}/answers.csv"  # every worker's answers as CSV (``answers_csv``)


def report_prefix(job: LocalJob) -> str:
    """How the runner names a job's saved reports in its folder (``<prefix>quality-<question>.png``)."""
    return f"{job.job_name}-"


# -- where everything is ---------------------------------------------------------------------------

def _where(job: LocalJob, key: str) -> str:
    """A key of the job's bucket as the file the runner's endpoint keeps it in, or as its S3 URI."""
    path = job.local_path(key.rstrip("/"))
    return str(path) if path is not None else job.uri(key)


def locations(job: LocalJob) -> dict[str, Any]:
    """The output manifest, the answers, the job's folder and each saved quality report (those on disk)."""
    found: dict[str, Any] = {"output manifest": _where(job, job.output_manifest_key),
                             "answers": _where(job, job.answers_prefix),
                             "job folder": str(job.folder) if job.folder is not None else job.uri(job.root),
                             "quality reports": {}}
    if job.folder is not None:
        files = QualityReportFiles(job, job.folder, report_prefix(job))
        for question in sorted(report_versions(job)):
            png, data = files.paths(question)
            if png.is_file():
                found["quality reports"][question] = {"png": str(png), "json": str(data)}
    return found


class RequesterLog:
    """Keeps the requester told in the terminal as the job goes (see the module docstring)."""

    def __init__(self, job: LocalJob, say: Callable[[str], None]) -> None:
        self.job, self.say = job, say
        folder = job.folder if job.folder is not None else Path(".")
        self.files = QualityReportFiles(job, folder, report_prefix(job))
        # Each report's image takes ~0.5 s to draw: after a batch it is drawn spaced by that cost (``spaced_rewrite``),
        # and always when the job completes or the runner stops (the requester's page draws its own from the report).
        self.images = SpacedRewrite(self.files.draw_pending, "quality report images")
        self.complete_message: Optional[str] = None  # where everything is, once the job is complete
        self._review = None
        self._lock = threading.Lock()
        # An answer line is counted and said under one lock: counted by one thread and said after another's, lines of
        # answers recorded at once came out of order ("45 of 54" before "44 of 54").
        self._answer_lines = threading.Lock()

    @property
    def review(self):
        """The job's ReviewDesk, when expert review is on: the complete message tells of it, and the saved reports
        compare workers with the final labels (saved again after each decision)."""
        return self._review

    @review.setter
    def review(self, desk) -> None:
        self._review = self.files.review = desk
        if desk is not None:
            desk.on_decided.append(lambda: self.save_reports(draw=False))

    def attach(self) -> "RequesterLog":
        self.job.on_answer.append(self.after_answer)
        self.job.on_consolidated.append(self.after_batch)
        self.job.rewrites.append(self.images)
        return self

    def after_answer(self, object_id: str, worker: str, _key: str) -> None:
        needed = self.job.spec.workers_per_object
        with self._answer_lines:
            progress = self.job.progress()
            count, answers = len(self.job.workers_of(object_id)), progress["answers"]
            asked = progress["objects"] * needed
            # A job the runner starts never gets more than it asks for (its settings are checked on every run), but
            # one whose answers were written by other means may hold more: said as such, not as "3 of 2".
            on_object = f"{count} of {needed}" if count <= needed else f"{count}; the job asks for {needed}"
            in_job = f"{answers} of {asked} answers" if answers <= asked else f"{answers} answers ({asked} asked for)"
            self.say(f"answer: worker {shown_name(worker)} on object {object_id} ({on_object}); {in_job} in the job")

    def save_reports(self, draw: bool = True) -> dict[str, dict[str, Any]]:
        """The quality reports saved in the job's folder (only those rewritten are saved again; ``draw``: their
        images now, else spaced)."""
        try:
            saved = self.files.update(draw=draw)
        except (EndpointConnectionError, OSError) as error:  # the endpoint gone, a full disk: said, no traceback
            LOG.error("the quality reports could not be saved in %s: %s", self.files.folder, error)
            return {}
        except Exception:  # noqa: BLE001 - a report that cannot be drawn never stops the job
            LOG.exception("the quality reports could not be saved in %s", self.files.folder)
            return {}
        if not draw:
            try:
                self.images.changed()  # drawn now when that is due
            except OSError as error:  # a full disk: the images are drawn again after the next batch
                LOG.error("the quality reports' images could not be saved in %s: %s", self.files.folder, error)
        return saved

    def after_batch(self, outcome: BatchOutcome) -> None:
        saved = self.save_reports(draw=self.job.is_complete())
        progress = self.job.progress()
        failed = f", {len(outcome.failed)} failed ({', '.join(sorted(outcome.failed, key=int))})" if outcome.failed else ""
        reports = ("; quality reports saved: " + ", ".join(f"{files['json']} (image {files['png']})"
                                                           for files in saved.values())) if saved else ""
        if self.job.pre_labeling_finished():
            done = f"{progress['consolidated']} of {progress['objects']} objects done"
        else:  # the objects for workers are not all known yet (and answers kept from earlier runs may be ahead of them)
            done = (f"{progress['consolidated']} objects done ({progress['objects'] + progress['skipped']} of the "
                    f"manifest's {len(self.job.lines)} pre-labeled so far)")
        labeled = counted(len(outcome.labeled), "object")
        self.say(f"batch {outcome.name}: {labeled} consolidated{failed}; {done}{reports}")
        for question, files in saved.items():
            fit = files.get("convergence")
            if fit and fit["warning"]:
                self.say(f"warning: {question}: {fit['text']}")
        self.tell_if_complete()

    def tell_if_complete(self) -> bool:
        """Say "job complete: <where everything is>" the first time the job is complete; True when said now."""
        with self._lock:
            if self.complete_message is not None or not self.job.is_complete():
                return False
            self.save_reports()
            self.complete_message = self.complete_summary()
        self.say("job complete: " + self.complete_message)
        return True

    def objects_joined(self) -> None:
        """Objects joined the job while it runs: a job said complete is not any more, and is said complete again
        when they are done."""
        with self._lock:
            self.complete_message = None

    def complete_summary(self) -> str:
        """Where everything is and, with review on, how many routed objects await an expert: as of now (experts go
        on deciding after the job is complete)."""
        return "; ".join(filter(None, [complete_summary(self.job), review_summary(self.job, self.review)]))


def shown_name(name: str) -> str:
    """A worker's name for a terminal line: quoted, with quotes and backslashes escaped, and ``printable``."""
    return '"' + printable(name.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def complete_summary(job: LocalJob) -> str:
    progress, where = job.progress(), locations(job)
    reports = ", ".join(f"{files['png']} and {files['json']}" for files in where["quality reports"].values())
    pre_failed = len(job.pre_labeling_failures())  # never tasks: not among the objects for workers, yet not done
    return (f"{progress['consolidated']} of {progress['objects']} objects consolidated ({progress['failed']} failed, "
            f"{progress['skipped']} skipped by pre-labeling"
            + (f"; {counted(pre_failed, 'object')} of the manifest failed pre-labeling and were never tasks: fix them "
               "and run the same command again" if pre_failed else "")
            + f"). Output manifest: {where['output manifest']}{_as_table(job.local_path(job.output_manifest_key))}; "
            f"quality reports: {reports or 'none (no question has one)'}; answers: {where['answers']}"
            f"{_answers_as_table(job.local_path(job.answers_prefix.rstrip('/')))}; "
            f"job folder: {where['job folder']}")


def _answers_as_table(folder: Optional[Path]) -> str:
    """The command that writes a local job's answers as a CSV table (``answers_csv``), as the summary says it."""
    return "" if folder is None else f" (as a table: ./scripts/answers_csv.sh {shlex.quote(str(folder))} -o answers.csv)"


def _as_table(manifest: Optional[Path]) -> str:
    """The command that writes a local manifest as a CSV table (``labels_csv``), as the summary says it."""
    return "" if manifest is None else f" (as a table: ./scripts/labels_csv.sh {shlex.quote(str(manifest))} -o labels.csv)"


def review_summary(job: LocalJob, review) -> str:
    """"expert review: ..." (how many routed objects await an expert, where the final manifest is); with review off,
    the command that reads the output manifest with the whole job's confidences (nothing else does then)."""
    if review is None or not review.enabled:
        manifest = job.local_path(job.output_manifest_key)
        return "" if manifest is None else ("the labels with the whole job's confidences (review is off): "
                                            f"./scripts/job_confidence.sh {shlex.quote(str(manifest))}")
    counts = review.counts()
    return (f"expert review: {counts['awaiting']} of {counts['routed']} routed objects await an expert, final "
            f"manifest (the crowd's labels with the experts' decisions): {_where(job, review.final_manifest_key)}"
            + _as_table(job.local_path(review.final_manifest_key)))


# -- what the page shows ---------------------------------------------------------------------------

def _short(value: Any) -> str:
    """One question's consolidated value in a few words, whatever its type."""
    if isinstance(value, dict):
        if "label" in value:
            confidence = value.get("confidence")
            return f"{value['label']}" + (f" ({shown_confidence(confidence)})" if isinstance(confidence, (int, float))
                                          else "")
        if "labels" in value:
            return ", ".join(map(str, value["labels"])) or "none"
        if "entities" in value and isinstance(value["entities"], list):
            return counted(len(value["entities"]), "span")
    if isinstance(value, list):
        return counted(len(value), "text")
    return json.dumps(value)[:80]


def label_summary(label: Any) -> list[tuple[str, str]]:
    """``(question, value in a few words)`` of a consolidated label (the ``workers`` count left out)."""
    if not isinstance(label, dict):
        return [("label", json.dumps(label)[:80])]
    return [(str(name), _short(value)) for name, value in label.items() if name != "workers"]


def _state(object_id: str, for_workers: AbstractSet[str], labels: dict, failed: dict, pre_failed: dict,
           answer_counts: dict, holders: dict, skipped: set, needed: int) -> tuple[str, str]:
    """(state, detail) of one object (``for_workers``: ``LocalJob.object_id_set``)."""
    if object_id in skipped:
        return "skipped", "pre-labeling set isHumanAnnotationRequired to false: no worker gets it"
    if object_id in pre_failed:
        return "pre-labeling failed", pre_failed[object_id]
    if object_id in labels:
        return "consolidated", ""
    if object_id in failed:
        return "failed", failed[object_id]
    if object_id not in for_workers:
        return "waiting", "not pre-labeled yet"
    count = answer_counts.get(object_id, 0)
    if count >= needed:
        return "ready", "consolidated with the next batch"
    if count or holders.get(object_id):
        return "in progress", ""
    return "waiting", ""


class ReportReader:
    """The job's quality reports, each read again only when the consolidation function rewrote it or (``review``:
    the job's ``ReviewDesk``, if any) an expert decided: against the final labels (``final_report``)."""

    def __init__(self, job: LocalJob) -> None:
        self.job = job
        self._read: dict[str, tuple[str, dict[str, Any]]] = {}  # question -> (version, report)
        self._lock = threading.Lock()

    def reports(self, review=None) -> dict[str, tuple[str, str, dict[str, Any]]]:
        """``{question: (key, version, report)}``; the version is the report's ETag and the review's version."""
        found = {}
        reviewed = review_version(review)
        for question, (key, etag) in report_versions(self.job).items():
            version = f"{etag.strip(chr(34))}.{reviewed}"
            with self._lock:
                if question not in self._read or self._read[question][0] != version:
                    self._read[question] = (version, final_report(read_report(self.job, key), question, review))
                found[question] = (key, version, self._read[question][1])
        return found


def snapshot(job: LocalJob, leases, show: str = "all", start: int = 0,
             reader: Optional[ReportReader] = None, review=None, find: str = "") -> dict[str, Any]:
    """Everything the page's live part shows, read once (``review``: the job's ``ReviewDesk``, if any; ``find``: the
    table lists only the objects whose id it is or whose source holds it, in any case)."""
    needed = job.spec.workers_per_object
    # Read first: counts only grow, so the objects' rows, read after, are never behind the progress line (a batch
    # that landed in between showed "5 of 18" above a row still "consolidated with the next batch").
    progress = job.progress()
    answer_counts = job.answer_counts()
    labels = job.consolidated_labels()
    failed = job.failed_objects()
    pre_failed = job.pre_labeling_failures()
    skipped = set(job.skipped_ids())
    for_workers = job.object_id_set()
    holders = {oid: sorted(who) for oid, who in sorted(leases.every_holder().items(), key=lambda item: int(item[0]))
               if oid in for_workers}

    workers: dict[str, dict[str, Any]] = {worker: {"answers": count, "holding": [], "last": last}
                                          for worker, (count, last) in job.worker_activity().items()}
    for object_id, who in holders.items():
        for worker in who:
            workers.setdefault(worker, {"answers": 0, "holding": [], "last": ""})["holding"].append(object_id)

    wanted = FILTERS.get(show, None)
    needle = find.casefold()
    rows, matching = [], 0
    states: dict[str, int] = {}
    for index, line in enumerate(job.lines):
        object_id = str(index)
        state, detail = _state(object_id, for_workers, labels, failed, pre_failed, answer_counts, holders, skipped,
                               needed)
        states[state] = states.get(state, 0) + 1
        if wanted is not None and state not in wanted:
            continue
        if needle and needle != object_id and needle not in source_of(line).casefold():
            continue
        matching += 1
        if start <= matching - 1 < start + PAGE_SIZE:
            answers = job.answer_files([object_id]).get(object_id, {})
            rows.append({
                "id": object_id, "source": source_of(line), "state": state, "detail": detail,
                "answers": [{"worker": worker, "href": file_href(job, key), "submitted": submitted}
                            for worker, (key, submitted) in sorted(answers.items())],
                "holders": holders.get(object_id, []),
                "label": _final_summary(labels[object_id]["label"], review, object_id) if object_id in labels else [],
                "review": _review_state(review, object_id, labels),
            })

    files = QualityReportFiles(job, job.folder, report_prefix(job)) if job.folder is not None else None
    reports = []
    for question, (key, version, report) in sorted((reader or ReportReader(job)).reports(review).items()):
        saved = files.paths(question) if files is not None else None
        reports.append({"question": question, "kind": report.get("kind", "choice"),
                        "png": f"{PREFIX}/quality/{quote(question, safe='')}.png?v={quote(version)}",
                        "json": f"{PREFIX}/quality/{quote(question, safe='')}.json?v={quote(version)}",
                        "reviewed": compared_with_experts(report),
                        "batches": report.get("batches"),
                        "headline": [(HEADLINE_NAMES.get(name, name), value) for name, value in headline(report).items()],
                        "convergence": convergence(report),
                        "flags": worker_flags(report),
                        "saved": [str(path) for path in saved] if saved and saved[0].is_file() else []})
    return {
        "progress": progress, "needed": needed, "answers_needed": progress["objects"] * needed,
        "answers_total": progress["answers"], "holding": sum(len(who) for who in holders.values()),
        "pre_failed": len(pre_failed), "complete": job.is_complete(), "states": states,
        "pre_labeling": None if job.pre_labeling_finished() else {
            "done": progress["objects"] + progress["skipped"] + len(pre_failed), "of": len(job.lines)},
        "workers": sorted(workers.items(), key=lambda item: item[0]),
        "rows": rows, "matching": matching, "start": start, "page_size": PAGE_SIZE, "show": show,
        "filters": list(FILTERS), "reports": reports, "find": find,
        "find_query": f"&find={quote(find, safe='')}" if find else "",  # kept by the table's other links
        "where": locations(job), "manifest_href": file_href(job, job.output_manifest_key),
        "labels_href": LABELS_PATH, "answers_href": ANSWERS_PATH,
        "review": {**review.counts(), "final_href": file_href(job, review.final_manifest_key),
                   "final": _where(job, review.final_manifest_key)} if review is not None and review.enabled else None,
    }


def _final_summary(label: Any, review, object_id: str) -> list[tuple[str, str]]:
    """``label_summary`` of the final label: an expert's decision in place of the crowd's value it replaces (the
    crowd's kept beside it), as the final manifest holds it."""
    summary = label_summary(label)
    decision = review.decision(object_id) if review is not None and review.enabled else None
    if decision is None:
        return summary
    decided = decision.shown()
    return [(question, f"{decided[question]} (expert; crowd: {value})" if question in decided else value)
            for question, value in summary]


def _review_state(review, object_id: str, labels: dict) -> str:
    """"awaiting review", "decided by <reviewer>", or "" (not routed, or review off)."""
    if review is None or not review.enabled or not review.reasons(object_id, labels):
        return ""
    decision = review.decision(object_id)
    return f"decided by {decision.reviewer}" if decision is not None else "awaiting review"


def file_href(job: LocalJob, key: str) -> str:
    """The page's link to a file of the job's folder in its bucket."""
    return f"{PREFIX}/files/" + quote(key.removeprefix(job.root), safe="/")


def job_key(job: LocalJob, relative: str) -> Optional[str]:
    """The key of ``relative`` under the job's folder, or None when it is not a plain path there."""
    parts = relative.split("/")
    if not relative or any(part in ("", ".", "..") for part in parts) or "\\" in relative:
        return None
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in relative):
        return None
    key = job.root + relative
    return key if len(key.encode("utf-8")) <= MAX_KEY_BYTES else None


# -- the page --------------------------------------------------------------------------------------

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ 'Complete: ' if s.complete else '' }}{{ title }} (requester)</title>
<link rel="stylesheet" href="{{ prefix }}/requester.css"></head><body>
<header><h1>Requester's view</h1><span>{{ title }}</span>
<span>job <strong>{{ job.job_name }}</strong> · workflow {{ job.spec.workflow }} · stack {{ job.spec.stack_name }}
· {{ job.spec.workers_per_object }} worker{{ '' if job.spec.workers_per_object == 1 else 's' }} per object</span>
<a href="/">Worker sign-in</a><a id="review-link" href="/review">Expert review</a></header>
<p id="connection" role="status" hidden></p>
<p id="announce" class="visually-hidden" role="status"></p>
<main>{% if links %}<section id="team-links"><h2>Links to hand out</h2><p>This server is open to other machines; it
answers only browsers that opened one of these links (each holds a key: give it only to those it is for).</p><dl>
{% for name, link in links %}<dt>{{ name }}</dt><dd><code>{{ link }}</code></dd>{% endfor %}</dl></section>{% endif %}
<form id="find" role="search" method="get" action="{{ prefix }}#objects"><input type="hidden" name="show" value="{{ s.show }}">
<label for="find-text">Find objects</label> <input id="find-text" type="search" name="find" value="{{ s.find }}"
 maxlength="{{ max_find }}" placeholder="an object id, or part of a file name" size="36"> <button>Find</button>
{% if s.find %}<a href="{{ prefix }}?show={{ s.show }}#objects">every object</a>{% endif %}</form>
<div id="live" data-source="{{ prefix }}/live" data-poll="{{ poll }}">{{ live }}</div></main>
<script src="{{ prefix }}/requester.js"></script></body></html>"""

_LIVE = """<div class="grid"><div>
<section id="state" class="{{ 'complete' if s.complete else 'running' }}">
<h2 id="job-state">{% if s.complete and s.review and s.review.awaiting %}Crowd labeling complete, expert review in progress
{%- elif s.complete %}Job complete{% else %}In progress{% endif %}</h2>
<progress id="progress-bar" aria-label="Objects consolidated" max="{{ [s.progress.objects, 1]|max }}" value="{{ s.progress.consolidated + s.progress.failed }}"></progress>
<p id="progress"><strong>{{ s.progress.consolidated }} of {{ s.progress.objects }}</strong> objects consolidated
· {{ s.answers_total }} of {{ s.answers_needed }} answers · {{ s.holding }} lease{{ '' if s.holding == 1 else 's' }} held now
{%- if s.progress.failed %} · <span class="bad">{{ s.progress.failed }} failed</span>{% endif %}
{%- if s.pre_failed %} · <span class="bad">{{ s.pre_failed }} failed pre-labeling</span>{% endif %}
{%- if s.progress.skipped %} · {{ s.progress.skipped }} skipped by pre-labeling{% endif %}
{%- if s.pre_labeling %} · <span id="pre-labeling">pre-labeling: {{ s.pre_labeling.done }} of {{ s.pre_labeling.of }}</span>{% endif %}</p>
{% if s.complete %}<p>Every object for workers is consolidated{% if s.progress.failed %} or failed (see the objects below){% endif %}:
the output manifest and quality reports are final{% if s.review and s.review.awaiting %}; the final manifest, with the
experts' decisions, is complete once they have decided{% endif %}.</p>{% endif %}
{% if s.review %}<p id="review-state">Expert review: <strong>{{ s.review.awaiting }} {{ 'awaits' if s.review.awaiting == 1 else 'await' }} review</strong> of
{{ s.review.routed }} routed · {{ s.review.decided }} decided · <a href="/review">review page</a></p>{% endif %}
</section>
<section id="workers"><h2>Workers</h2>{% if s.workers %}<table><thead><tr><th>worker</th><th>answers</th>
<th>tasks open now</th><th>last answer (UTC)</th></tr></thead><tbody>
{% for name, w in s.workers %}<tr><td>{{ name }}</td><td>{{ w.answers }}</td><td>{% if w.holding %}{{ w.holding|length }}:
{% for oid in w.holding %}<a href="#object-{{ oid }}">object {{ oid }}</a> <button type="button" class="give-back"
 data-worker="{{ name }}" data-object="{{ oid }}" title="Free this task for other workers (its page may be gone: a closed
 browser keeps it until its time limit)" aria-label="Give back object {{ oid }} held by {{ name }}">give back</button>{{ '' if loop.last else ', ' }}{% endfor %}{% else %}-{% endif %}</td>
<td>{{ w.last[11:19] or '-' }}</td></tr>{% endfor %}</tbody></table>{% else %}<p>No worker holds a task or has answered one yet.</p>{% endif %}
</section></div>
<section id="where"><h2>Where everything is</h2><dl>
<dt>Output manifest (rewritten as batches finish; a large one spaced out, and always when the job completes or stops)</dt>
<dd><a id="output-manifest" href="{{ s.manifest_href }}">output.manifest</a> <code>{{ s.where['output manifest'] }}</code>
· <a id="output-csv" href="{{ s.labels_href }}?manifest=output" download>as CSV</a></dd>
{% if s.review %}<dt>Final manifest (the crowd's labels with the experts' decisions, rewritten as batches finish and experts decide, spaced out in the same way)</dt>
<dd><a id="final-manifest" href="{{ s.review.final_href }}">final.manifest</a> <code>{{ s.review.final }}</code>
· <a id="final-csv" href="{{ s.labels_href }}?manifest=final" download>as CSV</a></dd>{% endif %}
<dt>Answers (one file per answer, linked per object below)</dt><dd><code>{{ s.where['answers'] }}</code>
· <a id="answers-csv" href="{{ s.answers_href }}" download>all as CSV</a></dd>
<dt>Quality reports</dt><dd>{% for r in s.reports %}<div>{{ r.question }}: <a class="report-json" href="{{ r.json }}">JSON</a>
· <a class="report-png" href="{{ r.png }}">PNG</a>{% if r.saved %} · saved as <code>{{ r.saved[0] }}</code> and <code>{{ r.saved[1] }}</code>{% endif %}</div>
{% else %}none yet: the first batch writes them{% endfor %}</dd>
<dt>Job folder</dt><dd><code>{{ s.where['job folder'] }}</code></dd>
{% if s.watched %}<dt>Data</dt><dd><code>{{ s.watched }}</code>: lines added at its end join the job as it runs</dd>{% endif %}</dl></section></div>
<section id="quality"><h2>Quality</h2>{% for r in s.reports %}<figure>
<figcaption><strong>{{ r.question }}</strong> ({{ 'span tagging' if r.kind == 'spans' else 'multi-select, every choice as a yes/no' if r.kind == 'multi-select' else 'choice question' }},
{{ r.batches }} batch{{ '' if r.batches == 1 else 'es' }}):
{% for name, value in r.headline %}{{ name }} <strong>{{ '%.3f'|format(value) if value is not none else 'n/a' }}</strong>{{ '' if loop.last else ' · ' }}{% endfor %}
{% if r.reviewed %}<br><span class="reviewed">{{ r.reviewed }}</span>{% endif %}
{% if r.convergence %}<br><span class="convergence{{ ' warning' if r.convergence.warning else '' }}">{{ r.convergence.text }}</span>{% endif %}
{% if r.flags %}<ul class="flags" aria-label="Flagged workers of {{ r.question }}">{% for flag in r.flags %}<li>{{ flag }}</li>{% endfor %}</ul>{% endif %}</figcaption>
<a href="{{ r.png }}"><img src="{{ r.png }}" alt="Quality report of {{ r.question }}"></a></figure>
{% else %}<p>No report yet: the consolidation function writes one per question with each batch.</p>{% endfor %}</section>
<section id="objects"><h2>Objects</h2><p class="filters">Show:
{% for name in s.filters %}{% if name == s.show %}<strong>{{ name }}</strong>{% else %}<a href="?show={{ name }}{{ s.find_query }}#objects">{{ name }}</a>{% endif %}{{ '' if loop.last else ' · ' }}{% endfor %}
· {% for state, n in s.states|dictsort %}{{ state }} {{ n }}{{ '' if loop.last else ', ' }}{% endfor %}
{% if s.find %}<br><span id="finding">{{ s.matching }} found for "{{ s.find }}" (its id, or in its source)</span> ·
<a href="?show={{ s.show }}#objects">every object</a>{% endif %}</p>
<table><thead><tr><th>object</th><th>source</th><th>answers ({{ s.needed }} needed)</th><th>held by</th><th>state</th><th>label</th></tr></thead><tbody>
{% for row in s.rows %}<tr id="object-{{ row.id }}" class="state-{{ row.state|replace(' ', '-') }}"><td>{{ row.id }}</td>
<td title="{{ row.source }}">{% if row.source_href %}<a href="{{ row.source_href }}" target="_blank" rel="noopener noreferrer">{{ row.source.rsplit('/', 1)[-1] }}</a>{% else %}{{ row.source.rsplit('/', 1)[-1] }}{% endif %}</td>
<td>{{ row.answers|length }}{% for a in row.answers %}{{ ':' if loop.first else ',' }} <a href="{{ a.href }}">{{ a.worker }}</a>{% endfor %}</td>
<td>{{ row.holders|join(', ') or '-' }}</td><td class="state">{{ row.state }}{% if row.detail %}: <span class="detail">{{ row.detail }}</span>{% endif %}</td>
<td>{% for q, v in row.label %}{{ q }}: {{ v }}{{ '' if loop.last else '; ' }}{% endfor %}{% if row.review %} · <span class="review">{{ row.review }}</span>{% endif %}</td></tr>
{% else %}<tr><td colspan="6">{% if s.find %}No object in this view is "{{ s.find }}" or has it in its source.{% else %}No object in this view.{% endif %}</td></tr>{% endfor %}</tbody></table>
{% if s.matching > s.page_size %}<p class="pages">Objects {{ s.start + 1 }}-{{ [s.start + s.page_size, s.matching]|min }} of {{ s.matching }}:
{% if s.start > 0 %}<a href="?show={{ s.show }}{{ s.find_query }}&amp;from={{ [s.start - s.page_size, 0]|max }}#objects">previous</a>{% endif %}
{% if s.start + s.page_size < s.matching %}<a href="?show={{ s.show }}{{ s.find_query }}&amp;from={{ s.start + s.page_size }}#objects">next</a>{% endif %}</p>{% endif %}
</section>"""

_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:.55rem 1.2rem;display:flex;gap:1.2rem;align-items:baseline;flex-wrap:wrap}
header h1{font-size:1.1rem;margin:0}header a{color:#9cd1ff;margin-left:auto}
#team-links{margin:0 0 .8rem}#find{margin:0 0 .8rem}#team-links dd{margin:0 0 .4rem 1rem}
main{padding:.8rem 1.2rem}.grid{display:grid;grid-template-columns:minmax(0,4fr) minmax(0,6fr);gap:1rem;align-items:start}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.55rem .9rem;margin-bottom:1rem}
h2{font-size:1rem;margin:.1rem 0 .45rem}#state.complete{border-color:#2da44e;background:#dafbe1}
#state.complete h2{color:#116329}progress{width:100%;height:.8rem}#state p{margin:.35rem 0}
dl{margin:0}dt{font-weight:600;margin-top:.35rem}dd{margin:.1rem 0 0 .8rem}
code{font-size:12px;word-break:break-all;background:#f6f8fa;padding:0 .2rem}
section{overflow-x:auto}td{overflow-wrap:anywhere}
#connection{margin:.8rem 1.2rem 0;padding:.45rem .9rem;border:1px solid #cf222e;border-radius:6px;background:#ffebe9;color:#82071e}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:.22rem .4rem;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa}figure{margin:0 0 .8rem}figcaption{margin-bottom:.3rem}figure img{display:block;max-width:min(100%,1100px);height:auto;margin:auto;border:1px solid #d0d7de}
.bad,.state-failed .state,.state-pre-labeling-failed .state{color:#cf222e}.state-consolidated .state{color:#116329}
.state-skipped .state{color:#6e7781}.state-in-progress .state,.state-ready .state{color:#9a6700}.detail{font-size:12px}
.convergence{font-size:12px;color:#57606a}.convergence.warning{color:#cf222e;font-weight:600}
.flags{margin:4px 0 0;padding-left:18px;font-size:13px;color:#cf222e}
@media (max-width:900px){.grid{grid-template-columns:1fr}}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}"""

# Fetches the live part again every few seconds and swaps it in when it changed, keeping the keyboard focus on
# the same link or control (swapping the markup would drop it to the page's body) and waiting while the reader has
# text of it selected (to copy a path); when the runner does not answer, says since when the page is not current.
_JS = """(() => {
  const live = document.getElementById('live');
  const connection = document.getElementById('connection');
  const every = Number(live.dataset.poll) * 1000;
  const FOCUSABLE = 'a[href], button, input, select, textarea, [tabindex]';
  const announce = document.getElementById('announce');
  let shown = null, current = new Date(), lost = false;
  // What a screen reader hears as the job goes: its state and how many objects are done (and await review), said
  // in a region that stays put when the rest is redrawn, and only when that changed (not every redrawn table).
  function summary() {
    const part = selector => { const element = live.querySelector(selector); return element ? element.textContent.trim() : ''; };
    const done = part('#progress strong'), review = part('#review-state strong');
    return [part('#job-state'), done && done + ' objects consolidated', review && 'expert review: ' + review]
      .filter(Boolean).join('; ');
  }
  let said = summary();
  function focused() {
    const element = document.activeElement;
    if (!element || !live.contains(element)) return null;
    return {id: element.id, href: element.getAttribute('href'),
            index: Array.from(live.querySelectorAll(FOCUSABLE)).indexOf(element)};
  }
  function refocus(was) {
    if (!was) return;
    const element = (was.id && document.getElementById(was.id))
      || (was.href !== null && live.querySelector('a[href="' + CSS.escape(was.href) + '"]'))
      || live.querySelectorAll(FOCUSABLE)[was.index];
    if (element) element.focus({preventScroll: true});
  }
  function selecting() {
    const selection = window.getSelection();
    return !!selection && !selection.isCollapsed && selection.rangeCount > 0
      && live.contains(selection.getRangeAt(0).commonAncestorContainer);
  }
  function unreachable(why) {
    if (!lost) {
      lost = true;
      connection.textContent = 'The runner does not answer (' + why + '): this page shows the job as it was at ' +
        current.toLocaleTimeString() + '. It looks again every ' + every / 1000 + ' s and updates once the runner is back.';
      connection.hidden = false;
    }
  }
  async function refresh() {
    try {
      const response = await fetch(live.dataset.source + location.search, {cache: 'no-store'});
      if (response.ok) {
        const html = await response.text();
        current = new Date();
        if (lost) { lost = false; connection.hidden = true; connection.textContent = ''; }
        // The first answer is drawn too: what changed between the page's own rendering and it (a task taken) was
        // otherwise never shown, every later answer being the same as that first one.
        if (html !== shown && !selecting()) {
          const was = focused(); live.innerHTML = html; refocus(was);
          shown = html;
          const now = summary();
          if (now !== said) { said = now; announce.textContent = now + '.'; }
        }
      } else {
        unreachable('HTTP ' + response.status);
      }
    } catch (error) { unreachable('stopped, or the network is down'); }
    setTimeout(refresh, every);
  }
  // "give back" frees a task a worker holds; the next look shows it free.
  live.addEventListener('click', async (event) => {
    const button = event.target.closest('button.give-back');
    if (!button) return;
    button.disabled = true;
    try {
      const response = await fetch(live.dataset.source.replace(/live$/, 'give-back'), {
        method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({worker: button.dataset.worker, object: button.dataset.object})});
      button.textContent = response.ok ? 'given back' : 'not given back (HTTP ' + response.status + ')';
    } catch (error) { button.textContent = 'not given back: the runner does not answer'; button.disabled = false; }
  });
  refresh();
})();"""


def s3_chunks(body) -> Iterator[bytes]:
    """An S3 object's body streamed in chunks, closed when the response ends (or is cut short)."""
    try:
        yield from body.iter_chunks(64 * 1024)
    finally:
        body.close()


def csv_download(text: str, name: str) -> Response:
    """A CSV table as a download named ``name``."""
    return Response("\ufeff" + text, mimetype="text/csv",  # the BOM: a spreadsheet reads it as UTF-8
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                             "Content-Disposition": f'attachment; filename="{name}"'})


def register_requester(app: Flask, site, foreign) -> None:
    """Add the requester's pages to the worker server's application (``site``: its ``WorkerSite``;
    ``foreign(request)``: why a POST is not the server's own page's JSON, None when it is)."""
    job: LocalJob = site.job
    reader = ReportReader(job)
    pictures: dict[str, tuple[str, bytes]] = {}  # question -> (report ETag, its PNG)
    drawing = threading.Lock()

    def source_link(source: str) -> Optional[str]:
        """A signed link (``media_links``) to an object's source when it is a file in the job's store (the image
        or file workers were shown), so a label can be checked against what it labels; None for inline text."""
        if not is_s3_uri(source):
            return None
        try:
            return site.presign(source)
        except InputError:
            return None

    def state() -> dict[str, Any]:
        show = request.args.get("show", "all")
        show = show if show in FILTERS else "all"
        try:
            start = max(0, int(request.args.get("from", "0")))
        except ValueError:
            start = 0
        find = printable(request.args.get("find", "").strip())[:MAX_FIND_CHARS]
        s = snapshot(job, site.leases, show, start, reader, getattr(site, "review", None), find=find)
        watched = getattr(site, "watched_manifest", None)
        s["watched"] = str(watched) if watched is not None else None
        for row in s["rows"]:
            row["source_href"] = source_link(row["source"])
        return s

    def live_html(s: dict[str, Any]) -> str:
        return render_template_string(_LIVE, s=s)

    def html(body: str) -> Response:
        return Response(body, mimetype="text/html", headers={"Cache-Control": "no-store",
                                                              "Content-Security-Policy": PAGE_POLICY})

    @app.get(PREFIX)
    def requester_page():
        s = state()
        team = getattr(site, "team", None)
        links = []
        if team is not None:
            # The team's links are of the address the team opens: behind a proxy its public one, whichever address
            # this page was opened at (the requester may be on the machine itself).
            origin = site.public.origin if getattr(site, "public", None) is not None else site.request_origin()
            links = ([(f"{name} (their own link: it signs them in)", team.worker_link(origin, name))
                      for name in team.workers] if team.workers
                     else [("Workers (sign in and label)", team.link(origin, WORKER, "/"))])
            links.append(("Experts (review what the crowd could not settle)", team.link(origin, EXPERT, REVIEW_PREFIX)))
        return html(render_template_string(_PAGE, s=s, job=job, title=job.spec.task.title, prefix=PREFIX,
                                           poll=POLL_SECONDS, live=Markup(live_html(s)), links=links,
                                           max_find=MAX_FIND_CHARS))

    @app.get(f"{PREFIX}/live")
    def requester_live():
        return html(live_html(state()))

    @app.post(f"{PREFIX}/give-back")
    def requester_give_back():
        """The requester frees a task a worker holds (a browser that died keeps it until its time limit)."""
        if (refused := foreign(request)) is not None:
            status, reason = refused
            return Response(json.dumps({"error": reason}), status, mimetype="application/json")
        try:
            sent = strict_json.loads(request.get_data(), max_depth=2, unique_keys=True)
        except strict_json.JSONError as error:
            sent = str(error)
        if not (isinstance(sent, dict) and isinstance(sent.get("worker"), str) and isinstance(sent.get("object"), str)):
            return Response(json.dumps({"error": 'Send {"worker": <name>, "object": <object id>}.'}), 400,
                            mimetype="application/json")
        if not site.job.is_for_workers(sent["object"]):
            return Response(json.dumps({"error": f"There is no task {sent['object'][:40]} in this job."}), 404,
                            mimetype="application/json")
        given = site.take_back(sent["worker"], sent["object"])
        LOG.info("the requester gave back object %s held by %s: %s", sent["object"][:40], printable(sent["worker"][:80]),
                 "done" if given else "it was not held")
        return Response(json.dumps({"given_back": given}), mimetype="application/json",
                        headers={"Cache-Control": "no-store"})

    @app.get(f"{PREFIX}/requester.css")
    def requester_css():
        return Response(_CSS, mimetype="text/css", headers={"Cache-Control": "no-store"})

    @app.get(f"{PREFIX}/requester.js")
    def requester_js():
        return Response(_JS, mimetype="text/javascript", headers={"Cache-Control": "no-store"})

    @app.get(f"{PREFIX}/quality/<question>.png")
    def quality_png(question: str):
        reports = reader.reports(getattr(site, "review", None))
        if question not in reports:
            return Response("No quality report of that question.", 404, mimetype="text/plain")
        _key, version, report = reports[question]
        with drawing:  # one drawing at a time; a report is drawn again only when rewritten or an expert decided
            if question not in pictures or pictures[question][0] != version:
                pictures[question] = (version, quality_report_png(report))
            png = pictures[question][1]
        return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store",
                                                            "X-Content-Type-Options": "nosniff"})

    @app.get(f"{PREFIX}/quality/<question>.json")
    def quality_json(question: str):
        """The report the page draws (against the final labels once experts decided; the Lambda's own is in the
        job's folder, ``quality-report/``)."""
        reports = reader.reports(getattr(site, "review", None))
        if question not in reports:
            return Response("No quality report of that question.", 404, mimetype="text/plain")
        return Response(json.dumps(reports[question][2], indent=2), mimetype="application/json",
                        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    @app.get(LABELS_PATH)
    def labels_table():
        """The output (or, ``?manifest=final``, the final) manifest as a table (``labels_csv``), as it stands now."""
        review = getattr(site, "review", None)
        which = request.args.get("manifest", "output")
        if which not in ("output", "final"):  # a typo gets an answer naming it, never the other table in its place
            return Response(f"No manifest called {which!r}: ask for manifest=output or manifest=final.", 400,
                            mimetype="text/plain", headers={"X-Content-Type-Options": "nosniff"})
        final = which == "final"
        if final and (review is None or not review.enabled):
            return Response("This job has no expert review, so no final manifest: its labels are "
                            "manifest=output.", 404, mimetype="text/plain")
        key = review.final_manifest_key if final else job.output_manifest_key
        try:
            body = job.s3.get_object(Bucket=job.bucket, Key=key)["Body"].read()
        except job.s3.exceptions.NoSuchKey:
            return Response("No labels yet: the first batch writes the manifest.", 404, mimetype="text/plain")
        table = io.StringIO()
        labels_csv.write_csv(labels_csv.read_manifest(body, key), table, job.spec.label_attribute_name)
        return csv_download(table.getvalue(), f"{job.job_name}-{'final' if final else 'output'}-labels.csv")

    @app.get(ANSWERS_PATH)
    def answers_table():
        """Every answer recorded so far, a row each (``answers_csv``): what each worker said, beside the labels."""
        table = io.StringIO()
        answers_csv.write_csv(((object_id, answer) for object_id, answers in job.answers().items()
                               for answer in answers), table)
        return csv_download(table.getvalue(), f"{job.job_name}-answers.csv")

    @app.get(f"{PREFIX}/files/<path:relative>")
    def job_file(relative: str):
        key = job_key(job, relative)
        if key is None:
            return Response("Not a file of this job.", 404, mimetype="text/plain")
        try:
            body = job.s3.get_object(Bucket=job.bucket, Key=key)["Body"]
        except job.s3.exceptions.NoSuchKey:
            return Response("No such file in this job.", 404, mimetype="text/plain")
        except Exception as error:  # noqa: BLE001 - a key the endpoint refuses is not this job's file
            LOG.info("requester file %s not served: %s", key, error)
            return Response("No such file in this job.", 404, mimetype="text/plain")
        suffix = "." + relative.rsplit(".", 1)[-1] if "." in relative.rsplit("/", 1)[-1] else ""
        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                   "Content-Security-Policy": FILE_POLICY}
        mimetype = FILE_TYPES.get(suffix)
        if mimetype is None:
            mimetype = "application/octet-stream"
            headers["Content-Disposition"] = "attachment"

        return Response(s3_chunks(body), content_type=mimetype, headers=headers)
