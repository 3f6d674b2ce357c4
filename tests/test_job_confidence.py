"""The job's confidence (``gt_common.job_confidence``): every label's confidence revised with the job's latest
temperature and all its gold objects, from the evidence each consolidated value keeps."""
from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from gt_common import gold_correction, job_confidence
from gt_common.choices import Answer, consolidate_choice
from gt_common.questions import Classification, FreeText, MultiSelect, YesNo
from gt_common.worker_model import merge
from gt_common.task_record import RECORDS_ENV

CLASSES = ["Good", "Bad"]


def value(label: str, confidence: float, other: float, temperature: float, answers: float, gold=None) -> dict:
    """A consolidated value whose answers make the other class ``other`` nats less likely than the label."""
    evidence = {"temperature": temperature, "answers": answers, "classes": {c: [0.0, other] for c in CLASSES if c != label}}
    made = {"label": label, "confidence": confidence, "votes": {label: 3}, "evidence": evidence}
    if gold is not None:
        made["gold"] = gold
    return made


def softmax_at_label(other: float, temperature: float) -> float:
    return 1.0 / (1.0 + math.exp(other / temperature))


def test_an_early_batchs_confidence_takes_the_temperature_the_job_chose_later():
    """Object a was published by the first batch (T = 1, 30 answers counted); object b by a later one that had
    counted 300 answers and chose T = 4: both are read at T = 4, the labels stay."""
    values = {"a": value("Good", 0.9997, -8.0, 1.0, 30), "b": value("Bad", 0.8808, -8.0, 4.0, 300)}

    revised = job_confidence.revise(values, CLASSES)

    assert revised["a"]["confidence"] == round(softmax_at_label(-8.0, 4.0), 4) == 0.8808
    assert revised["a"]["batch-confidence"] == 0.9997 and revised["a"]["label"] == "Good"
    assert revised["b"]["confidence"] == 0.8808 and revised["b"]["label"] == "Bad"
    assert values["a"]["confidence"] == 0.9997 and "batch-confidence" not in values["a"]  # the input is not changed
    # A manifest revised already (the final manifest, or job_confidence.sh's own output) keeps the batch's number.
    again = job_confidence.revise(revised, CLASSES)
    assert again["a"]["batch-confidence"] == 0.9997 and again["a"]["confidence"] == 0.8808


def test_gold_objects_of_every_batch_correct_every_confidence():
    """Ten gold objects at 0.9997 (from any batch), six of them labeled wrong: in their bin (>= 0.99) the
    confidence lies 0.9997 - 0.4 above the gold's accuracy, shrunk by GOLD_BIN_PRIOR: every label there is lowered
    by that gap."""
    values = {f"g{i}": value("Good", 0.9997, -8.0, 1.0, 30 + i, gold="Bad" if i < 6 else "Good") for i in range(10)}
    values["x"] = value("Good", 0.9997, -8.0, 1.0, 20)
    values["low"] = value("Good", 0.6225, -0.5, 1.0, 20)  # another bin: no gold there, no correction

    revised = job_confidence.revise(values, CLASSES)

    top = softmax_at_label(-8.0, 1.0)
    gap = (10 * top - 4) / (10 + gold_correction.GOLD_BIN_PRIOR)
    assert revised["x"]["confidence"] == round(top - gap, 4)
    assert revised["low"]["confidence"] == round(softmax_at_label(-0.5, 1.0), 4)
    assert all(revised[f"g{i}"]["confidence"] == round(top - gap, 4) for i in range(10))


def test_a_value_without_evidence_or_with_an_abstain_label_or_no_label_is_kept_as_it_is():
    majority = {"label": "Good", "confidence": 0.67, "votes": {"Good": 2, "Bad": 1}}  # majority vote: no evidence
    abstained = {"label": "Not sure", "confidence": 0.0, "votes": {"Not sure": 2}}
    nothing = {"label": None, "confidence": 0.0, "votes": {}}
    values = {"m": majority, "n": abstained, "z": nothing, "a": value("Good", 0.9997, -8.0, 4.0, 30)}

    revised = job_confidence.revise(values, CLASSES)

    assert revised["m"] is majority and revised["n"] is abstained and revised["z"] is nothing
    assert revised["a"]["confidence"] == round(softmax_at_label(-8.0, 4.0), 4)


