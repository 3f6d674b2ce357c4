"""The worker memory: what a job's earlier batches showed about each worker, one format for every question.

The job's memory is one merged snapshot, updated by each batch with conditional writes
(``gt_common.job_state``: concurrent batches lose nothing, a retried batch replaces its own
contribution, and a batch reads one object however many came before it); each batch's own
contribution is also kept as its record::

    <output>/<job>/annotations/consolidation-state/snapshots/worker-model.json   the job's sum
    <output>/<job>/annotations/consolidation-state/worker-model/<batch id>.json  one batch's counts

Both hold counts in one format (the snapshot's ``total`` and each ``pending`` value; a batch's record
as it is)::

    {"version": 2,
     "questions": {<entry>: {"workers": {<worker>: {<true class>: {<answered class>: count}}},
                             "classes": {<class>: count},
                             "temper": [<held-out loss>, ...],        (optional)
                             "gold_bins": [[<gold objects>, <labeled right>, <confidence sum>], ...]}}}
                                                                       (optional: per gold confidence bin)
                             "pairs": [[<worker>, <worker>, <objects shared>, <answered alike>], ...]}}}
                                                                       (optional: for ``gt_common.collusion``)

Entries, by question type (``entry_names``):

- Classification, YesNo, Checkbox: the question's name; true classes are its labels but the abstain
  label, answered classes all its labels; the counts are the calibrated worker model's expected
  counts of this batch (``gt_common.choices``, ``gt_common.crowd_model``), and ``temper`` the batch's
  held-out evidence for each of ``crowd_model.TEMPERATURES`` (summed over batches, it picks the
  job's temperature). Every worker's counts also make the crowd's prior for workers seen less.
- MultiSelect: one entry per choice, ``<question>/<choice>`` (a question name holds no ``/``), each
  choice a yes/no of its own: classes ``Yes`` and ``No``.
- Spans: the question's name, with the pseudo-classes ``span`` and ``none``: a worker's span that
  matches a consolidated one is span->span, a consolidated span the worker did not draw is
  span->none, a worker's span that matches nothing is none->span (``gt_common.span_reliability``);
  classes count the consolidated spans.

Only what a worker model uses is kept: questions consolidated by majority vote write nothing. Counts
are stored by class *name*, so a label list that changes between batches keeps what is known about
the classes both lists share.

Stored counts are data, not trusted code: the snapshot (or a batch's record) counts only whole, and
only when it is strict JSON of this version whose entries this batch uses are sound (``check_file``: the shape above, every
count a finite number in ``[0, bound]`` for the entry's bound, which is what a Ground Truth job can
hold; ``temper`` one number per temperature, each in ``[0, bound x TEMPER_LOSS_PER_OBJECT]``).
Otherwise it is logged by name: a corrupt snapshot is rebuilt from the batches' records, a corrupt
record is left out and the others still count.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from .crowd_model import GOLD_BIN_EDGES, TEMPERATURES
from .job_state import JobState, Ledger, count, mapping, tree_sum
from .questions import MultiSelect, Question, Spans

LOG = logging.getLogger(__name__)
VERSION = 2
KIND = "worker-model"  # the state folder of the files
Nested = dict[str, dict[str, float]]  # {true class: {answered class: count}}
#: The largest held-out loss one object can add: a few workers, each answer's loss at most ~690 (-log 1e-300).
TEMPER_LOSS_PER_OBJECT = 10_000


@dataclass
class Entry:
    """One entry's counts: per worker, and per true class."""

    workers: dict[str, Nested] = field(default_factory=dict)
    classes: dict[str, float] = field(default_factory=dict)
    temper: list[float] = field(default_factory=list)  # held-out loss per crowd_model.TEMPERATURES
    gold_bins: list[list[float]] = field(default_factory=list)  # per crowd_model.GOLD_BIN_EDGES bin: n, right, sum
    pairs: list[list] = field(default_factory=list)  # [worker, worker, objects shared, answered alike], names sorted

    def as_json(self) -> dict[str, Any]:
        return {"workers": self.workers, "classes": self.classes, **({"temper": self.temper} if self.temper else {}),
                **({"gold_bins": self.gold_bins} if self.gold_bins else {}),
                **({"pairs": self.pairs} if self.pairs else {})}

    def add(self, other: "Entry") -> None:
        for worker, nested in other.workers.items():
            self.workers[worker] = add_nested(self.workers.get(worker, {}), nested)
        for name, number in other.classes.items():
            self.classes[name] = self.classes.get(name, 0.0) + number
        if other.temper:
            self.temper = [a + b for a, b in zip(self.temper, other.temper)] if self.temper else list(other.temper)
        if other.pairs:
            totals = {(a, b): [n, agreed] for a, b, n, agreed in self.pairs}
            for a, b, n, agreed in other.pairs:
                total = totals.setdefault((a, b), [0, 0])
                total[0] += n
                total[1] += agreed
            self.pairs = [[a, b, n, agreed] for (a, b), (n, agreed) in sorted(totals.items())]
        if other.gold_bins:
            self.gold_bins = ([[a + b for a, b in zip(mine, theirs)] for mine, theirs in zip(self.gold_bins, other.gold_bins)]
                              if self.gold_bins else [list(row) for row in other.gold_bins])


