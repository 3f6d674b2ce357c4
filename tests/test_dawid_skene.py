"""Dawid-Skene worker model (gt_common.dawid_skene): pure numpy, no AWS."""
from __future__ import annotations

import json

import numpy as np
import pytest

from gt_common.dawid_skene import (
    WorkerPrior,
    counts_by_worker,
    decide,
    decide_indices,
    fit,
    majority_vote,
)


def answers(rows):
    """(object, worker, label) triples -> the three index arrays."""
    if not rows:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)
    o, w, l = zip(*rows)
    return np.array(o), np.array(w), np.array(l)


def assert_finite_distribution(result, n_objects, n_workers, n_classes):
    assert result.posteriors.shape == (n_objects, n_classes)
    assert result.confusion.shape == (n_workers, n_classes, n_classes)
    assert result.worker_counts.shape == (n_workers, n_classes, n_classes)
    assert result.class_priors.shape == (n_classes,)
    for array in (result.posteriors, result.confusion, result.class_priors, result.worker_counts):
        assert np.all(np.isfinite(array))
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0)
    np.testing.assert_allclose(result.confusion.sum(axis=2), 1.0)
    np.testing.assert_allclose(result.class_priors.sum(), 1.0)


def naive_dawid_skene(rows, n_objects, n_workers, n_classes, iterations, smoothing, diagonal_bonus):
    """Textbook EM with Python loops, same initialisation and smoothing: the reference."""
    K = n_classes
    post = np.zeros((n_objects, K))
    for o, _, l in rows:
        post[o, l] += 1
    post /= post.sum(axis=1, keepdims=True)

    def m_step(post):
        counts = np.zeros((n_workers, K, K))
        for o, w, l in rows:
            counts[w, :, l] += post[o]
        smoothed = counts + smoothing + diagonal_bonus * np.eye(K)
        confusion = smoothed / smoothed.sum(axis=2, keepdims=True)
        priors = post.sum(axis=0) + smoothing
        return counts, confusion, priors / priors.sum()

    counts, confusion, priors = m_step(post)
    for _ in range(iterations):
        log_post = np.tile(np.log(priors), (n_objects, 1))
        for o, w, l in rows:
            log_post[o] += np.log(confusion[w, :, l])
        post = np.exp(log_post - log_post.max(axis=1, keepdims=True))
        post /= post.sum(axis=1, keepdims=True)
        counts, confusion, priors = m_step(post)
    return post, confusion, priors, counts


def test_vectorised_em_matches_a_naive_loop_implementation():
    rng = np.random.default_rng(3)
    n_objects, n_workers, K = 30, 6, 3
    truth = rng.integers(0, K, n_objects)
    rows = []
    for o in range(n_objects):
        for w in rng.choice(n_workers, 3, replace=False):
            label = truth[o] if rng.random() < 0.7 else rng.integers(0, K)
            rows.append((o, int(w), int(label)))
    o, w, l = answers(rows)
    result = fit(o, w, l, n_objects, n_workers, K, max_iter=7, tol=0.0, smoothing=0.3, diagonal_bonus=0.5)
    assert result.iterations == 7 and not result.converged
    post, confusion, priors, counts = naive_dawid_skene(rows, n_objects, n_workers, K, 7, 0.3, 0.5)
    np.testing.assert_allclose(result.posteriors, post, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.confusion, confusion, rtol=1e-10)
    np.testing.assert_allclose(result.class_priors, priors, rtol=1e-10)
    np.testing.assert_allclose(result.worker_counts, counts, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.worker_counts.sum(axis=(1, 2)), np.bincount(w, minlength=n_workers))