@pytest.mark.parametrize("spoil, problem", [
    (lambda v: v.update(evidence="high"), "no 'evidence' object"),
    (lambda v: v["evidence"].update(temperature=float("nan")), "temperature is not a finite number"),
    (lambda v: v["evidence"].update(temperature=True), "temperature is not a finite number"),
    (lambda v: v["evidence"].update(temperature=0.5), "temperature is below 1"),
    (lambda v: v["evidence"].update(answers="many"), "answers is not a finite number"),
    (lambda v: v["evidence"].update(classes=[]), "classes are not exactly the question's classes but the label"),
    (lambda v: v["evidence"]["classes"].pop("Bad"), "classes are not exactly"),
    (lambda v: v["evidence"]["classes"].update(Good=[0.0, 0.0]), "classes are not exactly"),
    (lambda v: v["evidence"]["classes"].update(Porosity=[0.0, 0.0]), "classes are not exactly"),
    (lambda v: v["evidence"]["classes"].update(Bad=[1.0]), "is not a pair"),
    (lambda v: v["evidence"]["classes"].update(Bad="-8"), "is not a pair"),
    (lambda v: v["evidence"]["classes"].update(Bad=[0.0, float("inf")]), "log-likelihood of 'Bad' is not a finite"),
    (lambda v: v["evidence"]["classes"].update(Bad=[None, -8.0]), "log-prior of 'Bad' is not a finite"),
    (lambda v: v.update(label="Porosity"), "label 'Porosity' is not one of the question's classes"),
    (lambda v: v.update(label=["Good"]), "is not one of the question's classes"),
])
def test_evidence_that_cannot_be_read_keeps_its_batchs_confidence_named_and_the_rest_are_revised(spoil, problem, caplog):
    bad = value("Good", 0.9997, -8.0, 1.0, 30)
    spoil(bad)
    values = {"bad": bad, "later": value("Good", 0.9997, -8.0, 4.0, 300)}

    with caplog.at_level(logging.ERROR):
        revised = job_confidence.revise(values, CLASSES, what="line")

    assert revised["bad"] is bad
    assert revised["later"]["confidence"] == round(softmax_at_label(-8.0, 4.0), 4)
    assert "line bad" in caplog.text and problem in caplog.text


def test_a_batch_alone_is_revised_to_the_confidence_it_published_gold_and_all():
    """What a value keeps is what its confidence was made of: revising one batch gives its own numbers back."""
    rng = np.random.default_rng(3)
    labels = ["Good", "Burn", "Porosity", "Not sure"]
    truth = {f"o{i}": labels[i % 3] for i in range(40)}
    answers = [Answer(o, f"w{w}", t if rng.random() < 0.7 else labels[rng.integers(4)])
               for o, t in truth.items() for w in range(4)]
    gold = {o: t for o, t in truth.items() if int(o[1:]) % 5 == 0}
    result = consolidate_choice(list(truth), answers, labels, method="dawid-skene", abstain="Not sure", gold=gold)
    classes = labels[:3]
    values = {}
    for i, object_id in enumerate(result.object_ids):
        label = result.labels[i]
        values[object_id] = {"label": label, "confidence": round(result.confidences[i], 4)}
        if object_id in gold:
            values[object_id]["gold"] = gold[object_id]
        if label in classes:
            values[object_id]["evidence"] = job_confidence.evidence_of(
                result.log_prior, result.log_likelihood[i], classes.index(label), classes, result.temperature,
                result.answers_seen)

    revised = job_confidence.revise(values, classes)

    changed = [abs(revised[o]["confidence"] - values[o]["confidence"]) for o in values if "evidence" in values[o]]
    assert changed and max(changed) <= 5e-4  # the evidence's own rounding


