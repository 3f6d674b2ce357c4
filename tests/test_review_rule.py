"""The review rule and merge (gt_common.review): which objects go to an expert and the final line."""
from __future__ import annotations

import json

import pytest

import workflows
from consolidation import handler
from gt_common.questions import Checkbox, Classification, FreeText, MultiSelect, Spans, YesNo
from gt_common.review import (
    ABSTAINED, GOLD_MISS, GOLD_MISS_KEY, LOW_CONFIDENCE, REVIEW_REASONS, ReviewError, ReviewSettings,
    check_decision, final_manifest_key, job_output_folder, merge_review, needs_review, parse_settings,
    reasons_by_question,
)
from gt_common.task_record import RECORDS_ENV
from tests.consolidation_helpers import answered_by, configure, run

QUALITY = Classification(name="quality", choices=("Good", "Bad", "Not sure"), abstain="Not sure")
VALID = YesNo(name="valid", tie="No")
URGENT = Checkbox(name="urgent", value="urgent")
TOPICS = MultiSelect(name="topics", choices=("a", "b", "c"))
NOTES = FreeText(name="notes")
SPANS = Spans(name="spans", span_labels=("X", "Y"))
QUESTIONS = (QUALITY, VALID, URGENT, TOPICS, NOTES, SPANS)
LABEL = "label"
THRESHOLD = 0.9


def line(**values) -> dict:
    """An output manifest line as the local runner and Ground Truth write it, every question settled."""
    label = {
        "quality": {"label": "Good", "confidence": 0.97, "votes": {"Good": 3}},
        "valid": {"label": "Yes", "confidence": 0.95, "votes": {"Yes": 3}},
        "urgent": {"label": "unchecked", "confidence": 0.99, "votes": {"unchecked": 3}},
        "topics": {"labels": ["a"], "confidence": {"a": 0.97, "b": 0.02, "c": 0.05}, "votes": {"a": 3}},
        "notes": [{"workerId": "w0", "text": "hm"}],
        "spans": {"entities": [{"label": "X", "startOffset": 0, "endOffset": 3, "confidence": 0.2}]},
        "workers": 3,
    }
    label.update(values)
    return {"source-ref": "s3://in/0.jpg", LABEL: label,
            f"{LABEL}-metadata": {"type": "groundtruth/custom", "job-name": "job", "human-annotated": "yes",
                                  "creation-date": "2026-01-01T00:00:00.000Z"}}


# -- the rule ------------------------------------------------------------------------------------------

def test_a_settled_line_needs_no_review_and_spans_and_free_text_never_route():
    assert needs_review(line(), LABEL, QUESTIONS, THRESHOLD) == []


@pytest.mark.parametrize("question, value", [
    ("quality", {"label": "Good", "confidence": 0.89, "votes": {"Good": 2, "Bad": 1}}),
    ("valid", {"label": "No", "confidence": 0.5, "votes": {"Yes": 1, "No": 1}}),
    ("urgent", {"label": "checked", "confidence": 0.6, "votes": {"checked": 2, "unchecked": 1}}),
    ("topics", {"labels": ["a", "b"], "confidence": {"a": 0.97, "b": 0.55, "c": 0.05}, "votes": {"a": 3, "b": 2}}),
    ("topics", {"labels": ["a"], "confidence": {"a": 0.97, "b": 0.2, "c": 0.05}, "votes": {"a": 3}}),  # b: 0.8 no
])
def test_each_choice_type_under_the_threshold_routes_as_low_confidence(question, value):
    assert needs_review(line(**{question: value}), LABEL, QUESTIONS, THRESHOLD) == [LOW_CONFIDENCE]
    assert reasons_by_question(line(**{question: value}), LABEL, QUESTIONS, THRESHOLD) == {question: [LOW_CONFIDENCE]}


