"""Expert review: which objects the crowd could not settle, and the final line once an expert decided.

One rule for every place a job's output is reviewed (the local runner's reviewer, the review job on
AWS and its merge). It reads an output manifest line as the consolidation writes it::

    {..., <label attribute>: {<question>: <value>, ..., "workers": n}, "<label attribute>-metadata": {...}}

**The rule** (``needs_review``): an object goes to an expert for each of these reasons
(``REVIEW_REASONS``), any question of the workflow giving it:

- ``low-confidence``: a Classification, YesNo or Checkbox whose ``confidence`` (the calibrated
  probability that the label is right) is below the threshold, or that has no label or no readable
  confidence; a MultiSelect one of whose choices is decided with less than the threshold either
  way (``max(p, 1 - p) < threshold``, ``p`` the probability that the choice applies) or not at all.
- ``abstained``: a Classification whose label is its ``abstain`` label ("Not sure": a strict
  majority of the workers could not tell). An abstention that is not the label routes only through
  the confidence it lowers (an abstention is no evidence for any class, so the object has less
  evidence and a lower confidence than if that worker had answered): when the others still settle
  the object above the threshold, it stays the crowd's. ``ReviewSettings.route_any_abstention``
  (off by default) sends every object with any abstention to review instead, as ``abstained``.
- ``gold-miss``: a question whose consolidated value carries ``"gold-miss": true``
  (``GOLD_MISS_KEY``): a gold item (an object with a known answer) the crowd got wrong. The
  consolidation's gold logic sets it; this module only reads it.

Spans never route: a span's ``confidence`` is a share of weighted workers times their overlap, not
a calibrated probability, and an expert re-tagging spans needs the tagging page itself. The NER
workflow's Yes/No routes like any yes/no. FreeText never routes (nothing is decided). A line without
the label attribute (not labeled: skipped by pre-labeling, failed, not yet consolidated) needs no review.

**The merge** (``merge_review``): the final line is the crowd's line with the expert's answer
replacing the label where one was given, and the provenance in ``<label attribute>-metadata``:
``"decided-by"`` (``"crowd"`` or ``"reviewer"``), ``"reviewer"`` (the expert's name in the local
runner, their worker id on AWS), ``"crowd"`` (per question the expert decided, the crowd's label and
confidence), ``"review-reasons"`` (why the object was routed, when it was) and ``"review-questions"``
(which question gave each reason: ``{<question>: [<reason>, ...]}``; absent for a review line written
before the questions were kept, on AWS). A reviewed question's
value keeps the crowd's ``votes`` and drops ``confidence`` (and the job's revision of it: ``batch-confidence``
and the worker model's ``evidence``, ``gt_common.job_confidence``): the expert's answer is not a model's
probability, and the crowd's numbers are for the crowd's label.

**Where** (``final_manifest_key``): the final manifest is ``manifests/output/final.manifest`` in the
job's output folder (``<S3OutputPath><job name>/``), beside Ground Truth's own ``output.manifest``,
which stays as the crowd made it. The local runner and the merge on AWS both write it there.

**Settings** (``ReviewSettings``): whether review is on, the threshold and whether any abstention
routes, defined once per environment (``parse_settings`` reads them; the stack publishes them as JSON
in its ``REVIEW_SETTINGS_OUTPUT`` output, which the local runner reads, and hands them to the review
functions on AWS).
"""
from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

from .output_layout import OUTPUT_MANIFESTS, metadata_key
from .questions import Checkbox, Classification, MultiSelect, Question, YesNo

LOW_CONFIDENCE = "low-confidence"
ABSTAINED = "abstained"
GOLD_MISS = "gold-miss"
#: Why an object needs an expert, in the order they are reported.
REVIEW_REASONS = (LOW_CONFIDENCE, ABSTAINED, GOLD_MISS)
#: The key of a question's consolidated value that marks a gold item the crowd missed.
GOLD_MISS_KEY = "gold-miss"

DECIDED_BY = "decided-by"
BY_CROWD, BY_REVIEWER = "crowd", "reviewer"
REVIEWER_KEY = "reviewer"
CROWD_KEY = "crowd"
REASONS_KEY = "review-reasons"
QUESTION_REASONS_KEY = "review-questions"

#: The stack output holding the environment's ``ReviewSettings`` as JSON.
REVIEW_SETTINGS_OUTPUT = "ReviewSettings"
#: Objects whose confidence is below this go to review unless an environment sets its own: the
#: point where routing catches most errors while sending few objects (bench/results/calibration.md).
DEFAULT_THRESHOLD = 0.9
#: The settings' keys as an environment's ``review`` block and the stack output spell them.
SETTINGS_KEYS = {"enabled": "enabled", "threshold": "threshold", "route_any_abstention": "routeAnyAbstention"}

