"""Collusion and spam on small hand-made crowds, and gold objects from the manifest line to the output."""
from __future__ import annotations

import json
import logging
import random
import re

import numpy as np
import pytest

import workflows
from consolidation import handler
from gt_common import collusion, crowd_model
from gt_common.choices import Answer, consolidate_choice
from gt_common.configuration import DERIVED_DATA_PREFIX_ENV
from gt_common.gold import GOLD_KEY, GOLD_MISS_KEY, gold_by_question, gold_of_line
from gt_common.quality_report import batch_statistics, merge_statistics, quality_report, report_from_statistics
from gt_common.questions import MultiSelect, YesNo
from gt_common.s3uri import InputError
from gt_common.task_record import RECORDS_ENV, data_object_of, read_record, write_record
from tests.consolidation_helpers import JOB, answered_by, configure, invoke, labels_by_id, logged, read_json

WELDING = workflows.definition("welding")
QUESTION = WELDING.questions[0]
CLASSES = [label for label in QUESTION.labels if label != QUESTION.abstain]
SIX = ["a", "b", "c", "d", "e", "f"]


def crowd(objects=120, honest=3, accuracy=0.8, colluders=2, seed=1, labels=SIX):
    """Honest workers at ``accuracy`` and ``colluders`` who all give one random label per object."""
    rng = random.Random(seed)
    truth = {f"o{i}": rng.choice(labels) for i in range(objects)}
    answers = []
    for object_id, true in truth.items():
        for h in range(honest):
            wrong = [label for label in labels if label != true]
            answers.append(Answer(object_id, f"honest-{h}", true if rng.random() < accuracy else rng.choice(wrong)))
        shared = rng.choice(labels)
        answers += [Answer(object_id, f"colluder-{c}", shared) for c in range(colluders)]
    return truth, answers


def accuracy(decisions, truth):
    return sum(decisions[o].label == t for o, t in truth.items()) / len(truth)


# -- collusion -----------------------------------------------------------------------------------------


def test_pair_table_counts_shared_objects_and_agreements():
    objects = [0, 0, 0, 1, 1, 2]
    workers = [0, 1, 2, 0, 1, 2]
    answers = [5, 5, 4, 3, 2, 1]
    first, second, shared, agreed = collusion.pair_table(objects, workers, answers)
    table = {(int(a), int(b)): (int(n), int(g)) for a, b, n, g in zip(first, second, shared, agreed)}
    assert table == {(0, 1): (2, 1), (0, 2): (1, 0), (1, 2): (1, 0)}


def test_a_colluding_pair_is_flagged_with_its_evidence_and_counted_as_one_voter():
    truth, answers = crowd()
    result = consolidate_choice(list(truth), answers, SIX, method="dawid-skene")
    (pair,) = result.colluding
    assert {pair.first, pair.second} == {"colluder-0", "colluder-1"}
    evidence = pair.as_json()
    assert evidence["shared_objects"] == 120 and evidence["agreement"] == 1.0 and evidence["kappa"] == 1.0
    assert evidence["kappa_explained_by_skill"] < 0.1 and evidence["z"] > collusion.Z
    majority = consolidate_choice(list(truth), answers, SIX, method="majority-vote")
    assert accuracy(result.decisions, truth) >= accuracy(majority.decisions, truth) + 0.1
    assert accuracy(result.decisions, truth) >= 0.85


def test_the_pair_counts_as_one_voter_so_two_honest_workers_outvote_it():
    """Two honest workers on the true label, the third elsewhere, the pair on a wrong label: a plain vote is a
    tie, two votes against two; the pair as one voter loses."""
    truth, answers = crowd(objects=200, honest=3, accuracy=0.7, seed=4)
    result = consolidate_choice(list(truth), answers, SIX, method="dawid-skene")
    assert result.colluding
    by_object = {}
    for a in answers:
        by_object.setdefault(a.object_id, {})[a.worker_id] = a.label
    split = [o for o, got in by_object.items()
             if sorted(got[f"honest-{h}"] == truth[o] for h in range(3)) == [False, True, True]
             and got["colluder-0"] != truth[o]
             and got["colluder-0"] not in {got[f"honest-{h}"] for h in range(3)}]
    assert len(split) >= 10 and all(result.decisions[o].label == truth[o] for o in split)


def test_honest_crowds_are_not_flagged():
    for seed in range(5):
        truth, answers = crowd(honest=5, colluders=0, seed=seed, accuracy=0.7 + 0.05 * seed)
        assert consolidate_choice(list(truth), answers, SIX, method="dawid-skene").colluding == []


def test_two_skilled_workers_who_share_one_answer_are_flagged_too():
    """Two workers who settle on one answer together (right 75% of the time): kappa 1 against skill x skill ~0.5."""
    truth, honest = crowd(objects=150, honest=4, colluders=0, accuracy=0.75, seed=3)
    rng = random.Random(9)
    shared = {o: t if rng.random() < 0.75 else rng.choice([x for x in SIX if x != t]) for o, t in truth.items()}
    pair = [Answer(o, f"pair-{n}", label) for o, label in shared.items() for n in (1, 2)]
    result = consolidate_choice(list(truth), honest + pair, SIX, method="dawid-skene")
    assert [frozenset((p.first, p.second)) for p in result.colluding] == [frozenset(("pair-1", "pair-2"))]
    assert 0.35 < result.colluding[0].explained < 0.7


