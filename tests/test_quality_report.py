"""Quality report: reference values for alpha/kappa, per-worker stats, exact merging, degenerate
cases and the PNG/text rendering."""
from __future__ import annotations

import itertools
import json
import random
import struct

import numpy as np
import pytest

from gt_common.quality_report import (
    batch_statistics,
    batch_statistics_from_arrays,
    fleiss_kappa,
    krippendorff_alpha_nominal,
    merge_statistics,
    quality_report,
    quality_report_from_arrays,
    report_from_statistics,
)
from local_ground_truth.quality_plots import format_quality_report, render_quality_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, nominal values 1..5 with missing values (None). Nominal alpha = 0.743.
KRIPPENDORFF_2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}

# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories. kappa = 0.210.
FLEISS_WIKIPEDIA = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def krippendorff_answers():
    return [
        (f"unit{u}", worker, str(value))
        for worker, values in KRIPPENDORFF_2011.items()
        for u, value in enumerate(values)
        if value is not None
    ]


def fleiss_answers():
    answers = []
    for i, row in enumerate(FLEISS_WIKIPEDIA):
        rater = itertools.count()
        for j, count in enumerate(row):
            answers += [(f"s{i}", f"r{next(rater)}", f"c{j}") for _ in range(count)]
    return answers


def brute_force_alpha(units: list[list[str]]) -> float:
    """Nominal alpha from its pairwise definition: D_o over all ordered pairs within units
    (weighted 1/(m_u-1)), D_e over all ordered pairs of pairable values."""
    pairable = [u for u in units if len(u) >= 2]
    values = [v for u in pairable for v in u]
    n = len(values)
    d_o = sum(
        sum(a != b for i, a in enumerate(u) for j, b in enumerate(u) if i != j) / (len(u) - 1) for u in pairable
    ) / n
    d_e = sum(a != b for i, a in enumerate(values) for j, b in enumerate(values) if i != j) / (n * (n - 1))
    return 1.0 - d_o / d_e


def assert_json_clean(report):
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text) == report


# --------------------------------------------------------------------------- reference values


def test_krippendorff_2011_nominal_example():
    report = quality_report(krippendorff_answers(), {}, ["1", "2", "3", "4", "5"])
    agreement = report["agreement"]
    assert agreement["krippendorff_alpha"] == pytest.approx(0.743, abs=5e-4)
    # Exactly 1 - (n - 1) * (n - sum o_cc) / (n^2 - sum n_c^2) = 1 - 39 * 8 / 1216 = 113 / 152.
    assert agreement["krippendorff_alpha"] == pytest.approx(113 / 152, rel=1e-12)
    # Unit 12 has a single value: not pairable, so 40 pairable values from 11 units.
    assert agreement["krippendorff_alpha_pairable_values"] == 40
    assert agreement["krippendorff_alpha_objects"] == 11
    assert report["answers_per_object"] == {"1": 1, "2": 1, "3": 2, "4": 8}
    assert report["answers"] == 41
    assert_json_clean(report)


def test_krippendorff_coincidence_matrix_of_the_2011_example():
    # The paper's coincidence matrix (values 1..5; n_c = 9, 13, 10, 5, 3; n = 40), nominal alpha 0.743.
    o = [
        [7, 4 / 3, 1 / 3, 1 / 3, 0],
        [4 / 3, 10, 4 / 3, 1 / 3, 0],
        [1 / 3, 4 / 3, 8, 1 / 3, 0],
        [1 / 3, 1 / 3, 1 / 3, 4, 0],
        [0, 0, 0, 0, 3],
    ]
    alpha = krippendorff_alpha_nominal(o)
    assert alpha == pytest.approx(0.743, abs=5e-4)
    # Our coincidence matrix from the raw data is the paper's.
    stats = batch_statistics(krippendorff_answers(), {}, ["1", "2", "3", "4", "5"])
    ours = sum(np.asarray(p, dtype=float) / (int(m) - 1) for m, p in stats["pair_counts"].items())
    np.testing.assert_allclose(ours, o, rtol=1e-12)
    assert report_from_statistics(stats)["agreement"]["krippendorff_alpha"] == pytest.approx(alpha, rel=1e-12)