def test_the_job_chooses_the_temperature_of_the_batch_that_had_counted_the_most_answers():
    """Batches of a crowd that errs together: the first batch cannot yet pay for a temperature, later ones can; the
    revised confidences are the later temperature's, and an overconfident first batch comes down."""
    rng = np.random.default_rng(11)
    labels = ["Good", "Bad"]
    memory, values = [], {}
    for batch in range(6):
        objects = [f"b{batch}-{i}" for i in range(20)]
        answers = []
        for object_id in objects:
            truth = labels[rng.integers(2)]
            hard = rng.random() < 0.3  # on a hard object the crowd mostly says the same wrong thing
            for w in range(9):
                right = rng.random() < (0.3 if hard else 0.9)
                answers.append(Answer(object_id, f"w{w}", truth if right else labels[1 - labels.index(truth)]))
        prior = merge([{"q": entry} for entry in memory]).get("q")
        result = consolidate_choice(objects, answers, labels, method="dawid-skene", prior=prior)
        memory.append(result.learned)
        for i, object_id in enumerate(objects):
            values[object_id] = {"label": result.labels[i], "confidence": result.confidences[i],
                                 "evidence": job_confidence.evidence_of(
                                     result.log_prior, result.log_likelihood[i], labels.index(result.labels[i]),
                                     labels, result.temperature, result.answers_seen)}
    last = values["b5-0"]["evidence"]["temperature"]
    first = values["b0-0"]["evidence"]["temperature"]
    assert last > first  # the job learned a temperature the first batch did not have

    revised = job_confidence.revise(values, labels)

    for object_id, made in values.items():
        (prior, other), = made["evidence"]["classes"].values()  # two classes: the label and the other
        expected = 1.0 / (1.0 + math.exp(prior + other / last))
        assert revised[object_id]["confidence"] == round(expected, 4)
        assert revised[object_id]["label"] == made["label"]
    first_batch = [o for o in values if o.startswith("b0-")]
    assert (np.mean([revised[o]["confidence"] for o in first_batch])
            < np.mean([values[o]["confidence"] for o in first_batch]))


QUESTIONS = (Classification(name="defect", choices=("Good", "Bad", "Not sure"), abstain="Not sure"),
             YesNo(name="usable"), MultiSelect(name="marks", choices=("a", "b")), FreeText(name="note"))


def test_output_lines_are_revised_question_by_question_and_every_other_line_is_kept():
    yes_no = {"label": "Yes", "confidence": 0.9997, "evidence": {"temperature": 1.0, "answers": 10,
                                                                 "classes": {"No": [0.0, -8.0]}}}
    marks = {"labels": ["a"], "confidence": {"a": 0.99, "b": 0.01}, "votes": {"a": 3}}
    labeled = {"source-ref": "s3://b/0", "job": {"defect": value("Good", 0.9997, -8.0, 1.0, 30), "usable": yes_no,
                                                  "marks": marks, "note": [], "workers": 3}}
    later = {"source-ref": "s3://b/1", "job": {"defect": value("Bad", 0.8808, -8.0, 4.0, 300), "workers": 3}}
    skipped = {"source-ref": "s3://b/2"}

    out = job_confidence.revise_lines([labeled, None, skipped, later], "job", QUESTIONS)

    assert out[1] is None and out[2] is skipped
    assert out[0]["job"]["defect"]["confidence"] == 0.8808  # the later batch's temperature
    assert out[0]["job"]["usable"]["confidence"] == 0.9997  # its own question: its own batches (one)
    assert out[0]["job"]["marks"] is marks and out[0]["job"]["note"] == [] and out[0]["source-ref"] == "s3://b/0"
    assert labeled["job"]["defect"]["confidence"] == 0.9997  # the lines read are not changed


# -- MultiSelect: each choice's evidence, revised as the yes/no it is decided as ------------------------------------

MARKS = MultiSelect(name="marks", choices=("a", "b"))
CHOICE = ["Yes", "No"]  # each choice's yes/no (gt_common.questions.CHOICE_AS_YES_NO)