def spammer_crowd(seed=11, calibration=120, critical=6):
    """3 experts (workers 0-2) and 2 random spammers (3, 4), 2 classes.

    Calibration items: all five answer. Critical items: one expert answers the truth, both
    spammers answer the same wrong class, so majority vote is fooled 2 to 1."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, calibration + critical)
    rows = []
    for o in range(calibration):
        for w in range(3):
            rows.append((o, w, int(truth[o]) if rng.random() < 0.95 else 1 - int(truth[o])))
        for w in (3, 4):
            rows.append((o, w, int(rng.integers(0, 2))))
    for o in range(calibration, calibration + critical):
        rows.append((o, o % 3, int(truth[o])))
        rows.append((o, 3, 1 - int(truth[o])))
        rows.append((o, 4, 1 - int(truth[o])))
    return rows, truth


def test_spammers_agreeing_wrongly_are_outvoted_by_the_expert():
    rows, truth = spammer_crowd()
    o, w, l = answers(rows)
    n_objects = len(truth)
    critical = np.arange(120, n_objects)
    mv = majority_vote(o, l, n_objects, 2).argmax(axis=1)
    assert np.all(mv[critical] != truth[critical])  # majority vote is fooled on every one

    result = fit(o, w, l, n_objects, 5, 2)
    assert_finite_distribution(result, n_objects, 5, 2)
    labels, confidence = decide(result.posteriors, ["0", "1"])
    chosen = np.array([int(x) for x in labels])
    np.testing.assert_array_equal(chosen[critical], truth[critical])
    assert np.all(confidence[critical] > 0.8)
    assert (chosen == truth).mean() >= 0.99
    # The model learned who is who: experts near the diagonal, spammers near chance.
    assert np.all(np.diagonal(result.confusion[:3], axis1=1, axis2=2) > 0.85)
    assert np.all(np.abs(result.confusion[3:] - 0.5) < 0.15)


def test_always_wrong_worker_among_experts():
    rng = np.random.default_rng(5)
    n_objects, K = 80, 3
    truth = rng.integers(0, K, n_objects)
    rows = [(o, w, int(truth[o])) for o in range(n_objects) for w in range(3)]
    rows += [(o, 3, int((truth[o] + 1) % K)) for o in range(n_objects)]
    result = fit(*answers(rows), n_objects, 4, K)
    np.testing.assert_array_equal(result.posteriors.argmax(axis=1), truth)
    assert np.diagonal(result.confusion[3]).max() < 0.1
    assert np.diagonal(result.confusion[0]).min() > 0.9


def test_one_worker_only():
    labels = [0, 2, 1, 1, 0]
    rows = [(o, 0, label) for o, label in enumerate(labels)]
    result = fit(*answers(rows), 5, 1, 3)
    assert_finite_distribution(result, 5, 1, 3)
    np.testing.assert_array_equal(result.posteriors.argmax(axis=1), labels)


def test_one_object_only():
    rows = [(0, 0, 1), (0, 1, 1), (0, 2, 0)]
    result = fit(*answers(rows), 1, 3, 2)
    assert_finite_distribution(result, 1, 3, 2)
    labels, confidence = decide(result.posteriors, ["cat", "dog"])
    assert labels == ["dog"]
    assert 0.5 < confidence[0] <= 1.0


def test_one_answer_only():
    result = fit(*answers([(0, 0, 1)]), 1, 1, 2)
    assert_finite_distribution(result, 1, 1, 2)
    assert result.posteriors[0].argmax() == 1


def test_zero_answers():
    result = fit(*answers([]), 3, 0, 2)
    assert_finite_distribution(result, 3, 0, 2)
    assert result.iterations == 0 and result.converged
    np.testing.assert_allclose(result.posteriors, 0.5)
    assert result.log_likelihood == 0.0
    empty = fit(*answers([]), 0, 0, 4)
    assert empty.posteriors.shape == (0, 4)
    assert decide(empty.posteriors, ["a", "b", "c", "d"])[0] == []


def test_object_without_answers_gets_the_class_priors():
    rows = [(0, 0, 0), (0, 1, 0), (1, 0, 1), (1, 1, 1), (2, 0, 0), (2, 1, 0)]
    result = fit(*answers(rows), 4, 2, 2)
    assert_finite_distribution(result, 4, 2, 2)
    np.testing.assert_allclose(result.posteriors[3], result.class_priors)
    assert result.class_counts.sum() == pytest.approx(3.0)


def test_zero_iterations_give_the_majority_vote():
    rows = [(0, 0, 1), (0, 1, 1), (0, 2, 0), (1, 0, 0)]
    o, w, l = answers(rows)
    result = fit(o, w, l, 2, 3, 2, max_iter=0)
    assert result.iterations == 0 and not result.converged
    np.testing.assert_allclose(result.posteriors, majority_vote(o, l, 2, 2))


def test_class_nobody_chose_stays_finite():
    rows = [(o, w, (o + (w == 2)) % 2) for o in range(10) for w in range(3)]  # classes 0 and 1 only
    result = fit(*answers(rows), 10, 3, 4)
    assert_finite_distribution(result, 10, 3, 4)
    assert not np.isnan(result.posteriors).any()
    assert np.all(result.posteriors[:, 2:] < 0.01)
    assert np.all(result.posteriors[:, 2:] > 0)
    np.testing.assert_array_equal(result.posteriors.argmax(axis=1), np.arange(10) % 2)
    # Rows for the true classes nobody has are the smoothed, diagonal-favouring prior.
    for k in (2, 3):
        assert result.confusion[0, k].argmax() == k


def test_decide_breaks_ties_alphabetically_case_insensitive():
    posteriors = np.array([[0.5, 0.5, 0.0], [0.4, 0.3, 0.3], [0.2, 0.4, 0.4], [1 / 3 + 1e-12, 1 / 3, 1 / 3 - 1e-12]])
    labels, confidence = decide(posteriors, ["b", "A", "c"])
    assert labels == ["A", "b", "A", "A"]
    np.testing.assert_allclose(confidence, [0.5, 0.4, 0.4, 1 / 3])
    # A real difference above 1e-9 is not a tie.
    labels, _ = decide(np.array([[0.5 + 1e-6, 0.5 - 1e-6]]), ["zebra", "ant"])
    assert labels == ["zebra"]


def test_decide_prefers_a_real_class_to_abstain_in_a_tie():
    names = ["Not sure", "zebra", "ant"]
    posteriors = np.array([[0.5, 0.5, 0.0], [0.6, 0.2, 0.2], [0.4, 0.3, 0.3], [0.0, 0.5, 0.5]])
    labels, confidence = decide(posteriors, names, abstain="Not sure")
    assert labels == ["zebra", "Not sure", "Not sure", "ant"]
    np.testing.assert_allclose(confidence, [0.5, 0.6, 0.4, 0.5])
    # Without an abstain class, "Not sure" is just a name (n < z).
    assert decide(posteriors[:1], names)[0] == ["Not sure"]
    with pytest.raises(ValueError):
        decide(posteriors, names, abstain="Unsure")


def test_a_tie_order_replaces_the_alphabetical_rule():
    """A question's tie rule (gt_common.choices): the first tied class of ``tie_order`` wins."""
    names = ["zebra", "ant", "Not sure"]
    posteriors = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3], [0.2, 0.8, 0.0]])
    labels, confidence = decide(posteriors, names, abstain="Not sure", tie_order=["zebra", "ant", "Not sure"])
    assert labels == ["zebra", "ant", "zebra", "ant"]  # listed order; no tie, no change
    np.testing.assert_allclose(confidence, [0.5, 0.5, 1 / 3, 0.8])
    # The order may even put the abstain class first (a tie label the definition chose).
    assert decide(posteriors[1:2], names, abstain="Not sure", tie_order=["Not sure", "zebra", "ant"])[0] == ["Not sure"]
    # Classes the order leaves out come after it, by the default rule.
    assert decide(posteriors[:1], names, tie_order=["ant"])[0] == ["ant"]
    assert decide(posteriors[:1], names, tie_order=["Not sure"])[0] == ["ant"]


