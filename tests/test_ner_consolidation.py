"""The generic consolidation Lambda configured with the NER definition, end to end over a real (moto)
S3 endpoint, and its span algorithm."""
from __future__ import annotations

import json
import random

import pytest

import workflows
from consolidation import handler
from gt_common.consolidation import DataObjectAnswers, WorkerAnswer
from gt_common.questions import METHOD_ENV, Spans
from gt_common.s3uri import InputError
from gt_common.span_clustering import Span, consensus_boundary, consolidate_spans, jaccard
from gt_common.workflow_consolidation import consolidate_items
from gt_common.task_record import RECORDS_ENV
from local_ground_truth.simulated_workers import simulated_answer
from local_ground_truth.span_baselines import token_majority_vote
from local_ground_truth.span_metrics import count_spans, scores
from tests.consolidation_helpers import JOB, configure, invoke, labels_by_id, read_json

NER = workflows.definition("ner")
LABEL = NER.label_attribute_name
SECTIONS = next(q for q in NER.questions if isinstance(q, Spans)).span_labels
SPANS = next(q.name for q in NER.questions if isinstance(q, Spans))
SAMPLE = NER.sample_data_dir


@pytest.fixture(autouse=True)
def ner_function(monkeypatch):
    """The function as the NER stack configures it. The exact-figure tests pin the majority-vote
    method (equal weights, vote shares); the worker-model tests at the end of the file switch back
    to the default."""
    configure(monkeypatch, NER.questions, method="majority-vote")
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    yield
    handler.s3_client.cache_clear()


def ent(label, start, end):
    return {"label": label, "startOffset": start, "endOffset": end}


def form(entities, good="Yes", notes=None, *, as_strings=True):
    """The form as the template submits it: hidden inputs hold JSON strings."""
    abstract = {"entities": entities}
    answer = {"abstract": json.dumps(abstract) if as_strings else abstract,
              "isGoodAbstract": json.dumps({"label": good}) if as_strings else {"label": good},
              "isGoodAbstractChoice": good}
    if notes is not None:
        answer["notes"] = notes
    return answer


def content(value):
    return {"content": value if isinstance(value, str) else json.dumps(value)}


def entry(object_id, *annotation_data):
    return {
        "datasetObjectId": str(object_id),
        "dataObject": {"s3Uri": f"s3://input/pages/{object_id}.jpg"},  # as Ground Truth sends a source-ref
        "annotations": [{"workerId": f"w{index}", "annotationData": data}
                        for index, data in enumerate(annotation_data)],
    }


def run(s3, bucket, entries, **options):
    """Each object's consolidated label (``options``: the event's, see ``consolidation_helpers.event``)."""
    return labels_by_id(invoke(s3, bucket, entries, label=LABEL, **options), LABEL)


def test_agreeing_workers_give_their_span_at_full_confidence(s3, bucket):
    spans = [ent("Methods", 120, 245), ent("Results", 246, 300)]
    result = run(s3, bucket, [entry(0, *(content(form(spans, notes=n)) for n in ("", "Clear.", None)))])
    assert result == {"0": {
        "abstract": {"entities": [dict(ent("Methods", 120, 245), confidence=1.0),
                                  dict(ent("Results", 246, 300), confidence=1.0)]},
        "isGoodAbstract": {"label": "Yes", "confidence": 1.0, "votes": {"Yes": 3}},
        "notes": [{"workerId": "w1", "text": "Clear."}],
        "workers": 3,
    }}


def test_jittered_boundaries_take_the_mode_and_the_majority_label(s3, bucket):
    answers = [form([ent("Methods", 120, 245)]), form([ent("Methods", 120, 250)]),
               form([ent("Results", 112, 245)], good="No")]
    result = run(s3, bucket, [entry(0, *map(content, answers))])["0"]
    (entity,) = result["abstract"]["entities"]
    assert (entity["label"], entity["startOffset"], entity["endOffset"]) == ("Methods", 120, 245)
    assert 0.5 < entity["confidence"] < 2 / 3  # two of three agree on the label, boundaries nearly
    assert result["isGoodAbstract"] == {"label": "Yes", "confidence": 0.6667, "votes": {"Yes": 2, "No": 1}}


