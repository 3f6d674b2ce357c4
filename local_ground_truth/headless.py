"""Headless mode: simulated workers answer every object from the sample data's truth, then a summary.

What is simulated comes from the workflow's definition (``workflows.definition(<the stack's WorkflowName>)``):
its questions, its truth file, the task input key of the text its Spans questions tag. The answers are
shaped as the page submits them: the first task page is rendered and read (``form_rules``) to learn which
element asks each question, and every simulated answer must pass that page's form rules, as a browser's
would. Workers answer each object as soon as pre-labeling has stored it, as workers in browsers do, so the
two overlap. A workflow the runner cannot simulate (no definition, a truth file that does not fit, a page
that requires a field no question answers) is refused with the reason, before any answer is written.
"""
from __future__ import annotations

import logging
import random
import re
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from gt_common.questions import MultiSelect, Question, Spans
from local_ground_truth.form_rules import MULTI_SELECT, FormRules
from local_ground_truth.job import LocalJob
from local_ground_truth.job import source_of
from local_ground_truth.scoring import QuestionScore, score_labels
from local_ground_truth.simulated_workers import answer_values, shaped_answer
from local_ground_truth.truth import checked_truth
from workflows.model import WorkflowDefinition, truth_key

LOG = logging.getLogger(__name__)
ANSWERING_WORKERS = 8  # objects whose answers are being written at once (the endpoint writes each to disk)
POLL_SECONDS = 0.05  # how often the simulation looks for objects pre-labeling has stored since
#: Simulated workers' names, ``simulated-1``, ``simulated-2``, ... (in every version of the runner: a job's
#: answers tell by them who answered it).
SIMULATED_WORKER = re.compile(r"simulated-[0-9]+")


def simulated_worker(number: int) -> str:
    """The name of the simulated worker ``number`` (0, 1, ...)."""
    return f"simulated-{number + 1}"


class CannotSimulate(Exception):
    """Headless mode cannot answer this job's objects; the message says why."""


@dataclass(frozen=True)
class Simulation:
    questions: tuple[Question, ...]
    truth: dict[str, dict[str, Any]]  # object id -> question -> truth, for every manifest line with an entry
    rules: FormRules  # the page's fields, as the first task page declares them
    span_text_input: str = WorkflowDefinition.span_text_input  # the definitions' default, as they name none

    @property
    def must_answer(self) -> set[str]:
        """The questions the page will not submit without: marked required, or a multi-select classifier's."""
        return set(self.rules.required) | {name for name, rule in self.rules.fields.items()
                                             if rule.element == MULTI_SELECT}


def prepare(job: LocalJob, definition: WorkflowDefinition, truth: Mapping[str, Any], source: str,
            pre_labeling_ended: Callable[[], bool] = lambda: True) -> Simulation:
    """Everything simulated workers need for ``job``, checked before anything is written.

    ``pre_labeling_ended``: whether pre-labeling (running in another thread) has stopped storing objects; the
    first object for workers is waited for, for its page's form rules. Every manifest line's truth is checked
    now when the truth file has an entry for each; when some have none, only the objects that go to workers
    need one (pre-labeling may skip the others), so answering waits until pre-labeling has ended and checks
    exactly those.
    """
    names = {str(index): truth_key(line, index) for index, line in enumerate(job.lines)}
    _check_one_object_per_truth_entry(job, names)
    unused = sorted(set(truth) - set(names.values()))
    if unused:  # an entry keyed another way than truth_key names its object is never used: most likely a slip
        LOG.warning("%s: %s no object of the manifest (an object is named by its source's file name without the "
                    "extension, else its id, else its line number): %s", source,
                    "1 entry names" if len(unused) == 1 else f"{len(unused)} entries name",
                    ", ".join(map(repr, unused[:10])) + (" ..." if len(unused) > 10 else ""))
    if any(key not in truth for key in names.values()):
        # The entries there are checked now (a misspelt label is named before pre-labeling), the rest once it ends.
        checked_truth(definition.questions, truth, {o: key for o, key in names.items() if key in truth}, source)
        _wait(lambda: False, pre_labeling_ended)
        names = {object_id: names[object_id] for object_id in job.object_ids()}
    checked = checked_truth(definition.questions, truth, names, source)
    first = _wait(lambda: job.object_id_tuple()[:1], pre_labeling_ended)
    rules = FormRules()
    if first:
        from local_ground_truth.server import WorkerSite

        rules = WorkerSite(job, consolidate_in_background=False).rules(first[0])
        _check_span_text(definition.questions, definition.span_text_input, first[0],
                         job.task_input(first[0]).get(definition.span_text_input))
    # Entity texts differ per object: the shared rules check shapes and labels, not each text's length.
    rules = FormRules({name: replace(f, text_length=None) for name, f in rules.fields.items()})
    return Simulation(definition.questions, checked, rules, definition.span_text_input)