def test_the_threshold_is_strict_and_comes_from_the_caller():
    at = line(quality={"label": "Good", "confidence": 0.9, "votes": {"Good": 3}})
    assert needs_review(at, LABEL, QUESTIONS, 0.9) == []
    assert needs_review(at, LABEL, QUESTIONS, 0.95) == [LOW_CONFIDENCE]
    assert needs_review(line(), LABEL, QUESTIONS, 0.999) == [LOW_CONFIDENCE]  # every question under it


def test_a_multi_select_choice_settled_either_way_needs_no_review():
    settled = line(topics={"labels": ["a", "c"], "confidence": {"a": 0.91, "b": 0.09, "c": 0.995}, "votes": {}})
    assert needs_review(settled, LABEL, QUESTIONS, THRESHOLD) == []


def test_an_abstained_label_routes_as_abstained_and_low_confidence():
    abstained = line(quality={"label": "Not sure", "confidence": 0.0, "votes": {"Good": 1, "Not sure": 2}})
    assert needs_review(abstained, LABEL, QUESTIONS, THRESHOLD) == [LOW_CONFIDENCE, ABSTAINED]


def test_an_abstention_the_others_settle_confidently_stays_the_crowds_by_default():
    """The default rule: an abstention routes only through the confidence it lowers."""
    one = line(quality={"label": "Good", "confidence": 0.95, "votes": {"Good": 2, "Not sure": 1}})
    assert needs_review(one, LABEL, QUESTIONS, THRESHOLD) == []
    assert reasons_by_question(one, LABEL, QUESTIONS, THRESHOLD) == {}


def test_an_abstention_that_lowers_the_confidence_under_the_threshold_routes_as_low_confidence():
    lowered = line(quality={"label": "Good", "confidence": 0.7, "votes": {"Good": 2, "Bad": 1, "Not sure": 1}})
    assert needs_review(lowered, LABEL, QUESTIONS, THRESHOLD) == [LOW_CONFIDENCE]


def test_a_setting_routes_any_abstention_even_when_the_others_agree_confidently():
    one = line(quality={"label": "Good", "confidence": 0.95, "votes": {"Good": 2, "Not sure": 1}})
    assert needs_review(one, LABEL, QUESTIONS, THRESHOLD, route_any_abstention=True) == [ABSTAINED]
    assert reasons_by_question(one, LABEL, QUESTIONS, THRESHOLD, route_any_abstention=True) == {
        "quality": [ABSTAINED]}
    assert needs_review(line(), LABEL, QUESTIONS, THRESHOLD, route_any_abstention=True) == []  # none abstained
    zero = line(quality={"label": "Good", "confidence": 0.95, "votes": {"Good": 3, "Not sure": 0}})
    assert needs_review(zero, LABEL, QUESTIONS, THRESHOLD, route_any_abstention=True) == []
    without_abstain_label = Classification(name="quality", choices=("Good", "Bad", "Not sure"))
    assert needs_review(one, LABEL, [without_abstain_label], THRESHOLD, route_any_abstention=True) == []  # a class


def test_the_abstain_label_routes_as_abstained_whatever_the_setting_and_the_confidence():
    # A (hypothetical) confident abstain label still routes: the crowd gave no class at all.
    confident = line(quality={"label": "Not sure", "confidence": 0.99, "votes": {"Not sure": 3}})
    for setting in (False, True):
        assert needs_review(confident, LABEL, QUESTIONS, THRESHOLD, route_any_abstention=setting) == [ABSTAINED]


def test_a_gold_miss_flag_routes_whatever_the_confidence():
    missed = line(valid={"label": "Yes", "confidence": 0.99, "votes": {"Yes": 3}, GOLD_MISS_KEY: True})
    assert needs_review(missed, LABEL, QUESTIONS, THRESHOLD) == [GOLD_MISS]
    not_true = line(valid={"label": "Yes", "confidence": 0.99, "votes": {"Yes": 3}, GOLD_MISS_KEY: "yes"})
    assert needs_review(not_true, LABEL, QUESTIONS, THRESHOLD) == []  # only a JSON true marks a miss


