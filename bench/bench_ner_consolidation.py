"""Benchmark (not a test): NER consolidation quality on the sample abstracts with noisy workers.

    .venv/bin/python bench/bench_ner_consolidation.py [--rounds 50]

Three simulated workers (``local_ground_truth.simulated_workers``: boundary jitter by
a word, missed spans, wrong labels, at a given accuracy) label every sample abstract, ``--rounds``
times with different seeds. Span-level F1 (exact label and offsets) against the true spans, for:
the consolidation Lambda's ``consolidate_items`` (each round is one batch of every abstract, with
the default method: workers weighted by the reliability learned on the batch); the best of the three single workers; and a
per-token majority vote (``local_ground_truth.span_baselines``). Results go to
bench/results/ner_consolidation.md.

The simulated workers obey the template's rule that a tag may not overlap another (a jittered span
that would starts where the previous one ends); the table checks that none of their answers holds
overlapping spans.
"""
from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "lambda_src")]

from gt_common.consolidation import DataObjectAnswers, WorkerAnswer  # noqa: E402
from local_ground_truth.simulated_workers import simulated_answer  # noqa: E402
from local_ground_truth.span_baselines import token_majority_vote  # noqa: E402
from local_ground_truth.span_metrics import count_spans, scores  # noqa: E402
from ner_consolidation.handler import consolidate_items  # noqa: E402
from workflows import definition  # noqa: E402

NER = definition("ner")
SPANS = NER.questions[0].name  # the spans question: its truth is the true sections
SAMPLE = REPO / "sample_data" / "ner"
WORKERS = 3


def overlapping(entities: list[dict]) -> bool:
    ordered = sorted((e["startOffset"], e["endOffset"]) for e in entities)
    return any(b[0] < a[1] for a, b in zip(ordered, ordered[1:]))


def measure(accuracy: float, rounds: int) -> dict[str, float]:
    truth = json.loads((SAMPLE / "truth.json").read_text())
    texts = {key: (SAMPLE / "abstracts" / f"{key}.txt").read_text(encoding="utf-8") for key in truth}
    consolidated, equal_weights, token_vote, single = [], [], [], [[] for _ in range(WORKERS)]
    answers_overlapping = 0
    seconds = 0.0
    for seed in range(rounds):
        rng = random.Random(seed)
        answers_of = {key: [simulated_answer(NER.questions, expected, texts[key], accuracy, rng) for _ in range(WORKERS)]
                      for key, expected in truth.items()}
        batch = [DataObjectAnswers(key, {}, [WorkerAnswer(f"w{i}", a) for i, a in enumerate(answers)])
                 for key, answers in answers_of.items()]
        started = time.perf_counter()
        labels = consolidate_items(batch, s3=None, state=None, method="dawid-skene")
        seconds += time.perf_counter() - started
        unweighted = consolidate_items(batch, s3=None, state=None, method="majority-vote")
        for key, expected in truth.items():
            answers = answers_of[key]
            answers_overlapping += sum(overlapping(a["abstract"]["entities"]) for a in answers)
            consolidated.append(count_spans(expected[SPANS], labels[key]["entities"]))
            equal_weights.append(count_spans(expected[SPANS], unweighted[key]["entities"]))
            token_vote.append(count_spans(
                expected[SPANS], token_majority_vote([a["abstract"]["entities"] for a in answers], len(texts[key]))))
            for index, answer in enumerate(answers):
                single[index].append(count_spans(expected[SPANS], answer["abstract"]["entities"]))
    objects = rounds * len(truth)
    return {
        "objects": objects,
        "consolidated": scores(consolidated),
        "token_vote": scores(token_vote)["span_f1"],
        "equal_weights": scores(equal_weights)["span_f1"],
        "best_single": max(scores(counts)["span_f1"] for counts in single),
        "answers_overlapping": answers_overlapping / (objects * WORKERS),
        "ms_per_object": 1000 * seconds / objects,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--accuracy", type=float, nargs="+", default=[0.6, 0.7, 0.8, 0.9])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "ner_consolidation.md")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # every skipped overlapping span is logged; the table counts them
    rows = []
    for accuracy in args.accuracy:
        result = measure(accuracy, args.rounds)
        c = result["consolidated"]
        rows.append(f"| {accuracy:.1f} | {result['objects']} | **{c['span_f1']:.3f}** | {c['span_precision']:.3f} | "
                    f"{c['span_recall']:.3f} | {result['equal_weights']:.3f} | {result['best_single']:.3f} | "
                    f"{result['token_vote']:.3f} | "
                    f"{result['answers_overlapping']:.0%} | {result['ms_per_object']:.2f} |")
        print(rows[-1], flush=True)
    text = "\n".join([
        "# NER consolidation: span F1 on the sample abstracts",
        "",
        f"Written by `bench/bench_ner_consolidation.py --rounds {args.rounds}` on "
        f"{datetime.date.today().isoformat()} ({os.cpu_count()} cores, Python {sys.version.split()[0]}).",
        "",
        f"{WORKERS} simulated workers per abstract (boundary jitter by a word with probability 0.3 per boundary,",
        "each true span missed with probability (1 - accuracy)/2 and mislabelled with the same probability).",
        "Span F1 counts a span only with its exact label and offsets. Target: consolidated F1 above both the",
        "best single worker and a per-token majority vote.",
        "",
        "The simulated workers are equally accurate, so weighting them by learned reliability cannot help here",
        "and costs about 0.01 F1 of noise; it pays off when workers differ (tests/test_ner_consolidation.py:",
        "careless workers outvoted once their record is known).",
        "",
        "The simulated workers obey the template's rule that a tag may not overlap another one. Before issue 8",
        "they did not (most of their answers held overlapping spans, which the template refuses), and this",
        "bench read 0.644 at accuracy 0.8 on those answers; consolidation now keeps only the first of a",
        "worker's overlapping spans, so answers a real worker could not submit are no longer what is measured.",
        "On answers the template accepts, the clustering gives the same entities as before issue 8",
        "(bench/results/ner_clustering.md).",
        "",
        "| worker accuracy | objects | consolidated F1 | precision | recall | same, equal weights (majority-vote method) "
        "| best single worker F1 | per-token majority vote F1 | answers with overlapping spans | ms per object |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
    ])
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
