"""The generic consolidation Lambda for every question type, alone and mixed in one workflow.

A ticket-triage-like workflow asks one question of each type; each test configures the function
with the questions it needs, as a stack would from a definition, and runs batches through the
handler over a real (moto) S3 endpoint.
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

import workflows
from consolidation import handler
from gt_common.choices import tie_break
from gt_common.questions import Checkbox, Classification, FreeText, MultiSelect, Spans, YesNo
from gt_common.s3uri import InputError
from gt_common.task_record import RECORDS_ENV
from tests.consolidation_helpers import (
    STATE, WORKER_MODEL, answered_by, configure, content, logged, read_json, run,
)

PRIORITY = Classification(name="priority", choices=("Low", "High", "Not sure"), abstain="Not sure")
VALID = YesNo(name="valid", tie="No")
URGENT = Checkbox(name="urgent", value="urgent")
TOPICS = MultiSelect(name="topics", choices=("billing", "login", "outage"))
NOTES = FreeText(name="notes", max_chars=20)
MENTIONS = Spans(name="mentions", span_labels=("Product", "Person"))
TRIAGE = (PRIORITY, VALID, URGENT, TOPICS, NOTES, MENTIONS)


@pytest.fixture(autouse=True)
def fresh_client(monkeypatch):
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    yield
    handler.s3_client.cache_clear()


def one_object(s3, bucket, monkeypatch, questions, forms, method="majority-vote", **options):
    """The label of one object answered by workers w0, w1, ... with ``forms``."""
    configure(monkeypatch, questions, method)
    entries = [answered_by(0, {f"w{i}": form for i, form in enumerate(forms)})]
    return run(s3, bucket, entries, workers_per_object=max(3, len(forms)), **options)["0"]


# -- Checkbox ----------------------------------------------------------------------------------------------

def test_checkbox_majority_and_absent_answers_count_as_unchecked(s3, bucket, monkeypatch):
    label = one_object(s3, bucket, monkeypatch, [URGENT],
                       [{"urgent": {"urgent": True}}, {"urgent": {"urgent": False}}, {"other field": 1}])
    assert label == {"urgent": {"label": "unchecked", "confidence": 0.6667, "votes": {"checked": 1, "unchecked": 2}},
                     "workers": 3}


@pytest.mark.parametrize("value", [{"urgent": True}, json.dumps({"urgent": True}), [{"urgent": True}],
                                   json.dumps([{"urgent": True}])])
def test_checkbox_answer_shapes(s3, bucket, monkeypatch, value):
    label = one_object(s3, bucket, monkeypatch, [URGENT], [{"urgent": value}] * 2)
    assert label["urgent"]["votes"] == {"checked": 2}


@pytest.mark.parametrize("value, problem", [
    ({"urgent": "yes"}, "urgent 'urgent' is 'yes', not true or false"),
    ({"checked": True}, "urgent is not an object with the checkbox's value 'urgent'"),
    ("true", "urgent is not an object with the checkbox's value"),
    ("{broken", "urgent is not valid JSON"),
])
def test_a_malformed_checkbox_is_skipped_and_named(s3, bucket, monkeypatch, caplog, value, problem):
    label = one_object(s3, bucket, monkeypatch, [URGENT, NOTES],
                       [{"urgent": value, "notes": "kept"}, {"urgent": {"urgent": True}}])
    assert label["urgent"]["votes"] == {"checked": 1}
    assert label["notes"] == [{"workerId": "w0", "text": "kept"}] and label["workers"] == 2
    assert logged(caplog, "object 0, worker w0", problem), caplog.messages


@pytest.mark.parametrize("question, winner", [(URGENT, tie_break("0", ["checked", "unchecked"])),
                                              (dataclasses.replace(URGENT, tie="unchecked"), "unchecked")])
def test_a_split_checkbox_goes_to_the_tie_label_else_by_the_object_hash(s3, bucket, monkeypatch, question, winner):
    label = one_object(s3, bucket, monkeypatch, [question], [{"urgent": {"urgent": True}}, {}])
    assert label["urgent"] == {"label": winner, "confidence": 0.5, "votes": {"checked": 1, "unchecked": 1}}


# -- MultiSelect -------------------------------------------------------------------------------------------

def topics(*labels):
    return {"topics": {"labels": list(labels)}}


def test_each_choice_of_a_multi_select_is_its_own_yes_no(s3, bucket, monkeypatch):
    label = one_object(s3, bucket, monkeypatch, [TOPICS],
                       [topics("outage", "billing"), topics("billing"), topics("login", "billing", "outage")])
    assert label["topics"] == {"labels": ["billing", "outage"],  # the question's order, not the workers'
                               "confidence": {"billing": 1.0, "login": 0.3333, "outage": 0.6667},
                               "votes": {"billing": 3, "login": 1, "outage": 2}}


@pytest.mark.parametrize("method", ["majority-vote", "dawid-skene"])
def test_a_split_choice_of_a_multi_select_is_selected(s3, bucket, monkeypatch, method):
    """Each choice's yes/no has "Yes" as its tie label: a split selects every choice, whatever the object's hash."""
    label = one_object(s3, bucket, monkeypatch, [TOPICS], [topics("billing", "login", "outage"), topics()],
                       method=method)
    assert label["topics"]["labels"] == ["billing", "login", "outage"]
    assert label["topics"]["confidence"] == {"billing": 0.5, "login": 0.5, "outage": 0.5}


@pytest.mark.parametrize("value", [{"labels": ["login"]}, json.dumps({"labels": ["login"]}), [{"labels": ["login"]}]])
def test_multi_select_answer_shapes(s3, bucket, monkeypatch, value):
    label = one_object(s3, bucket, monkeypatch, [TOPICS], [{"topics": value}] * 2)
    assert label["topics"]["labels"] == ["login"] and label["topics"]["votes"] == {"login": 2}


def test_an_unknown_choice_is_skipped_and_the_workers_other_choices_kept(s3, bucket, monkeypatch, caplog):
    label = one_object(s3, bucket, monkeypatch, [TOPICS], [topics("refunds", "login", 7), topics("login")])
    assert label["topics"]["labels"] == ["login"] and label["topics"]["votes"] == {"login": 2}
    assert logged(caplog, "object 0, worker w0: topics.labels[0]: 'refunds' is not one of billing, login, outage")
    assert logged(caplog, "object 0, worker w0: topics.labels[2]: 7 is not one of")


def test_a_huge_hostile_value_is_named_in_a_short_log_line(s3, bucket, monkeypatch, caplog):
    huge = {"topics": {"labels": [["x" * 1000] * 10_000, "billing"]}, "priority": {"label": "y" * 1_000_000}}
    label = one_object(s3, bucket, monkeypatch, [TOPICS, PRIORITY], [huge, topics("billing")])
    assert label["topics"]["votes"] == {"billing": 2} and label["workers"] == 2
    lines = [m for m in caplog.messages if "object 0, worker w0" in m]
    assert len(lines) == 2 and all(len(line) < 400 for line in lines), [line[:400] for line in lines]


def test_a_malformed_multi_select_loses_only_itself(s3, bucket, monkeypatch, caplog):
    label = one_object(s3, bucket, monkeypatch, [TOPICS, VALID],
                       [{"topics": "billing", "valid": "Yes"}, {**topics("billing"), "valid": "Yes"}])
    assert label["topics"]["votes"] == {"billing": 1} and label["valid"]["votes"] == {"Yes": 2}
    assert logged(caplog, "object 0, worker w0: topics is not an object with a labels list")


def test_nothing_selected_is_an_answer_and_a_split_choice_is_selected(s3, bucket, monkeypatch):
    label = one_object(s3, bucket, monkeypatch, [TOPICS], [topics(), topics("outage")])
    assert label["topics"] == {"labels": ["outage"], "confidence": {"billing": 0.0, "login": 0.0, "outage": 0.5},
                               "votes": {"outage": 1}}


@pytest.mark.parametrize("method", ["majority-vote", "dawid-skene"])
def test_a_multi_selects_gold_is_kept_in_its_choice_order_and_a_miss_is_flagged(s3, bucket, monkeypatch, caplog,
                                                                                method):
    """Object 0's known choices are login and billing; the crowd chose billing alone: missed. Object 1 has none, as
    its crowd says; object 2's gold names a choice the question does not have: logged by object and left out."""
    from gt_common.gold import GOLD_KEY, GOLD_MISS_KEY
    from gt_common.task_record import data_object_of, write_record

    configure(monkeypatch, [TOPICS], method)
    monkeypatch.setenv(RECORDS_ENV, f"s3://{bucket}/derived/task-records/")
    known = {"0": ["login", "billing"], "1": [], "2": ["refunds"]}
    entries = []
    for object_id, gold in known.items():
        line = {"source": f"s3://{bucket}/tickets/{object_id}.json", GOLD_KEY: {"topics": gold}}
        write_record(s3, line, {GOLD_KEY: line[GOLD_KEY]}, "job")
        forms = ([topics("billing"), topics("billing", "login"), topics("billing")] if object_id == "0"
                 else [topics()] * 3)
        entries.append(answered_by(object_id, {f"w{i}": form for i, form in enumerate(forms)}, data_object_of(line)))
    labels = run(s3, bucket, entries, workers_per_object=3)

    zero, one, two = (labels[o]["topics"] for o in "012")
    assert zero["labels"] == ["billing"] and zero[GOLD_KEY] == ["billing", "login"] and zero[GOLD_MISS_KEY] is True
    assert one["labels"] == [] and one[GOLD_KEY] == [] and GOLD_MISS_KEY not in one
    assert GOLD_KEY not in two and GOLD_MISS_KEY not in two
    assert logged(caplog, "object 2: gold answer of topics names 'refunds', not one of its choices; left out")
    if method == "majority-vote":
        assert zero == {"labels": ["billing"], "confidence": {"billing": 1.0, "login": 0.3333, "outage": 0.0},
                        "votes": {"billing": 3, "login": 1}, GOLD_KEY: ["billing", "login"], GOLD_MISS_KEY: True}
    else:
        assert list(zero) == ["labels", "confidence", "votes", GOLD_KEY, GOLD_MISS_KEY, "evidence"]