def test_too_few_shared_objects_are_not_judged():
    truth, answers = crowd(objects=collusion.MIN_SHARED - 1)
    assert consolidate_choice(list(truth), answers, SIX, method="dawid-skene").colluding == []


def test_the_report_flags_a_pair_only_visible_across_batches():
    truth, answers = crowd(objects=16)
    halves = [set(list(truth)[:8]), set(list(truth)[8:])]
    stats = [batch_statistics([(a.object_id, a.worker_id, a.label) for a in answers if a.object_id in half],
                              {o: truth[o] for o in half}, SIX) for half in halves]
    assert all(report_from_statistics(s)["colluding_pairs"] == [] for s in stats)  # 8 shared objects each
    merged = report_from_statistics(merge_statistics(stats))
    (pair,) = merged["colluding_pairs"]
    assert pair["workers"] == ["colluder-0", "colluder-1"] and pair["shared_objects"] == 16
    assert json.dumps(merged, allow_nan=False)


# -- spam ----------------------------------------------------------------------------------------------


def test_constant_and_random_answers_are_spam_and_honest_ones_are_not():
    rng = random.Random(5)
    truth = {f"o{i}": rng.choice(SIX) for i in range(60)}
    rows = []
    for object_id, true in truth.items():
        rows += [(object_id, f"honest-{h}", true if rng.random() < 0.8 else rng.choice(SIX)) for h in range(3)]
        rows.append((object_id, "constant", "a"))
        rows.append((object_id, "random", rng.choice(SIX)))
    report = quality_report(rows, truth, SIX)
    assert report["spam_workers"] == ["constant", "random"]
    assert report["workers"]["random"]["kappa"] < collusion.SPAM_KAPPA
    assert report["workers"]["constant"]["kappa"] == pytest.approx(0.0)
    assert all(report["workers"][f"honest-{h}"]["kappa"] > 0.5 for h in range(3))


def test_too_few_answers_are_not_called_spam():
    rows = [(f"o{i}", "constant", "a") for i in range(collusion.MIN_SPAM_ANSWERS - 1)]
    truth = {f"o{i}": SIX[i % 6] for i in range(collusion.MIN_SPAM_ANSWERS - 1)}
    assert quality_report(rows, truth, SIX)["spam_workers"] == []


# -- gold: the model --------------------------------------------------------------------------------------


def test_gold_objects_count_with_their_known_class_and_a_miss_is_flagged():
    truth, answers = crowd(objects=40, colluders=0, honest=3, seed=7)
    # Object o0: every worker says "a" but the known answer is "b": the label stays the crowd's, flagged.
    answers = [a for a in answers if a.object_id != "o0"] + [Answer("o0", f"honest-{h}", "a") for h in range(3)]
    gold = {"o0": "b", "o1": truth["o1"]}
    result = consolidate_choice(list(truth), answers, SIX, method="dawid-skene", gold=gold)
    assert result.decisions["o0"].label == "a" and result.decisions["o0"].gold == "b"
    assert result.decisions["o0"].gold_miss
    assert result.decisions["o1"].gold == truth["o1"] and not result.decisions["o2"].gold_miss
    assert result.decisions["o2"].gold is None
    # Each worker's count of true class "b" answered "a" includes o0 exactly (the known class, not an estimate).
    assert all(result.learned.workers[f"honest-{h}"]["b"]["a"] >= 1.0 for h in range(3))
    bins = np.array(result.learned.gold_bins)
    assert bins.shape == (len(crowd_model.GOLD_BIN_EDGES) + 1, 3)
    assert bins[:, 0].sum() == 2 and bins[:, 1].sum() == 1  # o0 missed, o1 right


def test_a_gold_object_nobody_answered_has_no_label_and_misses_nothing():
    truth, answers = crowd(objects=12, colluders=0)
    result = consolidate_choice(list(truth) + ["silent"], answers, SIX, method="dawid-skene", gold={"silent": "a"})
    assert result.decisions["silent"].label is None and result.decisions["silent"].gold == "a"
    assert not result.decisions["silent"].gold_miss


def test_gold_answers_that_are_no_class_are_refused():
    truth, answers = crowd(objects=12, colluders=0)
    with pytest.raises(ValueError, match="not classes of this question"):
        consolidate_choice(list(truth), answers, SIX, method="dawid-skene", gold={"o0": "zebra"})


def errs_together(seed=11, objects=300):
    """Three workers at 0.9 who are all wrong together on a quarter of the objects (six classes)."""
    rng = random.Random(seed)
    rows, truth = [], []
    for i in range(objects):
        true = rng.randrange(6)
        shared_error = rng.random() < 0.25
        wrong = (true + rng.randrange(1, 6)) % 6
        rows += [(i, w, wrong if shared_error else (true if rng.random() < 0.9 else (true + 1) % 6)) for w in range(3)]
        truth.append(true)
    objects_, workers, answers = (np.array(column) for column in zip(*rows))
    return objects_, workers, answers, np.array(truth)


