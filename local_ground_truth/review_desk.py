"""Expert review in a local job: what awaits a reviewer, their decisions, and the final manifest.

The rule is ``gt_common.review`` (the one the review on AWS uses): once an object is consolidated, it
needs an expert when a question's confidence is below the job's threshold, its label is the abstain
label, or a gold item was missed (any abstention too, when the settings say so). The confidence is the
whole job's so far (``gt_common.job_confidence``, as the review on AWS reads it when the job completes): its
label never changes after its batch, but each batch's temperature and gold objects revise every earlier
object's confidence, so an object may come to need an expert later in the job (or no longer).

**Decisions** are kept like answers, in the job's bucket (on disk with the runner's endpoint, written
before the reviewer hears OK): one file per decision,
``<job>/local-runner/review-decisions/<object id>/<time>-<random>.json`` holding the object, the
reviewer, the decision (``{question: label}``) and its time. A later decision on the same object
replaces the earlier one in the output; every file is kept, so who decided what and when stays on
record. A decision is checked against the question's labels (``gt_common.review.check_decision``)
before it is written; a file that cannot be read back is logged by name and left out.

**The final manifest** (``gt_common.review.final_manifest_key``: ``manifests/output/final.manifest`` in
the job's folder, beside the crowd's ``output.manifest``, where the review on AWS writes it too) has one line per input line: a consolidated object's line through ``gt_common.review.merge_review``
(``decided-by`` ``crowd`` or ``reviewer``, the reviewer, the crowd's label and confidence, the review
reasons; an object awaiting review reads ``decided-by: crowd`` with its reasons), any other line as
the output manifest has it. It is rewritten after every batch and every decision (on a large job spaced
by its own cost, as the output manifest is: ``spaced_rewrite``).

**The quality reports** compare workers with the final labels (``expert_decisions`` hands each decided
object to ``gt_common.worker_agreement.with_expert_decisions``): a worker the experts side with against the
crowd is not ranked below the workers who made the crowd's label. ``version`` changes with every decision,
and ``on_decided`` is called after each, so the reports are redrawn.
"""
from __future__ import annotations

import datetime
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from gt_common import job_confidence, strict_json
from gt_common.answers import answer_to, read_form
from gt_common.consolidation import WorkerAnswer
from gt_common.worker_agreement import ExpertDecision
from gt_common.questions import FreeText, MultiSelect, Question, Spans, choice_probability
from gt_common.shown_text import BIDI_CONTROLS
from gt_common.review import (
    REVIEW_REASONS, ReviewError, ReviewSettings, check_decision, final_manifest_key, merge_review,
    reasons_by_question, reviewable,
)
import workflows
from local_ground_truth import worker_names
from local_ground_truth.job import BatchOutcome, LocalJob, source_of, store_failure
from local_ground_truth.spaced_rewrite import SpacedRewrite
from local_ground_truth.wording import counted, shown_confidence

LOG = logging.getLogger(__name__)
DECISIONS_FOLDER = "local-runner/review-decisions/"
VIEWING_SECONDS = 300  # how long an object another expert opened comes last in one's queue
#: The largest decision a reviewer's page may send: the request's body, which ``reviewer`` refuses when longer.
MAX_DECISION_REQUEST_BYTES = 100_000
#: The largest stored decision file read back: the request's decision re-encoded with every non-ASCII character
#: escaped (at most three times its UTF-8 size), with the object's id, the reviewer's name and the time beside it.
MAX_DECISION_FILE_BYTES = 10 * MAX_DECISION_REQUEST_BYTES
SHOWN_TEXT_CHARACTERS = 1_000  # of a worker's free text on the review page (the rest: its length, said)
SHOWN_SPANS = 12  # of a worker's spans listed on the review page
SHOWN_SPAN_CHARACTERS = 40  # of each listed span's own words


