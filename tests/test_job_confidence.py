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
