"""The calibrated worker model (gt_common.crowd_model through gt_common.choices) on small hand-made crowds."""
from __future__ import annotations

import random

import numpy as np
import pytest

from gt_common import crowd_model
from gt_common.choices import Answer, consolidate_choice, tie_break
from gt_common.worker_model import Entry, check_file, merge

LABELS = ("cat", "dog", "bird", "Not sure")
ABSTAIN = "Not sure"


def decide(votes_by_object, prior=None, method="dawid-skene", labels=LABELS, abstain=ABSTAIN):
    """``{object: [label per worker w0, w1, ...]}`` -> ChoiceResult."""
    answers = [Answer(o, f"w{i}", label) for o, labels_ in votes_by_object.items() for i, label in enumerate(labels_)
               if label is not None]
    return consolidate_choice(list(votes_by_object), answers, labels, method=method, abstain=abstain, prior=prior)


def simulated(n_objects, n_workers, accuracy, seed, classes=("cat", "dog", "bird")):
    rng = random.Random(seed)
    truth = {f"o{seed}-{i}": rng.choice(classes) for i in range(n_objects)}
    votes = {o: [t if rng.random() < accuracy else rng.choice([c for c in classes if c != t])
                 for _ in range(n_workers)] for o, t in truth.items()}
    return truth, votes


def test_a_single_vote_is_far_from_certain():
    result = decide({"o": ["cat"]})
    assert result.decisions["o"].label == "cat"
    assert 0.75 <= result.decisions["o"].confidence <= 0.9


SIX = ("a", "b", "c", "d", "e", "f")  # the welding simulation's shape: six classes, 18 objects, workers at 0.8


def test_one_worker_per_object_mean_confidence_matches_accuracy():
    """One worker per object and no history: mean confidence within 0.05 of the accuracy."""
    confidences, right = [], []
    for seed in range(60):
        truth, votes = simulated(18, 1, 0.8, seed, classes=SIX)
        result = decide(votes, labels=SIX, abstain=None)
        confidences += [d.confidence for d in result.decisions.values()]
        right += [result.decisions[o].label == t for o, t in truth.items()]
    assert abs(np.mean(confidences) - np.mean(right)) <= 0.05


def test_three_way_disagreement_is_not_confident():
    truth, votes = simulated(18, 3, 0.8, 1)
    votes["split"] = ["cat", "dog", "bird"]
    result = decide(votes)
    assert result.decisions["split"].confidence < 0.9  # routed to review
    votes["same"] = ["cat", "cat", "cat"]
    assert decide(votes).decisions["same"].confidence > decide(votes).decisions["split"].confidence


def test_unanimous_three_is_confident_but_not_certain_in_a_small_batch():
    truth, votes = simulated(18, 3, 0.8, 2)
    votes["same"] = ["dog", "dog", "dog"]
    confidence = decide(votes).decisions["same"].confidence
    assert 0.9 < confidence < 0.999


def test_small_batches_are_calibrated_on_independent_workers():
    confidences, right = [], []
    for seed in range(30):
        truth, votes = simulated(18, 3, 0.8, seed)
        result = decide(votes)
        confidences += [d.confidence for d in result.decisions.values()]
        right += [result.decisions[o].label == t for o, t in truth.items()]
    assert abs(np.mean(confidences) - np.mean(right)) <= 0.05
    wrong_and_sure = [c >= 0.99 and not r for c, r in zip(confidences, right)]
    assert sum(wrong_and_sure) <= 0.02 * max(1, sum(c >= 0.99 for c in confidences))


def test_an_abstention_lowers_confidence_and_votes_for_nothing():
    truth, votes = simulated(18, 3, 0.8, 3)
    votes["full"] = ["bird", "bird", "bird"]
    votes["abstained"] = ["bird", "bird", "Not sure"]
    result = decide(votes)
    assert result.decisions["abstained"].label == "bird"
    assert result.decisions["abstained"].confidence < result.decisions["full"].confidence


@pytest.mark.parametrize("method", ["dawid-skene", "majority-vote"])
def test_abstain_is_the_label_only_on_a_strict_majority(method):
    result = decide({"half": ["Not sure", "cat"], "most": ["Not sure", "Not sure", "dog"],
                     "all": ["Not sure"] * 3, "some": ["Not sure", "dog", "dog"]}, method=method)
    assert result.decisions["half"].label == "cat"
    assert result.decisions["some"].label == "dog"
    for name in ("most", "all"):
        assert (result.decisions[name].label, result.decisions[name].confidence) == ("Not sure", 0.0)