def marks(chosen: list, published: dict, evidence: dict, gold=None) -> dict:
    """A MultiSelect value: ``evidence`` per choice as ``(other, temperature, answers)`` (the other yes/no ``other``
    nats less likely than the decided one)."""
    made = {"labels": chosen, "confidence": published, "votes": {c: 2 for c in chosen},
            "evidence": {choice: {"temperature": t, "answers": n, "classes": {"No" if choice in chosen else "Yes":
                                                                             [0.0, other]}}
                         for choice, (other, t, n) in evidence.items()}}
    if gold is not None:
        made["gold"] = gold
    return made


def yes_no(label: str, other: float, temperature: float, answers: float, gold=None) -> dict:
    """The YesNo value a choice's evidence is: the same numbers under a yes/no question."""
    others = {c: [0.0, other] for c in CHOICE if c != label}
    evidence = {"temperature": temperature, "answers": answers, "classes": others}
    made = {"label": label, "confidence": 0.5, "evidence": evidence}
    if gold is not None:
        made["gold"] = gold
    return made


def test_each_choice_is_revised_as_a_yes_no_with_its_own_temperature_and_the_label_never_changes():
    """Choice a of the first batch (T = 1, 30 answers) takes the T = 4 of a later batch's a; choice b, whose later
    batch kept T = 1, keeps its numbers. Not chosen, the published number is 1 - p of its "No"."""
    values = {"early": marks(["a"], {"a": 0.9997, "b": 0.0003}, {"a": (-8.0, 1.0, 30), "b": (-8.0, 1.0, 30)}),
              "later": marks(["b"], {"a": 0.1192, "b": 0.9997}, {"a": (-8.0, 4.0, 300), "b": (-8.0, 1.0, 300)})}

    revised = job_confidence.revise_choices(values, MARKS.choices)

    assert revised["early"]["confidence"] == {"a": round(softmax_at_label(-8.0, 4.0), 4), "b": 0.0003}
    assert revised["later"]["confidence"] == {"a": round(1 - softmax_at_label(-8.0, 4.0), 4), "b": 0.9997}
    assert revised["early"]["batch-confidence"] == {"a": 0.9997, "b": 0.0003}
    assert job_confidence.revise_choices(revised, MARKS.choices)["early"]["batch-confidence"] == {"a": 0.9997,
                                                                                                  "b": 0.0003}
    assert revised["early"]["labels"] == ["a"] and revised["later"]["labels"] == ["b"]
    assert revised["early"]["evidence"] is values["early"]["evidence"]
    assert values["early"]["confidence"] == {"a": 0.9997, "b": 0.0003}  # the input is not changed


def test_a_choice_is_revised_to_what_the_same_evidence_gives_a_yes_no_question_gold_and_all():
    """Ten gold objects at 0.9997 on both choices: choice a's gold says six of them are wrong (a is not there), choice
    b's that all are right. Each choice comes out as a YesNo with the same evidence and gold does: a comes down, b
    does not, each choice with its own gold."""
    values, as_yes_no = {}, {"a": {}, "b": {}}
    for i in range(10):
        known = ["b"] if i < 6 else ["a", "b"]
        values[f"g{i}"] = marks(["a", "b"], {"a": 0.9997, "b": 0.9997}, {"a": (-8.0, 1.0, 30), "b": (-8.0, 1.0, 30)},
                                gold=known)
        for choice in "ab":
            as_yes_no[choice][f"g{i}"] = yes_no("Yes", -8.0, 1.0, 30, gold="Yes" if choice in known else "No")
    values["x"] = marks(["a"], {"a": 0.9997, "b": 0.0003}, {"a": (-8.0, 1.0, 20), "b": (-8.0, 1.0, 20)})
    as_yes_no["a"]["x"], as_yes_no["b"]["x"] = yes_no("Yes", -8.0, 1.0, 20), yes_no("No", -8.0, 1.0, 20)
    values["y"] = marks([], {"a": 0.0003}, {"a": (-8.0, 1.0, 20)})  # b undecided: no number, no evidence
    as_yes_no["a"]["y"] = yes_no("No", -8.0, 1.0, 20)

    revised = job_confidence.revise_choices(values, MARKS.choices)

    expected = {choice: job_confidence.revise(as_yes_no[choice], CHOICE) for choice in "ab"}
    top = softmax_at_label(-8.0, 1.0)
    gap = (10 * top - 4) / (10 + gold_correction.GOLD_BIN_PRIOR)
    assert expected["a"]["x"]["confidence"] == round(top - gap, 4) < 0.99  # a's gold corrects a
    assert expected["b"]["x"]["confidence"] >= round(top, 4)  # b's does not lower b
    for choice in "ab":
        for key, yes_no_value in expected[choice].items():
            p = yes_no_value["confidence"]
            assert revised[key]["confidence"][choice] == (p if choice in values[key]["labels"] else round(1 - p, 4))
    assert "b" not in revised["y"]["confidence"]
    assert [revised[key]["labels"] for key in values] == [values[key]["labels"] for key in values]
    assert [revised[key]["gold"] for key in values if key.startswith("g")] == [["b"]] * 6 + [["a", "b"]] * 4


