"""Headless mode's parts by question type: simulated answers from truth, shaped as each element submits
them, the truth file's checks, and the scores of consolidated labels (the design's contract 2)."""
from __future__ import annotations

import json
import random

import pytest

from gt_common.answers import read_form
from gt_common.consolidation import WorkerAnswer
from gt_common.questions import Checkbox, Classification, FreeText, MultiSelect, Spans, YesNo
from local_ground_truth.form_rules import rules_of
from local_ground_truth.scoring import score_labels
from local_ground_truth.simulated_workers import NOTES, answer_values, shaped_answer
from local_ground_truth.truth import TruthError, checked_truth

PRIORITY = Classification(name="priority", choices=("Low", "High", "Not sure"), abstain="Not sure")
VALID = YesNo(name="valid", tie="No")
URGENT = Checkbox(name="urgent", value="urgent")
TOPICS = MultiSelect(name="topics", choices=("billing", "login", "other"))
NOTE = FreeText(name="note")
MENTIONS = Spans(name="mentions", span_labels=("Product", "Person"))
QUESTIONS = (PRIORITY, VALID, URGENT, TOPICS, NOTE, MENTIONS)
TEXT = "Ana says the Widget 3000 broke after one day and Bo agrees"
TRUTH = {"priority": "High", "valid": "Yes", "urgent": True, "topics": ["billing", "other"],
         "mentions": [{"label": "Person", "startOffset": 0, "endOffset": 3},
                      {"label": "Product", "startOffset": 13, "endOffset": 24},
                      {"label": "Person", "startOffset": 49, "endOffset": 51}]}


def test_what_the_page_requires_is_never_left_empty_and_nothing_else_changes():
    """A template may require the free text, and a multi-select classifier requires a choice: the simulation's
    "nothing" there made headless mode and the workflow's tests fail, blaming the template."""
    free, bound = random.Random(5), random.Random(5)
    for _ in range(500):
        loose = answer_values(QUESTIONS, TRUTH, 0.3, free, TEXT)
        strict = answer_values(QUESTIONS, TRUTH, 0.3, bound, TEXT, required={"note", "topics"})
        assert strict["note"] and strict["topics"]
        assert strict["note"] == (loose["note"] or NOTES[2]) and strict["topics"] == (loose["topics"] or ["billing"])
        assert {k: v for k, v in strict.items() if k not in ("note", "topics")} == \
            {k: v for k, v in loose.items() if k not in ("note", "topics")}  # the same draws, in the same order


def test_a_perfect_worker_answers_the_truth_and_a_hopeless_one_never_does():
    perfect = answer_values(QUESTIONS, TRUTH, 1.0, random.Random(1), TEXT)
    assert {k: v for k, v in perfect.items() if k not in ("note", "mentions")} == {k: v for k, v in TRUTH.items()
                                                                                  if k != "mentions"}
    assert perfect["note"] in NOTES
    # Spans: never missed nor mislabelled, but a careless selection may still move a boundary by a word.
    for span in perfect["mentions"]:
        [near] = [t for t in TRUTH["mentions"] if t["startOffset"] < span["endOffset"] and span["startOffset"] < t["endOffset"]]
        assert span["label"] == near["label"]
    wrong = answer_values(QUESTIONS, TRUTH, 0.0, random.Random(1), TEXT)
    assert wrong["priority"] in ("Low", "Not sure") and wrong["valid"] == "No" and wrong["urgent"] is False
    assert wrong["topics"] == ["login"]  # every choice flipped
    assert all(e["label"] in MENTIONS.span_labels for e in wrong["mentions"])


@pytest.mark.parametrize("accuracy", [0.6, 0.9])
def test_each_choice_is_right_about_as_often_as_the_accuracy_says(accuracy):
    rng = random.Random(7)
    runs = [answer_values(QUESTIONS, TRUTH, accuracy, rng, TEXT) for _ in range(3000)]
    for name, right in (("priority", lambda v: v == "High"), ("valid", lambda v: v == "Yes"),
                        ("urgent", lambda v: v is True), ("topics", lambda v: "login" not in v)):
        share = sum(right(run[name]) for run in runs) / len(runs)
        assert abs(share - accuracy) < 0.03, (name, share)


def test_simulated_spans_never_overlap_and_stay_in_the_text():
    rng = random.Random(3)
    for _ in range(500):
        spans = sorted(answer_values((MENTIONS,), TRUTH, 0.5, rng, TEXT)["mentions"], key=lambda e: e["startOffset"])
        assert all(0 <= e["startOffset"] < e["endOffset"] <= len(TEXT) for e in spans)
        assert all(b["startOffset"] >= a["endOffset"] for a, b in zip(spans, spans[1:]))