def test_ties_are_not_won_by_the_first_name():
    """Many two-way ties: both classes win some, each the same on every run, and a tie is not confident."""
    votes = {f"t{i}": ["bird", "cat"] for i in range(40)}
    winners = {o: d.label for o, d in decide(votes, method="majority-vote").decisions.items()}
    assert set(winners.values()) == {"bird", "cat"}
    assert winners == {o: d.label for o, d in decide(votes, method="majority-vote").decisions.items()}
    assert all(winners[o] == tie_break(o, ["bird", "cat"]) for o in votes)
    model = decide(votes)
    assert set(d.label for d in model.decisions.values()) == {"bird", "cat"}
    assert all(d.confidence <= 0.5 + 1e-6 for d in model.decisions.values())


def test_a_question_tie_label_still_wins_its_ties():
    answers = [Answer("o", "w0", "Yes"), Answer("o", "w1", "No")]
    result = consolidate_choice(["o"], answers, ["Yes", "No"], method="majority-vote", tie="No")
    assert result.decisions["o"].label == "No"


def test_the_fit_reports_convergence():
    truth, votes = simulated(30, 3, 0.8, 4)
    result = decide(votes)
    assert result.converged and 1 <= result.iterations < 200
    rng = np.random.default_rng(0)
    objects, workers, answers = np.repeat(np.arange(30), 3), np.tile(np.arange(3), 30), rng.integers(0, 3, 90)
    capped = crowd_model.fit(objects, workers, answers, 30, 3, 3, max_iter=1, tol=0.0)
    assert (capped.iterations, capped.converged) == (1, False)


def test_the_fit_stops_at_the_invocations_time_for_fitting_and_says_it_did_not_converge():
    """A batch of answers with no signal iterated to the cap, past the function's timeout: the whole batch failed."""
    from gt_common import time_budget

    class Context:
        def __init__(self, millis):
            self.millis = millis

        def get_remaining_time_in_millis(self):
            return self.millis

    rng = np.random.default_rng(0)
    objects, workers, answers = np.repeat(np.arange(300), 3), rng.integers(0, 40, 900), rng.integers(0, 3, 900)
    with time_budget.limit(Context(0)):  # no time left for fitting: one iteration, its labels
        stopped = crowd_model.fit(objects, workers, answers, 300, 40, 3, tol=0.0)
    assert (stopped.iterations, stopped.converged) == (1, False) and stopped.posteriors.shape == (300, 3)
    assert not time_budget.expired()  # after the invocation, no deadline: other code in the process fits in full
    with time_budget.limit(Context(600_000)):
        assert crowd_model.fit(objects, workers, answers, 300, 40, 3, tol=0.0, max_iter=5).iterations == 5


def test_workers_who_err_together_are_tempered_independent_ones_are_not():
    """Tempering must earn its parameter (BIC): on 60 objects a herd's held-out gain (~1.5 nats) is not enough,
    on 240 it is."""
    truth, votes = simulated(240, 5, 0.8, 5)
    independent = decide(votes).temperature
    assert independent == 1.0
    rng = random.Random(6)
    herd = {}
    for o, t in truth.items():  # on a third of the objects everyone sees the same wrong class
        seen = t if rng.random() < 0.67 else rng.choice([c for c in ("cat", "dog", "bird") if c != t])
        herd[o] = [seen if rng.random() < 0.9 else t for _ in range(5)]
    assert decide(herd).temperature > 2 * independent


def test_batches_carry_the_job_memory_and_its_temperature():
    truth, votes = simulated(40, 3, 0.8, 7)
    first = decide(dict(list(votes.items())[:20]))
    assert len(first.learned.temper) == len(crowd_model.TEMPERATURES)
    stored = {"version": 2, "questions": {"q": first.learned.as_json()}}
    prior = merge([check_file(stored, {"q": 1000})])["q"]
    assert prior.temper == pytest.approx(first.learned.temper)
    second = decide(dict(list(votes.items())[20:]), prior=prior)
    assert second.converged
    merged = Entry()
    merged.add(first.learned)
    merged.add(second.learned)
    assert merged.temper == pytest.approx([a + b for a, b in zip(first.learned.temper, second.learned.temper)])


@pytest.mark.parametrize("temper, problem", [
    ([1.0, 2.0], "temper is not a list"),
    ("nope", "temper is not a list"),
    ([-1.0] * len(crowd_model.TEMPERATURES), "negative"),
    ([float("inf")] * len(crowd_model.TEMPERATURES), "not finite"),
])
def test_a_stored_temperature_evidence_is_checked(temper, problem):
    value = {"version": 2, "questions": {"q": {"workers": {}, "classes": {}, "temper": temper}}}
    with pytest.raises(ValueError, match=problem):
        check_file(value, {"q": 1000})


