"""Consolidating a batch for any mix of question types: the generic consolidation, from shared parts.

``consolidate_items(items, questions, ...)`` gives every object of a batch its consolidated label,
the value Ground Truth writes under the label attribute::

    {<question name>: <value>, ..., "workers": <workers with at least one usable answer>}

with, per question type (``gt_common.questions``):

- Classification, YesNo, Checkbox: ``{"label": <label or null>, "confidence": <0..1>, "votes":
  {<label>: n}}`` through the worker model (``choices``: the calibrated model over the job's batches,
  or majority vote; the ``abstain`` label only on a strict majority of abstentions, with confidence 0;
  ties to the question's ``tie`` label, else by a stable hash of the object id). A Checkbox's labels
  are ``checked`` / ``unchecked``; a worker whose form has no answer for it counts as ``unchecked``.
- MultiSelect: ``{"labels": [<chosen>], "confidence": {<choice>: p}, "votes": {<choice>: n}}``: each
  choice decided as a yes/no of its own through the worker model (a tie selects it: ``Yes`` is its
  ``tie`` label); ``p`` is the probability that the choice applies, ``labels`` keeps the question's
  order. With the worker model, ``"evidence": {<choice>: ...}``: each decided choice's yes/no evidence
  (``job_confidence``), from which the review reads the job's confidence.
- Spans: ``{"entities": [{"label", "startOffset", "endOffset", "confidence"}]}``: Jaccard clustering
  (``span_clustering``), each worker weighted by the reliability the job's batches showed
  (``span_reliability``; equal weights with majority vote).
- FreeText: ``[{"workerId", "text"}]``, the non-empty texts, each cut at the question's ``max_chars``.

A gold object (known answers in its manifest line, ``gt_common.gold``) adds ``"gold": <known label>`` to
each choice question it has an answer for, and ``"gold-miss": true`` when the label is not it; to a MultiSelect,
``"gold": [<the choices known to apply, in the question's order>]`` (each choice's known yes/no goes into that
choice's yes/no as a choice question's gold does), and ``"gold-miss": true`` when the chosen choices are not those.

``votes`` lists only labels somebody chose, in the question's order; confidences are rounded to four
decimals. An object without any usable answer still gets its label (no label, confidence 0, no
entities), so Ground Truth records it instead of failing it silently.

Per batch: each object's task record is read once when a question may need it (a choice or MultiSelect
question its gold, ``gt_common.gold``; a Spans question the text's length, ``shown_text``); each worker's
form is read question by question (``answers``: a bad part is logged with its object and worker and loses
only that part), each distinct form of the batch once
(spans, which name their worker and end within their object's text, once per answer), and a choice
question's answers kept as index arrays (``choices.consolidate_indexed``); the job's worker memory
(``worker_model``) is read once (one snapshot, whatever the number of earlier batches) and this
batch's counts added to it once, for every question; a quality report is written per choice, MultiSelect and Spans
question (``job_quality``: agreement and confusion for a choice, the same for each choice of a MultiSelect as a
yes/no and for them together, ``multi_select_quality``; per-label span agreement for spans, ``span_quality``).

Plugging in a workflow's own consolidation
------------------------------------------
A definition may name its own package (``WorkflowDefinition.consolidation``, a folder of
``lambda_src/`` with ``handler.lambda_handler``). It gets the same guarantees by building on
``gt_common``, as ``lambda_src/consolidation/handler.py`` does:

- ``consolidation.consolidate_batch_event(event, s3, decide)``: reads the payload (each worker's
  latest answer, one entry per object; a bad answer is skipped and logged, never the batch) and
  shapes Ground Truth's response from ``decide(items) -> {object id: label}``
  (``consolidate_answers_event``: the same with the batch as ``BatchAnswers``, compact);
- ``configuration``: the questions and method from the environment the stack sets;
- ``consolidate_items`` (``consolidate_answers`` for ``BatchAnswers``) for the questions it leaves to the generic rules (it may add or replace
  values of its own), or the parts: ``answers.read_form`` / ``read_answer`` (answer shapes),
  ``choices.consolidate_choice`` (worker model and ties), ``span_clustering.consolidate_spans``
  and ``span_reliability`` (spans), ``worker_model`` (the job's memory of workers),
  ``job_state.state_for_event`` (where it lives), ``job_quality.record_quality`` and
  ``record_span_quality`` (reports),
  ``shown_text.text_lengths`` (task records), ``consolidation.read_each`` (a reader that may fail).
"""
from __future__ import annotations