# -- FreeText ----------------------------------------------------------------------------------------------

def test_free_text_is_kept_per_worker_stripped_and_bounded(s3, bucket, monkeypatch, caplog):
    forms = [{"notes": "  first note  "}, {"notes": "x" * 50}, {"notes": "   "}, {"notes": ["in a list"]},
             {"notes": '{"not": "parsed"}'}, {"notes": 7}, {}]
    label = one_object(s3, bucket, monkeypatch, [NOTES], forms)
    assert label["notes"] == [{"workerId": "w0", "text": "first note"}, {"workerId": "w1", "text": "x" * 20},
                              {"workerId": "w3", "text": "in a list"}, {"workerId": "w4", "text": '{"not": "parsed"}'}]
    assert label["workers"] == 4  # an empty or missing note is no answer; a note is one
    assert logged(caplog, "object 0, worker w5: notes is not text")
    assert logged(caplog, "object 0, worker w1: notes: 50 characters, cut at 20")  # what was left out is said
    assert not logged(caplog, "worker w0") and not logged(caplog, "worker w6")  # an unanswered optional question


def test_a_lone_surrogate_in_a_note_becomes_the_replacement_character(s3, bucket, monkeypatch):
    """A browser writes half of an emoji cut off as "\\ud83c": the note could not be written as UTF-8 (the review
    manifests failed for the whole job, and a runtime that writes its response with ensure_ascii=False would fail
    the batch). It is read with U+FFFD in its place, as a UTF-8 decoder reads a bad byte."""
    label = one_object(s3, bucket, monkeypatch, [NOTES], [{"notes": "cut \ud83c here"}, {"notes": "whole \U0001F30A"}])
    assert label["notes"] == [{"workerId": "w0", "text": "cut \ufffd here"}, {"workerId": "w1", "text": "whole \U0001F30A"}]
    json.dumps(label, ensure_ascii=False).encode("utf-8")  # writable