def test_gold_objects_measure_the_confidence_and_correct_it_for_the_others():
    """The held-out answers cannot see errors made together; gold objects can: the unanimous labels' confidence
    falls towards how often they are right, and the correction is learned from gold objects only."""
    o, w, a, truth = errs_together()
    gold = 60  # the first 60 objects have known answers
    known = np.where(np.arange(300) < gold, truth, -1)
    without = crowd_model.fit(o, w, a, 300, 3, 6)
    with_gold = crowd_model.fit(o, w, a, 300, 3, 6, known=known)
    rest = np.arange(gold, 300)
    label = with_gold.posteriors.argmax(axis=1)
    right = label[rest] == truth[rest]
    sure = without.confidences[rest, label[rest]] >= 0.99
    assert sure.sum() > 50 and right[sure].mean() < 0.9  # the model alone is sure of labels often wrong
    before = np.abs(without.confidences[rest, label[rest]][sure].mean() - right[sure].mean())
    after = np.abs(with_gold.confidences[rest, label[rest]][sure].mean() - right[sure].mean())
    assert after < before / 2
    assert with_gold.gold_bins[:, 0].sum() == gold
    np.testing.assert_allclose(with_gold.confidences.sum(axis=1), 1.0)


def test_gold_bins_of_earlier_batches_correct_a_batch_without_gold():
    o, w, a, truth = errs_together()
    known = np.where(np.arange(300) < 100, truth, -1)
    learned = crowd_model.fit(o, w, a, 300, 3, 6, known=known).gold_bins
    o2, w2, a2, _ = errs_together(seed=12, objects=50)
    alone = crowd_model.fit(o2, w2, a2, 50, 3, 6)
    helped = crowd_model.fit(o2, w2, a2, 50, 3, 6, prior_gold_bins=learned)
    assert helped.confidences.max(axis=1).mean() < alone.confidences.max(axis=1).mean() - 0.02
    assert not helped.gold_bins.any()  # this batch had no gold of its own


def test_without_gold_nothing_is_corrected():
    o, w, a, _ = errs_together(objects=40)
    fit = crowd_model.fit(o, w, a, 40, 3, 6, prior_gold_bins=np.zeros((len(crowd_model.GOLD_BIN_EDGES) + 1, 3)))
    np.testing.assert_array_equal(fit.confidences, crowd_model.fit(o, w, a, 40, 3, 6).confidences)


# -- gold: the manifest line, pre-labeling's record, consolidation's output ---------------------------------


@pytest.mark.parametrize("value, problem", [
    ([], "non-empty object"), ({}, "non-empty object"), ({"q": 3}, "is not a label"), ({"q": ""}, "is not a label"),
    ({"": "x"}, "empty or over-long question name"), ({f"q{i}": "x" for i in range(101)}, "more than 100"),
])
def test_a_gold_value_that_is_not_answers_is_refused_by_name(value, problem):
    with pytest.raises(InputError, match=problem):
        gold_of_line({"source": "s3://b/k", GOLD_KEY: value})


def test_a_multi_selects_gold_is_a_list_of_labels_possibly_empty():
    line = {"source": "s3://b/k", GOLD_KEY: {"defects": ["Porosity", "Crack"], "none": [], QUESTION.name: "Good"}}
    assert gold_of_line(line) == {"defects": ["Porosity", "Crack"], "none": [], QUESTION.name: "Good"}
    assert gold_of_line(line)["defects"] is not line[GOLD_KEY]["defects"]  # the record's own copy


@pytest.mark.parametrize("value, problem", [
    ({"defects": ["Crack", "Porosity", "Crack"]}, "dataObject.gold['defects'] lists 'Crack' more than once"),
    ({"defects": ["Crack", 3]}, "dataObject.gold['defects'][1] is not a label"),
    ({"defects": [""]}, "dataObject.gold['defects'][0] is not a label"),
    ({"defects": ["x" * 1001]}, "dataObject.gold['defects'][0] is not a label"),
    ({"defects": [["Crack"]]}, "dataObject.gold['defects'][0] is not a label"),
    ({"defects": [f"c{i}" for i in range(101)]}, "dataObject.gold['defects'] lists 101 labels, more than 100"),
    ({"defects": {"Crack": True}}, "dataObject.gold['defects'] is not a label (a non-empty string of at most 1000 "
                                   "characters) or a list of labels"),
    ({"defects": None}, "is not a label"), ({"defects": True}, "is not a label"),
])
def test_a_gold_list_that_is_not_distinct_labels_is_refused_by_name(value, problem):
    with pytest.raises(InputError, match=re.escape(problem)):
        gold_of_line({"source": "s3://b/k", GOLD_KEY: value})


def test_a_record_keeps_a_multi_selects_gold_in_its_choice_order_and_leaves_out_what_it_cannot_be(caplog):
    questions = (MultiSelect(name="defects", choices=("Porosity", "Crack", "Spatter")), *WELDING.questions)
    records = {"1": {GOLD_KEY: {"defects": ["Spatter", "Porosity"], QUESTION.name: CLASSES[0]}},
               "2": {GOLD_KEY: {"defects": []}},
               "3": {GOLD_KEY: {"defects": ["Porosity", "Crak"]}},
               "4": {GOLD_KEY: {"defects": "Crack"}},
               "5": {GOLD_KEY: {QUESTION.name: [CLASSES[0]]}},
               "6": {GOLD_KEY: {"defects": ["Crack", "Crack"]}},
               "7": {GOLD_KEY: {"defects": [{"label": "Crack"}]}}}
    with caplog.at_level(logging.WARNING):
        found = gold_by_question(records, questions)
    assert found == {"defects": {"1": ["Porosity", "Spatter"], "2": []}, QUESTION.name: {"1": CLASSES[0]}}
    assert logged(caplog, "object 3: gold answer of defects names 'Crak', not one of its choices; left out")
    assert logged(caplog, "object 4: gold answer 'Crack' of defects is not a list of its choices; left out")
    assert logged(caplog, f"object 5: gold answer [{CLASSES[0]!r}] of {QUESTION.name} is not one of its labels")
    assert logged(caplog, "object 6: gold answer of defects lists a choice more than once; left out")
    assert logged(caplog, "object 7: gold answer of defects names {'label': 'Crack'}, not one of its choices")