def test_fleiss_wikipedia_example():
    assert fleiss_kappa(FLEISS_WIKIPEDIA) == pytest.approx(0.210, abs=5e-4)
    report = quality_report(fleiss_answers(), {}, [f"c{j}" for j in range(5)])
    agreement = report["agreement"]
    assert agreement["fleiss_kappa"] == pytest.approx(0.20993, abs=1e-5)
    assert agreement["fleiss_kappa_raters"] == 14
    assert agreement["fleiss_kappa_objects"] == 10
    assert_json_clean(report)


def test_fleiss_uses_only_objects_with_the_modal_answer_count():
    answers = fleiss_answers()
    # Three extra objects with 3 answers each (fewer than the 10 with 14): kappa must not move.
    answers += [("x1", "r0", "c0"), ("x1", "r1", "c1"), ("x1", "r2", "c4")]
    answers += [("x2", "r0", "c2"), ("x2", "r1", "c2"), ("x2", "r2", "c2")]
    answers += [("x3", "r5", "c3"), ("x3", "r6", "c0"), ("x3", "r7", "c3")]
    report = quality_report(answers, {}, [f"c{j}" for j in range(5)])
    assert report["agreement"]["fleiss_kappa"] == pytest.approx(fleiss_kappa(FLEISS_WIKIPEDIA), rel=1e-12)
    assert report["agreement"]["fleiss_kappa_objects"] == 10
    assert "14" in report["agreement"]["fleiss_kappa_note"]


def test_fleiss_kappa_rejects_unequal_rater_counts():
    with pytest.raises(ValueError):
        fleiss_kappa([[1, 1], [2, 1]])


def test_alpha_matches_the_pairwise_definition_on_random_data():
    rng = random.Random(7)
    classes = ["a", "b", "c", "d"]
    for _ in range(20):
        answers, units = [], []
        for u in range(rng.randint(2, 25)):
            m = rng.randint(1, 6)  # includes single-answer (unpairable) objects
            bias = rng.choice(classes)
            unit = [bias if rng.random() < 0.6 else rng.choice(classes) for _ in range(m)]
            units.append(unit)
            answers += [(u, f"w{i}", v) for i, v in enumerate(unit)]
        pairable = [v for unit in units if len(unit) >= 2 for v in unit]
        report = quality_report(answers, {}, classes)
        if len(set(pairable)) < 2:
            assert report["agreement"]["krippendorff_alpha"] is None
        else:
            assert report["agreement"]["krippendorff_alpha"] == pytest.approx(brute_force_alpha(units), rel=1e-9)


# --------------------------------------------------------------------------- per-worker stats


CLASSES = ["cat", "dog", "bird"]


def small_crowd():
    """Three experts (one makes a single mistake) and a spammer who always answers "bird"."""
    truth = ["cat", "dog", "bird", "cat", "dog", "cat", "bird", "dog", "cat", "dog"]
    answers = []
    for i, label in enumerate(truth):
        answers.append((f"o{i}", "expert1", label))
        answers.append((f"o{i}", "expert2", label))
        answers.append((f"o{i}", "expert3", "dog" if i == 0 else label))
        answers.append((f"o{i}", "spammer", "bird"))
    consolidated = {f"o{i}": label for i, label in enumerate(truth)}
    return answers, consolidated


