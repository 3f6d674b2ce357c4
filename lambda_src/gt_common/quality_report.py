"""Per-job labeling quality report for a classification question (numpy only, Lambda-safe).

What it reports
---------------
``{"classes": [...], "objects": n, "answers": n,
   "workers": {worker_id: {"answers": n, "compared": n, "agreement": f | None,
                           "confusion": K x K counts}},
   "agreement": {"krippendorff_alpha": f | None, "fleiss_kappa": f | None, ...},
   "consolidated_label_counts": {class: n}, "answer_label_counts": {class: n} | None, ...}``

* **Per worker**: ``confusion[r][c]`` counts the worker's answers ``c`` on objects whose
  consolidated label is ``r`` (rows = consolidated label, columns = the worker's answer, both in
  ``classes`` order). ``compared`` is the number of the worker's answers on objects that have a
  consolidated label (the sum of the matrix); ``agreement`` = trace / compared, the fraction of
  those answers equal to the consolidated label (None if nothing could be compared). Answers on
  objects without a consolidated label (None, or a label outside ``classes``) count in
  ``answers`` but not in ``compared``.
* **Collusion, spam, gold** (``gt_common.collusion``): per worker ``kappa`` (Cohen's kappa of their
  answers against the consolidated label), ``spam`` (kappa at most ``worker_agreement.SPAM_KAPPA`` over at least
  ``worker_agreement.MIN_SPAM_ANSWERS`` compared answers), ``gold_answers`` and ``gold_accuracy`` (answers on
  gold objects and the share naming the known label; None without any); ``spam_workers``; and
  ``colluding_pairs``: pairs of workers who agree beyond what their skills explain, with the evidence,
  from the statistics' ``pairs`` (``[worker, worker, objects shared, answered alike]``, merged exactly)
  and each worker's answers per label (``labels``).
* **Krippendorff's alpha (nominal)**, coincidence-matrix formulation (Krippendorff 2011,
  "Computing Krippendorff's Alpha-Reliability"): an object with ``m_u`` answers contributes
  ``(n_uc * n_uk - [c == k] * n_uc) / (m_u - 1)`` to ``o[c, k]``; objects with a single answer
  are not pairable and contribute nothing (the standard definition). With ``n_c`` the row sums
  and ``n`` the total of pairable values,
  ``alpha = 1 - (n - 1) * (n - sum_c o_cc) / (n**2 - sum_c n_c**2)``.
  Every answer of an object counts as one value, so a worker answering the same object twice
  would count twice (the consolidation functions pass one answer per worker and object).
* **Fleiss' kappa** is defined for a fixed number of raters per object. It is computed over the
  objects having the *modal* number of answers among objects with at least two answers (ties:
  the larger number of answers wins); ``fleiss_kappa_raters`` and ``fleiss_kappa_objects`` in
  ``report["agreement"]`` say which rater count and how many objects were used. Workers need not
  be the same people across objects (Fleiss' kappa does not assume that).
* ``pairwise_agreement``: the observed fraction of agreeing ordered answer pairs within objects
  (``sum_c o_cc / n``), undefined (None) without pairable values.

Degenerate cases
----------------
Nothing raises and nothing is NaN/inf (``json.dumps(report, allow_nan=False)`` works):

* no answers, or no object with >= 2 answers: alpha, kappa and pairwise agreement are None;
* expected disagreement 0 (every pairable value is the same class, whether or not the workers
  "agree"): alpha is 0/0 and Krippendorff leaves it undefined; we return **None**, not 1.0, and
  set ``krippendorff_alpha_note``. Likewise Fleiss' kappa is None when ``P_e == 1`` (one class
  used by everyone in the kappa objects), with ``fleiss_kappa_note``;
* a worker with no compared answers has ``agreement`` None.

Answers whose label is None or not one of ``classes`` are skipped and counted in
``ignored_answers`` (they are neither a value for alpha/kappa nor a worker answer).
``answer_label_counts`` counts the answers per class (every worker's, on every object); it is None
in a report merged from a batch whose statistics were stored before it was counted.

Merging batches
---------------
Ground Truth calls the consolidation Lambda once per batch, so the report is built from
mergeable statistics: ``batch_statistics`` -> ``merge_statistics`` -> ``report_from_statistics``.
All statistics are integer counts (JSON-serialisable; store them next to the batch output):

* per worker: answers and the ``K x K`` confusion counts; answers per class;
* Krippendorff: ``pair_counts[m]`` = sum over objects with ``m`` answers of
  ``n_uc * n_uk - [c == k] * n_uc`` (integers; the ``1 / (m - 1)`` weight is applied only in
  ``report_from_statistics``), so merging is exact and the merged report is *identical* to the
  report computed on the combined answers;
* Fleiss: per rater count ``m``: the number of objects, the per-class answer sums and the sum
  over objects and classes of ``n_ij**2`` (from which ``sum_i P_i`` follows exactly).

Merging assumes batches hold disjoint data objects (Ground Truth sends each object once per
job); answers of one object split over two batches would be treated as two objects.

API
---
* ``batch_statistics(answers, consolidated, classes) -> dict`` with ``answers`` an iterable of
  ``(object_id, worker_id, label)`` triples;
* ``batch_statistics_from_arrays(object_ids, worker_ids, labels, consolidated, classes)``;
* ``merge_statistics(list_of_stats) -> dict``;
* ``report_from_statistics(stats) -> dict``;
* ``quality_report(answers, consolidated, classes)`` and ``quality_report_from_arrays(...)``:
  one-call shortcuts (statistics then report);
* ``gt_common.worker_agreement.with_expert_decisions(report, decisions)``: the report against the final
  labels, experts' decisions in place of the crowd's labels they replace;
* ``krippendorff_alpha_nominal(coincidence)`` and ``fleiss_kappa(table)``: the bare estimators.
"""
from __future__ import annotations

