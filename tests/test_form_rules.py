"""What a worker page's form requires, read from the page itself, and the check of an answer."""
from __future__ import annotations

import pytest

from local_ground_truth.form_rules import rules_of

PAGE = """<crowd-form>
  <crowd-classifier name="Weld" categories='["Good Weld", "Burn Through"]' header="Pick one"></crowd-classifier>
  <crowd-input name="note" label="Note"></crowd-input>
  <crowd-text-area name="reason" required></crowd-text-area>
  <input type="hidden" name="judgement" required>
</crowd-form>"""


def test_rules_come_from_the_page():
    rules = rules_of(PAGE)
    assert rules.classifiers == {"Weld": ("Good Weld", "Burn Through")}
    assert rules.required == ["reason", "judgement"]


def test_a_complete_answer_passes_and_each_gap_is_named():
    rules = rules_of(PAGE)
    assert rules.problems({"Weld": {"label": "Burn Through"}, "reason": "holes", "judgement": "{\"label\": \"Yes\"}"}) == []
    assert rules.problems({"Weld": [{"label": "Good Weld"}], "reason": "x", "judgement": "y"}) == []  # one-item list
    problems = rules.problems({"reason": "", "Weld": {"label": "Excellent"}})
    assert problems == ["'Excellent' is not one of the categories of Weld", "reason is required", "judgement is required"]
    assert rules.problems({})[0] == "no category is chosen for Weld"
    assert rules.problems({"Weld": {"label": "Good Weld", "junk": "A" * 1_900_000}, "reason": "x", "judgement": "y"}) == [
        "Weld holds the key 'junk' beside its label"]


def test_categories_a_page_computes_only_require_a_choice():
    rules = rules_of('<crowd-classifier name="C" categories="{{ computed }}"></crowd-classifier>')
    assert rules.classifiers == {"C": None}
    assert rules.problems({"C": {"label": "anything"}}) == [] and rules.problems({"C": {}}) != []


ELEMENTS = """<crowd-form>
  <crowd-classifier-multi-select name="topics" categories="['Billing', 'Login']"></crowd-classifier-multi-select>
  <crowd-checkbox name="flags" value="blurry"></crowd-checkbox><crowd-checkbox name="flags" value="dim"></crowd-checkbox>
  <crowd-checkbox name="verified" required></crowd-checkbox>
  <crowd-radio-group><crowd-radio-button name="valid" value="Yes"></crowd-radio-button>
    <crowd-radio-button name="valid" value="No"></crowd-radio-button></crowd-radio-group>
  <crowd-input name="title"></crowd-input>
</crowd-form>
<crowd-entity-annotation name="mentions" labels='[{"label": "Person"}, {"label": "Company"}]'
  text="Sue &amp; 🌊 Amazon"></crowd-entity-annotation>"""
GOOD = {"topics": {"labels": ["Login"]}, "flags": {"blurry": True, "dim": False}, "verified": {"on": True},
        "valid": {"Yes": False, "No": True}, "title": "x",
        "mentions": {"entities": [{"label": "Person", "startOffset": 0, "endOffset": 3},
                                  {"label": "Company", "startOffset": 8, "endOffset": 14}]}}


def test_each_crowd_elements_shape_is_read_from_the_page():
    rules = rules_of(ELEMENTS)
    fields = rules.fields
    assert fields["topics"].labels == ("Billing", "Login") and fields["flags"].values == ["blurry", "dim"]
    assert fields["verified"].values == ["on"] and fields["verified"].required_values == ["on"]
    assert fields["valid"].element == "crowd-radio-button" and fields["valid"].values == ["Yes", "No"]
    assert fields["mentions"].labels == ("Person", "Company") and fields["mentions"].text_length == 14
    assert rules.problems(GOOD) == []
    assert rules.problems({**GOOD, "topics": [{"labels": ["Billing"]}]}) == []  # the one-item-list shape


@pytest.mark.parametrize("name, value, problem", [
    ("topics", {"labels": []}, "no category is chosen for topics"),
    ("topics", {"labels": ["Refunds"]}, "'Refunds' is not one of the categories of topics"),
    ("topics", "Login", "no category is chosen for topics"),
    ("flags", {"blurry": "yes"}, "flags must be an object of true/false per crowd-checkbox value"),
    ("flags", {"sharp": True}, "'sharp' is not a value of flags's crowd-checkbox"),
    ("verified", {"on": False}, "verified (on) must be checked"),
    ("valid", {"Maybe": True}, "'Maybe' is not a value of valid's crowd-radio-button"),
    ("title", {"text": "x"}, "title must be text"),
    ("mentions", {"entities": "Sue"}, "mentions must be"),
    ("mentions", {"entities": [{"label": "Place", "startOffset": 0, "endOffset": 3}]}, "'Place' is not one of the labels"),
    ("mentions", {"entities": [{"label": "Person", "startOffset": 3, "endOffset": 3}]}, "are not 0 <= start < end"),
    ("mentions", {"entities": [{"label": "Person", "startOffset": True, "endOffset": 3}]}, "are not 0 <= start < end"),
    ("mentions", {"entities": [{"label": "Person", "startOffset": 8, "endOffset": 15}]}, "after the text's 14 characters"),
    ("mentions", {"entities": [{"label": "Person", "startOffset": 0, "endOffset": 5},
                               {"label": "Company", "startOffset": 4, "endOffset": 9}]}, "entities 1 and 2 overlap"),
    # more than an element sends: a worker stored 1.9 MB inside a classifier's value, one answers-table cell
    ("topics", {"labels": ["Login"], "junk": "A" * 100}, "topics holds the key 'junk' beside its labels"),
    ("mentions", {"entities": [], "x": 1, "y": 2}, "mentions holds the keys 'x', 'y' beside its entities"),
    ("mentions", {"entities": [{"label": "Person", "startOffset": 0, "endOffset": 3, "note": "x"}]},
     "mentions entity 1 holds the key 'note' beside its label and offsets"),
])
def test_an_answer_no_element_of_the_page_would_send_is_refused(name, value, problem):
    problems = rules_of(ELEMENTS).problems({**GOOD, name: value})
    assert any(problem in found for found in problems), problems


def test_fields_the_page_does_not_have_are_refused_naming_a_few():
    """A worker posting 125,000 keys of their own (under the body's size cap) was recorded, and the answers table
    got a column for each: an answer holds the page's fields only."""
    rules = rules_of('<crowd-form><crowd-classifier name="weld" categories=\'["Good", "Bad"]\'></crowd-classifier>'
                     '<input type="hidden" name="filled-by-script"></crowd-form>')
    assert rules.problems({"weld": {"label": "Good"}, "filled-by-script": "x"}) == []
    junk = {f"k{index}": [1] for index in range(125_000)}
    [problem] = rules.problems({"weld": {"label": "Good"}, **junk})
    assert problem == ("the page has no field 'k0', 'k1', 'k2', 'k3', 'k4' and 124,995 more: an answer holds only "
                       "the page's fields")
    assert rules.problems({"weld": {"label": "Good"}, "=cmd|' /C calc'!A0" * 3: 1}) == [
        "the page has no field \"=cmd|' /C calc'!A0=cmd|' /C calc'!A0=cmd\": an answer holds only the page's fields"]