def test_tie_through_fit_is_deterministic_whatever_the_class_order():
    # Two workers, one answer each, disagreeing on the only object: a perfectly symmetric tie.
    for names in (["dog", "Cat"], ["Cat", "dog"]):
        rows = [(0, 0, 0), (0, 1, 1)]
        result = fit(*answers(rows), 1, 2, 2)
        np.testing.assert_allclose(result.posteriors[0], 0.5, atol=1e-12)
        labels, confidence = decide(result.posteriors, names)
        assert labels == ["Cat"]
        assert confidence[0] == pytest.approx(0.5)


def test_all_abstain_answers_label_the_object_abstain():
    names = ["cat", "dog", "Not sure"]
    rows = [(0, w, 2) for w in range(3)]  # object 0: everyone "Not sure"
    rows += [(o, w, o % 2) for o in range(1, 20) for w in range(3)]
    result = fit(*answers(rows), 20, 3, 3)
    assert_finite_distribution(result, 20, 3, 3)
    labels, confidence = decide(result.posteriors, names, abstain="Not sure")
    assert labels[0] == "Not sure"
    assert confidence[0] == pytest.approx(result.posteriors[0, 2])
    assert confidence[0] > 0.9
    assert labels[1:] == [names[o % 2] for o in range(1, 20)]
    # An object whose answers are split between abstain and a class, symmetric workers: the
    # class wins the tie.
    tie = fit(*answers([(0, 0, 2), (0, 1, 0)]), 1, 2, 3)
    assert decide(tie.posteriors, names, abstain="Not sure")[0] == ["cat"]


def batch_one(seed=2, n=150):
    """Workers 'alice' and 'erin' (experts), 'bob' and 'carol' (random spammers), labels 0/1.
    (With one expert only, no model could tell her from the spammers: it takes agreement.)"""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    workers = ["alice", "bob", "carol", "erin"]
    rows = []
    for o in range(n):
        for w in (0, 3):
            rows.append((o, w, int(truth[o]) if rng.random() < 0.95 else 1 - int(truth[o])))
        rows.append((o, 1, int(rng.integers(0, 2))))
        rows.append((o, 2, int(rng.integers(0, 2))))
    return workers, rows, truth