def test_without_a_clear_mode_the_boundary_is_the_median():
    assert consensus_boundary([100, 108, 120], [1, 1, 1]) == 108
    assert consensus_boundary([100, 100, 120], [1, 1, 1]) == 100
    assert consensus_boundary([100, 120], [1, 1]) == 100  # lower median: a boundary a worker chose


def test_a_span_only_one_of_three_workers_saw_is_dropped():
    spans = [Span("a", "Methods", 0, 50), Span("b", "Methods", 0, 50), Span("c", "Methods", 0, 50),
             Span("c", "Results", 60, 90)]
    entities = consolidate_spans(spans, ["a", "b", "c"])
    assert [(e.label, e.start, e.end) for e in entities] == [("Methods", 0, 50)]


def test_one_worker_keeps_every_span():
    entities = consolidate_spans([Span("a", "Results", 5, 9), Span("a", "Methods", 0, 4)], ["a"])
    assert [(e.label, e.start, e.end, e.confidence) for e in entities] == [
        ("Methods", 0, 4, 1.0), ("Results", 5, 9, 1.0)]


def test_label_ties_are_deterministic():
    spans = [Span("a", "Results", 0, 50), Span("b", "Methods", 0, 50)]
    first = consolidate_spans(spans, ["a", "b"], label_order=SECTIONS)
    again = consolidate_spans(list(reversed(spans)), ["b", "a"], label_order=SECTIONS)
    assert first == again and first[0].label == "Methods"  # equal fit: the definition's order decides
    later = consolidate_spans(spans, ["a", "b"], label_order=("Results", "Methods"))
    assert later[0].label == "Results"


def test_spans_of_one_worker_never_share_a_cluster():
    # Worker a tagged two adjacent halves; b and c the halves too: two clusters, not one.
    spans = [Span(w, "Results", 0, 40) for w in "abc"] + [Span(w, "Results", 41, 80) for w in "abc"]
    entities = consolidate_spans(spans, ["a", "b", "c"])
    assert [(e.start, e.end) for e in entities] == [(0, 40), (41, 80)]


def test_overlapping_results_keep_the_more_confident_span():
    spans = [Span(w, "Methods", 0, 60) for w in "ab"] + [Span("c", "Methods", 0, 60)] \
        + [Span(w, "Results", 30, 100) for w in "bc"]
    entities = consolidate_spans(spans, ["a", "b", "c"])
    assert [(e.label, e.start, e.end) for e in entities] == [("Methods", 0, 60)]


def test_jaccard():
    assert jaccard(0, 10, 0, 10) == 1.0
    assert jaccard(0, 10, 5, 15) == pytest.approx(5 / 15)
    assert jaccard(0, 10, 10, 20) == 0.0


def test_accepted_answer_shapes(s3, bucket):
    """Objects (the documented shape), JSON strings (hidden inputs), bare Yes/No, a one-item list."""
    spans = [ent("Background", 0, 30)]
    shapes = [
        content(form(spans, as_strings=False)),
        content(form(spans)),
        content({"abstract": {"entities": spans}, "isGoodAbstract": "No"}),
        content([form(spans)]),
    ]
    result = run(s3, bucket, [entry(0, *shapes)], workers_per_object=4)["0"]
    assert result["abstract"]["entities"] == [dict(ent("Background", 0, 30), confidence=1.0)]
    assert result["isGoodAbstract"] == {"label": "Yes", "confidence": 0.75, "votes": {"Yes": 3, "No": 1}}
    assert result["workers"] == 4