#: Where a job's final manifest goes, relative to the job's output folder: beside Ground Truth's
#: ``manifests/output/output.manifest``.
FINAL_MANIFEST = f"{OUTPUT_MANIFESTS}final.manifest"

_SINGLE_LABEL = (Classification, YesNo, Checkbox)


class ReviewError(ValueError):
    """A decision or setting that cannot be used; the message names the object or question and the problem."""


# -- settings --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReviewSettings:
    """Whether a job's uncertain objects go to review, below which confidence, and whether any
    abstention sends an object to review (off: abstentions route only through the confidence they lower)."""

    enabled: bool = False
    threshold: float = DEFAULT_THRESHOLD
    route_any_abstention: bool = False

    def __post_init__(self) -> None:
        for name in ("enabled", "route_any_abstention"):
            if not isinstance(getattr(self, name), bool):
                raise ReviewError(f"review {SETTINGS_KEYS[name]!r} must be true or false, not {getattr(self, name)!r}")
        if (isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float))
                or not math.isfinite(self.threshold) or not 0 < self.threshold <= 1):
            raise ReviewError(f"review 'threshold' must be a number above 0 and at most 1, not {self.threshold!r}")

    def as_json(self) -> dict[str, Any]:
        return {key: getattr(self, name) for name, key in SETTINGS_KEYS.items()}


def parse_settings(raw: Any, where: str = "review") -> ReviewSettings:
    """``{"enabled": bool, "threshold": number, "routeAnyAbstention": bool}`` (each optional) as
    ``ReviewSettings``; a ``ReviewError`` naming ``where`` and the problem otherwise."""
    if raw is None:
        return ReviewSettings()
    if not isinstance(raw, Mapping):
        raise ReviewError(f"{where} must be an object like {{\"enabled\": true, \"threshold\": 0.9}}, not {raw!r}")
    known = {key: name for name, key in SETTINGS_KEYS.items()}
    unknown = sorted(str(key) for key in set(raw) - set(known))
    if unknown:
        raise ReviewError(f"{where} has unknown keys {unknown}; known: {sorted(known)}")
    try:
        return ReviewSettings(**{known[key]: value for key, value in raw.items()})
    except ReviewError as error:
        raise ReviewError(f"{where}: {error}") from None


# -- where -----------------------------------------------------------------------------------------

def job_output_folder(output_prefix: str, job_name: str) -> str:
    """A job's output folder in its bucket, ``<output prefix><job name>/`` (Ground Truth's layout under
    ``S3OutputPath``); ``output_prefix`` is the key part of ``S3OutputPath``, with or without its '/'."""
    if not job_name or "/" in job_name:
        raise ReviewError(f"{job_name!r} is not a labeling job's name")
    prefix = output_prefix if not output_prefix or output_prefix.endswith("/") else f"{output_prefix}/"
    return f"{prefix}{job_name}/"


def _checked_folder(job_folder: str) -> str:
    if job_folder and not job_folder.endswith("/"):
        raise ReviewError(f"a job's output folder ends with '/', not {job_folder!r}")
    return job_folder


def final_manifest_key(job_folder: str) -> str:
    """The key of a job's final manifest: ``FINAL_MANIFEST`` in its output folder (``job_output_folder``)."""
    return f"{_checked_folder(job_folder)}{FINAL_MANIFEST}"


# -- the rule --------------------------------------------------------------------------------------

def decided_by_experts(final_line: Mapping[str, Any], label_attribute: str) -> dict[str, tuple[Any, Any]]:
    """``{question: (the crowd's label, the expert's)}`` of each single-label question an expert decided on this
    final manifest line (``merge_review``'s provenance); {} when the crowd decided it or it is not a final line."""
    metadata = final_line.get(metadata_key(label_attribute))
    value = final_line.get(label_attribute)
    if not isinstance(metadata, Mapping) or metadata.get(DECIDED_BY) != BY_REVIEWER or not isinstance(value, Mapping):
        return {}
    crowd = metadata.get(CROWD_KEY)
    decided = {}
    for question, was in (crowd.items() if isinstance(crowd, Mapping) else ()):
        now = value.get(question)
        if isinstance(was, Mapping) and isinstance(now, Mapping) and "label" in now:
            decided[question] = (was.get("label"), now["label"])
    return decided


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _question_reasons(question: Question, value: Any, threshold: float, route_any_abstention: bool) -> list[str]:
    if not isinstance(question, (*_SINGLE_LABEL, MultiSelect)):
        return []  # spans and free text never route (module docstring)
    if not isinstance(value, Mapping):
        return [LOW_CONFIDENCE]  # no readable consolidated value: nobody settled it
    reasons = []
    if isinstance(question, MultiSelect):
        confidence = value.get("confidence")
        shares = [_number(confidence.get(choice)) if isinstance(confidence, Mapping) else None
                  for choice in question.choices]
        if any(p is None or max(p, 1.0 - p) < threshold for p in shares):
            reasons.append(LOW_CONFIDENCE)
    else:
        confidence = _number(value.get("confidence"))
        if value.get("label") not in question.labels or confidence is None or confidence < threshold:
            reasons.append(LOW_CONFIDENCE)
        abstain = getattr(question, "abstain", None)
        votes = value.get("votes")
        abstentions = (_number(votes.get(abstain)) or 0) if abstain is not None and isinstance(votes, Mapping) else 0
        if abstain is not None and (value.get("label") == abstain or (route_any_abstention and abstentions > 0)):
            reasons.append(ABSTAINED)
    if value.get(GOLD_MISS_KEY) is True:
        reasons.append(GOLD_MISS)
    return reasons