def test_an_object_nobody_answered_gets_no_label():
    result = decide({"a": ["cat", "cat"], "b": []})
    assert result.decisions["b"].label is None and result.decisions["b"].confidence == 0.0


def test_a_fit_stopped_at_its_cap_is_logged(caplog, monkeypatch):
    monkeypatch.setattr(crowd_model, "MAX_ITERATIONS", 1)
    truth, votes = simulated(30, 3, 0.8, 8)
    with caplog.at_level("WARNING"):
        result = decide(votes)
    assert (result.iterations, result.converged) == (1, False)
    assert "stopped at its cap of 1 iterations before converging" in caplog.text


def test_workers_seen_often_are_read_from_the_table_with_the_same_result(monkeypatch):
    """Leaving one answer out of 1,000 or more changes nothing that matters: labels equal, confidences within 0.005."""
    rng = np.random.default_rng(3)
    n = 1500
    truth = rng.integers(0, 3, n)
    objects, workers = np.repeat(np.arange(n), 3), np.tile(np.arange(3), n)
    answers = np.where(rng.random(3 * n) < 0.75, truth[objects], rng.integers(0, 3, 3 * n))
    table = crowd_model.fit(objects, workers, answers, n, 3, 3)
    monkeypatch.setattr(crowd_model, "EXACT_BELOW", 10 ** 9)
    exact = crowd_model.fit(objects, workers, answers, n, 3, 3)
    assert (table.posteriors.argmax(axis=1) == exact.posteriors.argmax(axis=1)).all()
    assert np.abs(table.confidences - exact.confidences).max() < 5e-3


def yes_no_job(seed, n_objects, rare=1 / 6, accuracy=0.8, workers=3):
    """The NER staging shape: a yes/no question, 3 workers at 0.8, "No" rarer than "Yes"."""
    rng = random.Random(seed)
    truth = {f"o{seed}-{i}": "No" if rng.random() < rare else "Yes" for i in range(n_objects)}
    votes = {o: [t if rng.random() < accuracy else ("No" if t == "Yes" else "Yes") for _ in range(workers)]
             for o, t in truth.items()}
    return truth, votes


@pytest.mark.parametrize("n_objects", [12, 40])
def test_a_small_yes_no_job_is_as_accurate_as_majority_vote_and_trusts_unanimous_objects(n_objects):
    """A rare class's accuracy is shrunk towards the crowd's over every class (``CLASS_ACCURACY_PRIOR``), so split
    votes do not drift to it; a unanimous object among workers at 0.8 is right ~98% of the time, and says so."""
    ours, majority, unanimous, unanimous_right = [], [], [], []
    for seed in range(40):
        truth, votes = yes_no_job(seed, n_objects)
        result = decide(votes, labels=("Yes", "No"), abstain=None)
        for o, t in truth.items():
            ours.append(result.decisions[o].label == t)
            majority.append(max(set(votes[o]), key=votes[o].count) == t)
            if len(set(votes[o])) == 1:
                unanimous.append(result.decisions[o].confidence)
                unanimous_right.append(votes[o][0] == t)
    assert np.mean(ours) >= np.mean(majority) - 0.01
    assert np.mean(unanimous) >= 0.95 and abs(np.mean(unanimous) - np.mean(unanimous_right)) <= 0.03


def test_a_tiny_batch_of_independent_workers_is_not_tempered():
    """12 objects x 3 answers cannot show workers erring together: the temperature stays 1 (BIC)."""
    temperatures = {decide(yes_no_job(seed, 12)[1], labels=("Yes", "No"), abstain=None).temperature
                    for seed in range(20)}
    assert temperatures == {1.0}


def test_an_answer_alone_on_its_object_confirms_nothing():
    """One answer per object: nothing tells a slip from the truth, so no worker's record, no class frequency
    and no confidence grows from it: every label is its answer at the prior's confidence, however skewed."""
    votes = {f"o{i}": ["cat" if i % 10 else "dog"] for i in range(50)}
    result = decide(votes)
    assert all(result.decisions[o].label == v[0] for o, v in votes.items())
    assert {round(d.confidence, 6) for d in result.decisions.values()} == {crowd_model.PRIOR_ACCURACY}
    assert sum(sum(row.values()) for nested in result.learned.workers.values() for row in nested.values()) == 0
    assert not result.learned.classes