def test_a_record_keeps_only_gold_a_question_can_have(caplog):
    ner = workflows.definition("ner").questions
    records = {"1": {GOLD_KEY: {"isGoodAbstract": "Yes", "abstract": "x", "nope": "Yes"}},
               "2": {GOLD_KEY: {"isGoodAbstract": "Maybe"}}, "3": {GOLD_KEY: "Yes"}, "4": None, "5": {}}
    with caplog.at_level(logging.WARNING):
        assert gold_by_question(records, ner) == {"isGoodAbstract": {"1": "Yes"}}
    text = caplog.text
    assert "'abstract', which is not a choice or multi-select question" in text and "'nope'" in text
    assert "'Maybe' of isGoodAbstract is not one of its labels" in text and "object 3" in text


def test_gold_that_is_the_abstain_label_is_left_out(caplog):
    records = {"1": {GOLD_KEY: {QUESTION.name: QUESTION.abstain}}}
    assert gold_by_question(records, WELDING.questions) == {QUESTION.name: {}}


@pytest.fixture
def welding_function(monkeypatch, bucket):
    configure(monkeypatch, WELDING.questions, method="dawid-skene")
    monkeypatch.setenv(RECORDS_ENV, f"s3://{bucket}/derived/task-records/")
    yield
    handler.s3_client.cache_clear()


def test_gold_reaches_the_output_and_the_report_through_the_task_records(s3, bucket, welding_function, caplog):
    rng = random.Random(2)
    lines, entries, truth = [], [], {}
    for i in range(30):
        line = {"source": f"s3://{bucket}/welding/datasets/run-{i}.json"}
        truth[str(i)] = rng.choice(CLASSES)
        if i < 4:
            line[GOLD_KEY] = {QUESTION.name: truth[str(i)]}
        lines.append(line)
        forms = {f"w{h}": {QUESTION.name: {"label": truth[str(i)] if rng.random() < 0.85 else rng.choice(CLASSES)}}
                 for h in range(3)}
        if 0 < i < 4:  # the other gold objects: answered right
            forms = {f"w{h}": {QUESTION.name: {"label": truth[str(i)]}} for h in range(3)}
        if i == 0:  # the crowd agrees on a wrong label for a gold object
            wrong = next(label for label in CLASSES if label != truth["0"])
            forms = {f"w{h}": {QUESTION.name: {"label": wrong}} for h in range(3)}
        entries.append(answered_by(i, forms, data_object_of(line)))
        write_record(s3, line, {GOLD_KEY: line[GOLD_KEY]} if GOLD_KEY in line else {}, JOB)
    # Neither another object's record nor this object's record of another job is read.
    write_record(s3, {"source": "s3://elsewhere/x.json"}, {GOLD_KEY: {QUESTION.name: CLASSES[0]}}, JOB)
    write_record(s3, lines[5], {GOLD_KEY: {QUESTION.name: CLASSES[0]}}, "an-earlier-job")
    labels = labels_by_id(invoke(s3, bucket, entries, label=WELDING.label_attribute_name),
                          WELDING.label_attribute_name)
    zero = labels["0"][QUESTION.name]
    assert zero[GOLD_KEY] == truth["0"] and zero[GOLD_MISS_KEY] is True and zero["label"] != truth["0"]
    assert all(GOLD_KEY not in labels[str(i)][QUESTION.name] for i in range(4, 30))
    assert all(GOLD_MISS_KEY not in labels[str(i)][QUESTION.name] for i in range(1, 30))
    # The review rule routes the missed gold object, and no other for that reason.
    from gt_common.review import GOLD_MISS as MISSED, needs_review

    attribute = WELDING.label_attribute_name
    routed = {i for i in labels if MISSED in needs_review({attribute: labels[i]}, attribute, WELDING.questions, 0.0)}
    assert routed == {"0"}
    report = read_json(s3, bucket, f"job/quality-report/{QUESTION.name}.json")
    for h in range(3):
        worker = report["workers"][f"w{h}"]
        assert worker["gold_answers"] == 4 and worker["gold_accuracy"] == 0.75


def test_an_unreadable_record_costs_only_its_object_gold(s3, bucket, welding_function, caplog):
    lines = [{"source": f"s3://{bucket}/welding/datasets/run-{i}.json", GOLD_KEY: {QUESTION.name: CLASSES[0]}}
             for i in range(2)]
    write_record(s3, lines[0], {GOLD_KEY: lines[0][GOLD_KEY]}, JOB)
    location = write_record(s3, lines[1], {GOLD_KEY: lines[1][GOLD_KEY]}, JOB)
    s3.put_object(Bucket=location.bucket, Key=location.key, Body=b"{not json")
    entries = [answered_by(i, {"w1": {QUESTION.name: {"label": CLASSES[1]}}}, data_object_of(line))
               for i, line in enumerate(lines)]
    with caplog.at_level(logging.WARNING):
        labels = labels_by_id(invoke(s3, bucket, entries, label=WELDING.label_attribute_name),
                              WELDING.label_attribute_name)
    assert labels["0"][QUESTION.name][GOLD_MISS_KEY] is True and GOLD_KEY not in labels["1"][QUESTION.name]
    assert "is not usable JSON" in caplog.text