@pytest.mark.parametrize("spoil, problem", [
    (lambda v: v["evidence"]["a"].update(temperature=float("nan")), "temperature is not a finite number"),
    (lambda v: v["evidence"].update(a="high"), "no 'evidence' object"),
    (lambda v: v["evidence"]["a"]["classes"].update(Yes=[0.0, 0.0]), "classes are not exactly"),
])
def test_a_choice_whose_evidence_cannot_be_read_keeps_its_number_named_and_the_others_are_revised(spoil, problem,
                                                                                                  caplog):
    bad = marks(["a", "b"], {"a": 0.9997, "b": 0.9997}, {"a": (-8.0, 1.0, 30), "b": (-8.0, 1.0, 30)})
    spoil(bad)
    values = {"bad": bad, "later": marks(["a", "b"], {"a": 0.8808, "b": 0.8808},
                                         {"a": (-8.0, 4.0, 300), "b": (-8.0, 4.0, 300)})}

    with caplog.at_level(logging.ERROR):
        revised = job_confidence.revise_labels({k: {"marks": v} for k, v in values.items()}, [MARKS], what="line")

    assert revised["bad"]["marks"]["confidence"] == {"a": 0.9997, "b": 0.8808}  # a kept, b the job's
    assert revised["bad"]["marks"]["labels"] == ["a", "b"]
    assert revised["later"]["marks"]["confidence"] == {"a": 0.8808, "b": 0.8808}
    assert "marks: choice 'a': line bad: its confidence stays its batch's" in caplog.text and problem in caplog.text


@pytest.mark.parametrize("spoil, problem", [
    (lambda v: v.update(evidence=["a"]), "no 'evidence' object"),
    (lambda v: v["evidence"].update(c=v["evidence"]["a"]), "its evidence names 'c', not one of the question's"),
    (lambda v: v.update(labels="a"), "its labels are not a list of the question's choices"),
    (lambda v: v.update(labels=["a", "c"]), "its labels are not a list of the question's choices"),
    (lambda v: v.update(confidence=0.9), "its confidence is not an object of choices"),
])
def test_a_multi_select_whose_evidence_cannot_be_read_keeps_every_number_and_is_named(spoil, problem, caplog):
    bad = marks(["a"], {"a": 0.9997, "b": 0.0003}, {"a": (-8.0, 1.0, 30), "b": (-8.0, 1.0, 30)})
    spoil(bad)
    values = {"bad": bad, "later": marks(["a"], {"a": 0.8808, "b": 0.1192}, {"a": (-8.0, 4.0, 300),
                                                                             "b": (-8.0, 4.0, 300)})}

    with caplog.at_level(logging.ERROR):
        revised = job_confidence.revise_labels({k: {"marks": v} for k, v in values.items()}, [MARKS], what="line")

    assert revised["bad"]["marks"] is bad
    assert revised["later"]["marks"]["confidence"] == {"a": 0.8808, "b": 0.1192}
    assert "marks: line bad: its confidences stay its batch's" in caplog.text and problem in caplog.text