import math
from typing import Any, Hashable, Iterable, Mapping, Optional, Sequence

import numpy as np

from . import collusion
from .worker_agreement import against_labels

STATISTICS_VERSION = 1

__all__ = [
    "batch_statistics",
    "batch_statistics_from_arrays",
    "batch_statistics_from_indices",
    "fleiss_kappa",
    "krippendorff_alpha_nominal",
    "merge_statistics",
    "quality_report",
    "quality_report_from_arrays",
    "report_from_statistics",
]


# --------------------------------------------------------------------------- estimators


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def krippendorff_alpha_nominal(coincidence: Any) -> float | None:
    """Nominal alpha from a ``K x K`` coincidence matrix (``o[c, k]``, already weighted by
    ``1 / (m_u - 1)``). None when fewer than two pairable values or when the expected
    disagreement is 0 (all pairable values in one class)."""
    o = np.asarray(coincidence, dtype=np.float64)
    n_c = o.sum(axis=1)
    n = float(n_c.sum())
    if n < 2:
        return None
    expected = n * n - float(np.dot(n_c, n_c))  # proportional to D_e
    if expected <= 0:
        return None
    observed = n - float(np.trace(o))  # proportional to D_o
    return _finite_or_none(1.0 - (n - 1.0) * observed / expected)


def _fleiss_from_sums(n_objects: int, raters: int, category_sums: np.ndarray, sum_squares: float) -> float | None:
    if n_objects < 1 or raters < 2:
        return None
    total = float(n_objects) * raters
    p_j = np.asarray(category_sums, dtype=np.float64) / total
    p_e = float(np.dot(p_j, p_j))
    # sum_i P_i = sum_i (sum_j n_ij^2 - m) / (m (m - 1))
    p_bar = (float(sum_squares) - total) / (raters * (raters - 1.0)) / n_objects
    if 1.0 - p_e <= 1e-15:
        return None
    return _finite_or_none((p_bar - p_e) / (1.0 - p_e))