def _check_one_object_per_truth_entry(job: LocalJob, names: Mapping[str, str]) -> None:
    """Two objects of different sources that ``truth_key`` names alike would be answered and scored from one entry."""
    first: dict[str, tuple[str, str]] = {}
    for object_id, key in names.items():
        source = source_of(job.lines[int(object_id)])
        if key in first and first[key][1] != source:
            other, other_source = first[key]
            raise CannotSimulate(f"objects {other} ({other_source}) and {object_id} ({source}) would both take the "
                                 f"truth entry {key!r} (an entry is named by its source's file name without the "
                                 "extension, else the line's id): rename one so each object has its own")
        first.setdefault(key, (object_id, source))


def simulate(job: LocalJob, simulation: Simulation, workers: int, accuracy: float, seed: int = 0,
             pre_labeling_ended: Callable[[], bool] = lambda: True) -> int:
    """Answers from ``workers`` simulated workers for every object still short of them; the number written.

    Objects are answered as pre-labeling stores them, until ``pre_labeling_ended`` and every stored object is
    answered. Each object's answers are drawn from a generator seeded by ``seed`` and the object (the same
    answers in whatever order objects come, and in a resumed run) and checked against the page's form rules
    (a refused one stops the run before that object's answers are written), then recorded through the job's
    own answer path, several objects at once (each object's workers in order), as workers in browsers submit
    at the same time.
    """
    answered = {oid: {a["workerId"] for a in answers} for oid, answers in job.answers().items()}
    planned: set[str] = set()
    written: list[Future] = []
    pool = ThreadPoolExecutor(max_workers=ANSWERING_WORKERS, thread_name_prefix="simulated-worker")
    try:
        while True:
            ended = pre_labeling_ended()  # read before the objects, so none stored in between is missed
            new = [object_id for object_id in job.object_id_tuple() if object_id not in planned]
            for object_id in new:
                planned.add(object_id)
                answers = _object_answers(job, simulation, object_id, answered.get(object_id, set()), workers,
                                          accuracy, seed)
                if answers:
                    written.append(pool.submit(_record, job, answers))
            if ended and not new:
                break
            if not new:
                time.sleep(POLL_SECONDS)
        return sum(future.result() for future in written)
    finally:
        pool.shutdown(cancel_futures=True)  # a refusal or Ctrl-C: the answers being written finish, no others


def _object_answers(job: LocalJob, simulation: Simulation, object_id: str, already: set[str], workers: int,
                    accuracy: float, seed: int) -> list[tuple[str, str, dict[str, Any], float]]:
    rng = random.Random(f"{seed}:{object_id}")
    text = job.task_input(object_id).get(simulation.span_text_input)
    answers = []
    for number in range(workers):
        worker_id = simulated_worker(number)
        values = answer_values(simulation.questions, simulation.truth[object_id], accuracy, rng, text,
                               simulation.must_answer)
        answer = shaped_answer(simulation.questions, values, simulation.rules)
        seconds = rng.uniform(5, 60)
        if worker_id in already:
            continue  # resumed run: this worker already answered (drawn all the same, so the others match)
        problems = simulation.rules.problems(answer)
        if problems:
            asked = {question.name for question in simulation.questions}
            unasked = [name for name in simulation.rules.required if name not in asked]
            hint = (f" (the template requires {', '.join(unasked)}, which no question of the definition answers)"
                    if unasked else "")
            raise CannotSimulate(f"object {object_id}: the task page would refuse a simulated answer: "
                                 f"{'; '.join(problems)}{hint}")
        answers.append((object_id, worker_id, answer, seconds))
    if answers:
        _check_span_text(simulation.questions, simulation.span_text_input, object_id, text)
        _check_truth_spans(simulation.questions, simulation.truth[object_id], object_id, text)
    return answers


def _record(job: LocalJob, answers: list[tuple[str, str, dict[str, Any], float]]) -> int:
    return sum(job.record_answer(object_id, worker_id, answer, seconds=seconds)[1]
               for object_id, worker_id, answer, seconds in answers)


def _check_span_text(questions: tuple[Question, ...], key: str, object_id: str, text: Any) -> None:
    """Spans are tagged in the task input's ``key``: ``text`` (what it holds for ``object_id``) must be a string."""
    if any(isinstance(question, Spans) for question in questions) and not isinstance(text, str):
        raise CannotSimulate(f"object {object_id}: its task input has no text under {key!r} (the definition's "
                             "span_text_input) to tag spans in")