def test_welding_pre_labeling_records_gold_and_never_shows_it(s3, bucket, monkeypatch):
    from tests.test_welding_pre_labeling import CAMERA_JPEG, SEED_CSV, put
    from welding_pre_labeling import handler as pre_labeling

    pre_labeling.s3_client.cache_clear()
    monkeypatch.setenv(RECORDS_ENV, f"s3://{bucket}/derived/task-records/")
    monkeypatch.setenv(DERIVED_DATA_PREFIX_ENV, WELDING.derived_data_prefix)
    image = put(s3, bucket, "welding/images/run-01.jpg", CAMERA_JPEG)
    sensor = put(s3, bucket, "welding/sensor/run-01.csv", SEED_CSV)
    dataset = put(s3, bucket, "welding/datasets/d.json", json.dumps({"image": {"s3Path": image},
                                                                      "sensor_data": {"s3Path": sensor}}))
    try:
        line = {"source": dataset, GOLD_KEY: {QUESTION.name: "Burn Through"}}
        arn = "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/welding-7"
        result = pre_labeling.lambda_handler({"labelingJobArn": arn, "dataObject": line})
        assert "Burn Through" not in json.dumps(result) and GOLD_KEY not in result["taskInput"]
        assert read_record(s3, data_object_of(line), "welding-7") == {GOLD_KEY: {QUESTION.name: "Burn Through"}}
        assert read_record(s3, data_object_of(line)) is None  # another job's folder
        plain = {"source": put(s3, bucket, "welding/datasets/plain.json", json.dumps(
            {"image": {"s3Path": image}, "sensor_data": {"s3Path": sensor}}))}
        pre_labeling.lambda_handler({"labelingJobArn": arn, "dataObject": plain})
        assert read_record(s3, data_object_of(plain), "welding-7") is None  # nothing to keep: nothing written
        keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="derived/task-records/")["Contents"]]
        assert len(keys) == 1 and keys[0].startswith("derived/task-records/welding-7/")
        with pytest.raises(InputError, match="is not a label"):
            pre_labeling.lambda_handler({"dataObject": {"source": dataset, GOLD_KEY: {QUESTION.name: 1}}})
        # A multi-select's known list is kept and hidden alike (pre-labeling knows no questions: consolidation checks
        # it against the question), and refused there when it names a label twice.
        listed = {"source": put(s3, bucket, "welding/datasets/listed.json", json.dumps(
            {"image": {"s3Path": image}, "sensor_data": {"s3Path": sensor}})),
            GOLD_KEY: {"marks": ["Spatter", "Crack"]}}
        result = pre_labeling.lambda_handler({"labelingJobArn": arn, "dataObject": listed})
        assert "Spatter" not in json.dumps(result)
        assert read_record(s3, data_object_of(listed), "welding-7") == {GOLD_KEY: {"marks": ["Spatter", "Crack"]}}
        with pytest.raises(InputError, match=re.escape("dataObject.gold['marks'] lists 'Crack' more than once")):
            pre_labeling.lambda_handler({"dataObject": {"source": dataset, GOLD_KEY: {"marks": ["Crack", "Crack"]}}})
    finally:
        pre_labeling.s3_client.cache_clear()


# -- memory and statistics: carried across batches, refused by name when unsound ---------------------------


def test_a_pair_seen_a_few_objects_per_batch_is_judged_on_every_batch_together():
    from gt_common.worker_model import merge

    truth, answers = crowd(objects=30, seed=21)
    ids = list(truth)
    memory, flagged = [], []
    for start in range(0, 30, 6):  # batches of 6 objects: fewer than MIN_SHARED each
        chunk = ids[start:start + 6]
        prior = merge([{"q": entry} for entry in memory]).get("q")
        result = consolidate_choice(chunk, [a for a in answers if a.object_id in chunk], SIX, method="dawid-skene",
                                    prior=prior)
        memory.append(result.learned)
        flagged.append({frozenset((p.first, p.second)) for p in result.colluding})
    assert flagged[0] == set() and flagged[-1] == {frozenset(("colluder-0", "colluder-1"))}
    total = merge([{"q": entry} for entry in memory])["q"]
    assert ["colluder-0", "colluder-1", 30, 30] in total.pairs


@pytest.mark.parametrize("change, problem", [
    ({"pairs": {"a": 1}}, "pairs is not a list"),
    ({"pairs": [["b", "a", 3, 1]]}, "a pair is not [worker, worker (in order)"),
    ({"pairs": [["a", "b", 3, 4]]}, "objects two workers answered alike is above"),
    ({"pairs": [["a", "b", -1, 0]]}, "objects two workers shared is negative"),
    ({"gold_bins": [[1, 1, 1]]}, "gold_bins is not 5 rows"),
    ({"gold_bins": [[1, 2, 0.5]] + [[0, 0, 0]] * 4}, "more right answers or confidence than gold objects"),
    ({"gold_bins": [[1, 1, float("nan")]] + [[0, 0, 0]] * 4}, "gold_bins is not finite"),
])
def test_unsound_collusion_or_gold_memory_is_refused_by_name(change, problem):
    from gt_common import worker_model

    entry = {"workers": {}, "classes": {}, **change}
    with pytest.raises(ValueError, match=re.escape(problem)):
        worker_model.check_file({"version": 2, "questions": {"q": entry}}, {"q": 1000})