# -- YesNo -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("question, winner", [(VALID, "No"),
                                              (dataclasses.replace(VALID, tie=None), tie_break("0", ["Yes", "No"]))])
def test_a_split_yes_no_goes_to_its_tie_label_else_by_the_object_hash(s3, bucket, monkeypatch, question, winner):
    label = one_object(s3, bucket, monkeypatch, [question], [{"valid": "Yes"}, {"valid": {"label": "No"}}])
    assert label["valid"] == {"label": winner, "confidence": 0.5, "votes": {"Yes": 1, "No": 1}}


def test_a_tie_label_decides_ties_under_dawid_skene_too(s3, bucket, monkeypatch):
    label = one_object(s3, bucket, monkeypatch, [VALID], [{"valid": "Yes"}, {"valid": "No"}], method="dawid-skene")
    assert label["valid"]["label"] == "No" and label["valid"]["confidence"] == 0.5


@pytest.mark.parametrize("value", ["Yes", {"label": "Yes"}, json.dumps({"label": "Yes"}), [{"label": "Yes"}], ["Yes"]])
def test_yes_no_answer_shapes(s3, bucket, monkeypatch, value):
    assert one_object(s3, bucket, monkeypatch, [VALID], [{"valid": value}])["valid"]["label"] == "Yes"