def test_per_worker_agreement_and_confusion():
    answers, consolidated = small_crowd()
    report = quality_report(answers, consolidated, CLASSES)
    workers = report["workers"]
    assert report["objects"] == 10 and report["answers"] == 40
    assert workers["expert1"] == {
        "answers": 10, "compared": 10, "agreement": 1.0, "confusion": [[4, 0, 0], [0, 4, 0], [0, 0, 2]],
        "kappa": 1.0, "spam": False, "gold_answers": 0, "gold_accuracy": None,
    }
    assert workers["expert3"]["agreement"] == pytest.approx(0.9)
    assert workers["expert3"]["confusion"] == [[3, 1, 0], [0, 4, 0], [0, 0, 2]]
    # The spammer: every row puts all mass in the "bird" column; agreement = 2 birds / 10.
    assert workers["spammer"]["confusion"] == [[0, 0, 4], [0, 0, 4], [0, 0, 2]]
    assert workers["spammer"]["agreement"] == pytest.approx(0.2)
    assert min(workers, key=lambda w: workers[w]["agreement"]) == "spammer"
    assert report["consolidated_label_counts"] == {"cat": 4, "dog": 4, "bird": 2}
    assert report["agreement"]["fleiss_kappa_raters"] == 4
    assert 0 < report["agreement"]["krippendorff_alpha"] < 1
    assert_json_clean(report)

    text = format_quality_report(report)
    lines = text.splitlines()
    worker_lines = [line for line in lines if line.split() and line.split()[0] in workers]
    assert worker_lines[0].split()[0] == "spammer"  # least agreeing first
    assert worker_lines[-1].split()[0] in {"expert1", "expert2"}
    assert "Krippendorff" in text and "Fleiss" in text


def test_arrays_and_triples_give_the_same_report():
    answers, consolidated = small_crowd()
    objects, workers, labels = zip(*answers)
    assert quality_report_from_arrays(list(objects), np.array(workers), list(labels), consolidated, CLASSES) == (
        quality_report(answers, consolidated, CLASSES)
    )


def test_unconsolidated_objects_and_unknown_labels():
    answers, consolidated = small_crowd()
    consolidated["o0"] = None  # e.g. consolidation abstained
    del consolidated["o1"]  # not in the mapping at all
    answers.append(("o2", "expert1", "horse"))  # not a class: ignored
    answers.append(("o2", "expert2", None))
    report = quality_report(answers, consolidated, CLASSES)
    assert report["ignored_answers"] == 2
    assert report["answers"] == 40
    assert report["unconsolidated_objects"] == 2
    assert report["workers"]["expert1"]["answers"] == 10
    assert report["workers"]["expert1"]["compared"] == 8
    assert sum(report["consolidated_label_counts"].values()) == 8
    assert_json_clean(report)


# --------------------------------------------------------------------------- merging


def test_merging_batches_gives_exactly_the_combined_report():
    rng = random.Random(3)
    classes = ["a", "b", "c"]
    answers, consolidated = [], {}
    for u in range(60):
        true = rng.choice(classes)
        m = rng.choice([1, 2, 3, 3, 3, 5])
        for w in rng.sample(range(8), m):
            label = true if rng.random() < (0.9 if w < 6 else 0.3) else rng.choice(classes)
            answers.append((f"o{u}", f"w{w}", label))
        consolidated[f"o{u}"] = None if u % 17 == 0 else true
    first = {f"o{u}" for u in range(25)}
    batches = [
        ([a for a in answers if a[0] in first], {o: l for o, l in consolidated.items() if o in first}),
        ([a for a in answers if a[0] not in first], {o: l for o, l in consolidated.items() if o not in first}),
    ]
    stats = [batch_statistics(a, c, classes) for a, c in batches]
    # Statistics survive a JSON round trip (they are stored between Lambda invocations).
    stats = [json.loads(json.dumps(s, allow_nan=False)) for s in stats]
    merged = merge_statistics(stats)
    combined = batch_statistics(answers, consolidated, classes)
    assert merged == combined
    merged_report = report_from_statistics(merged)
    assert merged_report == quality_report(answers, consolidated, classes)  # exact, not approx
    assert merged_report["objects"] == 60
    assert_json_clean(merged_report)
    # Merging in another order, or merging a single batch, is exact too.
    assert report_from_statistics(merge_statistics(stats[::-1])) == merged_report
    assert report_from_statistics(merge_statistics([combined])) == merged_report