VALUES = {"priority": "High", "valid": "No", "urgent": True, "topics": ["billing", "other"], "note": "",
          "mentions": [{"label": "Person", "startOffset": 0, "endOffset": 3}]}


def test_without_a_page_each_answer_has_its_question_types_documented_shape():
    assert shaped_answer(QUESTIONS, VALUES) == {
        "priority": {"label": "High"}, "valid": {"label": "No"}, "urgent": {"urgent": True},
        "topics": {"labels": ["billing", "other"]},
        "mentions": {"entities": [{"label": "Person", "startOffset": 0, "endOffset": 3}]}}  # empty note: left out


def test_each_answer_is_shaped_as_the_element_that_asks_it_submits():
    page = """<crowd-form>
      <crowd-classifier name="priority" categories='["Low", "High", "Not sure"]'></crowd-classifier>
      <crowd-radio-group><crowd-radio-button name="valid:Yes" value="Yes"></crowd-radio-button>
        <crowd-radio-button name="valid:No" value="No"></crowd-radio-button></crowd-radio-group>
      <crowd-checkbox name="urgent" value="urgent"></crowd-checkbox>
      <crowd-checkbox name="topics:billing" value="billing"></crowd-checkbox><crowd-checkbox name="topics:login"
        value="login"></crowd-checkbox><crowd-checkbox name="topics:other"></crowd-checkbox>
      <crowd-text-area name="note"></crowd-text-area>
      <input type="hidden" name="mentions" required></crowd-form>"""
    answer = shaped_answer(QUESTIONS, {**VALUES, "note": "odd one"}, rules_of(page))
    # Each button under its own name, as Ground Truth submits it (a box without a value submits "on").
    assert answer == {"priority": {"label": "High"}, "valid:Yes": {"Yes": False}, "valid:No": {"No": True},
                      "urgent": {"urgent": True}, "topics:billing": {"billing": True}, "topics:login": {"login": False},
                      "topics:other": {"on": True}, "note": "odd one",
                      "mentions": json.dumps({"entities": VALUES["mentions"]})}
    assert rules_of(page).problems(answer) == []
    read = read_form(QUESTIONS, WorkerAnswer("w", answer))  # and consolidation reads back what was meant
    assert (read.values["valid"], read.values["topics"], read.problems) == ("No", {"billing", "other"}, [])
    radios = rules_of('<input type="radio" name="valid" value="Yes"><input type="radio" name="valid" value="No">')
    assert shaped_answer((VALID,), VALUES, radios) == {"valid": "No"}  # a plain radio submits its value


def test_truth_that_does_not_fit_is_refused_naming_each_object_and_question():
    names = {"0": "t-1", "1": "t-2", "2": "t-3", "3": "t-4"}
    truth = {"t-1": TRUTH, "t-2": {**TRUTH, "priority": "Urgent", "urgent": "yes"},
             "t-3": {k: v for k, v in TRUTH.items() if k != "topics"},
             "t-5": TRUTH}
    with pytest.raises(TruthError) as error:
        checked_truth(QUESTIONS, truth, names, "truth.json")
    message = str(error.value)
    assert "object 1 ('t-2'), question priority: 'Urgent' is not one of Low, High, Not sure" in message
    assert "object 1 ('t-2'), question urgent: 'yes' is not true or false" in message
    assert "object 2 ('t-3'): no truth for question topics" in message
    assert "object 3 ('t-4'): no entry" in message
    assert checked_truth(QUESTIONS, truth, {"0": "t-1"})["0"] == TRUTH  # free text needs none
    bad_spans = {"t-1": {**TRUTH, "mentions": [{"label": "Place", "startOffset": 0, "endOffset": 3},
                                               {"label": "Person", "startOffset": 4, "endOffset": 4}]}}
    with pytest.raises(TruthError, match=r"span 1 .* is not a span of Product, Person(.|\n)*span 2"):
        checked_truth(QUESTIONS, bad_spans, {"0": "t-1"})