def test_a_multi_select_without_evidence_is_kept_as_it_is():
    majority = {"labels": ["a"], "confidence": {"a": 0.67, "b": 0.0}, "votes": {"a": 2}}
    nothing = {"labels": [], "confidence": {}, "votes": {}}
    revised = job_confidence.revise_choices({"m": majority, "n": nothing}, MARKS.choices)
    assert revised["m"] is majority and revised["n"] is nothing


def test_output_lines_revise_a_multi_selects_choices_and_the_review_routes_by_them():
    """A choice published at 0.9997 by the first batch is read with the later batch's T = 4: under the threshold,
    the object now needs an expert."""
    from gt_common.review import needs_review

    early = marks(["a"], {"a": 0.9997, "b": 0.0003}, {"a": (-8.0, 1.0, 30), "b": (-8.0, 1.0, 30)})
    later = marks(["b"], {"a": 0.1192, "b": 0.9997}, {"a": (-8.0, 4.0, 300), "b": (-8.0, 1.0, 300)})
    lines = [{"source-ref": f"s3://b/{i}", "job": {"marks": value, "workers": 3}}
             for i, value in enumerate([early, later])]
    assert needs_review(lines[0], "job", [MARKS], 0.99) == []

    out = job_confidence.revise_lines(lines, "job", QUESTIONS)

    assert out[0]["job"]["marks"]["confidence"]["a"] == 0.8808
    assert out[0]["job"]["marks"]["batch-confidence"] == {"a": 0.9997, "b": 0.0003}
    assert needs_review(out[0], "job", [MARKS], 0.99) == ["low-confidence"]
    assert lines[0]["job"]["marks"] is early and early["confidence"]["a"] == 0.9997  # the lines read are not changed


def test_a_multi_select_consolidated_in_batches_keeps_each_choices_evidence_and_revises_as_a_yes_no(s3, bucket,
                                                                                                   monkeypatch):
    """Six batches of a crowd that errs together, through the consolidation function with the job's memory. Choice a
    is ticked exactly when the worker answers Yes to ``flag``: its evidence is the flag's, batch by batch, and the
    job's end gives it the flag's confidence; the first batches' confidences come down, no label changes."""
    from tests.consolidation_helpers import answered_by, configure, run

    rng = np.random.default_rng(11)
    flag = YesNo(name="flag")
    configure(monkeypatch, [flag, MARKS], "dawid-skene")
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    labels = {}
    for batch in range(6):
        entries = []
        for i in range(20):
            truth, other = bool(rng.integers(2)), bool(rng.integers(2))
            hard = rng.random() < 0.4  # on a hard object the crowd mostly says the same wrong thing
            forms = {}
            for w in range(9):
                said = truth if rng.random() < (0.2 if hard else 0.9) else not truth
                forms[f"w{w}"] = {"flag": {"label": "Yes" if said else "No"},
                                  "marks": {"labels": ["a"] * said + ["b"] * (other == (rng.random() < 0.9))}}
            entries.append(answered_by(f"b{batch}-{i}", forms))
        labels.update(run(s3, bucket, entries, batch=f"2026-01-01_00:0{batch}:00", workers_per_object=9))

    for label in labels.values():
        value = label["marks"]
        assert set(value["evidence"]) == set(value["confidence"]) == {"a", "b"}
        for choice, its in value["evidence"].items():
            assert set(its) == {"temperature", "answers", "classes"}
            assert list(its["classes"]) == (["No"] if choice in value["labels"] else ["Yes"])
        assert value["evidence"]["a"] == label["flag"]["evidence"]  # the same answers: the same evidence
    temperatures = [labels[f"b{batch}-0"]["marks"]["evidence"]["a"]["temperature"] for batch in (0, 5)]
    assert temperatures[1] > temperatures[0]  # the job learned a temperature its first batch did not have

    revised = job_confidence.revise_labels(labels, [flag, MARKS])

    for object_id, label in labels.items():
        now = revised[object_id]
        p = now["flag"]["confidence"]
        assert now["marks"]["confidence"]["a"] == (p if label["flag"]["label"] == "Yes" else round(1 - p, 4))
        assert now["marks"]["labels"] == label["marks"]["labels"] and now["flag"]["label"] == label["flag"]["label"]
        assert now["marks"]["batch-confidence"] == label["marks"]["confidence"]
    first = [o for o in labels if o.startswith("b0-")]

    def sure(values, o):  # the confidence of a's decided yes or no
        p = values[o]["marks"]["confidence"]["a"]
        return p if "a" in values[o]["marks"]["labels"] else 1 - p

    assert np.mean([sure(revised, o) for o in first]) < np.mean([sure(labels, o) for o in first])