def test_annotation_read_from_s3_uri(s3, bucket):
    s3.put_object(Bucket=bucket, Key="answers/w0.json", Body=json.dumps(form([ent("Results", 3, 9)])).encode())
    result = run(s3, bucket, [entry(0, {"s3Uri": f"s3://{bucket}/answers/w0.json"})])["0"]
    assert result["abstract"]["entities"] == [dict(ent("Results", 3, 9), confidence=1.0)]


@pytest.mark.parametrize("bad_entity, problem", [
    (ent("Discussion", 0, 10), "label 'Discussion' is not one of Background, Objectives"),
    (ent("Methods", 10, 10), "not a non-empty span"),
    (ent("Methods", -1, 10), "not a non-empty span"),
    ({"label": "Methods", "startOffset": "0", "endOffset": 10}, "startOffset '0' is not an integer"),
    ({"label": "Methods", "startOffset": 0}, "endOffset None is not an integer"),
    ("Methods 0-10", "entity is not an object"),
])
def test_a_malformed_span_is_skipped_and_the_workers_other_spans_kept(s3, bucket, caplog, bad_entity, problem):
    good = ent("Methods", 20, 60)
    result = run(s3, bucket, [entry(0, content(form([bad_entity, good])), content(form([good])))])["0"]
    assert result["abstract"]["entities"] == [dict(good, confidence=1.0)]
    assert result["workers"] == 2
    assert any(problem in message and "object 0, worker w0: abstract.entities[0]" in message
               for message in caplog.messages), caplog.messages


@pytest.mark.parametrize("bad_form, problem", [
    ({"abstract": "{not json", "isGoodAbstract": "Yes"}, "abstract is not valid JSON"),
    ({"abstract": {"spans": []}, "isGoodAbstract": "Yes"}, "abstract has no entities list"),
    ({"isGoodAbstract": "Yes"}, "abstract is missing"),
    ({"abstract": {"entities": []}, "isGoodAbstract": "Maybe"}, "isGoodAbstract label 'Maybe' is not one of Yes, No"),
    ({"abstract": {"entities": []}, "isGoodAbstract": ""}, "label '' is not one of Yes, No"),
    ({"abstract": {"entities": []}, "isGoodAbstract": {"label": "yes"}}, "label 'yes' is not one of Yes, No"),
    ({"abstract": {"entities": []}, "isGoodAbstract": ["Yes", "No"]}, "isGoodAbstract is not a label or an object with a label"),
    ({"abstract": {"entities": []}}, "isGoodAbstract is missing"),
    ({"abstract": {"entities": []}, "isGoodAbstract": "Yes", "notes": 7}, "notes is not text"),
])
def test_a_malformed_part_loses_only_that_part(s3, bucket, caplog, bad_form, problem):
    result = run(s3, bucket, [entry(0, content(bad_form), content(form([ent("Methods", 0, 9)])))])["0"]
    assert result["workers"] == 2  # the bad worker still gave one usable part
    assert any(problem in message for message in caplog.messages)


def test_unusable_annotations_never_drop_the_object_or_the_batch(s3, bucket):
    result = run(s3, bucket, [
        entry("empty", content("not json"), {"s3Uri": "https://example.com/x"}, {"content": "[]"}),
        {"dataObject": {}},  # no datasetObjectId: logged, cannot be answered
        entry("ok", content(form([ent("Methods", 0, 9)]))),
        {"datasetObjectId": "none", "dataObject": {}},  # no annotations key at all
    ])
    assert result["empty"] == {"abstract": {"entities": []},
                               "isGoodAbstract": {"label": None, "confidence": 0.0, "votes": {}},
                               "notes": [], "workers": 0}
    assert result["none"]["workers"] == 0
    assert result["ok"]["abstract"]["entities"] == [dict(ent("Methods", 0, 9), confidence=1.0)]


