"""Benchmark (not a test): is the published confidence the probability that the label is right?

    .venv/bin/python bench/bench_calibration.py [--no-write] [--previous c9c9ac6]

In the same run, on duck and face (../shared/data/crowd, ``bench_crowd_consolidation.load_crowd``) and
on the welding simulation (30 seeds, each a job of the 18 sample runs, 3 simulated workers at 0.8,
answers drawn as ``local_ground_truth.simulated_workers`` draws them, "Not sure" among the wrong
answers): ours (``gt_common.choices.consolidate_choice``, the worker model, as the consolidation
Lambda calls it), crowd-kit 1.4.2's DawidSkene posterior and the majority vote's share (crowd-kit's
MajorityVote; bench/.venv-crowdkit, made by bench/setup_crowdkit.sh). Measures: accuracy, ECE (10
equal-width bins, top-label), share of labels with confidence >= 0.99 that are wrong, share of the
errors caught by routing confidence < 0.9 and share of objects routed. Ours also in batches of 10
objects with the worker memory carried (``worker_model.merge`` of each batch's ``learned``), as published and
revised at the job's end (``gt_common.job_confidence.revise``), and with one worker per object (the first answer
of each object). Small yes/no jobs (the NER staging shape: 12 and 40 objects, 3 simulated workers at 0.8, one
class rarer) measure unanimous and split objects' confidence against their accuracy, now and with the worker
model at ``--before``. The 100,000 x 3 fit is timed beside the
plug-in Dawid-Skene (``dawid_skene.fit``) and the worker model at ``--before`` in the same process, and the
whole consolidation Lambda on that batch beside the code at ``--previous`` (before this model). Also in the same run: the three data sets
with 10% of the objects given as gold (``is_gold``, measured on the others; also with one worker per object,
beside those objects' lone answers), and the simulation with a
colluding pair added to its honest workers (our accuracy beside majority vote's, and whether the pair,
and only it, is flagged). Results: bench/results/calibration.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "lambda_src"), str(REPO / "bench")]

from bench_crowd_consolidation import CROWDKIT_VENV, DATA, load_crowd  # noqa: E402

RESULTS = REPO / "bench" / "results" / "calibration.md"
SEEDS, WORKERS, ACCURACY, BATCH = 30, 3, 0.8, 10
ORDERS = 8  # orders of the objects the batches are cut from: the data's own and 7 shuffles
GOLD_SHARE = 0.10  # objects marked gold (by a hash of the object id) in the gold variants
GOLD = f"{GOLD_SHARE:.0%} gold"
REVISED = "revised at the job's end"  # the review's confidence (``job_confidence.revise``), not the batch's


def batch_orders(*qualifiers: str) -> str:
    """The title of a row of batches of ``BATCH`` measured as the mean over ``ORDERS`` orders of the objects."""
    return ", ".join([f"ours, batches of {BATCH}", *qualifiers, f"mean of {ORDERS} orders of the objects"])


BATCH_ORDERS, REVISED_ORDERS = batch_orders(), batch_orders(REVISED)
GOLD_ORDERS, GOLD_REVISED_ORDERS = batch_orders(GOLD), batch_orders(GOLD, REVISED)
#: Each mean-of-orders row, by what its per-order line names beside the data set.
ORDER_ROWS = {BATCH_ORDERS: (), REVISED_ORDERS: (REVISED,), GOLD_ORDERS: (GOLD,), GOLD_REVISED_ORDERS: (GOLD, REVISED)}
COLLUDERS = 2  # the colluding pair added to the simulation's honest workers


def is_gold(object_id: str) -> bool:
    """The same ~10% of objects in every variant and run: a hash of the id, never the truth."""
    import hashlib

    return int.from_bytes(hashlib.blake2b(object_id.encode(), digest_size=4).digest(), "big") / 2 ** 32 < GOLD_SHARE


def simulation(colluders: int = 0):
    """``[(questions, workers, answers, truth)]``, one per seed: the welding job simulated; ``colluders``
    extra workers who all give one random label per object (drawn uniformly among the question's labels)."""
    import workflows
    from local_ground_truth.simulated_workers import answer_values

    question = workflows.definition("welding").questions[0]
    truth = {k: v[question.name] for k, v in json.loads((REPO / "sample_data/welding/truth.json").read_text()).items()}
    jobs = []
    for seed in range(SEEDS):
        rng = random.Random(seed)
        q, w, a = [], [], []
        for object_id, label in truth.items():
            for n in range(WORKERS):
                q.append(f"{seed}:{object_id}")
                w.append(f"simulated-{n + 1}")
                a.append(answer_values([question], {question.name: label}, ACCURACY, rng)[question.name])
            shared = rng.choice(question.labels) if colluders else None  # no draw without: the same honest answers
            for n in range(colluders):
                q.append(f"{seed}:{object_id}")
                w.append(f"colluder-{n + 1}")
                a.append(shared)
        jobs.append((q, w, a, {f"{seed}:{k}": v for k, v in truth.items()}))
    return question, jobs


def metrics(confidence, right) -> dict:
    confidence, right = np.asarray(confidence, float), np.asarray(right, bool)
    bins = np.minimum((confidence * 10).astype(int), 9)
    ece = sum(abs(confidence[bins == b].mean() - right[bins == b].mean()) * (bins == b).mean()
              for b in range(10) if (bins == b).any())
    sure, routed, wrong = confidence >= 0.99, confidence < 0.9, ~right
    return {"accuracy": right.mean(), "ece": ece, "sure_wrong": (sure & wrong).sum() / max(sure.sum(), 1),
            "caught": (routed & wrong).sum() / max(wrong.sum(), 1), "routed": routed.mean(),
            "mean_confidence": confidence.mean()}


def ours(questions, workers, answers, truth, labels, abstain, batch=None, one_worker=False, gold=False,
         evaluate=None, order=0, revised=False):
    """Our labels and confidences for the objects with truth; ``batch``: objects per batch, memory carried;
    ``gold``: the ``is_gold`` objects' truth given as gold (and left out of the measure); ``evaluate``: only
    these objects are measured; ``order``: 0 the objects in the data's order, else a shuffle seeded by it;
    ``revised``: the confidences as the review revises them at the job's end (``job_confidence.revise``, from
    the evidence each value keeps), not as each batch published them."""
    from gt_common import job_confidence
    from gt_common.choices import Answer, consolidate_choice
    from gt_common.worker_model import merge

    rows = list(zip(questions, workers, answers))
    if one_worker:
        first, seen = [], set()
        for row in rows:
            if row[0] not in seen:
                seen.add(row[0])
                first.append(row)
        rows = first
    object_ids = list(dict.fromkeys(r[0] for r in rows))
    if order:
        random.Random(order).shuffle(object_ids)
    chunks = [object_ids] if batch is None else [object_ids[i:i + batch] for i in range(0, len(object_ids), batch)]
    by_object: dict[str, list] = {}
    for row in rows:
        by_object.setdefault(row[0], []).append(Answer(*row))
    known = {o: label for o, label in truth.items() if gold and is_gold(o)}
    classes = [label for label in labels if label != abstain]
    decisions, values, memory, stats, flagged = {}, {}, [], [], []
    for chunk in chunks:
        prior = merge([{"q": e} for e in memory]).get("q")
        result = consolidate_choice(chunk, [a for o in chunk for a in by_object[o]], labels, method="dawid-skene",
                                    abstain=abstain, prior=prior, gold={o: known[o] for o in chunk if o in known})
        decisions.update(result.decisions)
        if revised:
            values.update(values_with_evidence(result, classes))
        memory.append(result.learned)
        stats.append((result.iterations, result.converged, result.temperature))
        flagged += [frozenset((p.first, p.second)) for p in result.colluding]
    confidence = {o: decision.confidence for o, decision in decisions.items()}
    if revised:
        confidence.update({o: value["confidence"] for o, value in job_confidence.revise(values, classes).items()})
    kept = [o for o in truth if o in decisions and o not in known and (evaluate is None or o in evaluate)]
    return [confidence[o] for o in kept], [decisions[o].label == truth[o] for o in kept], stats, flagged


def values_with_evidence(result, classes) -> dict:
    """Per object of one batch, its value as the consolidation Lambda writes it for the review: label, confidence,
    known class if gold, and the evidence (``workflow_consolidation``; an abstain or no label keeps none)."""
    from gt_common import job_confidence
    from gt_common.gold import GOLD_KEY

    values = {}
    for i, (object_id, label, confidence) in enumerate(zip(result.object_ids, result.labels, result.confidences)):
        value = {"label": label, "confidence": confidence}
        if object_id in result.gold:
            value[GOLD_KEY] = result.gold[object_id]
        values[object_id] = job_confidence.keep_evidence(value, result, i, classes)
    return values


def mean_of_orders(qs, ws, as_, ts, labels, abstain, **options) -> dict:
    """Batches of ``BATCH`` in each of ``ORDERS`` orders of the objects, the jobs of one order pooled: the mean of
    the orders' measures, and each order's accuracy and ECE."""
    orders = []  # which objects share a batch changes what each batch can learn: one order is one draw
    for order in range(ORDERS):
        parts = [ours(q, w, a, t, labels, abstain, batch=BATCH, order=order, **options)
                 for q, w, a, t in zip(qs, ws, as_, ts)]
        orders.append(metrics([c for p in parts for c in p[0]], [r for p in parts for r in p[1]]))
    row = {key: float(np.mean([m[key] for m in orders])) for key in orders[0]}
    row["orders"] = [(m["accuracy"], m["ece"]) for m in orders]
    return row


YES_NO_JOBS, YES_NO_OBJECTS, YES_NO_RARE = 300, 12, 1 / 6  # the NER staging shape: 12 objects, 3 workers, "No" rarer


def yes_no_jobs(n_objects: int = YES_NO_OBJECTS, jobs: int = YES_NO_JOBS):
    """Small yes/no jobs: 3 workers at 0.8 on ``n_objects`` objects whose class is "No" with probability 1/6."""
    out = []
    for seed in range(jobs):
        rng = random.Random(seed)
        truth = {f"{seed}:{i}": "No" if rng.random() < YES_NO_RARE else "Yes" for i in range(n_objects)}
        votes = {o: [t if rng.random() < ACCURACY else ("No" if t == "Yes" else "Yes") for _ in range(WORKERS)]
                 for o, t in truth.items()}
        out.append((truth, votes))
    return out


def yes_no_rows(model) -> dict:
    """Per kind of object (unanimous, split), mean confidence against accuracy; accuracy beside majority vote."""
    from gt_common import choices
    from gt_common.choices import Answer, consolidate_choice

    saved, choices.crowd_model = choices.crowd_model, with_empty_evidence(model)
    try:
        rows = {"unanimous": ([], []), "split": ([], []), "every": ([], [])}
        majority, temperatures = [], []
        for n_objects in (YES_NO_OBJECTS, 40):
            for truth, votes in yes_no_jobs(n_objects, YES_NO_JOBS if n_objects == YES_NO_OBJECTS else 100):
                answers = [Answer(o, f"w{i}", v) for o, vs in votes.items() for i, v in enumerate(vs)]
                result = consolidate_choice(list(truth), answers, ["Yes", "No"], method="dawid-skene", tie="No")
                temperatures.append(result.temperature)
                for o, t in truth.items():
                    decision = result.decisions[o]
                    kind = "unanimous" if len(set(votes[o])) == 1 else "split"
                    for key in (kind, "every"):
                        rows[key][0].append(decision.confidence)
                        rows[key][1].append(decision.label == t)
                    majority.append(max(set(votes[o]), key=votes[o].count) == t)
        return {"rows": {k: (len(c), float(np.mean(c)), float(np.mean(r))) for k, (c, r) in rows.items()},
                "majority": float(np.mean(majority)), "tempered": float(np.mean(np.array(temperatures) > 1))}
    finally:
        choices.crowd_model = saved


def with_empty_evidence(model):
    """``model`` as ``choices`` now calls it: a worker model from before the job's evidence (9a8f7fa) fits without
    ``log_likelihood``, ``log_prior`` and ``answers_seen``, so its batches keep none (the yes/no rows read only labels,
    confidences and temperatures)."""
    import types

    if "log_likelihood" in model.Fit.__dataclass_fields__:
        return model

    def fit(*args, **kwargs):
        result = model.fit(*args, **kwargs)
        return types.SimpleNamespace(**{name: getattr(result, name) for name in result.__dataclass_fields__},
                                     log_likelihood=None, log_prior=None, answers_seen=0.0)

    return types.SimpleNamespace(**{**vars(model), "fit": fit})


HETERO_JOBS, HETERO_OBJECTS, HETERO_WORKERS, HETERO_PER_OBJECT = 40, 108, 39, 7


def heterogeneous_jobs():
    """Crowds of very different workers, as on duck: each worker's accuracy on each of two classes drawn from
    Beta(0.68 x 2.3, 0.32 x 2.3) (a bias of their own), 7 of the 39 per object, a quarter of the objects hard
    (every answer on them 0.3 less likely right)."""
    jobs = []
    for seed in range(HETERO_JOBS):
        draw, rng = np.random.default_rng(seed), random.Random(seed)
        accuracy = draw.beta(0.68 * 2.3, 0.32 * 2.3, size=(HETERO_WORKERS, 2))
        labels = ["no", "yes"]
        truth = {f"{seed}-{i}": rng.choice(labels) for i in range(HETERO_OBJECTS)}
        q, w, a = [], [], []
        for o, t in truth.items():
            z, hard = labels.index(t), 0.3 if rng.random() < 0.25 else 0.0
            for k in rng.sample(range(HETERO_WORKERS), HETERO_PER_OBJECT):
                q.append(o)
                w.append(f"w{k}")
                a.append(t if rng.random() < accuracy[k, z] - hard else labels[1 - z])
        jobs.append((q, w, a, truth, labels))
    return jobs


def heterogeneous_rows() -> list:
    """The worker prior's weight learned from the workers' spread (``crowd_model.worker_prior_weight``) against
    it fixed at ``WORKER_PRIOR``, one batch and batches of ``BATCH``, on ``heterogeneous_jobs``."""
    from gt_common import crowd_model

    jobs, rows, saved = heterogeneous_jobs(), [], crowd_model.WORKER_PRIOR_MIN
    try:
        for weight, minimum in (("learned", saved), (f"fixed at {crowd_model.WORKER_PRIOR:g}", crowd_model.WORKER_PRIOR)):
            crowd_model.WORKER_PRIOR_MIN = minimum
            for title, options in (("one batch", {}), (f"batches of {BATCH}", {"batch": BATCH})):
                parts = [ours(q, w, a, t, labels, None, **options) for q, w, a, t, labels in jobs]
                rows.append((f"{weight}, {title}", metrics([c for p in parts for c in p[0]],
                                                           [r for p in parts for r in p[1]])))
    finally:
        crowd_model.WORKER_PRIOR_MIN = saved
    return rows


def model_at(revision: str):
    """``gt_common.crowd_model`` as it was at ``revision`` (it imports nothing of the project), as a module."""
    import importlib.util

    source = subprocess.run(["git", "-C", str(REPO), "show", f"{revision}:lambda_src/gt_common/crowd_model.py"],
                            check=True, capture_output=True, text=True).stdout
    name = f"crowd_model_at_{revision}"
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:crowd_model.py", "exec"), module.__dict__)
    return module


def crowd_against_gold(questions, workers, answers, truth) -> dict:
    """What the gold says that answers alone cannot: how often no answer on an object named its gold class,
    how often the majority matches the gold, and how often a held-out answer matches the others' majority
    (ties: any tied class counts as the majority)."""
    by_object: dict[str, list[str]] = {}
    for q, a in zip(questions, answers):
        by_object.setdefault(q, []).append(a)
    never, gold_with_majority, held_out, unanimous_right = [], [], [], []
    for q, given in by_object.items():
        counts = {label: given.count(label) for label in set(given)}
        top = max(counts.values())
        if len(counts) == 1 and len(given) > 1:
            unanimous_right.append(truth[q] in counts)
        never.append(truth[q] not in counts)
        gold_with_majority.append(counts.get(truth[q], 0) == top)
        for i, a in enumerate(given):
            others = given[:i] + given[i + 1:]
            if others:
                held_out.append(others.count(a) == max(others.count(x) for x in set(others)))
    return {"never": float(np.mean(never)), "gold": float(np.mean(gold_with_majority)),
            "held_out": float(np.mean(held_out)), "answers_per_object": len(questions) / len(by_object),
            "unanimous": len(unanimous_right),
            "unanimous_right": float(np.mean(unanimous_right)) if unanimous_right else float("nan")}


def plug_in(questions, workers, answers):
    """The published label and confidence before this model: plug-in Dawid-Skene, smoothing 0.01."""
    from gt_common import dawid_skene

    q_names, o = np.unique(np.asarray(questions), return_inverse=True)
    w_names, w = np.unique(np.asarray(workers), return_inverse=True)
    c_names, a = np.unique(np.asarray(answers), return_inverse=True)
    result = dawid_skene.fit(o, w, a, len(q_names), len(w_names), len(c_names))
    labels, confidence = dawid_skene.decide(result.posteriors, c_names.tolist())
    return dict(zip(q_names.tolist(), labels)), dict(zip(q_names.tolist(), confidence.tolist()))


def verdicts(rows) -> list[str]:
    """The issue's targets, each met or MISSED, from this run's rows."""
    got = {(name, title): row for name, title, row in rows}
    out = []
    for name in ("duck", "face"):
        ours_, kit = got[(name, "ours, one batch")], got[(name, "crowd-kit DawidSkene posterior")]
        out.append(check(f"{name}: accuracy {ours_['accuracy']:.3f} >= crowd-kit DS {kit['accuracy']:.3f} - 0.005",
                         ours_["accuracy"] >= kit["accuracy"] - 0.005))
    for name, limit in (("duck", 0.06), ("face", 0.15), ("simulation", 0.06)):
        row = got[(name, "ours, one batch")]
        out.append(check(f"{name}: ECE {row['ece']:.3f} <= {limit}", row["ece"] <= limit))
        out.append(check(f"{name}: labels with confidence >= 0.99 wrong {row['sure_wrong']:.1%} <= 2%",
                         row["sure_wrong"] <= 0.02))
    sim = got[("simulation", "ours, one batch")]
    out.append(check(f"simulation: routing < 0.9 catches {sim['caught']:.1%} >= 60% of errors sending "
                     f"{sim['routed']:.1%} <= 35%", sim["caught"] >= 0.6 and sim["routed"] <= 0.35))
    for name in ("duck", "face", "simulation"):
        one, batched = got[(name, "ours, one batch")], got[(name, BATCH_ORDERS)]
        data_order = got[(name, f"ours, batches of {BATCH}")]
        out.append(check(f"{name}: batches of {BATCH} (mean of {ORDERS} orders) accuracy {batched['accuracy']:.3f} vs "
                         f"{one['accuracy']:.3f}, ECE {batched['ece']:.3f} vs {one['ece']:.3f} (within 0.01 / 0.02; "
                         f"the data's order alone: {data_order['accuracy']:.3f}, {data_order['ece']:.3f})",
                         abs(batched["accuracy"] - one["accuracy"]) <= 0.01
                         and abs(batched["ece"] - one["ece"]) <= 0.02))
        revised = got[(name, REVISED_ORDERS)]
        out.append(check(f"{name}: batches of {BATCH} {REVISED} (mean of {ORDERS} orders) accuracy "
                         f"{revised['accuracy']:.3f} vs {one['accuracy']:.3f}, ECE {revised['ece']:.3f} vs "
                         f"{one['ece']:.3f} (within 0.01 / 0.02; as published: {batched['ece']:.3f})",
                         abs(revised["accuracy"] - one["accuracy"]) <= 0.01
                         and abs(revised["ece"] - one["ece"]) <= 0.02))
    lone = got[("simulation", "ours, one worker per object")]
    out.append(check(f"simulation, one worker per object: mean confidence {lone['mean_confidence']:.3f} vs accuracy "
                     f"{lone['accuracy']:.3f} (within 0.05)", abs(lone["mean_confidence"] - lone["accuracy"]) <= 0.05))
    return out


def check(text: str, ok: bool) -> str:
    return f"- {'met' if ok else 'MISSED'}: {text}"


def crowdkit_child() -> None:
    import pandas as pd
    from crowdkit.aggregation import DawidSkene, MajorityVote

    jobs = json.loads(sys.stdin.read())
    out = {}
    for name, (q, w, a, truth) in jobs.items():
        frame = pd.DataFrame({"task": q, "worker": w, "label": a})
        ds = DawidSkene(n_iter=100).fit(frame).probas_
        mv = MajorityVote().fit(frame).probas_
        out[name] = {kind: {task: [str(p.idxmax()), float(p.max())] for task, p in probas.iterrows()}
                     for kind, probas in (("ds", ds), ("mv", mv))}
    print(json.dumps(out))


def crowdkit(jobs: dict) -> dict:
    python = CROWDKIT_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run(["bash", str(REPO / "bench" / "setup_crowdkit.sh"), str(CROWDKIT_VENV)], check=True)
    proc = subprocess.run([str(python), __file__, "--crowdkit-child"], input=json.dumps(jobs), check=True,
                          capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def timing(before, n_objects=100_000, n_workers=50, n_classes=4, repeat=6) -> dict:
    from gt_common import crowd_model, dawid_skene

    rng = np.random.default_rng(42)
    truth = rng.integers(0, n_classes, n_objects)
    o = np.repeat(np.arange(n_objects), 3)
    w = np.stack([rng.permutation(n_workers)[:3] for _ in range(1000)])[np.arange(n_objects) % 1000].ravel()
    skill = rng.uniform(0.55, 0.95, n_workers)
    right = rng.random(o.size) < skill[w]
    a = np.where(right, truth[o], (truth[o] + rng.integers(1, n_classes, o.size)) % n_classes)
    old = model_at(before)
    times = {"plug-in Dawid-Skene (dawid_skene.fit)": [], f"calibrated model at {before}": [],
             "calibrated model (now)": []}
    fits = list(zip(times, (dawid_skene.fit, old.fit, crowd_model.fit)))
    for run in range(repeat):  # alternating, each first in turn, so machine noise and warm-up hit each alike
        for title, fit_of in fits[run % 3:] + fits[:run % 3]:
            start = time.perf_counter()
            fitted = fit_of(o, w, a, n_objects, n_workers, n_classes)
            times[title].append(time.perf_counter() - start)
            if fit_of is crowd_model.fit:
                fit = fitted
    return {"best": {k: min(v) for k, v in times.items()}, "iterations": fit.iterations, "converged": fit.converged}


def handler_large(previous: str, objects: int = 100_000, repeat: int = 2) -> dict:
    """The 100,000 x 3 batch through the whole consolidation Lambda, now and at ``previous`` (same payload,
    same run, alternating), each invocation in a process of its own (``bench_consolidation_handler``)."""
    import logging
    import tempfile

    import boto3
    from moto.server import ThreadedMotoServer

    from bench_consolidation_handler import QUESTION, environment, for_job, labels_of, large_payload, put_payload
    from previous_code import lambda_tree, run_handler

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="large")
        body, truth = large_payload(objects, 3)
        event = put_payload(s3, "large", f"payloads/{objects}x3.json", body, 3)
        del body
        with tempfile.TemporaryDirectory() as folder:
            trees = {"now": REPO / "lambda_src", previous: lambda_tree(previous, Path(folder))}
            out = {name: {"seconds": [], "accuracy": None} for name in trees}
            for run in range(repeat):
                for name, tree in trees.items():
                    job = f"large-{name}-{run}"  # its own state, so no run sees another's memory
                    moved = for_job(event, "large", job)
                    result = run_handler(tree, "consolidation", environment("dawid-skene", QUESTION), [moved],
                                         endpoint)
                    (done,) = result["runs"]
                    labels = labels_of(done["response"])
                    out[name]["seconds"].append(done["seconds"])
                    out[name]["accuracy"] = sum(labels.get(k) == v for k, v in truth.items()) / len(truth)
                    out[name]["peak_rss_mb"] = result["peak_rss_mb"]
                    out[name]["refused"] = done.get("refused")
        return out
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--previous", default="c9c9ac6",
                        help="git revision whose consolidation Lambda the 100,000 x 3 batch is compared with")
    parser.add_argument("--before", default="42dce18",
                        help="git revision whose worker model the small yes/no jobs and the 100,000 x 3 fit compare with")
    parser.add_argument("--crowdkit-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.crowdkit_child:
        crowdkit_child()
        return
    question, sim_jobs = simulation()
    _, colluding_jobs = simulation(COLLUDERS)
    datasets = {}
    for name in ("duck", "face"):
        q, w, a, truth = load_crowd(name)
        datasets[name] = ([q], [w], [a], [truth], sorted(set(a) | set(truth.values())), None)
    datasets["simulation"] = ([j[0] for j in sim_jobs], [j[1] for j in sim_jobs], [j[2] for j in sim_jobs],
                              [j[3] for j in sim_jobs], list(question.labels), question.abstain)
    kit_jobs = {f"{name}#{i}": (q, w, a, t) for name, (qs, ws, as_, ts, _, _) in datasets.items()
                for i, (q, w, a, t) in enumerate(zip(qs, ws, as_, ts))}
    kit_jobs.update({f"collusion#{i}": job for i, job in enumerate(colluding_jobs)})
    kit = crowdkit(kit_jobs)
    rows = []
    for name, (qs, ws, as_, ts, labels, abstain) in datasets.items():
        variants = {"ours, one batch": {}, f"ours, batches of {BATCH}": {"batch": BATCH},
                    "ours, one worker per object": {"one_worker": True},
                    GOLD_ROWS[0]: {"evaluate": "not gold"}, GOLD_ROWS[1]: {"gold": True},
                    GOLD_ROWS[2]: {"batch": BATCH, "gold": True},
                    GOLD_REVISED: {"batch": BATCH, "gold": True, "revised": True},
                    ONE_WORKER_GOLD: {"one_worker": True, "gold": True}}
        for variant, options in variants.items():
            if options.get("evaluate") == "not gold":
                options = {"evaluate": {o for t in ts for o in t if not is_gold(o)}}
            parts = [ours(q, w, a, t, labels, abstain, **options) for q, w, a, t in zip(qs, ws, as_, ts)]
            row = metrics([c for p in parts for c in p[0]], [r for p in parts for r in p[1]])
            stats = [s for p in parts for s in p[2]]
            row.update(iterations=max(s[0] for s in stats), converged=all(s[1] for s in stats),
                       temperatures=sorted({s[2] for s in stats}))
            if variant == ONE_WORKER_GOLD:
                row["lone_answers"] = lone_answers_accuracy(qs, as_, ts)
            rows.append((name, variant, row))
        for title, options in ((BATCH_ORDERS, {}), (REVISED_ORDERS, {"revised": True}), (GOLD_ORDERS, {"gold": True}),
                               (GOLD_REVISED_ORDERS, {"gold": True, "revised": True})):
            rows.append((name, title, mean_of_orders(qs, ws, as_, ts, labels, abstain, **options)))
        conf, right = [], []
        for q, w, a, t in zip(qs, ws, as_, ts):
            labels_, confidence = plug_in(q, w, a)
            conf += [confidence[o] for o in t]
            right += [labels_[o] == label for o, label in t.items()]
        rows.append((name, "plug-in Dawid-Skene (the code before, dawid_skene.fit)", metrics(conf, right)))
        for kind, title in (("ds", "crowd-kit DawidSkene posterior"), ("mv", "majority-vote share (crowd-kit)")):
            conf, right = [], []
            for i, truth in enumerate(ts):
                got = kit[f"{name}#{i}"][kind]
                for o, label in truth.items():
                    conf.append(got[o][1])
                    right.append(got[o][0] == label)
            rows.append((name, title, metrics(conf, right)))
    against_gold = {name: crowd_against_gold(*[part[0] for part in datasets[name][:4]]) for name in ("duck", "face")}
    collusion = colluding_rows(question, colluding_jobs, kit)
    collusion["false_flags"] = false_flags()
    from gt_common import crowd_model

    yes_no = {"now": yes_no_rows(crowd_model), args.before: yes_no_rows(model_at(args.before))}
    yes_no["heterogeneous"] = heterogeneous_rows()
    speed = timing(args.before)
    speed["handler"] = handler_large(args.previous)
    speed["previous"] = args.previous
    text = report(rows, collusion, speed, yes_no, against_gold)
    print(text)
    if not args.no_write:
        RESULTS.write_text(text)


def colluding_rows(question, jobs, kit) -> dict:
    """The colluding pair among the simulation's honest workers: ours (one batch and batches of 10) beside
    crowd-kit's DawidSkene and majority vote, and how often the pair (and anyone else) was flagged."""
    pair = frozenset(f"colluder-{n + 1}" for n in range(COLLUDERS))
    rows, flags = [], {}
    for title, options in (("ours, one batch", {}), (f"ours, batches of {BATCH}", {"batch": BATCH})):
        parts = [ours(q, w, a, t, list(question.labels), question.abstain, **options) for q, w, a, t in jobs]
        rows.append(("collusion", title, metrics([c for p in parts for c in p[0]], [r for p in parts for r in p[1]])))
        flags[title] = (sum(pair in set(p[3]) for p in parts), sum(any(f != pair for f in p[3]) for p in parts))
    for kind, title in (("ds", "crowd-kit DawidSkene posterior"), ("mv", "majority-vote share (crowd-kit)")):
        conf, right = [], []
        for i, (_, _, _, truth) in enumerate(jobs):
            got = kit[f"collusion#{i}"][kind]
            conf += [got[o][1] for o in truth]
            right += [got[o][0] == label for o, label in truth.items()]
        rows.append(("collusion", title, metrics(conf, right)))
    return {"rows": rows, "flags": flags, "jobs": len(jobs)}


#: Crowds without colluders, to count pairs flagged by chance: (skilled workers, random answerers, objects,
#: workers per object) per shape, FALSE_FLAG_JOBS jobs each, skilled workers right 80% of the time.
FALSE_FLAG_SHAPES, FALSE_FLAG_JOBS = ((6, 4, 60, 5), (5, 5, 50, 4)), 800


def false_flags() -> dict:
    """Pairs flagged in crowds with no colluders (the floor is 0), by the kinds of workers they join."""
    from gt_common.choices import Answer, consolidate_choice

    labels = ["A", "B", "C", "D", "Not sure"]
    out = {}
    for shape in FALSE_FLAG_SHAPES:
        skilled, random_answerers, n_objects, per_object = shape
        rng = np.random.default_rng(11)
        pool = [f"skilled-{i}" for i in range(skilled)] + [f"random-{i}" for i in range(random_answerers)]
        kinds = {"two skilled": 0, "skilled and random": 0, "two random": 0}
        for _ in range(FALSE_FLAG_JOBS):
            answers = []
            for o in range(n_objects):
                truth = labels[rng.integers(4)]
                for worker in rng.choice(pool, per_object, replace=False):
                    right = worker.startswith("skilled") and rng.random() < 0.8
                    answers.append(Answer(f"o{o}", str(worker), truth if right else labels[rng.integers(5)]))
            result = consolidate_choice([f"o{o}" for o in range(n_objects)], answers, labels, method="dawid-skene",
                                        abstain="Not sure")
            for pair in result.colluding:
                random_ones = sum(name.startswith("random") for name in (pair.first, pair.second))
                kinds[("two skilled", "skilled and random", "two random")[random_ones]] += 1
        out[shape] = kinds
    return out


GOLD_ROWS = ("ours, one batch, objects that are not gold (no gold given)", f"ours, one batch, {GOLD}",
             f"ours, batches of {BATCH}, {GOLD}")
GOLD_REVISED = f"ours, batches of {BATCH}, {GOLD}, {REVISED}"  # in the data's order, as GOLD_ROWS[2]
ONE_WORKER_GOLD = f"ours, one worker per object, {GOLD}"


def lone_answers_accuracy(questions, answers, truths) -> float:
    """How often the first answer on each object that is not gold is its truth: what one worker per object labels."""
    right = []
    for q, a, truth in zip(questions, answers, truths):
        first = {}
        for object_id, answer in zip(q, a):
            first.setdefault(object_id, answer)
        right += [first[o] == label for o, label in truth.items() if o in first and not is_gold(o)]
    return float(np.mean(right))


def gold_verdicts(rows) -> list[str]:
    got = {(name, title): row for name, title, row in rows}
    out = []
    for name, limit in (("duck", 0.06), ("face", 0.15), ("simulation", 0.06)):
        for title in (*GOLD_ROWS[1:], GOLD_REVISED, GOLD_REVISED_ORDERS):
            row = got[(name, title)]
            out.append(check(f"{name}, {title}: ECE {row['ece']:.3f} <= {limit}, confidence >= 0.99 wrong "
                             f"{row['sure_wrong']:.1%} <= 2%", row["ece"] <= limit and row["sure_wrong"] <= 0.02))
    for name in ("duck", "face"):
        row, kit = got[(name, GOLD_ROWS[1])], got[(name, "crowd-kit DawidSkene posterior")]
        out.append(check(f"{name}, {GOLD_ROWS[1]}: accuracy {row['accuracy']:.3f} >= crowd-kit DS {kit['accuracy']:.3f}"
                         " - 0.005 (crowd-kit over every object)", row["accuracy"] >= kit["accuracy"] - 0.005))
    for name in ("duck", "face", "simulation"):
        one, batched = got[(name, GOLD_ROWS[1])], got[(name, GOLD_ROWS[2])]
        out.append(check(f"{name}, {GOLD_SHARE:.0%} gold: batches of {BATCH} accuracy {batched['accuracy']:.3f} vs "
                         f"{one['accuracy']:.3f}, ECE {batched['ece']:.3f} vs {one['ece']:.3f} (within 0.01 / 0.02)",
                         abs(batched["accuracy"] - one["accuracy"]) <= 0.01 and abs(batched["ece"] - one["ece"]) <= 0.02))
        revised, orders = got[(name, GOLD_REVISED)], got[(name, GOLD_REVISED_ORDERS)]
        out.append(check(f"{name}, {GOLD}: batches of {BATCH} {REVISED} accuracy {revised['accuracy']:.3f} vs "
                         f"{one['accuracy']:.3f}, ECE {revised['ece']:.3f} vs {one['ece']:.3f} (within 0.01 / 0.02; "
                         f"mean of {ORDERS} orders: {orders['accuracy']:.3f}, {orders['ece']:.3f})",
                         abs(revised["accuracy"] - one["accuracy"]) <= 0.01
                         and abs(revised["ece"] - one["ece"]) <= 0.02))
    for name in ("duck", "face", "simulation"):
        row = got[(name, ONE_WORKER_GOLD)]
        out.append(check(f"{name}, {ONE_WORKER_GOLD}: accuracy {row['accuracy']:.3f} >= its lone answers' "
                         f"{row['lone_answers']:.3f} - 0.005 (no gold miss turns the other votes over); mean "
                         f"confidence {row['mean_confidence']:.3f}", row["accuracy"] >= row["lone_answers"] - 0.005))
    return out


def collusion_verdicts(collusion) -> list[str]:
    got = {title: row for _, title, row in collusion["rows"]}
    mv = got["majority-vote share (crowd-kit)"]
    out = []
    for title in ("ours, one batch", f"ours, batches of {BATCH}"):
        pair, others = collusion["flags"][title]
        out.append(check(f"collusion, {title}: accuracy {got[title]['accuracy']:.3f} >= majority vote "
                         f"{mv['accuracy']:.3f}", got[title]["accuracy"] >= mv["accuracy"]))
        out.append(check(f"collusion, {title}: the pair flagged in {pair} of {collusion['jobs']} jobs, another pair "
                         f"in {others}", pair == collusion["jobs"] and others == 0))
    out += ["", f"Crowds without colluders ({FALSE_FLAG_JOBS} jobs of each shape, one batch; skilled workers right 80% of "
            "the time, random ones answering any label): pairs flagged by chance (the floor is 0). Before every pair "
            "sharing 3 objects told of skills and the exact binomial test, 22 of these 1,600 jobs flagged a pair "
            "(9 of them two skilled workers; measured when those changed).", "",
            "| skilled, random, objects, per object | two skilled | skilled and random | two random |",
            "| --- | --- | --- | --- |"]
    for shape, kinds in collusion["false_flags"].items():
        out.append(f"| {', '.join(map(str, shape))} | {kinds['two skilled']} | {kinds['skilled and random']} | "
                   f"{kinds['two random']} |")
    return out


def yes_no_report(yes_no) -> list[str]:
    lines = [f"## Small yes/no jobs (the NER staging shape: {YES_NO_OBJECTS} objects, {WORKERS} workers)", "",
             f"{YES_NO_JOBS} simulated jobs of {YES_NO_OBJECTS} objects and 100 of 40, one batch each, {WORKERS} workers at "
             f"{ACCURACY}, an object's class \"No\" with probability {YES_NO_RARE:.3f}. Is a unanimous object's confidence "
             "(the NER staging sample gave 0.898 to every one) the probability that it is right?", "",
             "| model | objects | how many | mean confidence | accuracy |", "| --- | --- | --- | --- | --- |"]
    for model, got in yes_no.items():
        for kind, (n, confidence, right) in got["rows"].items():
            lines.append(f"| {model} | {kind} | {n} | {confidence:.3f} | {right:.3f} |")
    lines += [""] + [f"- {model}: accuracy {got['rows']['every'][2]:.3f} vs majority vote {got['majority']:.3f}; "
                     f"temperature above 1 in {got['tempered']:.0%} of the jobs" for model, got in yes_no.items()]
    return lines


def against_gold_report(against_gold) -> list[str]:
    lines = ["## What answers alone cannot show (why duck and face miss without gold)", "",
             "A model of the answers can only learn which class the workers tend to; where the gold holds another "
             "class the workers agree on, nothing in the answers says so. Measured on the answers and the gold "
             "(majority ties count for every tied class):", "",
             "| data | answers per object | objects whose gold class no answer named | gold class is a majority "
             "class | a held-out answer is a majority class of the others' | objects every answer agrees on (of them, the gold's "
             "class) |", "| --- | --- | --- | --- | --- | --- |"]
    for name, got in against_gold.items():
        lines.append(f"| {name} | {got['answers_per_object']:.1f} | {got['never']:.1%} | {got['gold']:.1%} | "
                     f"{got['held_out']:.1%} | {got['unanimous']}"
                     + (f" ({got['unanimous_right']:.1%})" if got["unanimous"] else "") + " |")
    lines += ["", "On face the gold agrees with the crowd's majority less often than one more worker does, so a "
              "confidence learned from how the answers agree with each other overstates how often the label is the "
              "gold. Gold objects measure that gap (the gold rows above). Where every one of an object's answers names "
              "one class, answers alone can only say that class is all but certain, yet on face the gold names another class on about one in nine "
              "of them: no confidence read from the answers alone keeps labels at 0.99 or more wrong under 2% there."]
    return lines


def heterogeneous_report(rows) -> list[str]:
    return [f"## Crowds of very different workers (simulated: {HETERO_JOBS} jobs of {HETERO_OBJECTS} objects, "
            f"{HETERO_PER_OBJECT} of {HETERO_WORKERS} workers per object)", "",
            "Each worker's accuracy on each of two classes drawn from Beta(1.56, 0.74), a quarter of the objects hard "
            "(`heterogeneous_jobs`). The worker prior's weight learned from the workers' spread "
            "(`crowd_model.worker_prior_weight`) against it fixed:", "",
            "| worker prior | accuracy | ECE | conf >= 0.99 wrong | mean confidence |", "| --- | --- | --- | --- | --- |",
            *[f"| {title} | {m['accuracy']:.3f} | {m['ece']:.3f} | {m['sure_wrong']:.1%} | {m['mean_confidence']:.3f} |"
              for title, m in rows]]


def report(rows, collusion, speed, yes_no, against_gold) -> str:
    lines = ["# Calibration: is the confidence the probability that the label is right?", "",
             "Written by `bench/bench_calibration.py`:", "",
             "    .venv/bin/python " + " ".join(["bench/bench_calibration.py", *sys.argv[1:]]), "",
             f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores. Data: {DATA} (duck, face) and the welding "
             f"simulation ({SEEDS} seeds x 18 sample runs = {SEEDS * 18} objects, {WORKERS} simulated workers at "
             f"{ACCURACY}). ECE: 10 equal-width bins of top-label confidence. crowd-kit in bench/.venv-crowdkit.", "",
             "| data | method | accuracy | ECE | conf >= 0.99 wrong | errors caught by conf < 0.9 | objects routed "
             "| mean confidence |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, title, row in rows:
        lines.append(f"| {name} | {title} | {row['accuracy']:.3f} | {row['ece']:.3f} | {row['sure_wrong']:.1%} | "
                     f"{row['caught']:.1%} | {row['routed']:.1%} | {row['mean_confidence']:.3f} |")
    lines += ["", "Targets (issue 11):", "", *verdicts(rows)]
    lines += ["", f"Batches of {BATCH}, each order of the objects (order 0 is the data's; accuracy / ECE):", "",
              *[f"- {', '.join([name, *ORDER_ROWS[title]])}: "
                + ", ".join(f"{acc:.3f} / {ece:.3f}" for acc, ece in row["orders"])
                for name, title, row in rows if title in ORDER_ROWS]]
    lines += ["", f"\"{REVISED.capitalize()}\": a batch publishes its confidences with what the job had learned by "
              "then, so the first batches publish before the job's temperature is known and before the gold objects "
              "of later batches are seen. The review (the local runner after every batch, AWS when the job completes) "
              "reads each label again with the job's latest temperature and every gold object of the job, from the "
              "evidence each consolidated value keeps (`gt_common.job_confidence`); the label never changes. The rows "
              f"\"{REVISED}\" measure that confidence; Ground Truth's output.manifest keeps each batch's own numbers "
              "(the other batch rows)."]
    lines += ["", f"## Gold objects: {GOLD_SHARE:.0%} of the objects marked gold", "",
              f"The gold rows give the known answer of the objects whose id hashes below {GOLD_SHARE} (the same ones in "
              "every row; never chosen by their truth) and measure only the other objects. The worker model counts "
              "gold objects with their known class, and corrects every confidence by what the gold objects showed "
              "in its confidence bin (`crowd_model._gold_corrected`, shrunk by `GOLD_BIN_PRIOR`). The row "
              f"\"{GOLD_ROWS[0]}\" is the same objects measured without any gold given, for comparison. With one "
              "worker per object only the gold shows how often the crowd is right (`POOLED_PRIOR` decides how far "
              "each gold answer moves it): the labels must stay the lone answers, and the confidence follows what "
              "the gold objects' answers showed (on face those were right more often than the others' first "
              "answers).", "",
              *gold_verdicts(rows)]
    lines += ["", f"## A colluding pair among honest workers (welding simulation, {SEEDS} seeds)", "",
              f"Each object answered by the {WORKERS} simulated workers at {ACCURACY} and by {COLLUDERS} colluders who "
              "all give one label drawn at random among the question's labels.", "",
              "| data | method | accuracy | ECE | conf >= 0.99 wrong | errors caught by conf < 0.9 | objects routed "
              "| mean confidence |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, title, row in collusion["rows"]:
        lines.append(f"| {name} | {title} | {row['accuracy']:.3f} | {row['ece']:.3f} | {row['sure_wrong']:.1%} | "
                     f"{row['caught']:.1%} | {row['routed']:.1%} | {row['mean_confidence']:.3f} |")
    lines += ["", *collusion_verdicts(collusion)]
    lines += ["", *against_gold_report(against_gold)]
    lines += ["", *heterogeneous_report(yes_no.pop("heterogeneous"))]
    lines += ["", *yes_no_report(yes_no)]
    lines += ["", "Worker model fits (ours): most iterations of any fit, every fit converged, temperatures chosen:", "",
              *[f"- {name}, {title}: {row['iterations']}, {row['converged']}, "
                f"{', '.join(f'{t:.2f}' for t in row['temperatures'])}"
                for name, title, row in rows if "iterations" in row],
              "",
        "## 100,000 objects x 3 workers (pool of 50, 4 classes), fit only, same process, best of 6, alternating, each first in turn", "",
        "| model | seconds |", "| --- | --- |",
        *[f"| {k} | {v:.3f} |" for k, v in speed["best"].items()], "",
        f"Calibrated model: {speed['iterations']} iterations, converged {speed['converged']}.", "",
        f"The whole consolidation Lambda on one batch of 100,000 objects x 3 answers (welding's question, "
        f"`bench_consolidation_handler.large_payload`), now and at `{speed['previous']}` (the code before the "
        "calibrated model), alternating in the same run, each invocation a process of its own:", "",
        "| code | seconds per invocation (each run) | accuracy vs simulated truth | peak RSS MB |",
        "| --- | --- | --- | --- |",
        *[f"| {name} | {', '.join(f'{x:.2f}' for x in row['seconds'])} | {row['accuracy']:.4f} | "
          f"{row['peak_rss_mb']:.0f} |" for name, row in speed["handler"].items()], "",
        *[f"Lambda could not return the labels of `{name}` (its responses are at most 6 MB): {row['refused']}."
          for name, row in speed["handler"].items() if row.get("refused")]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