@pytest.mark.parametrize("change, problem", [
    (lambda s: s["workers"]["honest-0"].update(labels=[1, 2]), "labels of worker 'honest-0' is not a list of 6"),
    (lambda s: s["workers"]["honest-0"].update(gold=[1, 2]), "gold of worker 'honest-0': more right than answered"),
    (lambda s: s.update(pairs="x"), "pairs is not a list"),
    (lambda s: s["pairs"].append(["a", 1, 2, 1]), "a pair is not [worker, worker, shared objects, agreed]"),
    (lambda s: s["pairs"].append(["a", "b", 2, 3]), "agreements of a pair is above"),
])
def test_unsound_quality_statistics_of_pairs_and_gold_are_refused_by_name(change, problem):
    from gt_common.job_quality import check_statistics

    truth, answers = crowd(objects=12)
    stats = batch_statistics([(a.object_id, a.worker_id, a.label) for a in answers], truth, SIX)
    check_statistics(json.loads(json.dumps(stats)), SIX, 5)
    change(stats)
    with pytest.raises(ValueError, match=re.escape(problem)):
        check_statistics(json.loads(json.dumps(stats)), SIX, 5)


#: One job of a simulated crowd (6 workers right 80% of the time, 4 answering at random, 5 of them per object, 60
#: objects): worker h1 shares MIN_SHARED objects with one other skilled worker only (h0), the rest with the random
#: ones, whose agreement says nothing of anyone's skill; with h2 to h5 it shares 7 to 9 objects and agrees on nearly
#: all. Rows: (worker, worker, objects shared, answered alike); then each worker's answers per label.
ONE_SKILLED_PARTNER = [
    ('h0', 'h1', 11, 9), ('h0', 'h2', 11, 6), ('h0', 'h3', 15, 12), ('h0', 'h4', 17, 14), ('h0', 'h5', 14, 11),
    ('h0', 's0', 21, 8), ('h0', 's1', 19, 6), ('h0', 's2', 12, 3), ('h0', 's3', 16, 3), ('h1', 'h2', 7, 5),
    ('h1', 'h3', 7, 6), ('h1', 'h4', 9, 8), ('h1', 'h5', 9, 8), ('h1', 's0', 17, 3), ('h1', 's1', 12, 1),
    ('h1', 's2', 8, 2), ('h1', 's3', 8, 1), ('h2', 'h3', 14, 10), ('h2', 'h4', 9, 8), ('h2', 'h5', 10, 6),
    ('h2', 's0', 13, 4), ('h2', 's1', 13, 4), ('h2', 's2', 11, 3), ('h2', 's3', 8, 1), ('h3', 'h4', 18, 17),
    ('h3', 'h5', 12, 9), ('h3', 's0', 15, 5), ('h3', 's1', 17, 4), ('h3', 's2', 9, 1), ('h3', 's3', 13, 3),
    ('h4', 'h5', 16, 12), ('h4', 's0', 15, 3), ('h4', 's1', 21, 4), ('h4', 's2', 13, 4), ('h4', 's3', 14, 4),
    ('h5', 's0', 13, 4), ('h5', 's1', 15, 2), ('h5', 's2', 13, 3), ('h5', 's3', 10, 1), ('s0', 's1', 17, 5),
    ('s0', 's2', 11, 1), ('s0', 's3', 18, 1), ('s1', 's2', 16, 1), ('s1', 's3', 18, 3), ('s2', 's3', 15, 1),
]
ONE_SKILLED_PARTNER_LABELS = {
    'h0': [7, 8, 10, 9, 0], 'h1': [6, 8, 2, 6, 0], 'h2': [4, 9, 8, 3, 0], 'h3': [5, 7, 11, 6, 1],
    'h4': [7, 10, 7, 9, 0], 'h5': [7, 6, 5, 8, 2], 's0': [9, 2, 10, 7, 7], 's1': [8, 1, 9, 7, 12],
    's2': [8, 9, 4, 3, 3], 's3': [9, 6, 6, 3, 6],
}


def test_a_skilled_worker_with_one_skilled_partner_is_told_by_every_pair_and_not_flagged():
    """Judged on pairs of MIN_SHARED objects alone, h1's skill was read from the random workers' pairs (nothing) and
    h0 and h1, two honest workers, were flagged as colluding (in 3 of 200 such jobs, and 9 of 1,600 of two crowd
    shapes, against 2 with every pair telling of skills)."""
    names = list(ONE_SKILLED_PARTNER_LABELS)
    index = {name: i for i, name in enumerate(names)}
    first, second, shared, agreed = zip(*((index[a], index[b], n, same) for a, b, n, same in ONE_SKILLED_PARTNER))
    counts = np.array([ONE_SKILLED_PARTNER_LABELS[name] for name in names], dtype=float)

    assert collusion.find_pairs(first, second, shared, agreed, counts, names) == []
    # Still flagged: h0 and h1 copying each other on every object they share, h1 now agreeing with nobody else.
    copied = [(a, b, n, n if {a, b} == {"h0", "h1"} else (1 if "h1" in (a, b) else same))
              for a, b, n, same in ONE_SKILLED_PARTNER]
    first, second, shared, agreed = zip(*((index[a], index[b], n, same) for a, b, n, same in copied))
    flagged = collusion.find_pairs(first, second, shared, agreed, counts, names)
    assert [(p.first, p.second) for p in flagged] == [("h0", "h1")]