def test_merge_rejects_different_classes_and_empty_input():
    with pytest.raises(ValueError):
        merge_statistics([])
    with pytest.raises(ValueError):
        merge_statistics([batch_statistics([], {}, ["a"]), batch_statistics([], {}, ["b"])])


# --------------------------------------------------------------------------- degenerate cases


def test_no_answers():
    report = quality_report([], {}, CLASSES)
    assert report["answers"] == 0 and report["workers"] == {}
    assert report["agreement"]["krippendorff_alpha"] is None
    assert report["agreement"]["fleiss_kappa"] is None
    assert report["agreement"]["pairwise_agreement"] is None
    assert_json_clean(report)
    # Objects consolidated without answers, and an empty class list, do not raise either.
    assert_json_clean(quality_report([], {"o1": "cat", "o2": None}, CLASSES))
    assert_json_clean(quality_report([("o1", "w", "x")], {"o1": None}, []))
    assert_json_clean(report_from_statistics(merge_statistics([batch_statistics_from_arrays([], [], [], {}, CLASSES)])))


def test_single_worker():
    answers = [(f"o{i}", "solo", CLASSES[i % 3]) for i in range(9)]
    consolidated = {f"o{i}": CLASSES[i % 3] for i in range(9)}
    report = quality_report(answers, consolidated, CLASSES)
    assert report["workers"]["solo"]["agreement"] == 1.0
    # One answer per object: nothing pairable, no object for Fleiss.
    assert report["agreement"]["krippendorff_alpha"] is None
    assert report["agreement"]["fleiss_kappa"] is None
    assert report["agreement"]["krippendorff_alpha_pairable_values"] == 0
    assert_json_clean(report)


def test_everyone_agrees_on_one_class():
    answers = [(f"o{i}", f"w{w}", "dog") for i in range(5) for w in range(3)]
    report = quality_report(answers, {f"o{i}": "dog" for i in range(5)}, CLASSES)
    agreement = report["agreement"]
    # Expected disagreement is 0: alpha and kappa are undefined (None, not 1.0 and not NaN).
    assert agreement["krippendorff_alpha"] is None
    assert "expected disagreement" in agreement["krippendorff_alpha_note"]
    assert agreement["fleiss_kappa"] is None
    assert agreement["pairwise_agreement"] == 1.0
    assert all(w["agreement"] == 1.0 for w in report["workers"].values())
    assert_json_clean(report)
    assert "n/a" in format_quality_report(report)


def test_only_one_class_defined():
    answers = [(f"o{i}", f"w{w}", "only") for i in range(3) for w in range(2)]
    report = quality_report(answers, {"o0": "only"}, ["only"])
    assert report["agreement"]["krippendorff_alpha"] is None
    assert report["agreement"]["fleiss_kappa"] is None
    assert_json_clean(report)


# --------------------------------------------------------------------------- rendering


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_png_of_the_small_crowd(tmp_path):
    answers, consolidated = small_crowd()
    report = quality_report(answers, consolidated, CLASSES)
    path = render_quality_report(report, tmp_path / "out" / "quality.png")
    assert path == tmp_path / "out" / "quality.png"
    assert path.stat().st_size > 0
    width, height = png_size(path)
    assert width > 100 and height > 100


def test_png_with_many_workers_and_classes(tmp_path):
    rng = random.Random(11)
    classes = [f"class_{j}" for j in range(7)]
    answers, consolidated = [], {}
    for u in range(200):
        true = rng.choice(classes)
        consolidated[u] = true
        for w in rng.sample(range(30), 4):
            accuracy = 0.95 - 0.03 * w
            answers.append((u, f"worker-{w:02d}", true if rng.random() < accuracy else rng.choice(classes)))
    report = quality_report(answers, consolidated, classes)
    assert len(report["workers"]) == 30
    path = render_quality_report(report, tmp_path / "many.png")
    assert path.stat().st_size > 0
    png_size(path)
    text = format_quality_report(report)
    assert len([line for line in text.splitlines() if line.startswith("worker-")]) == 30