def fleiss_kappa(table: Any) -> float | None:
    """Fleiss' kappa of an ``N x K`` table of counts (``table[i, j]`` raters putting object ``i``
    in class ``j``); every row must have the same sum (>= 2). None when undefined (no rows, or
    ``P_e == 1``). Raises ValueError if the row sums differ."""
    t = np.asarray(table, dtype=np.int64)
    if t.ndim != 2 or t.shape[0] == 0:
        return None
    sums = t.sum(axis=1)
    if np.any(sums != sums[0]):
        raise ValueError("Fleiss' kappa needs the same number of raters for every object")
    return _fleiss_from_sums(t.shape[0], int(sums[0]), t.sum(axis=0), float((t * t).sum()))


# --------------------------------------------------------------------------- statistics


def _label_index(classes: Sequence[str]) -> dict[Any, int]:
    index: dict[Any, int] = {}
    for i, name in enumerate(classes):
        if name in index:
            raise ValueError(f"duplicate class name {name!r}")
        index[name] = i
    return index


def batch_statistics(
    answers: Iterable[tuple[Hashable, Hashable, Any]],
    consolidated: Mapping[Hashable, Any],
    classes: Sequence[str],
    gold: Mapping[Hashable, str] | None = None,
) -> dict[str, Any]:
    """Mergeable statistics of one batch from ``(object_id, worker_id, label)`` triples (``gold``: the known
    label of each gold object)."""
    object_ids: list[Hashable] = []
    worker_ids: list[Hashable] = []
    labels: list[Any] = []
    for object_id, worker_id, label in answers:
        object_ids.append(object_id)
        worker_ids.append(worker_id)
        labels.append(label)
    return batch_statistics_from_arrays(object_ids, worker_ids, labels, consolidated, classes, gold)


def batch_statistics_from_arrays(
    object_ids: Sequence[Hashable],
    worker_ids: Sequence[Hashable],
    labels: Sequence[Any],
    consolidated: Mapping[Hashable, Any],
    classes: Sequence[str],
    gold: Mapping[Hashable, str] | None = None,
) -> dict[str, Any]:
    """Mergeable statistics of one batch from parallel sequences (one entry per answer).

    ``consolidated`` maps object id -> consolidated label (a class name) or None. Worker ids
    become strings (JSON object keys)."""
    classes = [str(c) for c in classes]
    if not (len(object_ids) == len(worker_ids) == len(labels)):
        raise ValueError("object_ids, worker_ids and labels must have the same length")
    class_index = _label_index(classes)

    # Map ids and labels to indices (one Python pass; everything after is vectorised).
    obj_index: dict[Hashable, int] = {}
    wrk_index: dict[str, int] = {}
    obj_idx: list[int] = []
    wrk_idx: list[int] = []
    lab_idx: list[int] = []
    ignored = 0
    for object_id, worker_id, label in zip(object_ids, worker_ids, labels):
        li = class_index.get(label) if label is not None else None
        if li is None:
            ignored += 1
            continue
        obj_idx.append(obj_index.setdefault(object_id, len(obj_index)))
        wrk_idx.append(wrk_index.setdefault(str(worker_id), len(wrk_index)))
        lab_idx.append(li)
    for object_id in consolidated:
        obj_index.setdefault(object_id, len(obj_index))
    cons = np.full(len(obj_index), -1, dtype=np.int64)
    for object_id, label in consolidated.items():
        ci = class_index.get(label) if label is not None else None
        if ci is not None:
            cons[obj_index[object_id]] = ci
    known = np.full(len(obj_index), -1, dtype=np.int64)
    for object_id, label in (gold or {}).items():
        if object_id in obj_index and label in class_index:
            known[obj_index[object_id]] = class_index[label]
    return batch_statistics_from_indices(obj_idx, wrk_idx, list(wrk_index), lab_idx, cons, classes, known, ignored)


