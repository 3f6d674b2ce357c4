"""The quality report of a MultiSelect question: each choice as a yes/no, and every choice's decisions together."""
from __future__ import annotations

import json
import random
import re
import sys

import pytest

from consolidation import handler
from gt_common.gold import choice_gold
from gt_common.job_quality import check_multi_select_statistics
from gt_common.multi_select_quality import (KIND, merge_multi_select_statistics, multi_select_batch_statistics,
                                            multi_select_report_from_statistics)
from gt_common.questions import MultiSelect
from gt_common.quality_report import batch_statistics
from gt_common.task_record import RECORDS_ENV
from local_ground_truth.quality import final_report
from local_ground_truth.quality_plots import draw_quality_report, format_quality_report, quality_report_png
from tests.consolidation_helpers import answered_by, configure, read_json, run

TAGS = MultiSelect(name="tags", choices=("scratch", "dent", "stain"))
YES_NO = ["Yes", "No"]


@pytest.fixture(autouse=True)
def fresh_client(monkeypatch):
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    yield
    handler.s3_client.cache_clear()


def statistics(ticks: dict[str, dict[str, set[str]]], decided: dict[str, set[str]], gold=None) -> dict:
    """A batch's statistics from ``{object: {worker: choices ticked}}`` and ``{object: choices chosen}`` (``gold``:
    ``{object: choices known to apply}``, each choice's known yes/no as consolidation gives it)."""
    return multi_select_batch_statistics({
        choice: batch_statistics(((o, w, "Yes" if choice in ticked else "No") for o, by in ticks.items()
                                  for w, ticked in by.items()),
                                 {o: "Yes" if choice in chosen else "No" for o, chosen in decided.items()}, YES_NO,
                                 choice_gold(gold or {}, choice))
        for choice in TAGS.choices})


def random_batch(rng: random.Random, first: int, objects: int = 20):
    ticks, decided = {}, {}
    for o in range(first, first + objects):
        truth = {c for c in TAGS.choices if rng.random() < 0.4}
        decided[str(o)] = truth
        ticks[str(o)] = {w: {c for c in TAGS.choices if (c in truth) != (rng.random() < 0.1 * (w == "careless") + 0.05)}
                         for w in ("ana", "bo", "careless")}
    return ticks, decided


def test_batches_merge_into_exactly_the_report_of_one_batch():
    rng = random.Random(4)
    parts = [random_batch(rng, 20 * b) for b in range(3)]
    merged = multi_select_report_from_statistics(merge_multi_select_statistics([statistics(*p) for p in parts]))
    whole = statistics({o: t for p in parts for o, t in p[0].items()}, {o: d for p in parts for o, d in p[1].items()})
    assert merged == multi_select_report_from_statistics(whole)
    assert merged["kind"] == KIND and merged["choices"] == list(TAGS.choices)
    assert (merged["objects"], merged["answers"], merged["units"]) == (60, 180, 180)
    assert merged["workers"]["ana"]["answers"] == 60 and merged["workers"]["ana"]["compared"] == 180
    assert merged["workers"]["careless"]["agreement"] < merged["workers"]["ana"]["agreement"]
    # Pooled, kappa's units are the (object, choice) pairs: it said "computed over the 180 objects" of 60.
    assert merged["agreement"]["fleiss_kappa_note"] == (
        f"computed over the {merged['agreement']['fleiss_kappa_objects']} (object, choice) pairs with the modal "
        f"number of answers ({merged['agreement']['fleiss_kappa_raters']})")