def test_every_reason_at_once_is_reported_once_in_order():
    everything = line(quality={"label": "Not sure", "confidence": 0.0, "votes": {"Not sure": 3}, GOLD_MISS_KEY: True},
                      valid={"label": "No", "confidence": 0.3, "votes": {"No": 1}, GOLD_MISS_KEY: True})
    assert needs_review(everything, LABEL, QUESTIONS, THRESHOLD) == list(REVIEW_REASONS)
    assert reasons_by_question(everything, LABEL, QUESTIONS, THRESHOLD) == {
        "quality": [LOW_CONFIDENCE, ABSTAINED, GOLD_MISS], "valid": [LOW_CONFIDENCE, GOLD_MISS]}


@pytest.mark.parametrize("value", [
    None, "Good", [], {"label": None, "confidence": 0.0, "votes": {}},  # no usable answer: no label
    {"label": "Good"}, {"label": "Good", "confidence": "0.99"}, {"label": "Good", "confidence": float("nan")},
    {"label": "Good", "confidence": True}, {"label": "Elsewhere", "confidence": 0.99},
])
def test_a_value_that_cannot_be_read_routes_as_low_confidence(value):
    broken = line(quality=value)
    if value is None:
        del broken[LABEL]["quality"]
    assert needs_review(broken, LABEL, QUESTIONS, THRESHOLD) == [LOW_CONFIDENCE]


def test_hostile_votes_and_multi_select_confidences_never_crash():
    odd = line(quality={"label": "Good", "confidence": 0.99, "votes": ["Not sure"]},
               topics={"labels": ["a"], "confidence": ["a"], "votes": {}})
    assert reasons_by_question(odd, LABEL, QUESTIONS, THRESHOLD) == {"topics": [LOW_CONFIDENCE]}
    assert needs_review({LABEL: "not an object"}, LABEL, [QUALITY], THRESHOLD) == [LOW_CONFIDENCE]


def test_a_line_without_a_label_is_not_reviewed():
    assert needs_review({"source-ref": "s3://in/0.jpg"}, LABEL, QUESTIONS, THRESHOLD) == []


@pytest.fixture
def fresh_client(monkeypatch):
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    yield
    handler.s3_client.cache_clear()


def test_lines_as_the_consolidation_function_writes_them(s3, bucket, monkeypatch, fresh_client):
    """The rule reads what the consolidation function returns today, through its handler (majority vote:
    confidence is the vote share, so what routes is plain to see)."""
    configure(monkeypatch, [QUALITY, VALID], "majority-vote")
    entries = [answered_by(0, {"w0": {"quality": "Good", "valid": "Yes"}, "w1": {"quality": "Good", "valid": "Yes"},
                               "w2": {"quality": "Good", "valid": "Yes"}}),
               answered_by(1, {"w0": {"quality": "Good", "valid": "Yes"}, "w1": {"quality": "Bad", "valid": "No"},
                               "w2": {"quality": "Not sure", "valid": "Yes"}}),
               answered_by(2, {"w0": {"quality": "Not sure", "valid": "Yes"},
                               "w1": {"quality": "Not sure", "valid": "Yes"},
                               "w2": {"quality": "Bad", "valid": "Yes"}})]
    labels = run(s3, bucket, entries, label=LABEL)
    lines = {oid: {LABEL: value} for oid, value in labels.items()}
    assert needs_review(lines["0"], LABEL, [QUALITY, VALID], THRESHOLD) == []
    assert reasons_by_question(lines["1"], LABEL, [QUALITY, VALID], THRESHOLD) == {
        "quality": [LOW_CONFIDENCE], "valid": [LOW_CONFIDENCE]}  # the abstention lowered the vote share
    assert reasons_by_question(lines["1"], LABEL, [QUALITY, VALID], THRESHOLD, route_any_abstention=True) == {
        "quality": [LOW_CONFIDENCE, ABSTAINED], "valid": [LOW_CONFIDENCE]}
    assert lines["2"][LABEL]["quality"]["label"] == "Not sure"
    assert needs_review(lines["2"], LABEL, [QUALITY, VALID], THRESHOLD) == [LOW_CONFIDENCE, ABSTAINED]