def reasons_by_question(output_line: Mapping[str, Any], label_attribute: str, questions: Iterable[Question],
                        threshold: float, *, route_any_abstention: bool = False) -> dict[str, list[str]]:
    """Per question that gives a reason, the reasons (in ``REVIEW_REASONS`` order); empty when none does.
    ``route_any_abstention``: any abstention routes (``ReviewSettings.route_any_abstention``)."""
    if not isinstance(output_line, Mapping) or label_attribute not in output_line:
        return {}
    label = output_line[label_attribute]
    found = {}
    for question in questions:
        value = label.get(question.name) if isinstance(label, Mapping) else None
        reasons = _question_reasons(question, value, threshold, route_any_abstention)
        if reasons:
            found[question.name] = [reason for reason in REVIEW_REASONS if reason in reasons]
    return found


def needs_review(output_line: Mapping[str, Any], label_attribute: str, questions: Iterable[Question],
                 threshold: float, *, route_any_abstention: bool = False) -> list[str]:
    """Why the object of ``output_line`` needs an expert (``REVIEW_REASONS``, each once, in that order);
    an empty list when it does not."""
    return flat_reasons(reasons_by_question(output_line, label_attribute, questions, threshold,
                                            route_any_abstention=route_any_abstention))


def flat_reasons(by_question: Mapping[str, Sequence[str]]) -> list[str]:
    """Every reason any question gives (``reasons_by_question``), each once, in ``REVIEW_REASONS`` order."""
    given = {reason for reasons in by_question.values() for reason in reasons}
    return [reason for reason in REVIEW_REASONS if reason in given]


# -- decisions -------------------------------------------------------------------------------------

def reviewable(questions: Iterable[Question]) -> tuple[Question, ...]:
    """The questions an expert decides: those the rule can route."""
    return tuple(q for q in questions if isinstance(q, (*_SINGLE_LABEL, MultiSelect)))


def check_decision(decision: Any, questions: Sequence[Question], object_id: str = "?") -> dict[str, Any]:
    """The decision ``{question: label}`` (a MultiSelect's: a list of its choices) checked against the
    questions' labels; a ``ReviewError`` naming the object, question and problem otherwise.

    A question left out keeps the crowd's value. An abstain label is not a decision: an expert who
    cannot tell leaves the question to the crowd.
    """
    if not isinstance(decision, Mapping) or not decision:
        raise ReviewError(f"object {object_id}: a decision names at least one question and its label")
    by_name = {q.name: q for q in reviewable(questions)}
    checked: dict[str, Any] = {}
    for name, answer in decision.items():
        question = by_name.get(name)
        if question is None:
            raise ReviewError(f"object {object_id}: {str(name)[:100]!r} is not a question an expert decides "
                              f"(those are: {', '.join(by_name) or 'none'})")
        if isinstance(question, MultiSelect):
            if (not isinstance(answer, list) or not all(isinstance(a, str) for a in answer)
                    or len(set(answer)) != len(answer) or not set(answer) <= set(question.choices)):
                raise ReviewError(f"object {object_id}: question {name} takes a list of distinct choices among "
                                  f"{', '.join(question.choices)}, not "
                                  f"{json.dumps(answer, ensure_ascii=False, default=str)[:200]}")
            checked[name] = [choice for choice in question.choices if choice in answer]
        else:
            classes = [label for label in question.labels if label != getattr(question, "abstain", None)]
            if answer not in classes:
                shown = json.dumps(answer, ensure_ascii=False, default=str)[:100]
                raise ReviewError(f"object {object_id}: {shown} is not a label of question {name} (a decision names "
                                  f"the label itself, one of: {', '.join(classes)})")
            checked[name] = answer
    return checked


def crowd_label_keys() -> tuple[str, ...]:
    """The parts of a question's consolidated value that are about the crowd's label, dropped where an expert's
    answer replaces it: the label, its confidence, its batch's confidence and the worker model's evidence for it.
    Kept beside the expert's label they would read as its confidence."""
    # Imported here: job_confidence imports gold, which imports this module.
    from .job_confidence import BATCH_CONFIDENCE_KEY, EVIDENCE_KEY

    return ("label", "labels", "confidence", BATCH_CONFIDENCE_KEY, EVIDENCE_KEY)


