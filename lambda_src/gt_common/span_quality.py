"""Per-job labeling quality report for a span-tagging question (``Spans``), per label (pure Python).

What it measures, and why these measures
----------------------------------------
Span tagging has no fixed set of units to rate: "no span here" cannot be counted, so the
chance-corrected coefficients of the choice report (Krippendorff's alpha, Fleiss' kappa over
objects) do not apply as they stand. Hripcsak and Rothschild (2005, "Agreement, the F-measure, and
reliability in information retrieval", JAMIA 12(3)) show that kappa tends to the F-measure as the
unrated negatives grow, and recommend F-measures between annotators for such tasks. So:

* **Between workers** (independent of the consolidation, which is built from the same spans):
  per label, the *pairwise F1* (positive specific agreement): over every pair of workers who
  answered the same object, ``2 * shared / (spans of the one + spans of the other)``, where a
  shared span is a pair of their spans with the same label and Jaccard similarity at least 0.5
  (``span_clustering.DEFAULT_THRESHOLD``, the threshold the consolidation clusters with), matched
  one to one. 1.0 when every pair drew the same spans with the same labels.
* **Against the consolidated result** (what the job delivers): each worker's spans are matched
  one to one, by position only (Jaccard at least 0.5, any label), with the consolidated spans of
  each object they answered. ``confusion[r][c]`` counts the pairs whose consolidated span has
  label ``r`` and the worker's label ``c``; the last row (index K, "no span") counts the worker's
  spans that match no consolidated span, the last column the consolidated spans the worker did not
  draw (``confusion[K][K]`` is always 0). Per label ``l``: precision = ``confusion[l][l]`` / the
  worker's spans labelled ``l`` (column sum), recall = ``confusion[l][l]`` / the consolidated spans
  labelled ``l`` on the objects they answered (row sum), F1 their harmonic mean. Per worker and for
  the job (every worker's counts added); ``label_agreement`` is the share of position matches whose
  labels agree too.

Shapes
------
``span_batch_statistics(objects, labels)`` with ``objects`` an iterable of ``(object_id,
worker_ids, spans, entities)`` (``span_clustering.Span`` / ``Entity``; the workers include those who
tagged nothing) gives mergeable integer counts::

    {"version": 1, "kind": "spans", "labels": [...], "objects": n, "answers": n, "ignored_spans": n,
     "workers": {worker: {"answers": n, "confusion": (K+1) x (K+1)}},
     "consolidated_span_counts": {label: n}, "pairs": n, "pair_shared": [n] * K, "pair_spans": [n] * K}

``merge_span_statistics`` adds them up exactly (batches hold disjoint objects, as Ground Truth sends
them); ``span_report_from_statistics`` turns them into the report (``kind`` "spans"): ``per_label``,
``workers``, ``agreement`` and the job's ``confusion``. Rates are None when undefined (nothing to
compare), never NaN. A span whose label is not one of ``labels`` is counted in ``ignored_spans``.

Cost: each worker's spans and the consolidated ones do not overlap among themselves
(``answers.read_spans``, ``consolidate_spans``), so one sweep matches two lists in linear time;
an object of ``w`` workers costs ``w`` matches against the result and ``w (w - 1) / 2`` between workers.
"""
from __future__ import annotations

from typing import Any, Hashable, Iterable, Mapping, Optional, Sequence

from .span_clustering import DEFAULT_THRESHOLD, Entity, Span, jaccard

SPAN_STATISTICS_VERSION = 1
KIND = "spans"
NO_SPAN = "no span"  # how the last row and column of a confusion matrix are named in text and plots

__all__ = ["KIND", "NO_SPAN", "SPAN_STATISTICS_VERSION", "match_spans", "merge_span_statistics",
           "span_batch_statistics", "span_quality_report", "span_report_from_statistics"]

_Item = tuple[int, int, str]  # start, end, label


def match_spans(first: Sequence[_Item], second: Sequence[_Item], same_label: bool) -> list[tuple[int, int]]:
    """One-to-one pairs ``(i, j)`` of ``first[i]`` and ``second[j]`` with Jaccard at least the clustering
    threshold (and, with ``same_label``, one label). Both lists sorted by start; each span of ``first``
    takes the best free partner (the earliest among equals)."""
    pairs: list[tuple[int, int]] = []
    taken: set[int] = set()
    front = 0  # spans of ``second`` before it end before every later span of ``first`` starts
    for i, (start, end, label) in enumerate(first):
        while front < len(second) and second[front][1] <= start:
            front += 1
        best, best_score = None, DEFAULT_THRESHOLD
        j = front
        while j < len(second) and second[j][0] < end:
            other_start, other_end, other_label = second[j]
            if j not in taken and (not same_label or other_label == label):
                score = jaccard(start, end, other_start, other_end)
                if score >= best_score and (best is None or score > best_score):
                    best, best_score = j, score
            j += 1
        if best is not None:
            taken.add(best)
            pairs.append((i, best))
    return pairs