def test_a_multi_selects_gold_objects_revise_each_choice_at_the_jobs_end_as_a_yes_nos_gold_does(s3, bucket,
                                                                                                 monkeypatch):
    """The crowd above, a quarter of each batch gold (their manifest lines' known answers, through the task records):
    choice a's known yes/no is the flag's, so the job's end gives a the flag's confidence, corrected by the gold
    objects of every batch; without its gold list a comes out otherwise. The known list stays on the value."""
    from gt_common.gold import GOLD_KEY
    from gt_common.task_record import data_object_of, write_record
    from tests.consolidation_helpers import JOB, answered_by, configure, run

    rng = np.random.default_rng(3)
    flag = YesNo(name="flag", tie="Yes")  # as each choice is decided: a tie selects it
    configure(monkeypatch, [flag, MARKS], "dawid-skene")
    monkeypatch.setenv(RECORDS_ENV, f"s3://{bucket}/derived/task-records/")
    labels, known = {}, {}
    for batch in range(6):
        entries = []
        for i in range(20):
            truth, other = bool(rng.integers(2)), bool(rng.integers(2))
            hard = rng.random() < 0.4
            line = {"source": f"s3://{bucket}/data/b{batch}-{i}.json"}
            if i < 5:
                known[f"b{batch}-{i}"] = ["a"] * truth + ["b"] * other
                line[GOLD_KEY] = {"flag": "Yes" if truth else "No", "marks": known[f"b{batch}-{i}"]}
                write_record(s3, line, {GOLD_KEY: line[GOLD_KEY]}, JOB)
            forms = {}
            for w in range(9):
                said = truth if rng.random() < (0.2 if hard else 0.9) else not truth
                forms[f"w{w}"] = {"flag": {"label": "Yes" if said else "No"},
                                  "marks": {"labels": ["a"] * said + ["b"] * (other == (rng.random() < 0.9))}}
            entries.append(answered_by(f"b{batch}-{i}", forms, data_object_of(line)))
        labels.update(run(s3, bucket, entries, batch=f"2026-01-01_00:0{batch}:00", workers_per_object=9))
    assert {o: label["marks"]["gold"] for o, label in labels.items() if "gold" in label["marks"]} == known

    revised = job_confidence.revise_labels(labels, [flag, MARKS])

    for object_id, label in labels.items():
        now = revised[object_id]
        p = now["flag"]["confidence"]
        assert now["marks"]["confidence"]["a"] == pytest.approx(p if label["flag"]["label"] == "Yes" else 1 - p,
                                                                abs=1e-4)
        assert now["marks"]["labels"] == label["marks"]["labels"]
        assert now["marks"].get("gold") == known.get(object_id)
    no_gold = job_confidence.revise_labels(
        {o: {**label, "marks": {k: v for k, v in label["marks"].items() if k != GOLD_KEY}}
         for o, label in labels.items()},
        [MARKS])
    moved = [o for o in labels if no_gold[o]["marks"]["confidence"]["a"] != revised[o]["marks"]["confidence"]["a"]]
    assert len(moved) > len(labels) / 2  # the gold objects of the job corrected the choice