def test_good_abstract_tie_is_no_at_half_confidence(s3, bucket):
    result = run(s3, bucket, [entry(0, content(form([], good="Yes")), content(form([], good="No")))])["0"]
    assert result["isGoodAbstract"] == {"label": "No", "confidence": 0.5, "votes": {"Yes": 1, "No": 1}}


def test_notes_are_kept_per_worker_and_bounded(s3, bucket):
    result = run(s3, bucket, [entry(0, content(form([], notes="  hello  ")), content(form([], notes="x" * 20_000)))])
    notes = result["0"]["notes"]
    assert notes[0] == {"workerId": "w0", "text": "hello"}
    assert notes[1]["workerId"] == "w1" and len(notes[1]["text"]) == 10_000


def test_event_without_payload_is_a_clear_error():
    with pytest.raises(InputError, match="payload.s3Uri"):
        handler.lambda_handler({"labelAttributeName": LABEL}, None)


def simulated_scores(accuracy: float, rounds: int = 8) -> dict[str, float]:
    """Three noisy workers per sample abstract: consolidated vs each worker vs per-token vote.

    Each round is one batch of every sample abstract, consolidated as the Lambda does (default
    method: workers weighted by the reliability learned on the batch).
    """
    truth = json.loads((SAMPLE / "truth.json").read_text())
    consolidated, token_vote, single = [], [], {0: [], 1: [], 2: []}
    for seed in range(rounds):
        rng = random.Random(seed)
        batch, expected_of, answers_of, texts = [], {}, {}, {}
        for key, expected in truth.items():
            text = (SAMPLE / "abstracts" / f"{key}.txt").read_text(encoding="utf-8")
            answers = [simulated_answer(NER.questions, expected, text, accuracy, rng) for _ in range(3)]
            batch.append(DataObjectAnswers(key, {}, [WorkerAnswer(f"w{i}", a) for i, a in enumerate(answers)]))
            expected_of[key], answers_of[key], texts[key] = expected, answers, text
        labels = consolidate_items(batch, NER.questions, s3=None, state=None, method="dawid-skene")
        for key, expected in expected_of.items():
            answers, text, got = answers_of[key], texts[key], labels[key]["abstract"]["entities"]
            consolidated.append(count_spans(expected[SPANS], got))
            token_vote.append(count_spans(
                expected[SPANS], token_majority_vote([a["abstract"]["entities"] for a in answers], len(text))))
            for index, answer in enumerate(answers):
                single[index].append(count_spans(expected[SPANS], answer["abstract"]["entities"]))
    return {"consolidated": scores(consolidated)["span_f1"], "token_vote": scores(token_vote)["span_f1"],
            "best_single": max(scores(counts)["span_f1"] for counts in single.values())}


@pytest.mark.parametrize("accuracy", [0.7, 0.9])
def test_three_noisy_workers_consolidate_better_than_any_one_and_than_a_token_vote(accuracy):
    result = simulated_scores(accuracy)
    assert result["consolidated"] > result["best_single"] + 0.1
    assert result["consolidated"] > result["token_vote"] + 0.05


def test_token_majority_vote_baseline():
    answers = [[ent("Methods", 0, 5)], [ent("Methods", 0, 5)], [ent("Results", 0, 5)]]
    assert token_majority_vote(answers, 8) == [ent("Methods", 0, 5)]
    assert token_majority_vote([[ent("Methods", 0, 5)], []], 8) == []  # split vote: untagged


# -- the worker model (default method) ------------------------------------------------------------

def run_batch(s3, bucket, entries, batch_name):
    return run(s3, bucket, entries, batch=batch_name, workers_per_object=5)


def by_workers(object_id, answers):
    return {"datasetObjectId": str(object_id), "dataObject": {},
            "annotations": [{"workerId": w, "annotationData": content(a)} for w, a in answers.items()]}


