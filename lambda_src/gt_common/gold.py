"""Gold objects: data objects whose answers are known (honeypots, test questions), marked in the manifest.

A line of the input manifest may carry the known answer of any of the workflow's choice questions
(Classification, YesNo, Checkbox: one of its labels) and MultiSelect questions (the list of its choices that
apply, possibly empty) under ``GOLD_KEY``::

    {"source": "s3://.../object-7.json", "gold": {"<question name>": "<one of its labels>",
                                                  "<multi-select name>": ["<choice>", ...]}}

The worker never sees it: Ground Truth hands the whole line to the pre-labeling function, which leaves
``gold`` out of the task input and writes it into the object's task record (``gt_common.task_record``,
field ``GOLD_KEY``), the one way to reach the consolidation function (whose payload names only each
object's source). Consolidation reads every object's record (``task_record.read_records``), takes each
question's gold from them (``gold_by_question``), and for each question:

- the worker model counts a gold object with its known class, not an estimate (``crowd_model.fit``'s
  ``known``), and the gold objects measure the published confidence against the truth per confidence
  bin, which corrects every object's confidence (``crowd_model._gold_corrected``, summed over the job's
  batches); a MultiSelect's choices are each decided as a yes/no of their own, and each choice's known yes/no
  is whether the gold list holds it (``choice_gold``), counted in that choice's yes/no as a Classification's
  known class is;
- the object's label is still what its answers say; its consolidated value holds ``"gold": <known
  answer>`` (a MultiSelect's: the list, in the question's choice order) and, when the label (a MultiSelect's
  chosen choices) is not it, ``GOLD_MISS_KEY: true`` (read by ``gt_common.review``);
- the quality report gives each worker's answers on gold objects and how many were right (a MultiSelect's: per
  choice, each answer's yes/no on a gold object against the known yes/no, as its other per-choice figures).

A gold answer must be one of the question's labels (not its abstain label); a MultiSelect's, a list of distinct
choices of the question. A line whose ``gold`` is not an object of question names to labels or lists of labels
(at most ``MAX_GOLD_ANSWERS`` questions, each list at most ``MAX_GOLD_ANSWERS`` labels, each name and label at
most ``MAX_TEXT`` characters, no label twice in a list) is refused by pre-labeling (``gold_of_line`` names the
problem). A record's answer for a question the workflow does not have, a Spans or FreeText question (no gold for
those), a label the question does not have, a list for a choice question or a label for a MultiSelect is logged by
object and question and left out.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Optional, Sequence, Union

from .questions import CHOICE_AS_YES_NO, MultiSelect, Question
from .review import GOLD_MISS_KEY  # set (true) in a question's consolidated value whose label misses the known answer
from .s3uri import InputError

LOG = logging.getLogger(__name__)
#: The manifest line's key (and the task record's field) holding the object's known answers.
GOLD_KEY = "gold"
#: The most known answers one line may carry (and labels one MultiSelect's list may hold), and the longest
#: question name or label accepted.
MAX_GOLD_ANSWERS = 100
MAX_TEXT = 1000

#: A known answer: a choice question's label, or the list of a MultiSelect's choices that apply.
Known = Union[str, list]


def gold_of_line(manifest_line: Mapping[str, Any]) -> Optional[dict[str, Known]]:
    """The line's known answers (``{question: label or list of labels}``), None without any; InputError naming
    the problem."""
    if GOLD_KEY not in manifest_line:
        return None
    value = manifest_line[GOLD_KEY]
    if not isinstance(value, dict) or not value:
        raise InputError(f"dataObject.{GOLD_KEY} must be a non-empty object of question names to known labels "
                         "(a label, or a multi-select's list of labels)")
    if len(value) > MAX_GOLD_ANSWERS:
        raise InputError(f"dataObject.{GOLD_KEY} holds {len(value)} answers, more than {MAX_GOLD_ANSWERS}")
    for question, known in value.items():
        if not question or len(question) > MAX_TEXT:
            raise InputError(f"dataObject.{GOLD_KEY} has an empty or over-long question name")
        where = f"dataObject.{GOLD_KEY}[{question[:60]!r}]"
        if isinstance(known, list):
            _check_list(known, where)
        elif not _is_label(known):
            raise InputError(f"{where} is not a label (a non-empty string of at most {MAX_TEXT} characters) "
                             "or a list of labels")
    return {question: list(known) if isinstance(known, list) else known for question, known in value.items()}


def _is_label(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_TEXT


def _check_list(known: list, where: str) -> None:
    """InputError unless ``known`` is a multi-select's known labels: at most ``MAX_GOLD_ANSWERS`` distinct labels."""
    if len(known) > MAX_GOLD_ANSWERS:
        raise InputError(f"{where} lists {len(known)} labels, more than {MAX_GOLD_ANSWERS}")
    for index, label in enumerate(known):
        if not _is_label(label):
            raise InputError(f"{where}[{index}] is not a label (a non-empty string of at most {MAX_TEXT} "
                             "characters)")
    twice = sorted({label for label in known if known.count(label) > 1})
    if twice:
        raise InputError(f"{where} lists {', '.join(repr(label[:60]) for label in twice[:5])} more than once")