import logging
import os
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .answers import FormAnswers, read_form
from .choices import Answer, ChoiceResult, consolidate_choice, consolidate_indexed, gold_missed
from .configuration import ConfigurationError, method_of
from .consolidation import BatchAnswers, DataObjectAnswers, WorkerAnswer, describe, read_each
from .job_quality import record_multi_select_quality, record_quality_statistics, record_span_quality
from .quality_report import batch_statistics, batch_statistics_from_indices
from .gold import GOLD_KEY, GOLD_MISS_KEY, choice_gold, gold_by_question
from .job_state import JobState
from .s3uri import InputError
from .limits import MAX_OBJECTS_PER_JOB, MAX_TEXT_BYTES
from .questions import (
    CHOICE_AS_YES_NO, MAJORITY_VOTE, WORKERS_KEY, FreeText, MultiSelect, Question, Spans, choice_probability,
)
from .shown_text import text_lengths
from .task_record import read_records, records_location
from .span_clustering import Span, consolidate_spans
from .span_reliability import MAX_SPANS_PER_JOB, SPAN, SpanRecord, records_of, score_workers, weights_of
from . import job_confidence, worker_model
from .worker_model import Entry, entry_names, multi_select_entry

LOG = logging.getLogger(__name__)
#: Each MultiSelect choice is decided as the yes/no ``CHOICE_AS_YES_NO``: "Yes" (listed first) when it applies.
SELECTED, NOT_SELECTED = CHOICE_AS_YES_NO.labels