def batch_statistics_from_indices(objects: Sequence[int], workers: Sequence[int], worker_names: Sequence[str],
                                  labels: Sequence[int], consolidated: np.ndarray, classes: Sequence[str],
                                  gold: Optional[np.ndarray] = None, ignored: int = 0) -> dict[str, Any]:
    """``batch_statistics_from_arrays`` with every answer as indices: ``objects[i]`` (into ``consolidated``,
    one entry per object of the batch: its label's index in ``classes``, -1 for none), ``workers[i]`` (into
    ``worker_names``), ``labels[i]`` (into ``classes``); ``gold``: per object its known label's index or -1;
    ``ignored``: answers left out before (not a class). Workers are reported in the order they first answer."""
    classes = [str(c) for c in classes]
    k = len(classes)
    _label_index(classes)  # refuses a class named twice
    o = np.asarray(objects, dtype=np.int64).reshape(-1)
    w = np.asarray(workers, dtype=np.int64).reshape(-1)
    lab = np.asarray(labels, dtype=np.int64).reshape(-1)
    if not (o.size == w.size == lab.size):
        raise ValueError("objects, workers and labels must have the same length")
    cons = np.asarray(consolidated, dtype=np.int64).reshape(-1)
    n_obj = cons.size
    # Workers renumbered in the order of their first answer (the report lists them so).
    first = np.full(len(worker_names), w.size, dtype=np.int64)
    np.minimum.at(first, w, np.arange(w.size))
    present = np.flatnonzero(first < w.size)
    appearance = present[np.argsort(first[present], kind="stable")]
    renumber = np.zeros(len(worker_names), dtype=np.int64)
    renumber[appearance] = np.arange(appearance.size)
    w = renumber[w]
    n_wrk = appearance.size
    worker_names = [str(worker_names[i]) for i in appearance.tolist()]

    # Consolidated label per object index (-1 = none / unknown).
    unconsolidated = int((cons < 0).sum())
    label_counts = np.bincount(cons[cons >= 0], minlength=k)[:k] if k else np.zeros(0, dtype=np.int64)

    # Per-worker confusion counts (rows = consolidated label, columns = answer).
    if k:
        answer_cons = cons[o] if o.size else np.zeros(0, dtype=np.int64)
        known = answer_cons >= 0
        confusion = np.bincount(
            (w[known] * k + answer_cons[known]) * k + lab[known], minlength=n_wrk * k * k
        ).reshape(n_wrk, k, k)
        worker_answers = np.bincount(w, minlength=n_wrk)
    else:
        confusion = np.zeros((n_wrk, 0, 0), dtype=np.int64)
        worker_answers = np.bincount(w, minlength=n_wrk)

    # Object x class answer table; its row sums are the answers per object.
    table = np.bincount(o * k + lab, minlength=n_obj * k).reshape(n_obj, k) if k else np.zeros((n_obj, 0), np.int64)
    per_object = table.sum(axis=1)
    answered = per_object > 0
    rater_counts: dict[str, int] = {}
    pair_counts: dict[str, list[list[int]]] = {}
    fleiss: dict[str, dict[str, Any]] = {}
    for m in np.unique(per_object[answered]):
        m = int(m)
        rows = table[per_object == m]
        rater_counts[str(m)] = int(rows.shape[0])
        if m < 2:
            continue  # a single answer is not pairable (Krippendorff) nor rateable (Fleiss)
        col = rows.sum(axis=0)
        # sum over objects of outer(n_u, n_u) - diag(n_u): pairs of values from different answers.
        pairs = rows.T @ rows - np.diag(col)
        pair_counts[str(m)] = pairs.astype(np.int64).tolist()
        fleiss[str(m)] = {
            "objects": int(rows.shape[0]),
            "category_sums": col.astype(np.int64).tolist(),
            "sum_squares": int((rows * rows).sum()),
        }

    # Answers on gold objects, and how many named the known label (per worker).
    known = np.full(n_obj, -1, dtype=np.int64) if gold is None else np.asarray(gold, dtype=np.int64).reshape(-1)
    answer_known = known[o] if o.size else np.zeros(0, dtype=np.int64)
    on_gold = answer_known >= 0
    gold_answers = np.bincount(w[on_gold], minlength=n_wrk)
    gold_right = np.bincount(w[on_gold & (lab == answer_known)], minlength=n_wrk)
    worker_labels = np.bincount(w * k + lab, minlength=n_wrk * k).reshape(n_wrk, k) if k else np.zeros((n_wrk, 0))
    first, second, shared, agreed = collusion.pair_table(o, w, lab)

    return {
        "version": STATISTICS_VERSION,
        "classes": classes,
        "objects": n_obj,
        "answers": int(lab.size),
        "ignored_answers": ignored,
        "workers": {
            name: {"answers": int(worker_answers[i]), "confusion": confusion[i].astype(np.int64).tolist(),
                   "labels": worker_labels[i].astype(np.int64).tolist(),
                   "gold": [int(gold_answers[i]), int(gold_right[i])]}
            for i, name in enumerate(worker_names)
        },
        "pairs": sorted([*sorted((worker_names[int(i)], worker_names[int(j)])), int(n), int(a)]
                        for i, j, n, a in zip(first, second, shared, agreed)),
        "consolidated_label_counts": {c: int(label_counts[i]) for i, c in enumerate(classes)},
        "answer_label_counts": {c: int(n) for c, n in zip(classes, np.bincount(lab, minlength=k)[:k])},
        "unconsolidated_objects": int(unconsolidated),
        "rater_counts": rater_counts,
        "pair_counts": pair_counts,
        "fleiss": fleiss,
    }