def _check_truth_spans(questions: tuple[Question, ...], truth: Mapping[str, Any], object_id: str, text: str) -> None:
    """Every truth span ends inside ``text``, the object's shown text (only known once it is pre-labeled)."""
    for question in questions:
        if not isinstance(question, Spans):
            continue
        past = [span for span in truth[question.name] if span["endOffset"] > len(text)]
        if past:
            raise CannotSimulate(f"object {object_id}, question {question.name}: truth span {past[0]} ends past the "
                                 f"end of the object's text ({len(text)} characters; {len(past)} of its "
                                 f"{len(truth[question.name])} truth spans do): fix the truth file")


def _wait(found: Callable[[], Any], ended: Callable[[], bool]) -> Any:
    """``found()`` once it is truthy, or once pre-labeling has ended (then whatever it gives)."""
    while True:
        done = ended()
        value = found()
        if value or done:
            return value
        time.sleep(POLL_SECONDS)


def summarize(job: LocalJob, simulation: Simulation, png_path: Path) -> dict[str, Any]:
    """Scores per question of the consolidated labels against the truth, and a PNG of them."""
    labels = {object_id: entry["label"] for object_id, entry in job.consolidated_labels().items()
              if job.is_for_workers(object_id)}
    results = score_labels(simulation.questions, labels, simulation.truth)
    summary: dict[str, Any] = {"objects": len(labels), "skipped_objects": len(job.skipped_ids()),
                               "questions": {name: result.summary() for name, result in results.items()}}
    _plot(list(results.values()), png_path)
    summary["summary_png"] = str(png_path)
    return summary


def _plot(results: list[QuestionScore], path: Path):
    """The summary's figure, saved as ``path`` (a PNG) and returned. Names are drawn as typed (``drawable_text``: a
    class named like "$\\frac{$" is not read as mathtext, which failed the run at its end)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from local_ground_truth.quality_plots import drawable_text

    panels = len(results) + 1
    figure = Figure(figsize=(5.5 * panels, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    for axis, result in zip(axes, results):
        summary = result.summary()
        name = result.question.name
        if isinstance(result.question, Spans):
            axis.bar(["precision", "recall", "F1"],
                     [summary["span_precision"], summary["span_recall"], summary["span_f1"]], color="#2471a3")
            axis.set_ylim(0, 1)
            axis.set_title(drawable_text(f"{name}: spans vs truth (exact match)"))
        elif isinstance(result.question, MultiSelect):
            axis.bar(["set right", "choice right"], [summary["accuracy"] or 0, summary["choice_accuracy"] or 0],
                     color="#2471a3")
            axis.set_ylim(0, 1)
            axis.set_title(drawable_text(f"{name}: accuracy"))
        else:
            _confusion(axis, result, summary.get("accuracy"))
    scored = [result for result in results if result.confidences]  # each question's own series: a span's confidence
    if scored:                                                     # is not a label's probability
        axes[-1].hist([result.confidences for result in scored], bins=10, range=(0, 1), stacked=True,
                      label=[drawable_text(result.question.name) for result in scored])
        axes[-1].legend(fontsize=8)
    axes[-1].set_xlabel("confidence")
    axes[-1].set_ylabel("labels")
    axes[-1].set_title("Confidence of consolidated labels")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return figure


def _confusion(axis, result: QuestionScore, accuracy: Optional[float]) -> None:
    from local_ground_truth.quality_plots import MAX_ANNOTATED_CLASSES, MAX_LABELLED_CLASSES, drawable_text

    seen = {a for a, _ in result.pairs} | {b for _, b in result.pairs if b}
    # The question's own order (as the worker page and the quality report show it), only the classes met.
    classes = [label for label in result.question.labels if label in seen] + sorted(seen - set(result.question.labels))
    counts = Counter(result.pairs)
    matrix = [[counts[(true, predicted)] for predicted in classes] for true in classes]
    peak = max((max(row) for row in matrix), default=0)
    if classes:
        axis.imshow(matrix, cmap="Blues", vmin=0, vmax=max(peak, 1))
    if len(classes) <= MAX_LABELLED_CLASSES:  # as the quality report's matrices: more names than fit, none
        names = [drawable_text(name) for name in classes]
        axis.set_xticks(range(len(classes)), names, rotation=45, ha="right", fontsize=8)
        axis.set_yticks(range(len(classes)), names, fontsize=8)
    else:
        axis.set_xticks([])
        axis.set_yticks([])
    for i, row in enumerate(matrix if len(classes) <= MAX_ANNOTATED_CLASSES else []):
        for j, value in enumerate(row):
            if value:
                axis.text(j, i, str(value), ha="center", va="center", fontsize=8,
                          color="white" if value > 0.6 * peak else "black")  # readable on the dark cells
    axis.set_xlabel("consolidated label")
    axis.set_ylabel("true label")
    shown = f"{accuracy:.2f}" if accuracy is not None else "n/a"
    axis.set_title(drawable_text(f"{result.question.name} (accuracy {shown})"))