@pytest.mark.parametrize("form", [
    {"valid:Yes": {"Yes": True}, "valid:No": {"No": False}},  # the element page: one object per button name
    {"valid:Yes": [{"Yes": True}], "valid:No": json.dumps({"No": False})},
    {"valid:Yes": {"on": True}, "valid:No": {"on": False}},  # buttons without a value (the older samples)
    {"valid": {"Yes": True, "No": False}},  # as answers were kept before the buttons were named apart
])
def test_radio_buttons_each_under_its_own_name_are_read_as_one_answer(s3, bucket, monkeypatch, form):
    """Ground Truth submits one object per crowd-radio-button, keyed by its name: the buttons of a question are
    named <question>:<label> and read together, on AWS and in the runner alike."""
    assert one_object(s3, bucket, monkeypatch, [VALID], [form])["valid"]["label"] == "Yes"


def test_checkboxes_each_under_its_own_name_are_one_multi_select_and_a_bad_box_loses_only_itself(
        s3, bucket, monkeypatch, caplog):
    form = {"topics:billing": {"billing": True}, "topics:login": {"login": "yes"}, "topics:outage": {"on": True}}
    label = one_object(s3, bucket, monkeypatch, [TOPICS], [form, form])
    assert label["topics"]["labels"] == ["billing", "outage"] and label["topics"]["votes"] == {"billing": 2, "outage": 2}
    assert logged(caplog, "'topics:login' is {'login': 'yes'}, not one button's {value: true | false}")


def test_a_choice_named_like_the_classifier_shapes_key_is_read_from_its_own_button():
    """A choice called "label" (or a multi-select's "labels") made every per-button answer unreadable: the gathered
    buttons were taken for crowd-classifier's {"label": ...}."""
    from gt_common.answers import read_form
    from gt_common.consolidation import WorkerAnswer

    kind = Classification(name="kind", choices=("label", "other"))
    tags = MultiSelect(name="tags", choices=("labels", "x"))
    form = {"kind:label": {"label": True}, "kind:other": {"other": False},
            "tags:labels": {"labels": True}, "tags:x": {"x": False}}
    read = read_form([kind, tags], WorkerAnswer("w", form))
    assert (read.values, read.problems) == ({"kind": "label", "tags": frozenset({"labels"})}, [])


def test_a_required_question_without_an_answer_is_named(s3, bucket, monkeypatch, caplog):
    label = one_object(s3, bucket, monkeypatch, [VALID, NOTES], [{"notes": "only a note"}, {"valid": "No"}])
    assert label["valid"]["votes"] == {"No": 1} and label["workers"] == 2
    assert logged(caplog, "object 0, worker w0: valid is missing")