# -- decisions -----------------------------------------------------------------------------------------

def test_a_decision_is_checked_against_the_questions_labels():
    assert check_decision({"quality": "Bad", "topics": ["c", "a"]}, QUESTIONS, "7") == {"quality": "Bad",
                                                                                      "topics": ["a", "c"]}
    for bad, named in [({"quality": "Terrible"}, '"Terrible" is not a label of question quality'),
                       ({"quality": {"label": "Bad"}},  # a crowd answer's shape: shown as JSON, with what to send
                        '{"label": "Bad"} is not a label of question quality (a decision names the label itself'),
                       ({"quality": "Not sure"}, "is not a label of question quality"),
                       ({"notes": "x"}, "'notes' is not a question an expert decides"),
                       ({"spans": "X"}, "'spans' is not a question"),
                       ({"nope": "Good"}, "'nope' is not a question"),
                       ({"valid": ["Yes"]}, "is not a label of question valid"),
                       ({"topics": ["a", "a"]}, "question topics takes a list of distinct choices"),
                       ({"topics": "a"}, "question topics takes a list"),
                       ({"topics": ["d"]}, "question topics takes a list"),
                       ({}, "a decision names at least one question"),
                       (["quality", "Bad"], "a decision names at least one question")]:
        with pytest.raises(ReviewError) as raised:
            check_decision(bad, QUESTIONS, "7")
        assert "object 7" in str(raised.value) and named in str(raised.value), raised.value


def test_a_hostile_decision_is_named_briefly():
    with pytest.raises(ReviewError) as raised:
        check_decision({"quality": "<script>" + "x" * 10_000}, QUESTIONS, "7")
    assert len(str(raised.value)) < 300


# -- the merge -----------------------------------------------------------------------------------------

def test_no_decision_passes_the_crowds_line_through_as_crowd():
    crowd = line()
    final = merge_review(crowd, None, LABEL, None)
    assert final[LABEL] == crowd[LABEL]
    assert final[f"{LABEL}-metadata"] == {**crowd[f"{LABEL}-metadata"], "decided-by": "crowd"}
    assert "decided-by" not in crowd[f"{LABEL}-metadata"]  # the crowd's line is not changed


def test_a_routed_object_not_yet_decided_keeps_its_reasons():
    final = merge_review(line(), {}, LABEL, None, reasons=[ABSTAINED, LOW_CONFIDENCE])
    assert final[f"{LABEL}-metadata"]["decided-by"] == "crowd"
    assert final[f"{LABEL}-metadata"]["review-reasons"] == [LOW_CONFIDENCE, ABSTAINED]
    with pytest.raises(ReviewError, match="unknown review reasons"):
        merge_review(line(), None, LABEL, None, reasons=["bored"])
    assert "review-questions" not in final[f"{LABEL}-metadata"]  # a list (a review line written before): no more


def test_the_question_that_sent_an_object_to_review_is_named_in_the_final_line():
    """ "review-reasons" said why an object was routed but not which of its questions: a requester with a
    multi-label question beside a classification could not tell which to look at."""
    reasons = {"topics": [LOW_CONFIDENCE], "quality": [ABSTAINED, LOW_CONFIDENCE]}
    metadata = merge_review(line(), None, LABEL, None, reasons=reasons)[f"{LABEL}-metadata"]
    assert metadata["review-reasons"] == [LOW_CONFIDENCE, ABSTAINED]
    assert metadata["review-questions"] == {"topics": [LOW_CONFIDENCE], "quality": [LOW_CONFIDENCE, ABSTAINED]}
    with pytest.raises(ReviewError, match="unknown review reasons"):
        merge_review(line(), None, LABEL, None, reasons={"quality": ["bored"]})