class ReviewRefused(Exception):
    """A decision that cannot be recorded: ``status`` and a reason the reviewer can act on."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Decision:
    object_id: str
    reviewer: str
    decision: dict[str, Any]  # {question: label}, a MultiSelect's a list
    decided_at: str  # UTC, ISO 8601 with microseconds
    key: str  # its file in the job's bucket

    def as_json(self) -> dict[str, Any]:
        return {"objectId": self.object_id, "reviewer": self.reviewer, "decision": self.decision,
                "decidedAt": self.decided_at}

    def shown(self) -> dict[str, str]:
        """Each question's decided label as text (a MultiSelect's labels joined by commas)."""
        return {question: ", ".join(map(str, value)) if isinstance(value, list) else str(value)
                for question, value in self.decision.items()}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _stamp(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


class ReviewDesk:
    """The job's review: ``settings`` (on or off, the threshold) applied to ``questions``."""

    def __init__(self, job: LocalJob, questions: Sequence[Question], settings: ReviewSettings) -> None:
        self.job, self.questions, self.settings = job, tuple(questions), settings
        self.decided_questions = reviewable(self.questions)
        self.enabled = settings.enabled and bool(self.decided_questions)
        if settings.enabled and not self.decided_questions:
            LOG.warning("review is on, but the workflow has no question an expert decides (its questions are "
                        "unknown or none is a choice): review stays off")
        self.label_attribute = job.spec.label_attribute_name
        self.span_text_input = _span_text_input(job) if any(isinstance(q, Spans) for q in self.questions) else None
        self.prefix = f"{job.root}{DECISIONS_FOLDER}"
        self.final_manifest_key = final_manifest_key(job.root)
        self._lock = threading.RLock()  # decisions and the final manifest: one writer at a time
        self._viewing: dict[str, tuple[str, float]] = {}  # object -> (reviewer, when) who opened it last, undecided
        self._decisions: dict[str, Decision] = {}
        self._reasons: dict[str, dict[str, list[str]]] = {}  # per consolidated object, until a batch adds labels
        self._labels: dict[str, dict[str, Any]] = {}  # the consolidated labels with the job's confidence
        self._labels_of = -1  # ... made from this many consolidated objects
        self._last: Optional[datetime.datetime] = None
        self.version = 0  # one more with every decision recorded or read back
        self.on_decided: list[Callable[[], None]] = []  # called after each decision is recorded
        # Rewritten after every batch and decision; on a large job spaced by its cost (``spaced_rewrite``).
        self._final_rewrite = SpacedRewrite(self._put_final_manifest, "final manifest")
        if self.enabled:
            self._load()

    def attach(self) -> "ReviewDesk":
        """Keep the final manifest up to date after every batch; write it now (a resumed job has one)."""
        if self.enabled:
            self.job.rewrites.append(self._final_rewrite)  # flushed with the output manifest
            self.job.on_consolidated.append(self._after_batch)
            self.write_final_manifest()
        return self

    def objects_decided_before(self) -> int:
        """With review off: how many objects have decisions of earlier runs on record (0 with review on)."""
        if self.enabled:
            return 0
        pages = self.job.s3.get_paginator("list_objects_v2").paginate(Bucket=self.job.bucket, Prefix=self.prefix)
        return len({item["Key"][len(self.prefix):].split("/", 1)[0] for page in pages
                    for item in page.get("Contents", [])})

    # -- what needs review -------------------------------------------------------------------------
    def job_labels(self) -> dict[str, dict[str, Any]]:
        """The job's consolidated labels, each choice question's confidence the whole job's so far
        (``gt_common.job_confidence``: the temperature and gold objects of every batch, not only the object's
        own); made again when a batch has added labels, and with them the reasons (an object may come to need
        an expert as the job learns, or no longer)."""
        labels = self.job.consolidated_labels()
        with self._lock:
            if self._labels_of != len(labels):  # an object is consolidated once: more labels, a new batch
                revised = job_confidence.revise_labels({oid: entry["label"] for oid, entry in labels.items()},
                                                       self.questions)
                self._labels = {oid: {**entry, "label": revised[oid]} for oid, entry in labels.items()}
                self._labels_of = len(labels)
                self._reasons.clear()
            return self._labels

    def reasons(self, object_id: str, labels: Optional[dict[str, Any]] = None) -> dict[str, list[str]]:
        """Per question, why this consolidated object needs an expert ({} when it does not or is not
        consolidated). ``labels``: ``job_labels()``, when the caller has them already."""
        if not self.enabled:
            return {}
        with self._lock:
            if labels is None:
                labels = self.job_labels()
            if object_id not in self._reasons:
                label = labels.get(object_id)
                if label is None:
                    return {}
                self._reasons[object_id] = reasons_by_question(
                    {self.label_attribute: label["label"]}, self.label_attribute, self.questions,
                    self.settings.threshold, route_any_abstention=self.settings.route_any_abstention)
            return self._reasons[object_id]

    def routed(self) -> list[str]:
        """Consolidated objects that need an expert, in manifest order."""
        if not self.enabled:
            return []  # (nothing to revise either)
        labels = self.job_labels()
        return [oid for oid in sorted(labels, key=int) if self.reasons(oid, labels)]

    def decision(self, object_id: str) -> Optional[Decision]:
        with self._lock:
            return self._decisions.get(object_id)

    def awaiting(self) -> list[str]:
        """Routed objects nobody decided yet, in manifest order."""
        with self._lock:
            return [oid for oid in self.routed() if oid not in self._decisions]

    def under_review(self) -> list[str]:
        """The objects routed now and those an expert decided, in manifest order. A decided object stays under review
        when a later batch's revision of the job's confidence no longer routes it: its decision is in the final
        manifest, so it is counted, listed and may be changed (it had left the counts while the final manifest kept
        it)."""
        routed, labels = self.routed(), self.job.consolidated_labels()
        with self._lock:
            decided = {oid for oid in self._decisions if oid in labels}
        return sorted(set(routed) | decided, key=int)

    def counts(self) -> dict[str, int]:
        """Objects under review (routed, or decided once routed), decided, and awaiting an expert."""
        under_review = self.under_review()
        with self._lock:
            decided = sum(oid in self._decisions for oid in under_review)
        return {"routed": len(under_review), "decided": decided, "awaiting": len(under_review) - decided}

    def may_review(self, reviewer: str, object_id: str, also: Optional[str] = None) -> bool:
        """An expert never decides an object they answered as a worker: their answer is one of those judged.
        ``also``: the worker the reviewer's browser is signed in as by a named worker's link (the same person)."""
        names = [name for name in (reviewer, also) if name]
        return not any(worker_names.same_person(name, worker) for worker in self.job.workers_of(object_id)
                       for name in names)

    def queue(self, reviewer: str, also: Optional[str] = None) -> list[str]:
        """What this reviewer may decide next, in manifest order, except that objects another reviewer opened in the
        last ``VIEWING_SECONDS`` come last: two experts working at once are each offered another object (both were
        sent to the same one, and the second one's decision was refused), yet every object stays reachable."""
        mine = [oid for oid in self.awaiting() if self.may_review(reviewer, oid, also)]
        cutoff = time.monotonic() - VIEWING_SECONDS
        with self._lock:
            elsewhere = {oid for oid, (who, when) in self._viewing.items()
                         if when >= cutoff and not worker_names.same_person(who, reviewer)}
        return [oid for oid in mine if oid not in elsewhere] + [oid for oid in mine if oid in elsewhere]

    def viewing(self, reviewer: str, object_id: str) -> None:
        """``reviewer`` opened ``object_id``'s review page (others are offered other objects first for a while)."""
        with self._lock:
            self._viewing[object_id] = (reviewer, time.monotonic())

    def expert_decisions(self, question: str) -> list[ExpertDecision]:
        """Each consolidated object an expert decided ``question`` of, with the crowd's label and every worker's
        answer to it, as the quality report takes them in (``with_expert_decisions``)."""
        asked = next((q for q in self.decided_questions if q.name == question), None)
        if not self.enabled or asked is None:
            return []
        labels = self.job_labels()
        with self._lock:
            decisions = [d for d in self._decisions.values() if question in d.decision and d.object_id in labels]
        found = []
        for decided in sorted(decisions, key=lambda d: int(d.object_id)):
            crowd = labels[decided.object_id]["label"]
            crowd = crowd.get(question) if isinstance(crowd, dict) else None
            answers = {worker: answer_to(asked, worker, self.job.answer_of(decided.object_id, worker))
                       for worker in sorted(self.job.workers_of(decided.object_id))}
            found.append(ExpertDecision(crowd.get("label") if isinstance(crowd, dict) else None,
                                        decided.decision[question], answers))
        return found

    # -- what a reviewer sees ----------------------------------------------------------------------
    def view(self, object_id: str) -> dict[str, Any]:
        """The object side by side: each worker's answer to each question, the crowd's label and
        confidence, the reasons and the current decision."""
        label = self.job_labels().get(object_id)
        consolidated = label["label"] if label is not None and isinstance(label["label"], dict) else {}
        forms = []
        for answer in sorted(self.job.answers().get(object_id, []), key=lambda a: a.get("submissionTime", "")):
            form = read_form(self.questions, WorkerAnswer(answer["workerId"], answer["answerContent"]))
            forms.append((answer["workerId"], form.values))
        reasons = self.reasons(object_id)
        decision = self.decision(object_id)
        text = self.job.task_input(object_id).get(self.span_text_input) if self.span_text_input else None
        questions = []
        for question in self.questions:
            crowd = consolidated.get(question.name)
            entry = {"name": question.name, "kind": question.kind, "reasons": reasons.get(question.name, []),
                     "decided": question in self.decided_questions, "multi": isinstance(question, MultiSelect),
                     "answers": [(worker, _shown_answer(question, values.get(question.name), text))
                                 for worker, values in forms],
                     "crowd": _shown_crowd(question, crowd)}
            if entry["decided"]:
                abstain = getattr(question, "abstain", None)
                entry["classes"] = [label for label in question.labels if label != abstain]
                entry["chosen"] = _chosen(question, crowd, decision)
                entry["crowd_choice"] = _chosen(question, crowd, None)
            questions.append(entry)
        line = self.job.lines[int(object_id)] if object_id.isdigit() and int(object_id) < len(self.job.lines) else {}
        return {"id": object_id, "source": source_of(line),
                "questions": questions,
                "reasons": [r for r in REVIEW_REASONS if any(r in given for given in reasons.values())],
                "decision": decision, "workers": [worker for worker, _values in forms]}

    # -- deciding ----------------------------------------------------------------------------------
    def decide(self, object_id: str, reviewer: str, raw: Any, replaces: Optional[str] = None,
               also: Optional[str] = None) -> Decision:
        """Check and record ``raw`` (``{question: label}``) as ``reviewer``'s decision on the object, then
        rewrite the final manifest; ``ReviewRefused`` says why not. ``replaces``: the key of the decision the
        reviewer saw when they opened the object ("" for none); if another has been recorded since, nothing is
        saved (two experts on one object never overwrite each other unknowingly). None: not checked."""
        if not self.enabled:
            raise ReviewRefused(409, "Review is off for this job.")
        try:
            reviewer = self._spelling(worker_names.canonical(reviewer))
        except worker_names.BadName as error:
            raise ReviewRefused(400, f"Unknown reviewer: {error}") from None
        if not self.job.is_object(object_id):
            raise ReviewRefused(404, f"There is no object {object_id} in this job.")
        if object_id not in self.job.consolidated_labels():
            raise ReviewRefused(404, f"Object {object_id} has no consolidated label to review.")
        if not self.reasons(object_id) and self.decision(object_id) is None:  # a decision may always be changed
            raise ReviewRefused(409, f"Object {object_id} does not need review: the crowd settled it.")
        if not self.may_review(reviewer, object_id, also):
            raise ReviewRefused(403, f"You answered object {object_id} as a worker; another reviewer decides it.")
        try:
            decision = check_decision(raw, self.questions, object_id)
        except ReviewError as error:
            raise ReviewRefused(422, str(error)) from None
        with self._lock:
            current = self._decisions.get(object_id)
            if (current is not None and replaces != current.key and current.decision == decision
                    and worker_names.same_person(current.reviewer, reviewer)):
                return current  # a retry of a decision that was saved (its answer lost on the way): saved once
            if replaces is not None and current is None and replaces:
                raise ReviewRefused(409, f"The decision your page showed on object {object_id} is not on record; "
                                         "yours was not saved. Reload the page.")
            if replaces is not None and (current.key if current else "") != replaces:
                decided = "; ".join(f"{q}: {v}" for q, v in current.shown().items())
                raise ReviewRefused(409, f"{current.reviewer} decided object {object_id} ({decided}) after you opened "
                                         "it; yours was not saved. Reload the page to see their decision; saving "
                                         "again then replaces it.")
            moment = _now()
            if self._last is not None and moment <= self._last:  # strictly later than any decision before
                moment = self._last + datetime.timedelta(microseconds=1)
            self._last = moment
            stamp = _stamp(moment)
            key = f"{self.prefix}{object_id}/{stamp.replace(':', '-')}-{uuid.uuid4().hex[:8]}.json"
            recorded = Decision(object_id, reviewer, decision, stamp, key)
            try:
                self.job.s3.put_object(Bucket=self.job.bucket, Key=key, Body=json.dumps(recorded.as_json()).encode(),
                                       ContentType="application/json")
            except (BotoCoreError, ClientError) as error:  # the store refused it (a full disk) or is gone
                logged, said = store_failure(error)
                LOG.error("the decision of reviewer %r on object %s could not be saved: %s", reviewer, object_id, logged)
                raise ReviewRefused(503, f"Your decision could not be saved ({said}); nothing was recorded. "
                                         "Save it again; if this goes on, tell the requester.") from None
            self._decisions[object_id] = recorded
            self.version += 1
        self._final_rewrite.changed()
        for listener in self.on_decided:
            listener()
        LOG.info("object %s decided by reviewer %r: %s", object_id, reviewer, decision)
        return recorded

    def _spelling(self, reviewer: str) -> str:
        """The reviewer as their first decision on record spells them ("EVE" is eve, as worker names are)."""
        with self._lock:
            known = sorted((d.decided_at, d.reviewer) for d in self._decisions.values()
                           if worker_names.same_person(d.reviewer, reviewer))
        return known[0][1] if known else reviewer

    # -- the final manifest ------------------------------------------------------------------------
    def final_lines(self) -> list[dict[str, Any]]:
        lines = []
        with self._lock:
            labels = self.job_labels()
            for index, line in enumerate(self.job.output_lines()):
                object_id = str(index)
                if self.label_attribute not in line:
                    lines.append(line)
                    continue
                if object_id in labels:  # the job's confidence, as the object was routed by
                    line = {**line, self.label_attribute: labels[object_id]["label"]}
                reasons = reasons_by_question(line, self.label_attribute, self.questions, self.settings.threshold,
                                              route_any_abstention=self.settings.route_any_abstention)
                decided = self._decisions.get(object_id)
                try:
                    lines.append(merge_review(line, decided.decision if decided else None, self.label_attribute,
                                              decided.reviewer if decided else None, reasons))
                except ReviewError as error:  # a decision the crowd's line cannot take: the crowd's stands
                    LOG.error("object %s: the decision %s cannot be merged (%s); the crowd's label stands",
                              object_id, decided.key if decided else "", error)
                    lines.append(merge_review(line, None, self.label_attribute, None, reasons))
        return lines

    def write_final_manifest(self) -> None:
        """The final manifest, written now."""
        self._final_rewrite.changed()
        self._final_rewrite.flush()

    def _put_final_manifest(self) -> None:
        body = "".join(json.dumps(line) + "\n" for line in self.final_lines())
        self.job.s3.put_object(Bucket=self.job.bucket, Key=self.final_manifest_key, Body=body.encode())

    def _after_batch(self, _outcome: BatchOutcome) -> None:
        self._final_rewrite.changed()
        if self.job.is_complete():
            self._final_rewrite.flush()

    # -- loading what an earlier run decided -------------------------------------------------------
    def _load(self) -> None:
        found: list[Decision] = []
        for page in self.job.s3.get_paginator("list_objects_v2").paginate(Bucket=self.job.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                decision = self._read(item["Key"], item.get("Size", 0))
                if decision is not None:
                    found.append(decision)
        for decision in sorted(found, key=lambda d: (d.decided_at, d.key)):
            self._decisions[decision.object_id] = decision  # the latest of each object counts
            self.version += 1
            moment = datetime.datetime.fromisoformat(decision.decided_at.replace("Z", "+00:00"))
            self._last = max(self._last, moment) if self._last else moment
        if found:
            LOG.info("review: %s read back (%s decided)", counted(len(found), "decision"),
                     counted(len(self._decisions), "object"))

    def _read(self, key: str, size: int) -> Optional[Decision]:
        """One decision file, checked as a new decision is; None (logged by name) when it cannot be used."""
        try:
            if size > MAX_DECISION_FILE_BYTES:
                raise ValueError(f"it is {size:,} bytes, more than any decision")
            raw = strict_json.loads(self.job.s3.get_object(Bucket=self.job.bucket, Key=key)["Body"].read())
            if not isinstance(raw, dict):
                raise ValueError("it is not a JSON object")
            object_id, reviewer, stamp = raw.get("objectId"), raw.get("reviewer"), raw.get("decidedAt")
            if not isinstance(object_id, str) or key.removeprefix(self.prefix).split("/")[0] != object_id:
                raise ValueError("its objectId does not match its folder")
            if not isinstance(reviewer, str) or not worker_names.is_canonical(reviewer):
                raise ValueError("its reviewer is not a name")
            if not isinstance(stamp, str):
                raise ValueError("it has no decidedAt time")
            datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            decision = check_decision(raw.get("decision"), self.questions, object_id)
        except Exception as error:  # noqa: BLE001 - one unreadable file never loses the others
            LOG.error("review decision %s is left out: %s", key, error)
            return None
        return Decision(object_id, reviewer, decision, stamp, key)


# -- values as a reviewer reads them -------------------------------------------------------------------

def _span_text_input(job: LocalJob) -> Optional[str]:
    """The task input key of the text the workflow's spans tag (its definition's ``span_text_input``); None for a
    stack no definition of this project describes (its spans are then shown by their offsets alone)."""
    try:
        return workflows.definition(job.spec.workflow).span_text_input
    except workflows.DefinitionError:
        return None


def _shown_answer(question: Question, value: Any, text: Any = None) -> str:
    """A worker's answer as a reviewer reads it; ``text``: the text the workers tagged, from which each span's own
    words are quoted beside its offsets."""
    if value is None:
        return "-"
    if isinstance(question, MultiSelect):
        return ", ".join(choice for choice in question.choices if choice in value) or "none"
    if isinstance(question, Spans):  # each span's section, where it is (code points of the text shown), its words
        listed = ", ".join(f"{span.label} {span.start}-{span.end}{_quoted_span(text, span.start, span.end)}"
                           for span in value[:SHOWN_SPANS])
        more = f", and {len(value) - SHOWN_SPANS} more" if len(value) > SHOWN_SPANS else ""
        return f"{counted(len(value), 'span')}: {listed}{more}" if value else "no span"
    return _visible(str(value))


def _quoted_span(text: Any, start: int, end: int) -> str:
    """' "its words"' of a span of ``text`` (at most ``SHOWN_SPAN_CHARACTERS`` of them), or "" without the text."""
    if not isinstance(text, str) or end > len(text):
        return ""
    words = text[start:end]
    cut = words[:SHOWN_SPAN_CHARACTERS] + ("\u2026" if len(words) > SHOWN_SPAN_CHARACTERS else "")
    return f" \u201c{_visible(' '.join(cut.split()))}\u201d"


def _visible(text: str) -> str:
    """A worker's text as a reviewer may read it: its bidirectional controls named, not obeyed (they would show its
    words in another order), and a long one cut at ``SHOWN_TEXT_CHARACTERS`` (its length said)."""
    shown = BIDI_CONTROLS.sub(lambda control: f"[U+{ord(control.group()):04X}]", text[:SHOWN_TEXT_CHARACTERS])
    return shown if len(text) <= SHOWN_TEXT_CHARACTERS else f"{shown}... ({len(text):,} characters in all)"


def _shown_crowd(question: Question, value: Any) -> str:
    if not isinstance(value, dict):
        return "no label" if not isinstance(question, FreeText) else counted(len(value or []), "text")
    if isinstance(question, MultiSelect):
        # A choice's confidence is the probability that it applies: shown as the confidence of the yes or no beside it
        # ("Stain no (0.00)" read as an unsure no where the crowd was sure Stain is absent).
        confidence = value.get("confidence") if isinstance(value.get("confidence"), dict) else {}
        batch = value.get(job_confidence.BATCH_CONFIDENCE_KEY)  # what its batch published, before the job's evidence
        batch = batch if isinstance(batch, dict) else {}
        shown = []
        for choice in question.choices:
            applies = choice in (value.get("labels") or [])
            p, was = confidence.get(choice), batch.get(choice)
            sure = ""
            if isinstance(p, (int, float)):
                now = shown_confidence(choice_probability(p, applies))
                said = shown_confidence(choice_probability(was, applies)) if isinstance(was, (int, float)) else now
                sure = f" (confidence {now})" if said == now else f" (confidence {now}; its batch said {said})"
            shown.append(f"{choice} {'yes' if applies else 'no'}{sure}")
        return "; ".join(shown)
    if isinstance(question, Spans):
        entities = value.get("entities") or []
        return f"{len(entities)} span{'' if len(entities) == 1 else 's'}"
    label, confidence = value.get("label"), value.get("confidence")
    shown = "no label" if label is None else str(label)
    if not isinstance(confidence, (int, float)):
        return shown
    batch = value.get(job_confidence.BATCH_CONFIDENCE_KEY)  # what its batch published, before the job's evidence
    if isinstance(batch, (int, float)) and shown_confidence(batch) != shown_confidence(confidence):
        return f"{shown} (confidence {shown_confidence(confidence)}; its batch said {shown_confidence(batch)})"
    return f"{shown} (confidence {shown_confidence(confidence)})"


def _chosen(question: Question, crowd: Any, decision: Optional[Decision]) -> Any:
    """What the form starts with: the current decision, else the crowd's label when it is a class."""
    if decision is not None and question.name in decision.decision:
        return decision.decision[question.name]
    if not isinstance(crowd, dict):
        return [] if isinstance(question, MultiSelect) else None
    if isinstance(question, MultiSelect):
        return [c for c in question.choices if c in (crowd.get("labels") or [])]
    label = crowd.get("label")
    return label if label in question.labels and label != getattr(question, "abstain", None) else None