def _empty_statistics(classes: Sequence[str]) -> dict[str, Any]:
    return batch_statistics_from_arrays([], [], [], {}, classes)


def merge_statistics(statistics: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Add up per-batch statistics (all must have the same ``classes``). Exact: all integers."""
    statistics = list(statistics)
    if not statistics:
        raise ValueError("merge_statistics needs at least one statistics dict")
    classes = list(statistics[0]["classes"])
    k = len(classes)
    for stats in statistics:
        if list(stats["classes"]) != classes:
            raise ValueError(f"cannot merge statistics with classes {stats['classes']!r} and {classes!r}")
        if stats.get("version", STATISTICS_VERSION) != STATISTICS_VERSION:
            raise ValueError(f"unsupported statistics version {stats.get('version')!r}")

    merged = _empty_statistics(classes)
    workers: dict[str, dict[str, Any]] = {}
    worker_pairs: dict[tuple[str, str], list[int]] = {}
    pair_counts: dict[str, np.ndarray] = {}
    fleiss: dict[str, dict[str, Any]] = {}
    rater_counts: dict[str, int] = {}
    label_counts = np.zeros(k, dtype=np.int64)
    answer_counts = np.zeros(k, dtype=np.int64)
    every_batch_counted_answers = all("answer_label_counts" in stats for stats in statistics)
    for stats in statistics:
        if every_batch_counted_answers:
            answer_counts += np.asarray([stats["answer_label_counts"].get(c, 0) for c in classes], dtype=np.int64)
        for key in ("objects", "answers", "ignored_answers", "unconsolidated_objects"):
            merged[key] += int(stats.get(key, 0))
        for name, worker in stats["workers"].items():
            entry = workers.setdefault(name, {"answers": 0, "confusion": np.zeros((k, k), dtype=np.int64),
                                              "labels": np.zeros(k, dtype=np.int64), "gold": np.zeros(2, np.int64)})
            entry["answers"] += int(worker["answers"])
            entry["confusion"] += np.asarray(worker["confusion"], dtype=np.int64).reshape(k, k)
            # Counted since collusion and gold were reported; an older batch adds what its confusion shows.
            entry["labels"] += (np.asarray(worker["labels"], dtype=np.int64) if "labels" in worker
                                else np.asarray(worker["confusion"], dtype=np.int64).reshape(k, k).sum(axis=0))
            entry["gold"] += np.asarray(worker.get("gold", [0, 0]), dtype=np.int64)
        for first, second, shared, agreed in stats.get("pairs", []):
            key = (first, second) if first <= second else (second, first)
            pair = worker_pairs.setdefault(key, [0, 0])
            pair[0] += int(shared)
            pair[1] += int(agreed)
        label_counts += np.asarray([stats["consolidated_label_counts"].get(c, 0) for c in classes], dtype=np.int64)
        for m, count in stats.get("rater_counts", {}).items():
            rater_counts[str(m)] = rater_counts.get(str(m), 0) + int(count)
        for m, pairs in stats.get("pair_counts", {}).items():
            add = np.asarray(pairs, dtype=np.int64).reshape(k, k)
            pair_counts[str(m)] = pair_counts[str(m)] + add if str(m) in pair_counts else add
        for m, f in stats.get("fleiss", {}).items():
            entry = fleiss.setdefault(str(m), {"objects": 0, "category_sums": np.zeros(k, np.int64), "sum_squares": 0})
            entry["objects"] += int(f["objects"])
            entry["category_sums"] = entry["category_sums"] + np.asarray(f["category_sums"], dtype=np.int64)
            entry["sum_squares"] += int(f["sum_squares"])

    by_int = lambda d: dict(sorted(d.items(), key=lambda item: int(item[0])))  # noqa: E731
    merged["workers"] = {
        name: {"answers": w["answers"], "confusion": w["confusion"].tolist(), "labels": w["labels"].tolist(),
               "gold": w["gold"].tolist()} for name, w in workers.items()
    }
    merged["pairs"] = [[a, b, n, agreed] for (a, b), (n, agreed) in sorted(worker_pairs.items())]
    merged["consolidated_label_counts"] = {c: int(label_counts[i]) for i, c in enumerate(classes)}
    if every_batch_counted_answers:
        merged["answer_label_counts"] = {c: int(answer_counts[i]) for i, c in enumerate(classes)}
    else:  # a batch stored before answers were counted per class: the sum would be short
        del merged["answer_label_counts"]
    merged["rater_counts"] = by_int(rater_counts)
    merged["pair_counts"] = by_int({m: p.tolist() for m, p in pair_counts.items()})
    merged["fleiss"] = by_int(
        {
            m: {"objects": f["objects"], "category_sums": f["category_sums"].tolist(), "sum_squares": f["sum_squares"]}
            for m, f in fleiss.items()
        }
    )
    return merged


# --------------------------------------------------------------------------- report


def _coincidence(pair_counts: Mapping[str, Any], k: int) -> np.ndarray:
    o = np.zeros((k, k), dtype=np.float64)
    # Fixed order (ascending m) so equal statistics always give bit-identical floats.
    for m in sorted(pair_counts, key=int):
        o += np.asarray(pair_counts[m], dtype=np.float64).reshape(k, k) / (int(m) - 1.0)
    return o


def _colluding(stats: Mapping[str, Any], classes: Sequence[str]) -> list[dict[str, Any]]:
    """The pairs of workers who answer alike beyond their skill (``collusion.find_pairs``), with the evidence."""
    pairs = stats.get("pairs", [])
    if not pairs:
        return []
    names = sorted(stats["workers"])
    index = {name: i for i, name in enumerate(names)}
    k = len(classes)
    labels = np.array([np.asarray(stats["workers"][name].get("labels", [0] * k), dtype=np.float64)
                       for name in names]).reshape(len(names), k)
    known = [p for p in pairs if p[0] in index and p[1] in index]
    first = np.array([index[p[0]] for p in known], dtype=np.int64)
    second = np.array([index[p[1]] for p in known], dtype=np.int64)
    return [pair.as_json() for pair in collusion.find_pairs(first, second, [p[2] for p in known],
                                                            [p[3] for p in known], labels, names)]


def report_from_statistics(stats: Mapping[str, Any], units: str = "objects") -> dict[str, Any]:
    """The JSON-serialisable quality report (see the module docstring) from (merged) statistics (``units``: what
    its objects are, as Fleiss' kappa's note names them)."""
    classes = list(stats["classes"])
    k = len(classes)

    workers: dict[str, dict[str, Any]] = {}
    for name, worker in stats["workers"].items():
        confusion = np.asarray(worker["confusion"], dtype=np.int64).reshape(k, k)
        gold_answers, gold_right = (int(x) for x in worker.get("gold", [0, 0]))
        workers[name] = {
            "answers": int(worker["answers"]),
            **against_labels(confusion),
            "gold_answers": gold_answers,
            "gold_accuracy": gold_right / gold_answers if gold_answers else None,
        }
    colluding = _colluding(stats, classes)

    # Krippendorff's alpha (nominal).
    o = _coincidence(stats.get("pair_counts", {}), k)
    n_pairable = float(o.sum())
    alpha = krippendorff_alpha_nominal(o)
    pairable_objects = sum(int(c) for m, c in stats.get("rater_counts", {}).items() if int(m) >= 2)
    agreement: dict[str, Any] = {
        "krippendorff_alpha": alpha,
        "krippendorff_alpha_pairable_values": int(round(n_pairable)),
        "krippendorff_alpha_objects": pairable_objects,
        "pairwise_agreement": _finite_or_none(float(np.trace(o)) / n_pairable) if n_pairable > 0 else None,
    }
    if alpha is None:
        agreement["krippendorff_alpha_note"] = (
            "undefined: fewer than 2 pairable values" if n_pairable < 2
            else "undefined: expected disagreement is 0 (all pairable answers are one class)"
        )

    # Fleiss' kappa over the objects with the modal number of answers (>= 2; ties -> larger m).
    fleiss = stats.get("fleiss", {})
    kappa = None
    raters = None
    kappa_objects = 0
    if fleiss:
        raters = max((int(m) for m in fleiss), key=lambda m: (int(fleiss[str(m)]["objects"]), m))
        f = fleiss[str(raters)]
        kappa_objects = int(f["objects"])
        kappa = _fleiss_from_sums(kappa_objects, raters, np.asarray(f["category_sums"]), float(f["sum_squares"]))
    agreement.update(
        {
            "fleiss_kappa": kappa,
            "fleiss_kappa_raters": raters,
            "fleiss_kappa_objects": kappa_objects,
        }
    )
    if kappa is None:
        agreement["fleiss_kappa_note"] = (
            "undefined: no object with 2 or more answers" if raters is None
            else "undefined: chance agreement is 1 (one class only)"
        )
    else:
        agreement["fleiss_kappa_note"] = (
            f"computed over the {kappa_objects} {units} with the modal number of answers ({raters})"
        )

    return {
        "classes": classes,
        "objects": int(stats["objects"]),
        "answers": int(stats["answers"]),
        "ignored_answers": int(stats.get("ignored_answers", 0)),
        "workers": workers,
        "agreement": agreement,
        "consolidated_label_counts": {c: int(stats["consolidated_label_counts"].get(c, 0)) for c in classes},
        "answer_label_counts": ({c: int(stats["answer_label_counts"].get(c, 0)) for c in classes}
                                if "answer_label_counts" in stats else None),
        "unconsolidated_objects": int(stats.get("unconsolidated_objects", 0)),
        "colluding_pairs": colluding,
        "spam_workers": sorted(name for name, worker in workers.items() if worker["spam"]),
        "answers_per_object": {str(m): int(c) for m, c in sorted(stats.get("rater_counts", {}).items(), key=lambda i: int(i[0]))},
    }


def quality_report(
    answers: Iterable[tuple[Hashable, Hashable, Any]],
    consolidated: Mapping[Hashable, Any],
    classes: Sequence[str],
) -> dict[str, Any]:
    """Report of one set of ``(object_id, worker_id, label)`` answers (statistics, then report)."""
    return report_from_statistics(batch_statistics(answers, consolidated, classes))


def quality_report_from_arrays(
    object_ids: Sequence[Hashable],
    worker_ids: Sequence[Hashable],
    labels: Sequence[Any],
    consolidated: Mapping[Hashable, Any],
    classes: Sequence[str],
) -> dict[str, Any]:
    """Like ``quality_report`` with parallel sequences (one entry per answer)."""
    return report_from_statistics(batch_statistics_from_arrays(object_ids, worker_ids, labels, consolidated, classes))