def test_consolidated_labels_are_scored_per_question_type():
    truth = {"0": TRUTH, "1": {**TRUTH, "priority": "Low", "urgent": False, "topics": ["login"]}}
    labels = {
        "0": {"priority": {"label": "High", "confidence": 0.9, "votes": {"High": 3}},
              "valid": {"label": "Yes", "confidence": 0.8, "votes": {}},
              "urgent": {"label": "checked", "confidence": 1.0, "votes": {}},
              "topics": {"labels": ["billing", "other"], "confidence": {"billing": 0.9, "other": 0.7}, "votes": {}},
              "mentions": {"entities": [{"label": "Person", "startOffset": 0, "endOffset": 3, "confidence": 0.9},
                                        {"label": "Product", "startOffset": 13, "endOffset": 20, "confidence": 0.5}]},
              "note": [], "workers": 3},
        "1": {"priority": {"label": None, "confidence": 0, "votes": {}}, "valid": "Yes",  # not the consolidated shape
              "urgent": {"label": "checked", "confidence": 0.6, "votes": {}},
              "topics": {"labels": ["login", "billing"], "confidence": {}, "votes": {}},
              "mentions": {"entities": []}, "workers": 3},
    }
    scores = {name: result.summary() for name, result in score_labels(QUESTIONS, labels, truth).items()}
    assert set(scores) == {"priority", "valid", "urgent", "topics", "mentions"}  # free text is not scored
    assert scores["priority"]["accuracy"] == 0.5 and scores["priority"]["objects"] == 2  # a null label is wrong
    assert scores["valid"] == {"kind": "yes-no", "malformed": 1, "objects": 1, "accuracy": 1.0}
    assert scores["urgent"]["accuracy"] == 0.5  # truth false, consolidated "checked"
    assert scores["topics"]["accuracy"] == 0.5 and scores["topics"]["choice_accuracy"] == pytest.approx(5 / 6)
    assert scores["mentions"]["span_precision"] == 0.5 and scores["mentions"]["span_recall"] == pytest.approx(1 / 6)


def test_the_summary_matrix_lists_a_questions_classes_in_its_own_order_with_counts_readable_on_dark_cells():
    """The headless summary's confusion matrix, as the worker page and the quality report order the classes (only
    those met), each count drawn in a colour its cell's shade leaves readable."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from local_ground_truth.headless import _confusion
    from local_ground_truth.scoring import QuestionScore

    question = Classification(name="defect", choices=("Porosity", "Crack", "Burn", "Not sure"), abstain="Not sure")
    result = QuestionScore(question, pairs=[("Porosity", "Porosity")] * 6 + [("Crack", "Crack")] * 5
                           + [("Burn", "Crack"), ("Burn", "Burn")])
    figure = Figure()
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    _confusion(axis, result, 12 / 13)
    assert [label.get_text() for label in axis.get_xticklabels()] == ["Porosity", "Crack", "Burn"]
    assert [label.get_text() for label in axis.get_yticklabels()] == ["Porosity", "Crack", "Burn"]
    colours = {text.get_text(): text.get_color() for text in axis.texts}
    assert colours == {"6": "white", "5": "white", "1": "black"}


def test_the_summary_shows_each_questions_confidences_as_its_own_series(tmp_path):
    """A span's confidence (agreement times overlap) is not a label's probability: the histogram keeps each question
    apart, named in its legend."""
    from local_ground_truth.headless import _plot
    from local_ground_truth.scoring import QuestionScore

    figure = _plot([QuestionScore(PRIORITY, pairs=[("High", "High")], confidences=[0.95]),
                    QuestionScore(MENTIONS, confidences=[0.5, 0.7])], tmp_path / "summary.png")
    legend = figure.axes[-1].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == ["priority", "mentions"]
    assert sum(patch.get_height() for patch in figure.axes[-1].patches) == 3  # stacked: each confidence counted once
    assert (tmp_path / "summary.png").read_bytes().startswith(b"\x89PNG")


def test_the_summary_draws_class_names_as_typed_and_a_hundred_classes_unnamed(tmp_path):
    """A class named like mathtext ("$\\frac{$") failed the whole run at its end, when the summary was saved; past
    MAX_LABELLED_CLASSES the matrix names none (the quality report names them all), as the report's matrices do."""
    from local_ground_truth.headless import _plot
    from local_ground_truth.quality_plots import drawable_text
    from local_ground_truth.scoring import QuestionScore

    odd = Classification(name="price", choices=("$\\frac{$", "$cost$", "Good Weld"))
    many = Classification(name="species", choices=tuple(f"species {n}" for n in range(100)))
    figure = _plot([QuestionScore(odd, pairs=[(label, label) for label in odd.choices], confidences=[0.9] * 3),
                    QuestionScore(many, pairs=[(label, label) for label in many.choices])], tmp_path / "summary.png")
    assert [label.get_text() for label in figure.axes[0].get_xticklabels()] == [drawable_text(c) for c in odd.choices]
    assert list(figure.axes[1].get_xticklabels()) == [] and list(figure.axes[1].texts) == []
    assert (tmp_path / "summary.png").read_bytes().startswith(b"\x89PNG")