def careless_batch(n):
    """Careful workers a, b, c tag two spans right; d and e tag a made-up span and say No."""
    entries = []
    for i in range(n):
        right = [ent("Methods", 0, 40), ent("Results", 41, 90)]
        careful = form(right, good="Yes")
        careless = form([ent("Conclusions", 100, 140)], good="No")
        entries.append(by_workers(i, {"a": careful, "b": careful, "c": careful, "d": careless, "e": careless}))
    return entries


def test_reliability_learned_in_one_batch_steers_the_next(s3, bucket, monkeypatch):
    monkeypatch.delenv(METHOD_ENV)
    # d and e alone outnumber a: without history, their span would win and a's would not.
    lone = [by_workers("z", {"a": form([ent("Methods", 0, 40)], good="Yes"),
                             "d": form([ent("Conclusions", 100, 140)], good="No"),
                             "e": form([ent("Conclusions", 100, 140)], good="No")})]
    before = run_batch(s3, bucket, lone, "2026-01-01_00:00:00")["z"]
    assert [e["label"] for e in before["abstract"]["entities"]] == ["Conclusions"]
    assert before["isGoodAbstract"]["label"] == "No"
    run_batch(s3, bucket, careless_batch(12), "2026-01-01_00:01:00")
    after = run_batch(s3, bucket, lone, "2026-01-01_00:02:00")["z"]
    assert [e["label"] for e in after["abstract"]["entities"]] == ["Methods"]
    assert after["isGoodAbstract"]["label"] == "Yes"
    report = read_json(s3, bucket, "job/quality-report/isGoodAbstract.json")
    assert report["batches"] == 3 and report["workers"]["d"]["agreement"] < report["workers"]["a"]["agreement"]
    # One memory for both questions: the yes/no's confusion counts and the spans' pseudo-classes.
    memory = read_json(s3, bucket, "job/annotations/consolidation-state/worker-model/"
                                   "iteration-1-2026-01-01_00_01_00.json")
    assert memory["version"] == 2 and set(memory["questions"]) == {"abstract", "isGoodAbstract"}
    assert memory["questions"]["abstract"]["workers"]["d"] == {"span": {"span": 0, "none": 24}, "none": {"span": 12}}
    assert memory["questions"]["abstract"]["workers"]["a"] == {"span": {"span": 24, "none": 0}, "none": {"span": 0}}
    assert memory["questions"]["abstract"]["classes"] == {"span": 24}


def test_span_reliability_pseudo_counts():
    from gt_common.span_reliability import SpanRecord
    assert SpanRecord().reliability() == pytest.approx(2 / 3)
    assert SpanRecord(spans=10, matched=10, missed=0).reliability() == pytest.approx(12 / 13)
    assert SpanRecord(spans=10, matched=0, missed=10).reliability() == pytest.approx(2 / 23)
    # In the worker memory: matched = span->span, missed = span->none, unmatched spans = none->span.
    assert SpanRecord(3, 2, 1).counts() == {"span": {"span": 2, "none": 1}, "none": {"span": 1}}
    assert SpanRecord.from_counts({"span": {"span": 2, "none": 1}, "none": {"span": 1}}) == SpanRecord(3, 2, 1)
    assert SpanRecord.from_counts({}) == SpanRecord()


# -- hostile and buggy answers: offsets, overlaps, repeated workers --------------------------------

RECORDS = "derived/task-records/"


def with_record(s3, bucket, monkeypatch, object_id, record):
    """TASK_RECORDS_URI set, and ``record`` written for the object's source (None: no record)."""
    from gt_common.task_record import write_record

    monkeypatch.setenv(RECORDS_ENV, f"s3://{bucket}/{RECORDS}")
    if record is not None:
        write_record(s3, {"source-ref": f"s3://input/pages/{object_id}.jpg"}, record, JOB)