def test_counts_from_batch_one_discount_a_spammer_in_a_small_batch_two():
    workers1, rows1, truth1 = batch_one()
    result1 = fit(*answers(rows1), len(truth1), 4, 2)
    assert (result1.posteriors.argmax(axis=1) == truth1).mean() > 0.9
    stored = json.loads(json.dumps(counts_by_worker(workers1, result1.total_worker_counts)))
    stored_classes = result1.total_class_counts.tolist()

    # Batch 2: three objects; bob and carol agree against alice on each, a new worker dave
    # answers with alice on object 0 only. Worker indices are in another order than batch 1.
    workers2 = ["carol", "dave", "alice", "bob"]
    truth2 = np.array([1, 0, 1])
    rows2 = []
    for o, t in enumerate(truth2):
        rows2 += [(o, 2, int(t)), (o, 3, 1 - int(t)), (o, 0, 1 - int(t))]
    rows2.append((0, 1, int(truth2[0])))

    alone = fit(*answers(rows2), 3, 4, 2)
    assert np.all(alone.posteriors[1:].argmax(axis=1) != truth2[1:])  # the data alone follows bob+carol

    prior = WorkerPrior.from_mapping(workers2, stored, 2, class_counts=stored_classes)
    assert np.all(prior.worker_counts[1] == 0)  # dave is new
    np.testing.assert_allclose(prior.worker_counts[2], result1.total_worker_counts[0])
    informed = fit(*answers(rows2), 3, 4, 2, prior=prior)
    assert_finite_distribution(informed, 3, 4, 2)
    np.testing.assert_array_equal(informed.posteriors.argmax(axis=1), truth2)
    assert np.all(informed.posteriors[np.arange(3), truth2] > 0.8)
    # The counts to persist are batch 2's plus the prior's; batch 2 alone adds its answers.
    np.testing.assert_allclose(informed.total_worker_counts, informed.worker_counts + prior.worker_counts)
    np.testing.assert_allclose(informed.worker_counts.sum(axis=(1, 2)), [3, 1, 3, 3])
    np.testing.assert_allclose(informed.total_class_counts.sum(), len(truth1) + 3)
    # weight=0 forgets the prior again.
    forgot = fit(*answers(rows2), 3, 4, 2, prior=WorkerPrior(prior.worker_counts, prior.class_counts, weight=0.0))
    np.testing.assert_allclose(forgot.posteriors, alone.posteriors)


def test_invalid_input_is_rejected():
    o, w, l = answers([(0, 0, 0), (1, 1, 1)])
    with pytest.raises(ValueError):
        fit(o, w, l, 2, 2, 1)  # label 1 outside 1 class
    with pytest.raises(ValueError):
        fit(o, w, l, 1, 2, 2)  # object 1 outside 1 object
    with pytest.raises(ValueError):
        fit(o, w[:1], l, 2, 2, 2)
    with pytest.raises(ValueError):
        fit(o, w, l, 0, 2, 2)  # answers but no objects
    with pytest.raises(ValueError):
        fit(np.array([0.5, 1.0]), w, l, 2, 2, 2)  # not integers
    with pytest.raises(ValueError):
        fit(o, w, l, 2, 2, 2, smoothing=0.0)
    with pytest.raises(ValueError):
        fit(o, w, l, 2, 2, 2, prior=WorkerPrior(np.zeros((3, 2, 2))))
    with pytest.raises(ValueError):
        fit(o, w, l, 2, 2, 2, prior=WorkerPrior(-np.ones((2, 2, 2))))
    with pytest.raises(ValueError):
        WorkerPrior.from_mapping(["a"], {"a": [[1.0]]}, 2)
    with pytest.raises(ValueError):
        decide_indices(np.zeros((2, 3)), ["a", "b"])


def test_large_batch_is_fast_and_accurate():
    rng = np.random.default_rng(0)
    n, workers, K = 20_000, 30, 4
    truth = rng.integers(0, K, n)
    o = np.repeat(np.arange(n), 3)
    w = rng.integers(0, workers, 3 * n)
    accuracy = rng.uniform(0.55, 0.95, workers)
    right = rng.random(3 * n) < accuracy[w]
    l = np.where(right, truth[o], (truth[o] + rng.integers(1, K, 3 * n)) % K)
    result = fit(o, w, l, n, workers, K)
    assert_finite_distribution(result, n, workers, K)
    ds = (result.posteriors.argmax(axis=1) == truth).mean()
    mv = (decide_indices(majority_vote(o, l, n, K), list("abcd"))[0] == truth).mean()
    assert ds > mv