def test_a_pair_is_flagged_only_when_its_agreement_is_that_unlikely_exactly_not_by_a_normal_approximation(
        monkeypatch):
    """h0 and s2 (a random answerer) alike on 9 of 12 shared objects: 4.4 standard errors above what their skills
    explain, which a normal tail puts at 1 in 200,000, but the binomial tail on 12 objects at about 1 in 20,000; all
    12 alike is that unlikely exactly, and is flagged."""
    names = list(ONE_SKILLED_PARTNER_LABELS)
    index = {name: i for i, name in enumerate(names)}
    counts = np.array([ONE_SKILLED_PARTNER_LABELS[name] for name in names], dtype=float)

    def flagged(alike: int) -> list:
        rows = [(a, b, n, alike if (a, b) == ("h0", "s2") else same) for a, b, n, same in ONE_SKILLED_PARTNER]
        first, second, shared, agreed = zip(*((index[a], index[b], n, same) for a, b, n, same in rows))
        return collusion.find_pairs(first, second, shared, agreed, counts, names)

    nine = flagged(9)
    assert nine == []
    twelve = flagged(12)
    assert [(p.first, p.second) for p in twelve] == [("h0", "s2")]
    assert collusion.binomial_upper_tail(12, 9, 0.3) > collusion.CHANCE_AT_Z > collusion.binomial_upper_tail(12, 12, 0.3)
    # The tail itself: exact on few trials, the normal approximation's on many.
    assert collusion.binomial_upper_tail(3, 2, 0.5) == pytest.approx(0.5)
    assert collusion.binomial_upper_tail(10, 0, 0.2) == 1.0 and collusion.binomial_upper_tail(10, 11, 0.2) == 0.0
    approximated = collusion.binomial_upper_tail(6000, 1900, 0.3)  # over EXACT_TAIL_UP_TO trials
    monkeypatch.setattr(collusion, "EXACT_TAIL_UP_TO", 10_000)
    assert approximated == pytest.approx(collusion.binomial_upper_tail(6000, 1900, 0.3), rel=0.05)


# -- gold of a MultiSelect: each choice's known yes/no, as a YesNo's gold ------------------------------------------

FLAG = YesNo(name="flag", tie="Yes")  # decided as a MultiSelect's choice is: a tie selects it
DEFECTS = MultiSelect(name="defects", choices=("Porosity", "Crack"))


def flagged_crowd(bucket, objects=40, gold=12, seed=5):
    """Five workers of mixed skill; each ticks Crack exactly when they answer Yes to ``flag``. The first ``gold``
    objects are gold, their known Crack that of the flag; on object 0 every worker misses it."""
    rng = random.Random(seed)
    skill = {"w0": 0.95, "w1": 0.9, "w2": 0.8, "w3": 0.7, "w4": 0.6}
    lines, entries, known = [], [], {}
    for i in range(objects):
        crack, porosity = rng.random() < 0.5, rng.random() < 0.3
        line = {"source": f"s3://{bucket}/data/item-{i}.json"}
        if i < gold:  # written out of the question's order: consolidation puts it in order
            known[str(i)] = ["Crack"] * crack + ["Porosity"] * porosity
            line[GOLD_KEY] = {FLAG.name: "Yes" if crack else "No", DEFECTS.name: known[str(i)]}
        if i == 0:
            crack = True
            line[GOLD_KEY] = {FLAG.name: "Yes", DEFECTS.name: ["Crack"]}
            known["0"] = ["Crack"]
        forms = {}
        for worker, p in skill.items():
            said = (crack != (rng.random() > p)) if i else False
            ticked = ["Porosity"] * (porosity != (rng.random() > p)) + ["Crack"] * said
            forms[worker] = {FLAG.name: {"label": "Yes" if said else "No"}, DEFECTS.name: {"labels": ticked}}
        lines.append(line)
        entries.append(answered_by(i, forms, data_object_of(line)))
    return lines, entries, known