@pytest.mark.parametrize("form, unanswered, problem", [
    ({"notes": "only a note"}, ["valid"], "valid is missing"),
    ({"valid": {"Yes": False, "No": False}}, ["valid"], "valid has 0 radio buttons on, not one"),
    ({"valid": {"label": "Maybe"}}, [], "valid label 'Maybe' is not one of Yes, No"),
    ({"valid": {"Yes": True, "No": True}}, [], "valid has 2 radio buttons on, not one"),
    ({"valid:Yes": {"Yes": False}, "valid:No": {"No": False}}, ["valid"], "valid has 0 radio buttons on, not one"),
])
def test_a_form_tells_a_question_left_unanswered_from_an_unusable_answer(form, unanswered, problem):
    """A page asks the worker to answer the first kind and says what is wrong with the second."""
    from gt_common.answers import read_form
    from gt_common.consolidation import WorkerAnswer

    read = read_form([VALID, NOTES], WorkerAnswer("w0", form))
    assert read.unanswered == unanswered and read.problems == [problem] and "valid" not in read.values


# -- Classification with an abstain label ------------------------------------------------------------------

@pytest.mark.parametrize("answers, winner, confidence", [
    (["Not sure", "High"], "High", 0.5),  # abstaining is no class: half the answers do not make a majority
    (["Not sure", "Not sure", "Low", "High"], "Low", 0.25),  # nor do two of four; Low and High tie (hash)
    (["Not sure", "Not sure", "Low"], "Not sure", 0.0),  # a strict majority abstains: no class is claimed
    (["Not sure"] * 3, "Not sure", 0.0),
])
def test_classification_with_an_abstain_label(s3, bucket, monkeypatch, answers, winner, confidence):
    label = one_object(s3, bucket, monkeypatch, [PRIORITY], [{"priority": {"label": a}} for a in answers])
    assert (label["priority"]["label"], label["priority"]["confidence"]) == (winner, confidence)


def test_when_every_worker_abstains_the_model_says_so_with_no_confidence(s3, bucket, monkeypatch):
    label = one_object(s3, bucket, monkeypatch, [PRIORITY], [{"priority": {"label": "Not sure"}}] * 3,
                       method="dawid-skene")
    assert label["priority"]["label"] == "Not sure" and label["priority"]["confidence"] == 0.0


# -- a mixed workflow --------------------------------------------------------------------------------------

def ticket(i, worker):
    """Worker ``worker`` on ticket ``i``: w0-w2 careful and agreeing, w3 careless on everything."""
    careless = worker == "w3"
    return {
        "priority": {"label": ("High" if i % 2 else "Low") if not careless else ("Low" if i % 2 else "High")},
        "valid": json.dumps({"label": "Yes" if i % 3 else "No"}) if not careless else "Yes",
        "urgent": {"urgent": bool(i % 2) != careless},
        "topics": {"labels": ["billing"] + (["outage"] if i % 2 else [])} if not careless else {"labels": ["login"]},
        "notes": f"ticket {i} by {worker}" if worker == "w0" else "",
        "mentions": json.dumps({"entities": [{"label": "Product", "startOffset": 0, "endOffset": 8},
                                             {"label": "Person", "startOffset": 20 if careless else 10,
                                              "endOffset": 25 if careless else 15}]}),
    }


def triage_batch(n=12):
    return [answered_by(i, {w: ticket(i, w) for w in ("w0", "w1", "w2", "w3")}) for i in range(n)]