def _empty(labels: Sequence[str]) -> dict[str, Any]:
    k = len(labels)
    return {"version": SPAN_STATISTICS_VERSION, "kind": KIND, "labels": list(labels), "objects": 0, "answers": 0,
            "ignored_spans": 0, "workers": {}, "consolidated_span_counts": {label: 0 for label in labels},
            "pairs": 0, "pair_shared": [0] * k, "pair_spans": [0] * k}


def span_batch_statistics(objects: Iterable[tuple[Hashable, Sequence[str], Sequence[Span], Sequence[Entity]]],
                          labels: Sequence[str]) -> dict[str, Any]:
    """Mergeable statistics of one batch (see the module docstring)."""
    labels = [str(label) for label in labels]
    if len(set(labels)) != len(labels):
        raise ValueError("span labels repeat")
    index = {label: i for i, label in enumerate(labels)}
    k = none = len(labels)
    stats = _empty(labels)
    consolidated = [0] * k
    for _object_id, worker_ids, spans, entities in objects:
        stats["objects"] += 1
        result = sorted(((e.start, e.end, e.label) for e in entities if e.label in index), key=lambda s: s[:2])
        for _start, _end, label in result:
            consolidated[index[label]] += 1
        own: dict[str, list[_Item]] = {str(worker): [] for worker in worker_ids}
        for span in spans:
            if span.label not in index or str(span.worker_id) not in own:
                stats["ignored_spans"] += 1
                continue
            own[str(span.worker_id)].append((span.start, span.end, span.label))
        for worker, items in own.items():
            items.sort(key=lambda s: s[:2])
            entry = stats["workers"].setdefault(worker, {"answers": 0, "confusion": [[0] * (k + 1) for _ in range(k + 1)]})
            entry["answers"] += 1
            confusion = entry["confusion"]
            found, drawn = set(), set()
            for i, j in match_spans(items, result, same_label=False):
                confusion[index[result[j][2]]][index[items[i][2]]] += 1
                drawn.add(i)
                found.add(j)
            for i, (_start, _end, label) in enumerate(items):
                if i not in drawn:
                    confusion[none][index[label]] += 1
            for j, (_start, _end, label) in enumerate(result):
                if j not in found:
                    confusion[index[label]][none] += 1
        stats["answers"] += len(own)
        workers = list(own)
        for a in range(len(workers)):
            for b in range(a + 1, len(workers)):
                first, second = own[workers[a]], own[workers[b]]
                stats["pairs"] += 1
                for _start, _end, label in first + second:
                    stats["pair_spans"][index[label]] += 1
                for i, _j in match_spans(first, second, same_label=True):
                    stats["pair_shared"][index[first[i][2]]] += 1
    stats["consolidated_span_counts"] = {label: consolidated[i] for i, label in enumerate(labels)}
    return stats