def merge_review(crowd_line: Mapping[str, Any], decision: Optional[Mapping[str, Any]], label_attribute: str,
                 reviewer: Optional[str],
                 reasons: Sequence[str] | Mapping[str, Sequence[str]] = ()) -> dict[str, Any]:
    """The final manifest line of an object (see the module docstring): the crowd's line, each question of
    ``decision`` (checked by ``check_decision``) replaced by the expert's answer, with provenance.

    ``decision`` None or empty: the crowd decided. ``reasons``: why the object went to review, per question
    (``reasons_by_question``) or only as a list (kept in the metadata, so a routed object the expert has not
    decided yet reads as such). A line without the
    label attribute is returned as it came (it has no label to decide on).
    """
    line = copy.deepcopy(dict(crowd_line))
    if label_attribute not in line:
        if decision:
            raise ReviewError(f"a decision for a line without {label_attribute!r}: it has no crowd label to replace")
        return line
    line_metadata_key = metadata_key(label_attribute)
    metadata = line.get(line_metadata_key)
    metadata = dict(metadata) if isinstance(metadata, Mapping) else {}
    if reasons:
        by_question = reasons if isinstance(reasons, Mapping) else None
        given = [r for rs in by_question.values() for r in rs] if by_question is not None else list(reasons)
        unknown = [r for r in given if r not in REVIEW_REASONS]
        if unknown:
            raise ReviewError(f"unknown review reasons {unknown}; known: {list(REVIEW_REASONS)}")
        metadata[REASONS_KEY] = [r for r in REVIEW_REASONS if r in given]
        if by_question is not None:
            metadata[QUESTION_REASONS_KEY] = {name: [r for r in REVIEW_REASONS if r in question_reasons]
                                              for name, question_reasons in by_question.items()}
    if not decision:
        metadata[DECIDED_BY] = BY_CROWD
        line[line_metadata_key] = metadata
        return line
    if not isinstance(reviewer, str) or not reviewer:
        raise ReviewError("a reviewer's decision needs the reviewer's id")
    label = line[label_attribute]
    if not isinstance(label, Mapping):
        raise ReviewError(f"the crowd's {label_attribute!r} is not an object of questions; nothing to replace")
    label = dict(label)
    crowd: dict[str, Any] = {}
    dropped = crowd_label_keys()
    for name, answer in decision.items():
        value = label.get(name)
        if not isinstance(value, Mapping):
            raise ReviewError(f"question {name!r} has no consolidated value in the crowd's line to replace")
        key = "labels" if isinstance(answer, list) else "label"
        crowd[name] = {key: value.get(key), "confidence": value.get("confidence")}
        if GOLD_MISS_KEY in value:  # the crowd's miss: beside the expert's label it read as theirs
            crowd[name][GOLD_MISS_KEY] = value[GOLD_MISS_KEY]
        reviewed = {k: v for k, v in value.items() if k not in dropped and k != GOLD_MISS_KEY}
        if _gold_missed(answer, reviewed):
            reviewed[GOLD_MISS_KEY] = True
        label[name] = {key: answer, **reviewed}
    line[label_attribute] = label
    metadata.update({DECIDED_BY: BY_REVIEWER, REVIEWER_KEY: reviewer, CROWD_KEY: crowd})
    line[line_metadata_key] = metadata
    return line


def _gold_missed(answer: Any, value: Mapping[str, Any]) -> bool:
    """Whether an expert's ``answer`` misses the known answer ``value`` holds (a gold object's), as ``gt_common.gold``
    says it of the crowd's label: a label other than it, or other choices than its list."""
    from .gold import GOLD_KEY  # (gold imports this module)

    if GOLD_KEY not in value:
        return False
    known = value[GOLD_KEY]
    if isinstance(answer, list) and isinstance(known, list):
        return set(answer) != set(known)
    return answer != known


__all__ = [
    "ABSTAINED", "BY_CROWD", "BY_REVIEWER", "CROWD_KEY", "DECIDED_BY", "DEFAULT_THRESHOLD", "FINAL_MANIFEST",
    "GOLD_MISS", "GOLD_MISS_KEY", "LOW_CONFIDENCE", "QUESTION_REASONS_KEY", "REASONS_KEY", "REVIEWER_KEY",
    "REVIEW_REASONS", "REVIEW_SETTINGS_OUTPUT", "ReviewError", "ReviewSettings", "SETTINGS_KEYS",
    "check_decision", "decided_by_experts", "final_manifest_key", "job_output_folder",
    "flat_reasons", "merge_review", "needs_review", "parse_settings", "reasons_by_question", "reviewable",
]