def test_a_workflow_mixing_every_question_type(s3, bucket, monkeypatch):
    configure(monkeypatch, TRIAGE)  # the default method: Dawid-Skene and learned span weights
    labels = run(s3, bucket, triage_batch(), workers_per_object=4)
    assert list(labels) == [str(i) for i in range(12)]
    for i in range(12):
        label = labels[str(i)]
        assert list(label) == ["priority", "valid", "urgent", "topics", "notes", "mentions", "workers"]
        assert label["priority"]["label"] == ("High" if i % 2 else "Low")
        assert label["valid"]["label"] == ("Yes" if i % 3 else "No")
        assert label["urgent"]["label"] == ("checked" if i % 2 else "unchecked")
        assert label["topics"]["labels"] == (["billing", "outage"] if i % 2 else ["billing"])
        assert label["notes"] == [{"workerId": "w0", "text": f"ticket {i} by w0"[:20]}]
        assert [(e["label"], e["startOffset"], e["endOffset"]) for e in label["mentions"]["entities"]] == [
            ("Product", 0, 8), ("Person", 10, 15)]
        assert label["workers"] == 4
    # One worker memory for the batch, with an entry for everything a worker model decided.
    (key,) = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=WORKER_MODEL)["Contents"]]
    memory = read_json(s3, bucket, key)
    assert memory["version"] == 2
    assert sorted(memory["questions"]) == ["mentions", "priority", "topics/billing", "topics/login", "topics/outage",
                                           "urgent", "valid"]
    assert set(memory["questions"]["topics/login"]["workers"]["w3"]) <= {"Yes", "No"}
    assert memory["questions"]["mentions"]["workers"]["w3"]["span"] == {"span": 12, "none": 12}
    # A quality report for each choice question, each MultiSelect and each Spans question.
    reports = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="job/quality-report/")["Contents"])
    assert reports == ["job/quality-report/mentions.json", "job/quality-report/priority.json",
                       "job/quality-report/topics.json", "job/quality-report/urgent.json",
                       "job/quality-report/valid.json"]
    assert read_json(s3, bucket, "job/quality-report/urgent.json")["classes"] == ["checked", "unchecked"]
    # MultiSelect: each choice as a yes/no, and every choice's decisions together. w3 ticks only "login" (which
    # nobody else does) and never "billing" (which everyone else does); on "outage" it agrees on the even tickets.
    topics_report = read_json(s3, bucket, "job/quality-report/topics.json")
    assert topics_report["kind"] == "multi-select" and topics_report["choices"] == ["billing", "login", "outage"]
    assert (topics_report["objects"], topics_report["answers"], topics_report["units"]) == (12, 48, 36)
    assert topics_report["classes"] == ["Yes", "No"] and topics_report["batches"] == 1
    assert topics_report["workers"]["w3"]["answers"] == 12 and topics_report["workers"]["w3"]["compared"] == 36
    assert topics_report["workers"]["w3"]["agreement"] == pytest.approx(6 / 36)
    assert topics_report["workers"]["w0"]["agreement"] == 1.0
    per_choice = topics_report["per_choice"]
    assert [per_choice[c]["workers"]["w3"]["agreement"] for c in ("billing", "login", "outage")] == [0.0, 0.0, 0.5]
    assert per_choice["billing"]["consolidated_label_counts"] == {"Yes": 12, "No": 0}
    assert per_choice["outage"]["consolidated_label_counts"] == {"Yes": 6, "No": 6}
    assert per_choice["outage"]["agreement"]["krippendorff_alpha"] < 1.0
    assert topics_report["convergence"]["this_batch"]["converged"] is True
    # Spans, per label: w0-w2 draw both spans of every ticket, w3 puts its Person span elsewhere.
    spans = read_json(s3, bucket, "job/quality-report/mentions.json")
    assert spans["kind"] == "spans" and spans["batches"] == 1 and spans["objects"] == 12 and spans["answers"] == 48
    assert spans["per_label"]["Product"] == {"consolidated_spans": 12, "worker_spans": 48, "matched": 48, "missed": 0,
                                             "precision": 1.0, "recall": 1.0, "f1": 1.0, "inter_worker_f1": 1.0}
    person = spans["per_label"]["Person"]
    assert (person["worker_spans"], person["matched"], person["missed"]) == (48, 36, 12)
    assert person["precision"] == person["recall"] == 0.75 and person["inter_worker_f1"] == 0.5  # 3 of 6 pairs agree
    assert spans["workers"]["w3"]["confusion"] == [[12, 0, 0], [0, 0, 12], [0, 12, 0]]  # rows: result, then none
    assert spans["workers"]["w0"]["f1"] == 1.0 and spans["workers"]["w3"]["f1"] == 0.5