def record_fields(manifest_line: Mapping[str, Any]) -> dict[str, Any]:
    """What pre-labeling adds to the object's task record: ``{GOLD_KEY: answers}``, or nothing."""
    gold = gold_of_line(manifest_line)
    return {GOLD_KEY: gold} if gold else {}


def _labels(question: Question) -> Optional[list[str]]:
    """The labels a gold answer may name (a MultiSelect's: its choices), None for a question without gold."""
    if isinstance(question, MultiSelect):
        return list(question.choices)
    if not question.is_choice:
        return None
    abstain = getattr(question, "abstain", None)
    return [label for label in question.labels if label != abstain]


def _known(question: Question, labels: Sequence[str], value: Any) -> tuple[Optional[Known], str]:
    """``value`` as the known answer of ``question`` (a MultiSelect's list in the question's choice order), or None
    and why it is not one."""
    if isinstance(question, MultiSelect):
        if not isinstance(value, list):
            return None, f"gold answer {value!r:.100} of {question.name} is not a list of its choices"
        others = [label for label in value if label not in labels]
        if others:
            return None, f"gold answer of {question.name} names {others[0]!r:.100}, not one of its choices"
        if len(set(value)) != len(value):
            return None, f"gold answer of {question.name} lists a choice more than once"
        return [label for label in labels if label in value], ""
    if value not in labels:  # (a list is never one of them)
        return None, f"gold answer {value!r:.100} of {question.name} is not one of its labels"
    return value, ""


def gold_by_question(records: Mapping[str, Optional[Mapping[str, Any]]],
                     questions: Sequence[Question]) -> dict[str, dict[str, Known]]:
    """``{question: {object id: known answer}}`` from each object's task record (None: no record); a MultiSelect's
    known answer is the list of its choices that apply, in the question's order."""
    by_name = {question.name: question for question in questions}
    usable = {question.name: _labels(question) for question in questions}
    found: dict[str, dict[str, Known]] = {question.name: {} for question in questions if usable[question.name]}
    for object_id, record in records.items():
        value = record.get(GOLD_KEY) if isinstance(record, Mapping) else None
        if value is None:
            continue
        if not isinstance(value, Mapping):
            LOG.warning("object %s: the task record's %s is not an object; no gold for it", object_id, GOLD_KEY)
            continue
        for question, answer in value.items():
            labels = usable.get(question)
            if not labels:
                LOG.warning("object %s: gold answer for %.100r, which is not a choice or multi-select question of "
                            "this workflow; left out", object_id, question)
                continue
            known, problem = _known(by_name[question], labels, answer)
            if known is None:
                LOG.warning("object %s: %s; left out", object_id, problem)
            else:
                found[question][object_id] = known
    return found


def known_yes_no(known: Sequence[str], choice: str) -> str:
    """The known yes/no (``CHOICE_AS_YES_NO``) of a MultiSelect's ``choice`` on a gold object whose known list is
    ``known``: "Yes" when the list holds it."""
    yes, no = CHOICE_AS_YES_NO.labels
    return yes if choice in known else no


def choice_gold(gold: Mapping[str, Sequence[str]], choice: str) -> dict[str, str]:
    """Per gold object of a MultiSelect (``gold``: its known lists), the known yes/no of ``choice``: the gold of
    the yes/no that choice is decided as."""
    return {object_id: known_yes_no(known, choice) for object_id, known in gold.items()}
