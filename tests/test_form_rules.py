"""What a worker page's form requires, read from the page itself, and the check of an answer."""
from __future__ import annotations

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


def test_categories_a_page_computes_only_require_a_choice():
    rules = rules_of('<crowd-classifier name="C" categories="{{ computed }}"></crowd-classifier>')
    assert rules.classifiers == {"C": None}
    assert rules.problems({"C": {"label": "anything"}}) == [] and rules.problems({"C": {}}) != []