def test_the_worker_memory_of_every_question_steers_the_next_batch(s3, bucket, monkeypatch):
    """w3 and w4 agree with each other against w0 on a lone ticket: after a batch where w0 proved careful
    and they careless, the same ticket follows w0, question by question."""
    configure(monkeypatch, TRIAGE)
    lone = [answered_by("lone", {"w0": ticket(1, "w0"), "w3": ticket(1, "w3"), "w4": ticket(1, "w3")})]

    def spans(label):
        return [(e["label"], e["startOffset"]) for e in label["mentions"]["entities"]]

    before = run(s3, bucket, lone, batch="2026-01-01_00:00:00", workers_per_object=5)["lone"]
    assert before["priority"]["label"] == "Low" and before["urgent"]["label"] == "unchecked"
    assert before["topics"]["labels"] == ["login"] and spans(before) == [("Product", 0), ("Person", 20)]
    history = [answered_by(i, {w: ticket(i, "w3" if w == "w4" else w) for w in ("w0", "w1", "w2", "w3", "w4")})
               for i in range(20)]
    run(s3, bucket, history, batch="2026-01-01_00:01:00", workers_per_object=5)
    after = run(s3, bucket, lone, batch="2026-01-01_00:02:00", workers_per_object=5)["lone"]
    assert after["priority"]["label"] == "High" and after["urgent"]["label"] == "checked"
    assert after["topics"]["labels"] == ["billing", "outage"] and spans(after) == [("Product", 0), ("Person", 10)]


@pytest.mark.parametrize("default, own, remembered", [
    ("dawid-skene", "majority-vote", ["urgent", "valid"]),
    ("majority-vote", "dawid-skene", ["priority"]),
])
def test_a_questions_own_method_overrides_the_deployments(s3, bucket, monkeypatch, default, own, remembered):
    configure(monkeypatch, [dataclasses.replace(PRIORITY, method=own), VALID, URGENT, NOTES], default)
    run(s3, bucket, triage_batch(4), workers_per_object=4)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=WORKER_MODEL).get("Contents", [])
    assert [sorted(read_json(s3, bucket, item["Key"])["questions"]) for item in listed] == [remembered]


def test_majority_vote_everywhere_remembers_nothing(s3, bucket, monkeypatch):
    configure(monkeypatch, TRIAGE, "majority-vote")
    labels = run(s3, bucket, triage_batch(4), workers_per_object=4)
    assert labels["1"]["topics"]["labels"] == ["billing", "outage"]
    assert s3.list_objects_v2(Bucket=bucket, Prefix=WORKER_MODEL).get("KeyCount") == 0
    assert s3.list_objects_v2(Bucket=bucket, Prefix=f"{STATE}/quality-priority/").get("KeyCount") == 1


def test_one_bad_part_of_a_form_loses_only_that_part(s3, bucket, monkeypatch, caplog):
    bad = {**ticket(1, "w0"), "priority": {"label": "Urgent!"}, "mentions": "{"}
    label = one_object(s3, bucket, monkeypatch, TRIAGE, [bad, ticket(1, "w1")])
    assert label["priority"]["votes"] == {"High": 1}
    assert label["valid"]["votes"] == {"Yes": 2} and label["urgent"]["votes"] == {"checked": 2}
    assert label["notes"] == [{"workerId": "w0", "text": "ticket 1 by w0"}]
    assert label["workers"] == 2
    assert logged(caplog, "object 0, worker w0: priority label 'Urgent!' is not one of Low, High, Not sure")
    assert logged(caplog, "object 0, worker w0: mentions is not valid JSON")


def test_an_object_without_any_usable_answer_gets_every_question_empty(s3, bucket, monkeypatch):
    configure(monkeypatch, TRIAGE)
    entries = [{"datasetObjectId": "lost", "dataObject": {}, "annotations": [
        {"workerId": "w0", "annotationData": content("not json")}]}, answered_by(1, {"w1": ticket(1, "w1")})]
    assert run(s3, bucket, entries)["lost"] == {
        "priority": {"label": None, "confidence": 0.0, "votes": {}},
        "valid": {"label": None, "confidence": 0.0, "votes": {}},
        "urgent": {"label": None, "confidence": 0.0, "votes": {}},
        "topics": {"labels": [], "confidence": {}, "votes": {}},
        "notes": [],
        "mentions": {"entities": []},
        "workers": 0,
    }