def test_the_reviewers_answer_replaces_the_label_and_keeps_the_crowds():
    crowd = line(quality={"label": "Good", "confidence": 0.61, "votes": {"Good": 2, "Bad": 1}, GOLD_MISS_KEY: True})
    final = merge_review(crowd, {"quality": "Bad", "topics": ["b"]}, LABEL, "expert-1", reasons=[LOW_CONFIDENCE])
    assert final[LABEL]["quality"] == {"label": "Bad", "votes": {"Good": 2, "Bad": 1}}  # the miss was the crowd's
    assert final[LABEL]["topics"] == {"labels": ["b"], "votes": {"a": 3}}
    assert final[LABEL]["valid"] == crowd[LABEL]["valid"] and final[LABEL]["workers"] == 3
    metadata = final[f"{LABEL}-metadata"]
    assert metadata["decided-by"] == "reviewer" and metadata["reviewer"] == "expert-1"
    assert metadata["crowd"] == {"quality": {"label": "Good", "confidence": 0.61, GOLD_MISS_KEY: True},
                                 "topics": {"labels": ["a"], "confidence": {"a": 0.97, "b": 0.02, "c": 0.05}}}
    assert metadata["review-reasons"] == [LOW_CONFIDENCE]
    assert metadata["job-name"] == "job" and final["source-ref"] == crowd["source-ref"]
    assert crowd[LABEL]["quality"]["label"] == "Good"  # the crowd's line is not changed
    json.dumps(final)  # a manifest line


def test_a_gold_miss_beside_an_experts_label_says_whether_the_expert_missed_it():
    """An expert who chose a gold object's known answer got "gold-miss": true beside it (the crowd's), and the labels
    table read "gold missed: yes" next to the right label."""
    crowd = line(quality={"label": "Good", "confidence": 0.6, "gold": "Bad", GOLD_MISS_KEY: True},
                 topics={"labels": ["a"], "confidence": {"a": 0.9}, "gold": ["b", "c"], GOLD_MISS_KEY: True})
    right = merge_review(crowd, {"quality": "Bad", "topics": ["c", "b"]}, LABEL, "expert-1")
    assert right[LABEL]["quality"] == {"label": "Bad", "gold": "Bad"}
    assert right[LABEL]["topics"] == {"labels": ["c", "b"], "gold": ["b", "c"]}
    assert right[f"{LABEL}-metadata"]["crowd"]["quality"][GOLD_MISS_KEY] is True
    wrong = merge_review(crowd, {"quality": "Good", "topics": ["b"]}, LABEL, "expert-1")
    assert wrong[LABEL]["quality"][GOLD_MISS_KEY] is True and wrong[LABEL]["topics"][GOLD_MISS_KEY] is True


def test_accepting_the_crowds_label_is_the_reviewers_decision():
    final = merge_review(line(), {"quality": "Good"}, LABEL, "expert-1")
    assert final[LABEL]["quality"]["label"] == "Good"
    assert final[f"{LABEL}-metadata"]["decided-by"] == "reviewer"
    assert final[f"{LABEL}-metadata"]["crowd"] == {"quality": {"label": "Good", "confidence": 0.97}}


def test_a_merge_that_cannot_be_made_is_refused_by_name():
    with pytest.raises(ReviewError, match="needs the reviewer's id"):
        merge_review(line(), {"quality": "Bad"}, LABEL, None)
    with pytest.raises(ReviewError, match="question 'missing' has no consolidated value"):
        merge_review(line(), {"missing": "Bad"}, LABEL, "expert-1")
    with pytest.raises(ReviewError, match="a line without 'label'"):
        merge_review({"source-ref": "s3://in/0.jpg"}, {"quality": "Bad"}, LABEL, "expert-1")
    assert merge_review({"source-ref": "s3://x"}, None, LABEL, None) == {"source-ref": "s3://x"}