def add_nested(a: Mapping[str, Mapping[str, float]], b: Mapping[str, Mapping[str, float]]) -> Nested:
    merged = {true: dict(row) for true, row in a.items()}
    for true, row in b.items():
        target = merged.setdefault(true, {})
        for answered, number in row.items():
            target[answered] = target.get(answered, 0.0) + number
    return merged


def multi_select_entry(question: str, choice: str) -> str:
    return f"{question}/{choice}"


def entry_names(question: Question) -> list[str]:
    """The entries a question keeps in the worker memory (see the module docstring)."""
    if isinstance(question, MultiSelect):
        return [multi_select_entry(question.name, choice) for choice in question.choices]
    if question.is_choice or isinstance(question, Spans):
        return [question.name]
    return []


def _check_entry(value: Any, name: str, bound: float) -> Entry:
    where = name[:60]
    value = mapping(value, f"questions[{where!r}]")
    workers: dict[str, Nested] = {}
    for worker, nested in mapping(value.get("workers"), f"{where}: workers").items():
        shown = f"{where}: workers[{worker[:60]!r}]"
        rows: Nested = {}
        for true, row in mapping(nested, shown).items():
            rows[true] = {answered: count(number, f"{where}: count of worker {worker[:60]!r}", bound)
                          for answered, number in mapping(row, f"{shown}[{true[:60]!r}]").items()}
        workers[worker] = rows
    classes = {class_name: count(number, f"{where}: class count {class_name[:60]!r}", bound)
               for class_name, number in mapping(value.get("classes"), f"{where}: classes").items()}
    temper = value.get("temper", [])
    if not isinstance(temper, list) or temper and len(temper) != len(TEMPERATURES):
        raise ValueError(f"{where}: temper is not a list of {len(TEMPERATURES)} numbers")
    temper = [count(number, f"{where}: temper", bound * TEMPER_LOSS_PER_OBJECT) for number in temper]
    gold_bins = value.get("gold_bins", [])
    rows = len(GOLD_BIN_EDGES) + 1
    if not isinstance(gold_bins, list) or gold_bins and (
            len(gold_bins) != rows or not all(isinstance(row, list) and len(row) == 3 for row in gold_bins)):
        raise ValueError(f"{where}: gold_bins is not {rows} rows of [objects, right, confidence sum]")
    gold_bins = [[count(number, f"{where}: gold_bins", bound) for number in row] for row in gold_bins]
    if any(right > n or total > n for n, right, total in gold_bins):
        raise ValueError(f"{where}: gold_bins has more right answers or confidence than gold objects")
    pairs = value.get("pairs", [])
    if not isinstance(pairs, list):
        raise ValueError(f"{where}: pairs is not a list")
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 4 and all(isinstance(x, str) for x in pair[:2])
                and pair[0] < pair[1]):
            raise ValueError(f"{where}: a pair is not [worker, worker (in order), shared objects, answered alike]")
        shared = count(pair[2], f"{where}: objects two workers shared", bound)
        count(pair[3], f"{where}: objects two workers answered alike", shared)
    return Entry(workers, classes, temper, gold_bins, [list(pair) for pair in pairs])


