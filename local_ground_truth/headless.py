"""Headless mode: simulated workers answer every object, then consolidation and a summary."""
from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from local_ground_truth.job import LocalJob
from local_ground_truth.simulated_workers import classification_answer, span_answer
from local_ground_truth.span_metrics import count_spans, scores


def truth_key(line: dict[str, Any]) -> str:
    """The sample data's name for an object: the file name of its source, without extension."""
    uri = line.get("source-ref") or line.get("source") or ""
    return uri.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def simulate(job: LocalJob, truth: dict[str, Any], workers: int, accuracy: float, seed: int = 0) -> int:
    """Answers from ``workers`` simulated workers for every pre-labeled object still short of them."""
    rng = random.Random(seed)
    lines = job.manifest_lines()
    answered = {oid: {a["workerId"] for a in answers} for oid, answers in job.answers().items()}
    written = 0
    for object_id in sorted(job.pre_labeled_ids(), key=int):
        expected = truth[truth_key(lines[int(object_id)])]
        task_input = job.task_input(object_id)
        for number in range(workers):
            worker_id = f"simulated-{number + 1}"
            if worker_id in answered.get(object_id, set()):
                continue  # resumed run: this worker already answered
            if isinstance(expected, str):
                answer = classification_answer(expected, accuracy, rng)
            else:
                answer = span_answer(expected, task_input["text"], accuracy, rng)
            job.record_answer(object_id, worker_id, answer, seconds=rng.uniform(5, 60))
            written += 1
    return written


def summarize(job: LocalJob, truth: dict[str, Any], png_path: Path) -> dict[str, Any]:
    """Accuracy (classification) or span F1 (NER) of the output manifest, and a PNG of it."""
    label = job.spec.label_attribute_name
    rows = job.output_manifest()
    pairs, confidences = [], []
    for row in rows:
        expected, got = truth[truth_key(row)], row[label]
        if isinstance(expected, str):
            predicted = got.get("WeldingClassification")
            pairs.append((expected, predicted))
            confidences.append(got.get("confidence", 0.0))
        else:
            pairs.append(count_spans(expected["entities"], got.get("entities", [])))
            confidences += [e.get("confidence", 0.0) for e in got.get("entities", [])]
    if pairs and isinstance(pairs[0][0], str):
        summary = {"objects": len(rows), "accuracy": sum(a == b for a, b in pairs) / len(pairs)}
    else:
        summary = {"objects": len(rows), **scores(pairs)}
    _plot(pairs, confidences, png_path, summary)
    summary["summary_png"] = str(png_path)
    return summary


def _plot(pairs: list, confidences: list[float], path: Path, summary: dict[str, Any]) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    if pairs and isinstance(pairs[0][0], str):
        classes = sorted({a for a, _ in pairs} | {b for _, b in pairs if b})
        counts = Counter(pairs)
        matrix = [[counts[(true, predicted)] for predicted in classes] for true in classes]
        left.imshow(matrix, cmap="Blues")
        left.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
        left.set_yticks(range(len(classes)), classes, fontsize=8)
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                if value:
                    left.text(j, i, str(value), ha="center", va="center", fontsize=8)
        left.set_xlabel("consolidated label")
        left.set_ylabel("true class")
        left.set_title(f"Confusion (accuracy {summary['accuracy']:.2f})")
    else:
        left.bar(["precision", "recall", "F1"],
                 [summary["span_precision"], summary["span_recall"], summary["span_f1"]], color="#2471a3")
        left.set_ylim(0, 1)
        left.set_title("Consolidated spans vs truth (exact match)")
    right.hist(confidences, bins=10, range=(0, 1), color="#7d3c98")
    right.set_xlabel("confidence")
    right.set_ylabel("labels")
    right.set_title("Confidence of consolidated labels")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def load_truth(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())