def test_one_wrong_gold_answer_does_not_turn_one_worker_per_objects_votes_over():
    """One worker per object, so only the gold shows the crowd's accuracy: their one gold answer, wrong, lowers
    every confidence but leaves each other object's label its vote (with the pooled prior at 2 answers' worth that
    one miss made every lone vote here the gold object's class)."""
    rng = random.Random(1)
    votes = {f"o{i}": rng.choice(["Yes", "No"]) for i in range(20)}
    answers = [Answer(o, "ana", v) for o, v in votes.items()]
    missed = consolidate_choice(list(votes), answers, ["Yes", "No"], method="dawid-skene",
                                gold={"o0": "No" if votes["o0"] == "Yes" else "Yes"})
    kept = consolidate_choice(list(votes), answers, ["Yes", "No"], method="dawid-skene", gold={"o0": votes["o0"]})
    others = [o for o in votes if o != "o0"]
    assert all(missed.decisions[o].label == votes[o] for o in others)
    assert all(kept.decisions[o].label == votes[o] for o in others)
    assert all(0.5 <= missed.decisions[o].confidence < crowd_model.PRIOR_ACCURACY < kept.decisions[o].confidence
               for o in others)


def test_the_worker_prior_weighs_what_the_workers_spread_beyond_their_counts_shows():
    """The prior's weight is the Beta concentration of the workers' accuracies (moment estimate), within
    [WORKER_PRIOR_MIN, WORKER_PRIOR]; a handful of workers, or workers as alike as their counts allow, keep the most."""
    rng = np.random.default_rng(0)

    def estimated(concentration, workers=40, answers=30.0):
        accuracies = rng.beta(0.7 * concentration, 0.3 * concentration, size=workers)
        seen = np.full(workers, answers)
        return crowd_model.worker_prior_weight(rng.binomial(int(answers), accuracies).astype(float), seen)

    spread = [estimated(3.0) for _ in range(40)]
    assert 2.5 <= float(np.median(spread)) <= 4.0  # recovers the crowd's true concentration, 3
    assert all(crowd_model.WORKER_PRIOR_MIN <= value <= crowd_model.WORKER_PRIOR for value in spread)
    assert float(np.median([estimated(200.0) for _ in range(40)])) == crowd_model.WORKER_PRIOR  # alike workers
    few = crowd_model.WORKER_PRIOR_MIN_WORKERS - 1
    assert estimated(3.0, workers=few) == crowd_model.WORKER_PRIOR  # too few workers to tell a spread from noise
    # Workers seen once say nothing of the spread: 40 of them beside 3 counted workers leave the weight alone.
    seen = np.array([1.0] * 40 + [30.0] * 3)
    right = np.array([1.0, 0.0] * 20 + [29.0, 3.0, 15.0])
    assert crowd_model.worker_prior_weight(right, seen) == crowd_model.WORKER_PRIOR


def _class_biased_crowd_accuracy(seed: int, learned: bool, monkeypatch) -> float:
    """12 workers whose accuracy on each of two classes is drawn from Beta(1.2, 0.8) (mean 0.6, very different
    workers, each with a bias of their own), 40 objects in one batch."""
    monkeypatch.setattr(crowd_model, "WORKER_PRIOR_MIN", 2.0 if learned else crowd_model.WORKER_PRIOR)
    rng, draw = random.Random(seed), np.random.default_rng(seed)
    classes = ("cat", "dog")
    accuracy = draw.beta(1.2, 0.8, size=(12, 2))
    truth = {f"o{i}": rng.choice(classes) for i in range(40)}
    votes = {o: [t if rng.random() < accuracy[w, classes.index(t)] else classes[1 - classes.index(t)]
                 for w in range(12)] for o, t in truth.items()}
    result = decide(votes, labels=classes, abstain=None)
    return float(np.mean([result.decisions[o].label == t for o, t in truth.items()]))


def test_very_different_workers_are_judged_by_their_own_record_sooner(monkeypatch):
    """On crowds like duck's (workers of very different skill and bias) the learned weight lets each worker's
    record count after fewer answers: more objects right than with the fixed weight (0.910 vs 0.892 on these 120
    crowds)."""
    learned = [_class_biased_crowd_accuracy(seed, True, monkeypatch) for seed in range(120)]
    fixed = [_class_biased_crowd_accuracy(seed, False, monkeypatch) for seed in range(120)]
    assert np.mean(learned) >= np.mean(fixed) + 0.01