def check_file(value: Mapping[str, Any], bounds: Mapping[str, float]) -> dict[str, Entry]:
    """The file's entries named in ``bounds`` (entry -> the largest count it may hold); ValueError
    naming the first thing wrong. Entries this batch does not use are neither read nor checked."""
    if value.get("version") != VERSION:
        raise ValueError(f"version is {str(value.get('version'))[:20]}, not {VERSION}")
    questions = mapping(value.get("questions"), "questions")
    return {name: _check_entry(questions[name], name, bound) for name, bound in bounds.items() if name in questions}


def merge(files: Iterable[Mapping[str, Entry]]) -> dict[str, Entry]:
    merged: dict[str, Entry] = {}
    for entries in files:
        for name, entry in entries.items():
            merged.setdefault(name, Entry()).add(entry)
    return merged


def ledger(bounds: Mapping[str, float]) -> Ledger:
    """How the worker memory adds up: counts summed leaf by leaf (pairs by their two workers), checked for
    the entries in ``bounds``."""
    return Ledger(KIND, lambda value: check_file(value, bounds), merge_files)


def merge_files(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The sum of worker-memory documents (some may be ``job_state.negated``). Every count adds leaf by
    leaf except an entry's ``pairs``: a list of records, one per pair of workers, so two batches' lists are
    added by the pair they name (a pair whose counts sum to nothing is left out)."""
    total = tree_sum([_pairs_by_workers(part) for part in parts])
    for entry in (total.get("questions") or {}).values():
        if isinstance(entry, dict) and "pairs" in entry:
            listed = [[a, b, *counts] for a, row in sorted(entry["pairs"].items())
                      for b, counts in sorted(row.items()) if any(counts)]
            if listed:
                entry["pairs"] = listed
            else:
                del entry["pairs"]
    return total


def _pairs_by_workers(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` with each entry's pair records as ``{worker: {worker: [shared, alike]}}``."""
    document = json.loads(json.dumps(document))
    for entry in (document.get("questions") or {}).values():
        if isinstance(entry, dict) and isinstance(entry.get("pairs"), list):
            keyed: dict[str, dict[str, list]] = {}
            for first, second, shared, alike in entry["pairs"]:
                keyed.setdefault(first, {})[second] = [shared, alike]
            entry["pairs"] = keyed
    return document


class Memory:
    """The job's worker memory for one batch: what the earlier batches learned (``prior``), and the
    place this batch's counts go (``save``)."""

    def __init__(self, s3_client, state: Optional[JobState], bounds: Mapping[str, float]) -> None:
        """Reads the job's memory of the entries in ``bounds`` (entry -> the largest count it may hold)."""
        self.s3_client, self.state, self.bounds = s3_client, state, dict(bounds)
        self._read = None
        self.prior: dict[str, Entry] = {}
        if state is None or not self.bounds:
            return
        total, self._read = state.earlier_total(s3_client, ledger(self.bounds))
        if total is not None:
            self.prior = check_file(total, self.bounds)

    def save(self, entries: Mapping[str, Entry]) -> bool:
        """Add this batch's counts to the job's memory; False when there is nothing to add or it could
        not be saved (logged)."""
        if self.state is None or not entries:
            return False
        value = {"version": VERSION, "questions": {name: entry.as_json() for name, entry in entries.items()}}
        if self.state.fold(self.s3_client, ledger(self.bounds), value, self._read) is None:
            return False
        LOG.info("worker model of %s added to %s", ", ".join(entries), self.state.snapshot_key(KIND))
        return True


def load(s3_client, state: Optional[JobState], bounds: Mapping[str, float]) -> dict[str, Entry]:
    """Every earlier batch's counts of the entries in ``bounds``, summed; {} without state or entries."""
    return Memory(s3_client, state, bounds).prior


def save(s3_client, state: Optional[JobState], entries: Mapping[str, Entry], bounds: Mapping[str, float]) -> bool:
    """Add this batch's counts to the job's memory without an earlier ``load`` (``Memory.save``)."""
    memory = Memory(s3_client, None, bounds)
    memory.state = state
    return memory.save(entries)