class _Batch:
    """Every usable answer of the batch, question by question, and what the batch learns.

    A choice question's answers are three index arrays (object, worker, label: ``_Choices``), read
    once per distinct form of the batch (``BatchAnswers.forms``); the other types' are one
    ``Answer(object id, worker id, value)`` per answer. A batch of 100,000 objects x 9 workers holds
    900,000 answers of each question and a handful of distinct forms.
    """

    def __init__(self, batch: BatchAnswers, questions: Sequence[Question], lengths: Mapping[str, int],
                 *, default_method: str, s3, state: Optional[JobState], workers_per_object: Optional[int],
                 gold: Optional[Mapping[str, Mapping[str, Any]]] = None) -> None:
        self.batch = batch
        self.object_ids = batch.object_ids
        self.objects, self.workers_of, self.form_of = _ints(batch.objects), _ints(batch.workers), _ints(batch.form_of)
        self._failures: dict[int, str] = {}  # answer -> why its form broke a reader
        self.choices: dict[str, _Choices] = {}
        self.columns: dict[str, list[Answer]] = {}
        usable = np.zeros(self.objects.size, bool)  # per answer: at least one of its questions read
        failed = np.zeros(self.objects.size, bool)  # per answer: its form broke a reader (logged)
        problems: list[tuple[int, int, int, str]] = []  # (answer, question, order, problem): logged in that order
        read: dict[str, tuple[list, np.ndarray]] = {}  # per question: values, and each answer's value among them
        for position, question in enumerate(questions):
            if isinstance(question, Spans):  # spans name their worker and end within the object's text
                values, read_problems, broken = self._read_each_answer(question, lengths)
                value_of = np.arange(len(values))
            else:
                values, read_problems, broken = self._read_each_form(question)
                value_of = self.form_of
            problems.extend((row, position, order, problem) for row, order, problem in read_problems)
            failed |= broken
            usable |= np.array([value is not None for value in values], bool)[value_of] if values else False
            read[question.name] = (values, value_of)
        problems.extend((row, -1, 0, problem) for row, problem in self._failures.items())
        for row, position, _, problem in sorted(problems):
            if position < 0 or not failed[row]:  # an answer skipped whole is named once
                self._skip(row, problem)
        usable &= ~failed
        for question in questions:  # only answers whose form was read whole count
            values, value_of = read[question.name]
            if question.is_choice:
                label_of = {label: i for i, label in enumerate(question.labels)}
                labels = np.array([-1 if value is None else label_of[value] for value in values] or [-1], np.intp)
                self.choices[question.name] = _Choices(self.objects, self.workers_of, labels[value_of], ~failed)
            else:
                self.columns[question.name] = [
                    Answer(batch.object_ids[o], batch.worker_ids[w], values[v])
                    for o, w, v, ok in zip(self.objects.tolist(), self.workers_of.tolist(), value_of.tolist(),
                                           (~failed).tolist()) if ok and values[v] is not None]
        # per object, the workers with at least one usable answer
        self.workers = np.bincount(self.objects[usable], minlength=len(batch.object_ids)).tolist()
        self.default_method, self.s3, self.state = default_method, s3, state
        self.workers_per_object = workers_per_object
        self.gold = gold or {}  # {question: {object id: known label (a MultiSelect's: the known list)}}
        self.memory = worker_model.Memory(s3, state, memory_bounds(questions, default_method))
        self.prior = self.memory.prior
        self.learned: dict[str, Entry] = {}

    def _skip(self, row: int, problem: str) -> None:
        batch = self.batch
        batch.skip(int(self.objects[row]), batch.worker_ids[self.workers_of[row]], problem)

    def _failure(self, rows, error: Exception) -> None:
        """Answers whose form broke a reader: each answer is skipped whole, as ``read_each`` skips it."""
        for row in rows:
            self._failures.setdefault(int(row), describe(error))

    def _read_each_form(self, question: Question) -> tuple[list, list, np.ndarray]:
        """The question's answer in each distinct form, read once (None: none); the problems of each answer."""
        batch = self.batch
        read: list = []
        broken_forms = []
        for index, form in enumerate(batch.forms):
            try:
                read.append(read_form([question], WorkerAnswer("", form)))
            except Exception as error:  # noqa: BLE001 - one worker's form never fails the batch
                read.append(FormAnswers(""))
                broken_forms.append((index, error))
        values = [found.values.get(question.name) for found in read]  # per distinct form
        problems = []
        with_problems = [index for index, found in enumerate(read) if found.problems]
        if with_problems:
            for row in np.flatnonzero(np.isin(self.form_of, with_problems)).tolist():
                problems.extend((row, order, problem) for order, problem in enumerate(read[self.form_of[row]].problems))
        broken = np.zeros(self.objects.size, bool)
        for index, error in broken_forms:
            rows = np.flatnonzero(self.form_of == index)
            broken[rows] = True
            self._failure(rows.tolist(), error)
        return values, problems, broken

    def _read_each_answer(self, question: Spans, lengths: Mapping[str, int]) -> tuple[list, list, np.ndarray]:
        """The question's answer in each answer (None: none), and its problems."""
        batch = self.batch
        values, problems = [], []
        broken = np.zeros(self.objects.size, bool)
        rows = zip(self.objects.tolist(), self.workers_of.tolist(), self.form_of.tolist())
        for row, (o, w, f) in enumerate(rows):
            try:
                found = read_form([question], WorkerAnswer(batch.worker_ids[w], batch.forms[f]),
                                  lengths.get(batch.object_ids[o], MAX_TEXT_BYTES))
            except Exception as error:  # noqa: BLE001 - one worker's form never fails the batch
                broken[row] = True
                self._failure([row], error)
                values.append(None)
                continue
            values.append(found.values.get(question.name))
            problems.extend((row, order, problem) for order, problem in enumerate(found.problems))
        return values, problems, broken

    # -- one question of each type -----------------------------------------------------------------------
    def choice(self, question: Question) -> list[dict[str, Any]]:
        """Each object's value, in the batch's object order."""
        column = self.choices[question.name]
        result = consolidate_indexed(self.object_ids, column.objects, column.workers, self.batch.worker_ids,
                                     column.labels, question.labels, method=method_of(question, self.default_method),
                                     tie=getattr(question, "tie", None), abstain=getattr(question, "abstain", None),
                                     prior=self.prior.get(question.name), gold=self.gold.get(question.name))
        if result.learned is not None:
            self.learned[question.name] = result.learned
        self._report(question, column, result)
        votes = _vote_counts(column.objects, column.labels, len(self.object_ids), question.labels)
        gold = result.gold
        classes = job_confidence.classes_of(question, len(self.object_ids))  # (a large batch keeps no evidence)
        values = []
        for i, (object_id, label, confidence, counted) in enumerate(
                zip(self.object_ids, result.labels, result.confidences, votes)):
            value = {"label": label, "confidence": round(confidence, job_confidence.CONFIDENCE_DIGITS),
                     "votes": counted}
            if gold and object_id in gold:
                value[GOLD_KEY] = gold[object_id]
                if gold_missed(label, gold[object_id]):
                    value[GOLD_MISS_KEY] = True
            values.append(job_confidence.keep_evidence(value, result, i, classes))
        return values

    def multi_select(self, question: MultiSelect) -> dict[str, Any]:
        answered = self.columns[question.name]  # each answer's label: the set of choices selected
        chosen: dict[str, list[str]] = {object_id: [] for object_id in self.object_ids}
        confidence: dict[str, dict[str, float]] = {object_id: {} for object_id in self.object_ids}
        evidence: dict[str, dict[str, Any]] = {object_id: {} for object_id in self.object_ids}
        decided: dict[str, tuple[list[Answer], ChoiceResult]] = {}
        classes = job_confidence.classes_of(CHOICE_AS_YES_NO, len(self.object_ids))  # (a large batch keeps none)
        gold = self.gold.get(question.name, {})  # {object id: the choices known to apply, in the question's order}
        position = {object_id: i for i, object_id in enumerate(self.object_ids)} if gold else {}
        missed: set[str] = set()  # gold objects a decided choice of which is not its known yes/no
        for choice in question.choices:  # in the question's order, so each object's choices are too
            answers = [Answer(a.object_id, a.worker_id, SELECTED if choice in a.label else NOT_SELECTED)
                       for a in answered]
            result = self._decide(multi_select_entry(question.name, choice), answers, CHOICE_AS_YES_NO.labels,
                                  method_of(question, self.default_method), tie=SELECTED,
                                  gold=choice_gold(gold, choice))
            decided[choice] = answers, result
            missed.update(object_id for object_id, known in result.gold.items()
                          if gold_missed(result.labels[position[object_id]], known))
            for i, (object_id, label, p) in enumerate(zip(result.object_ids, result.labels, result.confidences)):
                if label is None:
                    continue
                confidence[object_id][choice] = round(choice_probability(p, label == SELECTED),
                                                           job_confidence.CONFIDENCE_DIGITS)
                if label == SELECTED:
                    chosen[object_id].append(choice)
                its = job_confidence.evidence_of_result(result, i, label, classes)
                if its is not None:
                    evidence[object_id][choice] = its
        self._report_multi_select(question, decided)
        votes = _votes(((a.object_id, choice) for a in answered for choice in a.label), question.choices)
        values = {}
        for object_id in self.object_ids:
            value = {"labels": chosen[object_id], "confidence": confidence[object_id],
                     "votes": votes.get(object_id, {})}
            if object_id in gold:
                value[GOLD_KEY] = list(gold[object_id])
                if object_id in missed:
                    value[GOLD_MISS_KEY] = True
            if evidence[object_id]:
                value[job_confidence.EVIDENCE_KEY] = evidence[object_id]
            values[object_id] = value
        return values

    def spans(self, question: Spans) -> dict[str, Any]:
        inputs: dict[str, tuple[list[str], list[Span]]] = {object_id: ([], []) for object_id in self.object_ids}
        for answer in self.columns[question.name]:  # each answer's label: the worker's spans
            workers, spans = inputs[answer.object_id]
            workers.append(answer.worker_id)
            spans.extend(answer.label)

        def run(weights: Optional[Mapping[str, float]]):
            return {object_id: consolidate_spans(spans, workers, weights=weights, label_order=question.span_labels)
                    for object_id, (workers, spans) in inputs.items()}

        def records(entities):
            return score_workers((inputs[o][0], inputs[o][1], entities[o]) for o in inputs)

        if method_of(question, self.default_method) == MAJORITY_VOTE:
            entities = run(None)  # every worker weighs the same, nothing is remembered
        else:
            prior = records_of(self.prior[question.name].workers) if question.name in self.prior else {}
            first = run(weights_of(prior))
            combined = {w: prior.get(w, SpanRecord()).add(r) for w, r in records(first).items()}
            entities = run(weights_of({**prior, **combined}))
            self.learned[question.name] = Entry({w: r.counts() for w, r in records(entities).items()},
                                                {SPAN: float(sum(len(found) for found in entities.values()))})
        self._report_spans(question, [(object_id, workers, spans, entities[object_id])
                                      for object_id, (workers, spans) in inputs.items()])
        return {object_id: {"entities": [entity.as_json() for entity in found]}
                for object_id, found in entities.items()}

    def free_text(self, question: FreeText) -> dict[str, Any]:
        texts: dict[str, list] = {object_id: [] for object_id in self.object_ids}
        for answer in self.columns[question.name]:  # each answer's label: the text
            texts[answer.object_id].append({"workerId": answer.worker_id, "text": answer.label})
        return texts

    # -- shared ------------------------------------------------------------------------------------------
    def _decide(self, entry: str, answers: list[Answer], labels: Sequence[str], method: str, *,
                tie: Optional[str] = None, abstain: Optional[str] = None,
                gold: Optional[Mapping[str, str]] = None) -> ChoiceResult:
        result = consolidate_choice(self.object_ids, answers, labels, method=method, tie=tie, abstain=abstain,
                                    prior=self.prior.get(entry), gold=gold)
        if result.learned is not None:
            self.learned[entry] = result.learned
        return result

    def _report(self, question: Question, column: "_Choices", result: ChoiceResult) -> None:
        try:
            label_of = {label: i for i, label in enumerate(question.labels)}
            consolidated = np.array([-1 if label is None else label_of[label] for label in result.labels], np.int64)
            gold = self.gold.get(question.name)
            known = None
            if gold:
                known = np.full(len(self.object_ids), -1, np.int64)
                for i, object_id in enumerate(self.object_ids):
                    if object_id in gold and gold[object_id] in label_of:
                        known[i] = label_of[gold[object_id]]
            stats = batch_statistics_from_indices(column.objects, column.workers, self.batch.worker_ids, column.labels,
                                                  consolidated, question.labels, known)
            record_quality_statistics(self.s3, self.state, question.name, stats, question.labels,
                                      self.workers_per_object, fit=_fit_of(result))
        except Exception:  # noqa: BLE001 - the labels matter more than the report: never fail the batch for it
            LOG.exception("quality report of %s could not be written", question.name)

    def _report_multi_select(self, question: MultiSelect, decided: Mapping[str, tuple[list[Answer], ChoiceResult]]):
        try:
            per_choice = {choice: batch_statistics(((a.object_id, a.worker_id, a.label) for a in answers),
                                                   dict(zip(result.object_ids, result.labels)),
                                                   CHOICE_AS_YES_NO.labels, result.gold)
                          for choice, (answers, result) in decided.items()}
            fits = [_fit_of(result) for _answers, result in decided.values()]
            fit = None if None in fits or not fits else {
                "iterations": max(f["iterations"] for f in fits), "converged": all(f["converged"] for f in fits),
                "temperature": None}  # one per choice: the report's fit is theirs together
            record_multi_select_quality(self.s3, self.state, question.name, per_choice, CHOICE_AS_YES_NO.labels,
                                        self.workers_per_object, fit=fit)
        except Exception:  # noqa: BLE001 - as for the choice reports: the labels come first
            LOG.exception("quality report of %s could not be written", question.name)

    def _report_spans(self, question: Spans, objects: list) -> None:
        try:
            record_span_quality(self.s3, self.state, question.name, objects, question.span_labels,
                                self.workers_per_object)
        except Exception:  # noqa: BLE001 - as for the choice reports: the labels come first
            LOG.exception("span quality report of %s could not be written", question.name)