@pytest.mark.parametrize("bad_entity, problem", [
    (ent("Methods", 0, 101), "reach past the end of the text (100 code points)"),
    (ent("Methods", 99, 10 ** 9), "reach past the end of the text (100 code points)"),
    (ent("Methods", 2 ** 64, 2 ** 64 + 1), "reach past the end of the text"),
    (ent("Methods", 0, 10 ** 40), "reach past the end"),
    ({"label": "Methods", "startOffset": 0, "endOffset": 1e9}, "endOffset 1000000000.0 is not an integer"),
    ({"label": "Methods", "startOffset": 0, "endOffset": True}, "endOffset True is not an integer"),
    ({"label": ["Methods"], "startOffset": 0, "endOffset": 5}, "is not one of"),
])
def test_offsets_outside_the_text_shown_are_skipped(s3, bucket, caplog, monkeypatch, bad_entity, problem):
    with_record(s3, bucket, monkeypatch, 0, {"textLength": 100})
    good = ent("Results", 60, 100)  # ends exactly at the end of the text: kept
    result = run(s3, bucket, [entry(0, content(form([bad_entity, good])), content(form([good])))])["0"]
    assert result["abstract"]["entities"] == [dict(good, confidence=1.0)]
    assert any(problem in message and "object 0, worker w0" in message for message in caplog.messages), caplog.messages


def test_without_a_task_record_offsets_are_bounded_by_the_largest_text(s3, bucket, caplog, monkeypatch):
    from gt_common.limits import MAX_TEXT_BYTES

    with_record(s3, bucket, monkeypatch, 0, None)
    inside, beyond = ent("Methods", 0, MAX_TEXT_BYTES), ent("Results", 5, MAX_TEXT_BYTES + 1)
    result = run(s3, bucket, [entry(0, content(form([inside])), content(form([inside, beyond])))])["0"]
    assert [(e["startOffset"], e["endOffset"]) for e in result["abstract"]["entities"]] == [(0, MAX_TEXT_BYTES)]
    assert any("object 0: no task record" in m and "bounded by MAX_TEXT_BYTES" in m for m in caplog.messages)
    assert any("reach past the end of the text (1000000 code points)" in m for m in caplog.messages)


def test_without_a_records_folder_the_batch_logs_it_once(s3, bucket, caplog, monkeypatch):
    monkeypatch.delenv(RECORDS_ENV, raising=False)
    run(s3, bucket, [entry(i, content(form([ent("Methods", 0, 9)]))) for i in range(3)])
    assert [m for m in caplog.messages if "TASK_RECORDS_URI is not set" in m] == [
        "TASK_RECORDS_URI is not set: span offsets of 3 objects are bounded by MAX_TEXT_BYTES "
        "(1000000 code points) only"]


@pytest.mark.parametrize("record", [{"textLength": -1}, {"textLength": True}, {"textLength": "100"},
                                    {"textLength": 10.0}, {"textLength": 10 ** 7}, {"length": 100}])
def test_a_record_without_a_sound_text_length_falls_back_to_the_largest_text(s3, bucket, caplog, monkeypatch, record):
    with_record(s3, bucket, monkeypatch, 0, record)
    result = run(s3, bucket, [entry(0, content(form([ent("Methods", 0, 500)])))])["0"]
    assert [(e["startOffset"], e["endOffset"]) for e in result["abstract"]["entities"]] == [(0, 500)]
    assert any("object 0: no task record with a usable textLength" in m for m in caplog.messages)


def test_a_malformed_records_folder_is_a_configuration_error(s3, bucket, monkeypatch):
    from gt_common.configuration import ConfigurationError

    monkeypatch.setenv(RECORDS_ENV, "https://not-s3/records/")
    with pytest.raises(ConfigurationError, match=RECORDS_ENV):
        run(s3, bucket, [entry(0, content(form([ent("Methods", 0, 9)])))])