def test_a_workers_agreement_is_over_every_choices_yes_or_no_and_each_choice_says_where():
    """Two objects; "bo" ticks "dent" where nobody else does and misses nothing: 5 of 6 yes/no decisions agree."""
    ticks = {"a": {"ana": {"scratch"}, "bo": {"scratch", "dent"}, "cy": {"scratch"}},
             "b": {"ana": set(), "bo": set(), "cy": {"stain"}}}
    report = multi_select_report_from_statistics(statistics(ticks, {"a": {"scratch"}, "b": set()}))
    assert report["workers"]["bo"]["agreement"] == pytest.approx(5 / 6)
    assert report["workers"]["cy"]["agreement"] == pytest.approx(5 / 6)
    assert report["workers"]["ana"]["agreement"] == 1.0
    per_choice = report["per_choice"]
    assert per_choice["dent"]["workers"]["bo"]["agreement"] == 0.5
    assert per_choice["dent"]["workers"]["cy"]["agreement"] == 1.0
    assert per_choice["scratch"]["consolidated_label_counts"] == {"Yes": 1, "No": 1}
    assert per_choice["stain"]["answer_label_counts"] == {"Yes": 1, "No": 5}
    assert report["consolidated_label_counts"] == {"Yes": 1, "No": 5}  # the object-choice pairs


def test_a_workers_gold_answers_are_their_yes_or_no_per_choice_on_gold_objects():
    """Object a is gold, scratch alone known to apply. Per choice each answer on it is one gold answer: ana's three
    are right, bo's dent and cy's scratch and stain are wrong; object b, without gold, counts in none."""
    ticks = {"a": {"ana": {"scratch"}, "bo": {"scratch", "dent"}, "cy": {"stain"}},
             "b": {"ana": set(), "bo": {"dent"}, "cy": set()}}
    stats = statistics(ticks, {"a": {"scratch"}, "b": set()}, gold={"a": ["scratch"]})
    check_multi_select_statistics(json.loads(json.dumps(stats)), TAGS.choices, YES_NO, 3)
    report = multi_select_report_from_statistics(stats)
    per_choice = report["per_choice"]
    assert {w: per_choice["dent"]["workers"][w]["gold_accuracy"] for w in ("ana", "bo", "cy")} == {
        "ana": 1.0, "bo": 0.0, "cy": 1.0}
    assert {w: per_choice["scratch"]["workers"][w]["gold_accuracy"] for w in ("ana", "bo", "cy")} == {
        "ana": 1.0, "bo": 1.0, "cy": 0.0}
    assert all(worker["gold_answers"] == 1 for choice in per_choice.values() for worker in choice["workers"].values())
    assert {w: (report["workers"][w]["gold_answers"], report["workers"][w]["gold_accuracy"])
            for w in ("ana", "bo", "cy")} == {"ana": (3, 1.0), "bo": (3, pytest.approx(2 / 3)),
                                               "cy": (3, pytest.approx(1 / 3))}
    # Merged batch by batch, as every other figure.
    merged = merge_multi_select_statistics([stats, statistics(ticks, {"a": {"scratch"}, "b": set()})])
    assert multi_select_report_from_statistics(merged)["workers"]["bo"]["gold_answers"] == 3
    without = multi_select_report_from_statistics(statistics(ticks, {"a": {"scratch"}, "b": set()}))
    assert without["workers"]["ana"]["gold_accuracy"] is None
    assert without["per_choice"]["dent"]["workers"]["ana"]["gold_answers"] == 0
    stats["per_choice"]["dent"]["workers"]["bo"]["gold"] = [1, 2]
    with pytest.raises(ValueError, match=re.escape("choice 'dent': gold of worker 'bo': more right than answered")):
        check_multi_select_statistics(json.loads(json.dumps(stats)), TAGS.choices, YES_NO, 3)


def test_stored_statistics_of_other_choices_or_a_broken_choice_are_refused_by_name():
    stats = statistics(*random_batch(random.Random(1), 0, 4))
    check_multi_select_statistics(stats, TAGS.choices, YES_NO, 3)
    with pytest.raises(ValueError, match="choices are not this batch's"):
        check_multi_select_statistics(stats, ("scratch", "dent"), YES_NO, 3)
    stats["per_choice"]["dent"]["objects"] = -1
    with pytest.raises(ValueError, match="choice 'dent': objects"):
        check_multi_select_statistics(stats, TAGS.choices, YES_NO, 3)
    with pytest.raises(ValueError, match="kind"):
        check_multi_select_statistics({**stats, "kind": "spans"}, TAGS.choices, YES_NO, 3)
    with pytest.raises(ValueError, match="choices"):
        merge_multi_select_statistics([statistics(*random_batch(random.Random(1), 0, 4)),
                                       multi_select_batch_statistics({"dent": stats["per_choice"]["scratch"]})])