def test_png_of_degenerate_reports(tmp_path):
    for i, report in enumerate(
        [
            quality_report([], {}, CLASSES),
            quality_report([], {}, []),
            quality_report([(f"o{i}", "solo", "cat") for i in range(3)], {}, CLASSES),
        ]
    ):
        path = render_quality_report(report, tmp_path / f"degenerate{i}.png")
        png_size(path)
        assert format_quality_report(report)


# --------------------------------------------------------------------------- experts' decisions

def _crowd_and_final(seed: int):
    """A small job: 4 workers, 3 classes, 30 objects; the crowd's label is the majority, and experts decide
    some objects, mostly siding with one worker against it."""
    rng = random.Random(seed)
    classes = ["Good", "Burn", "Porous"]
    answers, crowd = [], {}
    for o in range(30):
        truth = rng.choice(classes)
        votes = {}
        for worker, skill in (("ana", 0.95), ("bo", 0.6), ("cy", 0.6), ("dee", 0.5)):
            votes[worker] = truth if rng.random() < skill else rng.choice(classes)
            answers.append((f"o{o}", worker, votes[worker]))
        crowd[f"o{o}"] = max(classes, key=lambda c: (list(votes.values()).count(c), -classes.index(c)))
    decided = {o: next(label for w, label in ((w, l) for oo, w, l in answers if oo == o) if w == "ana")
               for o in rng.sample(sorted(crowd), 8)}
    return classes, answers, crowd, decided


def _decisions(answers, crowd, decided):
    from gt_common.worker_agreement import ExpertDecision
    return [ExpertDecision(crowd[o], label, {w: l for oo, w, l in answers if oo == o}) for o, label in decided.items()]


@pytest.mark.parametrize("seed", range(5))
def test_with_expert_decisions_is_the_report_computed_against_the_final_labels(seed):
    """Moving each decided object's answers from the crowd's row to the expert's gives exactly the report built
    from the final labels: confusion, agreement, kappa, spam and the label counts."""
    from gt_common.worker_agreement import with_expert_decisions

    classes, answers, crowd, decided = _crowd_and_final(seed)
    crowd_report = quality_report(answers, crowd, classes)
    before = json.dumps(crowd_report, sort_keys=True)
    reviewed = with_expert_decisions(crowd_report, _decisions(answers, crowd, decided))
    direct = quality_report(answers, {**crowd, **decided}, classes)
    assert json.dumps(crowd_report, sort_keys=True) == before  # the crowd's report is left as it was
    for name, worker in direct["workers"].items():
        for field in ("compared", "agreement", "confusion", "kappa", "spam"):
            assert reviewed["workers"][name][field] == worker[field], (name, field)
    assert reviewed["consolidated_label_counts"] == direct["consolidated_label_counts"]
    assert reviewed["spam_workers"] == direct["spam_workers"]
    assert reviewed["agreement"] == crowd_report["agreement"]  # between workers: the crowd's label plays no part
    assert reviewed["decided_objects"] == len(decided)
    assert reviewed["changed_objects"] == sum(decided[o] != crowd[o] for o in decided)
    for name in ("ana", "bo", "cy", "dee"):
        on_decided = [(label, decided[o]) for o, w, label in answers if w == name and o in decided]
        assert reviewed["workers"][name]["expert_answers"] == len(on_decided)
        assert reviewed["workers"][name]["expert_agreed"] == sum(a == b for a, b in on_decided)
    json.dumps(reviewed, allow_nan=False)