def merge_span_statistics(statistics: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Add up per-batch statistics (all of the same labels). Exact: all integers."""
    statistics = list(statistics)
    if not statistics:
        raise ValueError("merge_span_statistics needs at least one statistics dict")
    labels = list(statistics[0]["labels"])
    k = len(labels)
    merged = _empty(labels)
    for stats in statistics:
        if list(stats["labels"]) != labels:
            raise ValueError(f"cannot merge span statistics with labels {stats['labels']!r} and {labels!r}")
        if stats.get("version") != SPAN_STATISTICS_VERSION or stats.get("kind") != KIND:
            raise ValueError(f"unsupported span statistics version {stats.get('version')!r}")
        for key in ("objects", "answers", "ignored_spans", "pairs"):
            merged[key] += int(stats[key])
        for key in ("pair_shared", "pair_spans"):
            merged[key] = [a + int(b) for a, b in zip(merged[key], stats[key])]
        for label in labels:
            merged["consolidated_span_counts"][label] += int(stats["consolidated_span_counts"].get(label, 0))
        for name, worker in stats["workers"].items():
            entry = merged["workers"].setdefault(name, {"answers": 0, "confusion": [[0] * (k + 1) for _ in range(k + 1)]})
            entry["answers"] += int(worker["answers"])
            entry["confusion"] = [[a + int(b) for a, b in zip(row, other)]
                                  for row, other in zip(entry["confusion"], worker["confusion"])]
    return merged


def _share(part: int, whole: int) -> Optional[float]:
    return part / whole if whole else None


def _f1(shared: int, total: int) -> Optional[float]:
    """``2 * shared / total``: the harmonic mean of precision and recall when ``total`` adds both sides."""
    return 2 * shared / total if total else None


def _rates(confusion: Sequence[Sequence[int]], k: int) -> dict[str, Any]:
    """Counts and rates of one confusion matrix (a worker's, or the job's), overall and per label."""
    diagonal = [confusion[i][i] for i in range(k)]
    drawn = [sum(confusion[r][c] for r in range(k + 1)) for c in range(k)]  # the worker's spans, per label
    expected = [sum(confusion[r][c] for c in range(k + 1)) for r in range(k)]  # consolidated spans to draw
    located = sum(confusion[r][c] for r in range(k) for c in range(k))
    matched, spans, compared = sum(diagonal), sum(drawn), sum(expected)
    return {
        "spans": spans, "compared": compared, "matched": matched, "located": located,
        "precision": _share(matched, spans), "recall": _share(matched, compared), "f1": _f1(matched, spans + compared),
        "label_agreement": _share(matched, located),
        "per_label": [{"spans": drawn[i], "compared": expected[i], "matched": diagonal[i],
                       "precision": _share(diagonal[i], drawn[i]), "recall": _share(diagonal[i], expected[i]),
                       "f1": _f1(diagonal[i], drawn[i] + expected[i])} for i in range(k)],
    }


def span_report_from_statistics(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-serialisable span report (see the module docstring) from (merged) statistics."""
    labels = list(stats["labels"])
    k = len(labels)
    job = [[0] * (k + 1) for _ in range(k + 1)]
    workers: dict[str, dict[str, Any]] = {}
    for name, worker in stats["workers"].items():
        confusion = [[int(cell) for cell in row] for row in worker["confusion"]]
        job = [[a + b for a, b in zip(row, other)] for row, other in zip(job, confusion)]
        rates = _rates(confusion, k)
        workers[name] = {"answers": int(worker["answers"]),
                         **{key: value for key, value in rates.items() if key != "per_label"},
                         "per_label": {label: rates["per_label"][i] for i, label in enumerate(labels)},
                         "confusion": confusion}
    overall = _rates(job, k)
    shared, pair_spans = [int(n) for n in stats["pair_shared"]], [int(n) for n in stats["pair_spans"]]
    per_label = {label: {"consolidated_spans": int(stats["consolidated_span_counts"].get(label, 0)),
                         "worker_spans": overall["per_label"][i]["spans"],
                         "matched": overall["per_label"][i]["matched"],
                         "missed": job[i][k],
                         "precision": overall["per_label"][i]["precision"],
                         "recall": overall["per_label"][i]["recall"],
                         "f1": overall["per_label"][i]["f1"],
                         "inter_worker_f1": _f1(shared[i], pair_spans[i])}
                 for i, label in enumerate(labels)}
    agreement = {"precision": overall["precision"], "recall": overall["recall"], "f1": overall["f1"],
                 "label_agreement": overall["label_agreement"],
                 "inter_worker_f1": _f1(sum(shared), sum(pair_spans)), "inter_worker_pairs": int(stats["pairs"])}
    if not stats["pairs"]:
        agreement["inter_worker_f1_note"] = "undefined: no object has two workers' answers"
    elif not sum(pair_spans):
        agreement["inter_worker_f1_note"] = "undefined: the workers drew no spans"
    return {"kind": KIND, "labels": labels, "objects": int(stats["objects"]), "answers": int(stats["answers"]),
            "ignored_spans": int(stats["ignored_spans"]),
            "consolidated_span_counts": {label: per_label[label]["consolidated_spans"] for label in labels},
            "worker_spans": overall["spans"], "agreement": agreement, "per_label": per_label,
            "workers": workers, "confusion": job}


def span_quality_report(objects: Iterable[tuple[Hashable, Sequence[str], Sequence[Span], Sequence[Entity]]],
                        labels: Sequence[str]) -> dict[str, Any]:
    """The report of one set of objects (statistics, then report)."""
    return span_report_from_statistics(span_batch_statistics(objects, labels))