# -- a workflow's own consolidation on the shared parts ----------------------------------------------------

def test_a_workflow_can_plug_in_its_own_consolidation_on_the_shared_parts(s3, bucket, caplog):
    """What gt_common.workflow_consolidation documents for a definition naming its own package: the
    generic rules for some questions, a rule of its own for another, the same guarantees."""
    from gt_common.answers import read_text
    from gt_common.consolidation import consolidate_batch_event, read_each, workers_per_object
    from gt_common.job_state import state_for_event
    from gt_common.workflow_consolidation import consolidate_items
    from tests.consolidation_helpers import REQUESTS, event

    def lambda_handler(event, context=None):  # lambda_src/<own package>/handler.py
        def decide(items):
            labels = consolidate_items(items, [VALID], method="majority-vote", s3=s3, state=state_for_event(event),
                                       workers_per_object=workers_per_object(event))
            for item in items:  # its own rule: the longest note only
                notes = [text for _, text in read_each(item, lambda a: read_text(NOTES, a.form.get("notes", "")))
                         if text]
                labels[item.dataset_object_id]["longestNote"] = max(notes, key=len, default=None)
            return labels
        return consolidate_batch_event(event, s3, decide)

    entries = [answered_by(0, {"w0": {"valid": "Yes", "notes": "short"}, "w1": {"valid": "Yes", "notes": "a longer note"},
                               "w2": {"valid": "{broken", "notes": 5}})]
    key = f"{REQUESTS}/2026-01-01_00:00:00.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(entries).encode())
    (item,) = lambda_handler(event(bucket, key, "label"))
    assert item["consolidatedAnnotation"]["content"]["label"] == {
        "valid": {"label": "Yes", "confidence": 1.0, "votes": {"Yes": 2}}, "workers": 2,
        "longestNote": "a longer note"}
    assert logged(caplog, "object 0, worker w2: valid is not valid JSON")
    assert logged(caplog, "object 0, worker w2: is not text")
    assert read_json(s3, bucket, "job/quality-report/valid.json")["answers"] == 2


# -- nothing workflow-specific in the generic function -----------------------------------------------------

GENERIC_SOURCES = sorted((Path(handler.__file__).parent).glob("*.py")) + [
    Path(handler.__file__).parent.parent / "gt_common" / f"{name}.py"
    for name in ("workflow_consolidation", "answers", "choices", "worker_model", "span_clustering",
                 "span_reliability", "configuration")]


@pytest.mark.parametrize("definition", list(workflows.definitions().values()), ids=lambda d: d.name)
def test_the_generic_function_names_no_workflow_label_or_field(definition):
    words = {definition.name, definition.label_attribute_name}
    words.update(question.name for question in definition.questions)
    words.update(label for question in definition.questions for label in question.labels
                 if label not in {"Yes", "No", "checked", "unchecked"})  # the question types' own labels
    for source in GENERIC_SOURCES:
        text = source.read_text(encoding="utf-8")
        found = sorted(word for word in words if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text))
        assert not found, f"{source.name} names {found} of workflow {definition.name}"


@pytest.mark.parametrize("event, problem", [
    (None, "a consolidation event is a JSON object, not NoneType"),
    ([], "a consolidation event is a JSON object, not list"),
    ({"labelAttributeName": "x", "payload": "s3://in/payload.json"}, "consolidation event has no payload.s3Uri"),
])
def test_an_event_of_another_shape_is_an_input_error_saying_so(monkeypatch, event, problem):
    """A list, None or a string payload failed as AttributeError ('str' object has no attribute 'get') inside."""
    configure(monkeypatch, [VALID], "majority-vote")
    with pytest.raises(InputError, match=f"^{problem}$"):
        handler.lambda_handler(event, None)