def test_a_worker_the_experts_side_with_ranks_above_the_workers_who_made_the_crowds_label():
    """The case seen in a staging job: on two objects the three answers differed and the expert chose ana's answer
    over the crowd's (chen's). Against the crowd's labels chen ranks above ana; against the final labels, below."""
    from gt_common.worker_agreement import with_expert_decisions
    from local_ground_truth.quality_plots import workers_by_agreement

    classes = ["Good Weld", "Burn Through", "Contamination"]
    answers, crowd = [], {}
    for o in range(8):  # settled objects: everyone right
        crowd[f"s{o}"] = "Good Weld"
        answers += [(f"s{o}", w, "Good Weld") for w in ("ana", "bo", "chen")]
    for o in range(2):  # contested: all three differ, the crowd took chen's
        crowd[f"c{o}"] = "Contamination"
        answers += [(f"c{o}", "ana", "Burn Through"), (f"c{o}", "bo", "Good Weld"), (f"c{o}", "chen", "Contamination")]
    report = quality_report(answers, crowd, classes)
    assert [name for name, _ in workers_by_agreement(report)][:2] == ["ana", "bo"]  # chen agrees most
    reviewed = with_expert_decisions(report, _decisions(answers, crowd, {"c0": "Burn Through", "c1": "Burn Through"}))
    assert [name for name, _ in workers_by_agreement(reviewed)] == ["bo", "chen", "ana"]
    assert reviewed["workers"]["ana"]["agreement"] == 1.0
    assert (reviewed["workers"]["ana"]["expert_agreed"], reviewed["workers"]["chen"]["expert_agreed"]) == (2, 0)
    text = format_quality_report(reviewed)
    assert "Workers compared with the final labels: 2 objects decided by experts, 2 otherwise than the crowd" in text
    rows = {line.split()[0]: line for line in text.splitlines()[-3:]}
    assert rows["ana"].endswith("2 of 2") and rows["chen"].endswith("0 of 2")


def test_a_decision_confirming_the_crowd_counts_for_the_experts_but_moves_nothing():
    from gt_common.worker_agreement import ExpertDecision, with_expert_decisions

    classes = ["Yes", "No"]
    answers = [("a", "ana", "Yes"), ("a", "bo", "No"), ("a", "cy", "Yes")]
    report = quality_report(answers, {"a": "Yes"}, classes)
    reviewed = with_expert_decisions(report, [ExpertDecision("Yes", "Yes", {"ana": "Yes", "bo": "No", "cy": "Yes"})])
    for name in ("ana", "bo", "cy"):
        assert reviewed["workers"][name]["confusion"] == report["workers"][name]["confusion"]
    assert (reviewed["decided_objects"], reviewed["changed_objects"]) == (1, 0)
    assert reviewed["workers"]["bo"]["expert_agreement"] == 0.0 and reviewed["workers"]["ana"]["expert_agreement"] == 1.0


def test_decisions_the_report_cannot_take_are_left_out_and_nothing_goes_negative():
    """A label or answer outside the classes, an unknown worker, a MultiSelect's list, an answer the counts do not
    hold (its batch's statistics were never recorded): each is left as the report has it."""
    from gt_common.worker_agreement import ExpertDecision, with_expert_decisions

    classes = ["Yes", "No"]
    report = quality_report([("a", "ana", "Yes"), ("a", "bo", "Yes")], {"a": "Yes"}, classes)
    reviewed = with_expert_decisions(report, [
        ExpertDecision("Yes", "Maybe", {"ana": "Yes"}),  # not a class: not a decision of this question
        ExpertDecision("Yes", ["Yes"], {"ana": "Yes"}),  # a MultiSelect's value
        ExpertDecision("Yes", "No", {"zed": "No", "ana": "Maybe", "bo": None}),  # no answer it can move
        ExpertDecision("No", "Yes", {"ana": "Yes"}),  # the counts hold no (No, Yes) of ana's to move
        ExpertDecision(None, "No", {"bo": "Yes"}),  # the crowd had no label: bo's answer is compared now
    ])
    assert reviewed["workers"]["ana"]["confusion"] == [[1, 0], [0, 0]]
    assert reviewed["workers"]["bo"]["confusion"] == [[1, 0], [1, 0]]
    assert reviewed["workers"]["bo"]["compared"] == 2 and reviewed["workers"]["bo"]["agreement"] == 0.5
    assert reviewed["decided_objects"] == 3 and reviewed["changed_objects"] == 3
    assert all(n >= 0 for n in reviewed["consolidated_label_counts"].values())
