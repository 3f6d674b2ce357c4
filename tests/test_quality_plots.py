"""The quality report's pictures: every class and label named in full and inside the image, counts
written at the bars, and a span report drawn per label (the workflows' own classes and labels)."""
from __future__ import annotations

import itertools
import random

import pytest
from matplotlib.text import Text

import workflows
from gt_common.quality_report import quality_report
from gt_common.span_clustering import Entity, Span
from gt_common.span_quality import NO_SPAN, span_quality_report
from local_ground_truth.quality_plots import (MAX_UNLABELLED_MATRIX, draw_quality_report, format_quality_report,
                                               quality_report_png)

WELDING = workflows.definition("welding").questions[0]
NER_SPANS = next(q for q in workflows.definition("ner").questions if type(q).__name__ == "Spans")


def drawn_texts(figure) -> list[tuple[str, object]]:
    """Every text the drawn figure shows (titles, tick labels of ticks in view, texts at the bars, legends),
    with its extent in pixels."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    texts = [t for sub in [figure, *figure.subfigs, *(s for f in figure.subfigs for s in f.subfigs)]
             for t in sub.texts]
    for ax in figure.axes:
        if not ax.get_visible():
            continue
        texts += [ax.title, *ax.texts, *in_view(ax.xaxis), *in_view(ax.yaxis)]
        if ax.get_legend() is not None:
            texts += ax.get_legend().get_texts()
    return [(t.get_text(), t.get_window_extent(renderer)) for t in texts if t.get_visible() and t.get_text().strip()]


def in_view(axis) -> list:
    """The tick labels an axis draws: those of ticks inside its view (matplotlib keeps the others, hidden)."""
    low, high = sorted(axis.get_view_interval())
    return [label for location, label in zip(axis.get_majorticklocs(), axis.get_majorticklabels())
            if low - 1e-9 <= location <= high + 1e-9]


def assert_inside(figure, texts) -> None:
    width, height = figure.bbox.width, figure.bbox.height
    for text, box in texts:
        assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1, (text, box)


def welding_report(workers: int = 6, objects: int = 70) -> dict:
    rng = random.Random(3)
    classes = list(WELDING.labels)
    answers, consolidated = [], {}
    for u in range(objects):
        truth = classes[u % len(classes)]
        consolidated[u] = truth
        for w in range(workers):
            answers.append((u, f"welder-{w}", truth if rng.random() < 0.9 - 0.1 * w else rng.choice(classes)))
    return {"question": WELDING.name, **quality_report(answers, consolidated, classes)}


def test_every_welding_class_is_named_in_full_inside_the_image_with_its_counts():
    report = welding_report()
    figure = draw_quality_report(report)
    texts = drawn_texts(figure)
    shown = [text for text, _box in texts]
    for name in WELDING.labels:  # "Lack of Fusion" and "Lack of Shielding Gas" told apart
        assert shown.count(name) >= 2, name  # the count panel and every confusion matrix's axes
    assert not any(text.endswith("...") or text.endswith("\u2026") for text in shown)
    assert_inside(figure, texts)
    # Counts at the bars: each class's answers and consolidated labels.
    for name in WELDING.labels:
        assert str(report["answer_label_counts"][name]) in shown
        assert str(report["consolidated_label_counts"][name]) in shown
    assert quality_report_png(report)[:8] == b"\x89PNG\r\n\x1a\n"


def test_long_class_names_and_many_workers_stay_inside_the_image():
    classes = [f"{stem} of a very long defect name, variant {n}" for n, stem in enumerate(["Lack", "Lack", "Excess"])]
    answers = [(u, f"w{w}", classes[(u + (w == 3)) % 3]) for u in range(30) for w in range(25)]
    report = quality_report(answers, {u: classes[u % 3] for u in range(30)}, classes)
    figure = draw_quality_report(report)
    texts = drawn_texts(figure)
    assert all(sum(text == name for text, _ in texts) >= 2 for name in classes)
    assert_inside(figure, texts)


def assert_apart(figure) -> None:
    """No panel (an axis with its names, counts and title) overlaps another or a title above panels."""
    renderer = figure.canvas.get_renderer()
    blocks = [(f"axis {n}: {ax.get_title()!r}", ax.get_tightbbox(renderer)) for n, ax in enumerate(figure.axes)
              if ax.get_visible()]
    blocks += [(f"title {sub.get_suptitle()!r}", sub._suptitle.get_window_extent(renderer))
               for sub in [figure, *figure.subfigs] if sub.get_suptitle()]
    for (first, a), (second, b) in itertools.combinations(blocks, 2):
        assert not (a.x0 < b.x1 - 1 and b.x0 < a.x1 - 1 and a.y0 < b.y1 - 1 and b.y0 < a.y1 - 1), (first, second)


@pytest.mark.parametrize("classes, workers, worker_name", [
    (7, 2, "worker-{}"), (3, 4, "worker-{}"), (7, 1, "worker-{}"), (2, 1, "worker-{}"), (12, 2, "worker-{}"),
    (20, 5, "worker-{}"), (7, 3, "firstname.lastname{}@some-long-company-domain.example.com"),
    (2, 5, "firstname.lastname{}@some-long-company-domain.example.com")])
def test_the_confusion_matrices_fit_under_their_titles_and_inside_the_image_for_any_crowd(classes, workers,
                                                                                          worker_name):
    """Square matrices in a figure wider than they need were drawn taller than planned: two workers on welding's
    classes, or four on three classes, put names past the bottom edge and matrices over the titles above them; a
    matrix's title as wide as its worker's name (an e-mail address) ran over the next one and out of the image."""
    names = list(WELDING.labels) if classes == len(WELDING.labels) else [f"class {n}" for n in range(classes)]
    rng = random.Random(classes * 100 + workers)
    answers = [(u, worker_name.format(w), names[u % classes] if rng.random() < 0.8 else rng.choice(names))
               for u in range(40) for w in range(workers)]
    figure = draw_quality_report(quality_report(answers, {u: names[u % classes] for u in range(40)}, names))
    texts = drawn_texts(figure)
    titles = [ax.get_title().replace("\n", "") for ax in figure.axes if ax.images]  # a matrix each
    assert len(titles) == workers
    assert all(any(title.startswith(worker_name.format(w) + ":") for title in titles) for w in range(workers))
    assert_inside(figure, texts)
    assert_apart(figure)


def test_a_question_of_a_hundred_classes_draws_matrices_of_bounded_size():
    """Past MAX_LABELLED_CLASSES a matrix names no class, so its cells shrink: at 0.42 inches each, a 100-class
    question drew matrices 43 inches wide (twelve workers' took 74 s and 1.9 GB after every batch)."""
    classes = [f"class number {n}" for n in range(100)]
    answers = [(u, f"worker-{w}", classes[(u + (w == 1)) % 100]) for u in range(200) for w in range(3)]
    figure = draw_quality_report(quality_report(answers, {u: classes[u % 100] for u in range(200)}, classes))
    texts = drawn_texts(figure)
    matrices = [ax for ax in figure.axes if ax.images]
    assert len(matrices) == 3
    assert all(ax.bbox.width <= (MAX_UNLABELLED_MATRIX + 0.5) * figure.dpi for ax in matrices)  # (its padding)
    assert all(sum(text == name for text, _ in texts) == 1 for name in classes)  # the count panel names them all
    assert_inside(figure, texts)
    assert_apart(figure)


def ner_objects():
    """Three workers on 8 abstracts: a and b tag every sentence as the result does, c calls Methods Results
    and tags one extra Background span."""
    labels = list(NER_SPANS.span_labels)
    objects = []
    for o in range(8):
        result = [Entity(label, 100 * i, 100 * i + 80, 1.0) for i, label in enumerate(labels)]
        spans = [Span(worker, e.label, e.start, e.end) for worker in ("a", "b") for e in result]
        spans += [Span("c", "Results" if e.label == "Methods" else e.label, e.start, e.end) for e in result]
        spans.append(Span("c", "Background", 900, 950))
        objects.append((o, ["a", "b", "c"], spans, result))
    return labels, objects


def test_the_ner_span_report_covers_every_label_in_the_json_and_the_png():
    labels, objects = ner_objects()
    report = {"question": NER_SPANS.name, **span_quality_report(objects, labels)}
    methods, results = report["per_label"]["Methods"], report["per_label"]["Results"]
    assert set(report["per_label"]) == set(labels)
    assert (methods["consolidated_spans"], methods["worker_spans"], methods["matched"]) == (8, 16, 16)
    assert methods["recall"] == pytest.approx(16 / 24) and methods["precision"] == 1.0
    assert results["precision"] == pytest.approx(24 / 32) and results["recall"] == 1.0
    assert report["workers"]["a"]["f1"] == 1.0 and report["workers"]["c"]["f1"] < 1.0
    assert report["confusion"][labels.index("Methods")][labels.index("Results")] == 8
    assert report["confusion"][len(labels)][labels.index("Background")] == 8  # c's extra spans: no result span

    figure = draw_quality_report(report)
    texts = drawn_texts(figure)
    shown = [text for text, _box in texts]
    for name in labels + [NO_SPAN]:
        assert name in shown, name
    for name in labels:
        assert shown.count(name) >= 3, name  # counts, rates and the confusion matrix
    assert "16" in shown and "32" in shown  # Methods' workers' spans, Results' workers' spans
    assert_inside(figure, texts)
    text = format_quality_report(report)
    assert all(name in text for name in labels) and "pairwise F1" in text


def test_a_span_report_of_workers_with_long_names_stays_inside_the_image():
    """Workers named by their e-mail addresses: their F1 bars beside the label confusion, the matrix's title kept in."""
    labels = list(NER_SPANS.span_labels)
    workers = [f"firstname.lastname{w}@some-long-company-domain.example.com" for w in range(3)]
    result = [Entity(label, 100 * i, 100 * i + 80, 1.0) for i, label in enumerate(labels)]
    objects = [(o, workers, [Span(w, e.label, e.start, e.end) for w in workers for e in result], result)
               for o in range(4)]
    figure = draw_quality_report({"question": NER_SPANS.name, **span_quality_report(objects, labels)})
    texts = drawn_texts(figure)
    assert all(any(text.startswith(worker + " (") for text, _ in texts) for worker in workers)
    assert_inside(figure, texts)
    assert_apart(figure)


def test_any_unicode_worker_or_class_name_is_drawn_literally_and_names_stay_distinct():
    """A name matplotlib would read as mathtext draws as typed; names the font cannot draw stay apart."""
    workers = [r"$\frac{$", "x$_$y", "李雷", "李明", "José", "a\\$b"]
    classes = ["$cost$", "Good Weld"]
    answers = [(u, worker, classes[u % 2]) for u in range(6) for worker in workers]
    report = quality_report(answers, {u: classes[u % 2] for u in range(6)}, classes)
    figure = draw_quality_report(report)
    shown = [text for text, _box in drawn_texts(figure)]
    labels = [text for text in shown if text.endswith("(6)")]  # one per worker on the agreement bars
    assert len(set(labels)) == len(workers)  # 李雷 and 李明 told apart even without a CJK font
    # "$" escaped, so matplotlib draws it as a dollar sign and never parses the name as mathtext.
    assert r"\$\frac{\$ (6)" in labels and r"x\$_\$y (6)" in labels and "José (6)" in labels
    assert "\\$cost\\$" in shown
    assert quality_report_png(report)[:8] == b"\x89PNG\r\n\x1a\n"


def test_answers_per_class_are_counted_exactly_across_batches_and_unknown_for_older_batches():
    from gt_common.quality_report import batch_statistics, merge_statistics, report_from_statistics

    classes = list(WELDING.labels)
    first = batch_statistics([(0, "a", classes[0]), (0, "b", classes[1])], {0: classes[0]}, classes)
    second = batch_statistics([(1, "a", classes[1]), (1, "b", classes[1])], {1: classes[1]}, classes)
    merged = report_from_statistics(merge_statistics([first, second]))
    assert merged["answer_label_counts"] == {c: (1 if c == classes[0] else 3 if c == classes[1] else 0) for c in classes}
    older = {key: value for key, value in first.items() if key != "answer_label_counts"}  # stored before counting
    unknown = report_from_statistics(merge_statistics([older, second]))
    assert unknown["answer_label_counts"] is None  # never a short sum
    shown = [text for text, _box in drawn_texts(draw_quality_report(unknown))]
    assert shown.count("n/a") >= len(classes)  # the answers' bars say they are not known


def test_totals_are_counted_in_words():
    report = welding_report(workers=1, objects=1)
    assert format_quality_report(report).splitlines()[0] == "Quality report: 1 object, 1 answer, 1 worker, 7 classes"
    figure = draw_quality_report(report)
    assert figure.get_suptitle().startswith(f"Labeling quality of {WELDING.name}: 1 object, 1 answer, 1 worker\n")


def test_the_summary_sends_no_control_character_to_the_terminal():
    """A report's JSON may name a worker or class with an escape sequence (a deployed job's report, drawn by
    ``python -m local_ground_truth.quality``): shown escaped, on its own line."""
    answers = [(0, "w\x1b[2Jx", "A"), (0, "v", "B\x1b[31m"), (1, "w\x1b[2Jx", "B\x1b[31m"), (1, "v", "B\x1b[31m")]
    text = format_quality_report(quality_report(answers, {0: "A", 1: "B\x1b[31m"}, ["A", "B\x1b[31m"]))
    assert "\x1b" not in text and "w\\x1b[2Jx" in text and "B\\x1b[31m" in text