def test_each_task_record_is_read_once_per_batch(s3, bucket, monkeypatch):
    for object_id in range(3):
        with_record(s3, bucket, monkeypatch, object_id, {"textLength": 300})
    reads = []

    class CountingS3:
        def __getattr__(self, name):
            return getattr(s3, name)

        def get_object(self, **kwargs):
            reads.append(kwargs["Key"])
            return s3.get_object(**kwargs)

    counting = CountingS3()
    client = lambda: counting  # noqa: E731
    client.cache_clear = lambda: None
    monkeypatch.setattr(handler, "s3_client", client)
    monkeypatch.delenv(METHOD_ENV)  # the worker model: spans clustered twice
    answers = [content(form([ent("Methods", 0, 40), ent("Results", 50, 90)])) for _ in range(3)]
    run(s3, bucket, [entry(i, *answers) for i in range(3)])
    record_reads = [key for key in reads if key.startswith(f"{RECORDS}{JOB}/")]
    assert len(record_reads) == 3 and len(set(record_reads)) == 3


def test_overlapping_spans_of_one_worker_keep_the_first_in_text_order(s3, bucket, caplog):
    hostile = [ent("Results", 30, 80),      # overlaps Methods 0-40, which comes first in text order
               ent("Methods", 0, 40),
               ent("Background", 10, 20),   # inside Methods 0-40
               ent("Objectives", 0, 40),    # the same range as Methods, tagged later
               ent("Conclusions", 45, 90)]  # overlaps Results 30-80 (skipped), not Methods: kept
    result = run(s3, bucket, [entry(0, content(form(hostile)))])["0"]
    assert [(e["label"], e["startOffset"], e["endOffset"]) for e in result["abstract"]["entities"]] == [
        ("Methods", 0, 40), ("Conclusions", 45, 90)]
    overlaps = [m for m in caplog.messages if "overlaps the same worker's" in m]
    assert len(overlaps) == 3 and all("object 0, worker w0" in m for m in overlaps)
    assert any("entities[0]: Results [30, 80) overlaps the same worker's Methods [0, 40)" in m for m in overlaps)


def test_many_nested_spans_of_one_worker_cannot_slow_the_batch(s3, bucket):
    """10,000 spans all covering one point: one is kept, so clustering stays linear."""
    nested = [ent("Methods", 5_000 - i, 5_001 + i) for i in range(5_000)] + [ent("Results", 0, 10_000 - i)
                                                                             for i in range(5_000)]
    result = run(s3, bucket, [entry(0, content(form(nested)), content(form([ent("Results", 0, 5_001)])))])["0"]
    # w0 keeps the first in text order, Results [0, 5001); w1 drew the same.
    assert result["abstract"]["entities"] == [dict(ent("Results", 0, 5_001), confidence=1.0)]


def test_a_worker_answering_twice_counts_once_with_the_last_answer(s3, bucket, caplog):
    twice = entry(0, content(form([ent("Methods", 0, 40)], good="No")), content(form([ent("Results", 50, 90)])),
                  content(form([ent("Methods", 0, 40)], good="Yes")))
    twice["annotations"][2]["workerId"] = "w0"
    result = run(s3, bucket, [twice])["0"]
    assert result["workers"] == 2
    assert result["isGoodAbstract"] == {"label": "Yes", "confidence": 1.0, "votes": {"Yes": 2}}  # w0's last and w1's
    # Each of w0's and w1's spans has half the workers behind it: neither is counted twice.
    assert [(e["label"], e["confidence"]) for e in result["abstract"]["entities"]] == [
        ("Methods", 0.5), ("Results", 0.5)]
    assert any("object 0, worker w0: annotation 0 is superseded" in m for m in caplog.messages)


def test_a_repeated_object_is_answered_once(s3, bucket):
    first = entry(0, content(form([ent("Methods", 0, 40)])))
    again = entry(0, content(form([ent("Methods", 0, 40)])))
    again["annotations"][0]["workerId"] = "w1"
    response = invoke(s3, bucket, [first, entry(1), again], label=LABEL)
    assert [item["datasetObjectId"] for item in response] == ["0", "1"]
    assert response[0]["consolidatedAnnotation"]["content"][LABEL]["workers"] == 2