def _fit_of(result: ChoiceResult) -> Optional[dict[str, Any]]:
    """The worker model's fit of a question, for its quality report (None: majority vote, no fit)."""
    if result.learned is None:
        return None
    return {"iterations": result.iterations, "converged": result.converged, "temperature": result.temperature}


def _votes(pairs, labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per object, how many workers gave each label: only labels given, in the question's order."""
    counted: dict[str, dict[str, int]] = {}
    for object_id, label in pairs:
        counts = counted.setdefault(object_id, {})
        counts[label] = counts.get(label, 0) + 1
    return {object_id: {label: counts[label] for label in labels if label in counts}
            for object_id, counts in counted.items()}


def _vote_counts(objects: np.ndarray, labels: np.ndarray, n_objects: int, names: Sequence[str]) -> list[dict[str, int]]:
    """``_votes`` from index arrays: per object (in order) ``{label: workers}``, only labels given, in
    the question's order. Objects share few vote patterns: each pattern is built once and copied."""
    L = len(names)
    table = np.bincount(objects * L + labels, minlength=n_objects * L).reshape(n_objects, L)
    base = int(table.max(initial=0)) + 1
    if L * np.log2(base) < 62:  # each row as one integer: unique on integers is far faster than on rows
        key = table @ (base ** np.arange(L, dtype=np.int64))
        _, first, which = np.unique(key, return_index=True, return_inverse=True)
        patterns = table[first]
    else:
        patterns, which = np.unique(table, axis=0, return_inverse=True)
    built = [{names[j]: int(row[j]) for j in np.flatnonzero(row).tolist()} for row in patterns]
    return [built[i].copy() for i in which.reshape(-1).tolist()]


class _Choices:
    """A choice question's answers as index arrays: object, worker (``BatchAnswers``'), label (the question's)."""

    def __init__(self, objects: np.ndarray, workers: np.ndarray, label_of_answer: np.ndarray, usable: np.ndarray):
        kept = (label_of_answer >= 0) & usable
        self.objects, self.workers, self.labels = objects[kept], workers[kept], label_of_answer[kept]


def _ints(values) -> np.ndarray:
    """An ``array('q')`` of ``BatchAnswers`` as a numpy array (a view, not a copy)."""
    return np.frombuffer(values, dtype=np.int64) if len(values) else np.zeros(0, np.int64)


def _answered(batch: BatchAnswers) -> dict[str, Any]:
    """``{object id: dataObject}`` of the batch's objects with at least one answer."""
    counts = np.bincount(_ints(batch.objects), minlength=len(batch.object_ids))
    return {batch.object_ids[i]: batch.data_objects[i] for i in np.flatnonzero(counts).tolist()}


def memory_bounds(questions: Sequence[Question], default_method: str) -> dict[str, float]:
    """The worker-memory entries the questions use (those consolidated with a worker model), each with
    the largest count a job can store in it."""
    bounds: dict[str, float] = {}
    for question in questions:
        if method_of(question, default_method) == MAJORITY_VOTE:
            continue
        bound = MAX_SPANS_PER_JOB if isinstance(question, Spans) else MAX_OBJECTS_PER_JOB
        bounds.update((name, bound) for name in entry_names(question))
    return bounds


def _task_records(batch: BatchAnswers, s3, environ: Mapping[str, str], job: str) -> dict[str, Any]:
    """Each answered object's task record in ``job`` (what pre-labeling showed and knew), {} without a records
    folder."""
    try:
        folder = records_location(environ)
    except InputError as error:  # the deployment's setting, not a worker's answer: fail loudly
        raise ConfigurationError(str(error)) from error
    if folder is None or s3 is None:
        return {}
    return read_records(s3, _answered(batch), job, environ)


def consolidate_items(items: Sequence[DataObjectAnswers], questions: Sequence[Question], *, method: str, s3,
                      state: Optional[JobState], workers_per_object: Optional[int] = None,
                      environ: Mapping[str, str] = os.environ, job: str = "") -> dict[str, dict[str, Any]]:
    """The consolidated label of every object of the batch (see the module docstring).

    ``method``: the deployment's default (a question's own overrides it); ``state`` None: nothing is
    remembered between batches and no report is written; ``workers_per_object``: the event's
    ``maxHumanWorkersPerDataObject``; ``environ``: where ``TASK_RECORDS_URI`` is read; ``job``: the labeling
    job whose task records are read (``labeling_job.job_name_of_event``). A part of an
    answer that is not used is recorded on its item (``DataObjectAnswers.skip``).
    """
    return consolidate_answers(BatchAnswers.from_items(items), questions, method=method, s3=s3, state=state,
                               workers_per_object=workers_per_object, environ=environ, job=job)


def consolidate_answers(batch: BatchAnswers, questions: Sequence[Question], *, method: str, s3,
                        state: Optional[JobState], workers_per_object: Optional[int] = None,
                        environ: Mapping[str, str] = os.environ, job: str = "") -> dict[str, dict[str, Any]]:
    """``consolidate_items`` of a batch read by ``consolidation.read_batch`` (what the handler reads)."""
    records = (_task_records(batch, s3, environ, job)
               if any(q.is_choice or isinstance(q, (MultiSelect, Spans)) for q in questions) else {})
    lengths = (text_lengths(_answered(batch), s3, environ, records, job) if any(isinstance(q, Spans) for q in questions)
               else {})
    gold = gold_by_question(records, questions)
    if workers_per_object is not None:
        counts = np.bincount(_ints(batch.objects), minlength=len(batch.object_ids))
        for obj in np.flatnonzero(counts > workers_per_object).tolist():
            LOG.warning("object %s has answers from %d workers, more than the job's %d workers per object",
                        batch.object_ids[obj], counts[obj], workers_per_object)
    consolidating = _Batch(batch, questions, lengths, default_method=method, s3=s3, state=state,
                           workers_per_object=workers_per_object, gold=gold)
    values: list[list] = []
    for question in questions:
        if question.is_choice:
            values.append(consolidating.choice(question))
            continue
        if isinstance(question, MultiSelect):
            by_object = consolidating.multi_select(question)
        elif isinstance(question, Spans):
            by_object = consolidating.spans(question)
        elif isinstance(question, FreeText):
            by_object = consolidating.free_text(question)
        else:  # questions.py and this module disagree: a deployment error, not a worker's
            raise TypeError(f"question {question.name}: type {question.kind!r} has no consolidation")
        values.append([by_object[object_id] for object_id in batch.object_ids])
    consolidating.memory.save(consolidating.learned)
    names = [question.name for question in questions]
    return {object_id: {**dict(zip(names, value)), WORKERS_KEY: workers}
            for object_id, workers, *value in zip(batch.object_ids, consolidating.workers, *values)}