def tagged(i: int, worker: str, rng: random.Random, truth: set[str], shared: set[str]) -> dict:
    """Honest workers tick each choice right 9 times in 10; the colluders tick the same random choices."""
    if worker.startswith("colluder"):
        ticked = shared
    else:
        ticked = {c for c in TAGS.choices if (c in truth) != (rng.random() < 0.1)}
    return {"tags": {"labels": sorted(ticked)}}


def test_the_consolidation_function_writes_the_report_and_flags_a_colluding_pair(s3, bucket, monkeypatch):
    configure(monkeypatch, [TAGS], "dawid-skene")
    rng = random.Random(7)
    entries = []
    workers = ("honest-1", "honest-2", "honest-3", "colluder-1", "colluder-2")
    for i in range(150):
        truth = {c for c in TAGS.choices if rng.random() < 0.4}
        shared = {c for c in TAGS.choices if rng.random() < 0.5}
        entries.append(answered_by(i, {w: tagged(i, w, rng, truth, shared) for w in workers}))
    run(s3, bucket, entries, workers_per_object=5)
    report = read_json(s3, bucket, "job/quality-report/tags.json")
    assert report["kind"] == KIND and report["question"] == "tags" and report["objects"] == 150
    assert [sorted(p["workers"]) for p in report["colluding_pairs"]] == [["colluder-1", "colluder-2"]]
    assert all(choice["colluding_pairs"] for choice in report["per_choice"].values())
    assert report["convergence"]["this_batch"]["converged"] is True
    assert report["convergence"]["job"]["fits"] == 1


def test_the_figure_and_the_summary_name_every_choice():
    report = {"question": "tags", **multi_select_report_from_statistics(statistics(*random_batch(random.Random(2), 0)))}
    summary = format_quality_report(report)
    assert "3 choices" in summary and "object-choice pairs" in summary
    lines = summary.splitlines()
    for choice in TAGS.choices:
        (row,) = [line for line in lines if line.startswith(choice + " ")]
        assert "careless" in row or "ana" in row or "bo" in row  # its least agreeing worker
    figure = draw_quality_report(report)
    figure.canvas.draw()
    shown = [t.get_text() for ax in figure.axes for t in ax.get_yticklabels()]
    assert all(any(label.startswith(f"{choice} (alpha ") for label in shown) for choice in TAGS.choices)
    assert quality_report_png(report)[:8] == b"\x89PNG\r\n\x1a\n"


def test_experts_decisions_leave_a_multi_select_report_as_the_crowd_made_it():
    """An expert's decision on a MultiSelect is a set of choices; the report compares workers with the crowd's."""
    report = multi_select_report_from_statistics(statistics(*random_batch(random.Random(3), 0, 5)))

    class Review:
        enabled = True

        def expert_decisions(self, question):
            raise AssertionError("a MultiSelect's report is not recomputed against experts' decisions")

    assert final_report(report, "tags", Review()) is report


def test_long_choice_names_are_drawn_inside_the_image_and_clear_of_the_workers_panel(monkeypatch):
    """The count panel names each choice with its alpha: long choices widen the figure instead of running under the
    workers' agreement beside them."""
    from tests.test_quality_plots import assert_apart, assert_inside, drawn_texts

    choices = tuple(f"a rather long defect description number {n}" for n in range(8))
    monkeypatch.setattr(sys.modules[__name__], "TAGS", MultiSelect(name="tags", choices=choices))
    report = {"question": "tags", **multi_select_report_from_statistics(statistics(*random_batch(random.Random(3), 0)))}
    figure = draw_quality_report(report)
    texts = drawn_texts(figure)
    assert all(any(text.startswith(f"{choice} (alpha ") for text, _ in texts) for choice in choices)
    assert_inside(figure, texts)
    assert_apart(figure)