def test_a_multi_selects_gold_counts_each_choice_as_a_yes_no_with_that_gold_and_a_miss_is_routed(
        s3, bucket, monkeypatch):
    """Crack is ticked exactly when flag is Yes, and its gold is the flag's: the worker model counts the gold objects
    alike, so Crack comes out as the flag does (labels, confidences, evidence, what the job remembers); the value
    carries the known list in the question's order, a miss is flagged and routed, and the report counts each worker's
    gold answers per choice."""
    from gt_common.review import GOLD_MISS as MISSED, reasons_by_question
    from gt_common.worker_model import multi_select_entry
    from tests.consolidation_helpers import WORKER_MODEL

    configure(monkeypatch, [FLAG, DEFECTS], method="dawid-skene")
    monkeypatch.setenv(RECORDS_ENV, f"s3://{bucket}/derived/task-records/")
    lines, entries, known = flagged_crowd(bucket)
    for line in lines:
        write_record(s3, line, {GOLD_KEY: line[GOLD_KEY]} if GOLD_KEY in line else {}, JOB)
    try:
        labels = labels_by_id(invoke(s3, bucket, entries, workers_per_object=5))
    finally:
        handler.s3_client.cache_clear()

    for object_id, label in labels.items():
        flag, defects = label[FLAG.name], label[DEFECTS.name]
        assert ("Crack" in defects["labels"]) == (flag["label"] == "Yes")
        assert defects["evidence"]["Crack"] == flag["evidence"]
        p = flag["confidence"]
        assert defects["confidence"]["Crack"] == pytest.approx(p if flag["label"] == "Yes" else 1 - p, abs=1e-4)
        if object_id in known:
            assert defects[GOLD_KEY] == [c for c in DEFECTS.choices if c in known[object_id]]
            assert defects.get(GOLD_MISS_KEY, False) == (defects["labels"] != defects[GOLD_KEY])
        else:
            assert GOLD_KEY not in defects and GOLD_MISS_KEY not in defects
    assert labels["0"][DEFECTS.name]["labels"] == [] and labels["0"][DEFECTS.name][GOLD_KEY] == ["Crack"]
    assert labels["0"][DEFECTS.name][GOLD_MISS_KEY] is True and labels["0"][FLAG.name][GOLD_MISS_KEY] is True
    both = [o for o, written in known.items() if written == ["Crack", "Porosity"]]
    assert both and all(labels[o][DEFECTS.name][GOLD_KEY] == ["Porosity", "Crack"] for o in both)  # choices' order

    # The gold objects counted with their known yes/no: the job remembers Crack's workers as the flag's.
    (record,) = s3.list_objects_v2(Bucket=bucket, Prefix=WORKER_MODEL)["Contents"]
    remembered = read_json(s3, bucket, record["Key"])["questions"]
    assert remembered[multi_select_entry(DEFECTS.name, "Crack")] == remembered[FLAG.name]
    assert remembered[FLAG.name]["gold_bins"]  # ... gold and all
    assert all(remembered[FLAG.name]["workers"][w]["Yes"]["No"] >= 1 for w in ("w0", "w1", "w2"))  # object 0

    # The review rule routes every missed gold object, for that question.
    missed = {o for o, label in labels.items() if label[DEFECTS.name].get(GOLD_MISS_KEY)}
    assert "0" in missed
    routed = {o for o, label in labels.items()
              if MISSED in reasons_by_question({"label": label}, "label", [DEFECTS], 0.0).get(DEFECTS.name, [])}
    assert routed == missed

    # Each worker's gold answers: per choice one yes/no an answer on a gold object, Crack's the flag's.
    flag_report = read_json(s3, bucket, f"job/quality-report/{FLAG.name}.json")
    report = read_json(s3, bucket, f"job/quality-report/{DEFECTS.name}.json")
    for worker in ("w0", "w1", "w2", "w3", "w4"):
        crack = report["per_choice"]["Crack"]["workers"][worker]
        porosity = report["per_choice"]["Porosity"]["workers"][worker]
        assert crack["gold_answers"] == flag_report["workers"][worker]["gold_answers"] == 12
        assert crack["gold_accuracy"] == flag_report["workers"][worker]["gold_accuracy"]
        assert porosity["gold_answers"] == 12 and report["workers"][worker]["gold_answers"] == 24
        right = crack["gold_accuracy"] * 12 + porosity["gold_accuracy"] * 12
        assert report["workers"][worker]["gold_accuracy"] == pytest.approx(right / 24)
    assert report["per_choice"]["Crack"]["workers"]["w4"]["gold_accuracy"] < 1.0


# -- what the requester reads of it ---------------------------------------------------------------------


def test_the_printed_report_and_the_requesters_page_say_who_is_flagged_and_why():
    """The flags were only in the report's JSON: the summary the runner prints and the requester's page showed the
    workers' agreement alone, on which a colluding pair scores best. Both now say what is flagged, with the figures."""
    from local_ground_truth.quality_plots import format_quality_report, worker_flags

    truth, answers = crowd(objects=120)
    rows = [(a.object_id, a.worker_id, a.label) for a in answers]
    rng = random.Random(3)
    rows += [(object_id, "random <b>x</b>", rng.choice(SIX)) for object_id in truth]
    report = quality_report(rows, truth, SIX)
    report["workers"]["honest-0"].update(gold_answers=10, gold_accuracy=0.7)
    flags = worker_flags(report)
    assert flags[0].startswith("answers that carry no information (Cohen's kappa against the labels at most 0.1 over "
                               "at least 20 answers): colluder-0 (kappa ")  # a pair answering at random is both
    assert "random <b>x</b> (kappa " in flags[0]
    assert flags[1].startswith("colluder-0 and colluder-1 answer alike beyond what their skills explain: 120 of 120 "
                               "shared objects alike (chance ")
    assert flags[2] == "gold answers missed: honest-0 (7 of 10 right)"
    printed = format_quality_report(report)
    assert printed.split("Flagged:\n", 1)[1].splitlines() == [f"  {flag}" for flag in flags]
    assert worker_flags(quality_report([(o, f"honest-{n}", t) for o, t in truth.items() for n in range(3)],
                                       truth, SIX)) == []
    # A multi-select report flags per choice.
    per_choice = {"kind": "multi-select", "workers": {}, "per_choice": {
        "Rust": {"spam_workers": [], "colluding_pairs": []},
        "Porosity": {"spam_workers": ["w"], "colluding_pairs": []}}}
    assert worker_flags(per_choice) == ["Porosity: answers that carry no information (Cohen's kappa against the labels "
                                        "at most 0.1 over at least 20 answers): w (kappa n/a)"]