# -- settings ------------------------------------------------------------------------------------------

def test_settings_default_off_and_are_checked_by_name():
    assert parse_settings(None) == ReviewSettings(enabled=False)
    assert parse_settings(None).route_any_abstention is False
    assert parse_settings({"enabled": True, "threshold": 0.8}) == ReviewSettings(True, 0.8)
    assert parse_settings({"routeAnyAbstention": True}) == ReviewSettings(route_any_abstention=True)
    every = ReviewSettings(True, 0.75, True)
    assert every.as_json() == {"enabled": True, "threshold": 0.75, "routeAnyAbstention": True}
    assert parse_settings(json.loads(json.dumps(every.as_json()))) == every  # the stack output, read back
    for raw, named in [({"enabled": "yes"}, "'enabled' must be true or false"),
                       ({"routeAnyAbstention": "no"}, "'routeAnyAbstention' must be true or false"),
                       ({"route_any_abstention": True}, "unknown keys ['route_any_abstention']"),
                       ({"threshold": 0}, "'threshold' must be a number above 0"),
                       ({"threshold": 1.5}, "'threshold' must be a number above 0"),
                       ({"threshold": float("nan")}, "'threshold' must be a number"),
                       ({"threshold": True}, "'threshold' must be a number"),
                       ({"treshold": 0.5}, "unknown keys ['treshold']"),
                       ("on", "must be an object")]:
        with pytest.raises(ReviewError) as raised:
            parse_settings(raw, "environment 'dev' review")
        assert "environment 'dev' review" in str(raised.value) and named in str(raised.value), raised.value


# -- where the final manifest goes -----------------------------------------------------------------------

def test_the_final_manifest_is_beside_ground_truths_output_manifest():
    folder = job_output_folder("output/", "weld-1a2b-0")
    assert folder == job_output_folder("output", "weld-1a2b-0") == "output/weld-1a2b-0/"  # S3OutputPath, either way
    assert final_manifest_key(folder) == "output/weld-1a2b-0/manifests/output/final.manifest"
    assert final_manifest_key(job_output_folder("", "j")) == "j/manifests/output/final.manifest"  # bucket root
    for bad in ("", "a/b"):
        with pytest.raises(ReviewError, match="not a labeling job's name"):
            job_output_folder("output/", bad)
    with pytest.raises(ReviewError, match="ends with '/'"):
        final_manifest_key("output/job")


def test_a_reviewed_value_keeps_none_of_the_crowds_confidences():
    """The job's confidence (gt_common.job_confidence) adds the batch's confidence and the worker model's evidence
    to a value: both are about the crowd's label, so beside an expert's other label they would read as its own
    (a "Yes" the expert chose, with the batch-confidence 0.95 of the crowd's "No")."""
    from gt_common.job_confidence import BATCH_CONFIDENCE_KEY, EVIDENCE_KEY

    crowd = line(valid={"label": "No", "confidence": 0.93, BATCH_CONFIDENCE_KEY: 0.95, "votes": {"No": 3},
                        EVIDENCE_KEY: {"temperature": 1.0, "answers": 21.0, "classes": {"Yes": [0.45, -3.4]}}})
    final = merge_review(crowd, {"valid": "Yes"}, LABEL, "expert-1")
    assert final[LABEL]["valid"] == {"label": "Yes", "votes": {"No": 3}}
    assert final[f"{LABEL}-metadata"]["crowd"] == {"valid": {"label": "No", "confidence": 0.93}}
    assert crowd[LABEL]["valid"][BATCH_CONFIDENCE_KEY] == 0.95  # the crowd's line is not changed
    assert merge_review(crowd, None, LABEL, None)[LABEL]["valid"] == crowd[LABEL]["valid"]  # the crowd's label: kept
