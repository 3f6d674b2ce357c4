"""What a labeling workflow is: one ``WorkflowDefinition`` per workflow, in ``workflows/<name>.py``.

A definition names the workflow's questions (``gt_common.questions``: the one place its labels are
written), its task settings, and the files that make it up, by convention beside each other in the
design card's folders:

    workflows/<name>.py                  this definition
    lambda_src/<name>_pre_labeling/      its pre-labeling Lambda package (handler.py)
    ui_templates/<name>.liquid.html      its worker template; labels come in as [[labels:<question>]]
    sample_data/<name>/                  manifest.jsonl, the data it names, truth.json (never uploaded)

Everything else is derived from it: the stack (``stacks.workflow_stack``), the labels in the
template, the consolidation function's configuration, the local runner's simulation and scoring,
and the tests every workflow gets.
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from gt_common.questions import (
    Checkbox, Classification, FreeText, MultiSelect, Question, Spans, YesNo, button_name, check_questions)
from gt_common.task_record import SOURCE_FIELDS
from labeling_constructs.bucket_layout import DERIVED_DATA_PREFIX, MANIFEST_KEY, OUTPUT_PREFIX, REVIEW_PREFIX, TEMPLATE_PREFIX, overlapping
from labeling_constructs.labeling_job_resource import job_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
# Words of lower-case letters and digits joined by single "_": the stack's name is made of the words
# (``ticket_triage`` -> ``TicketTriageLabeling``), so "ner_" or "a__b" would name another workflow's stack.
_NAME = re.compile(r"^(?=.{1,30}$)[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# A question's name as ``Question`` takes it: letters and digits of any script (what ``str.isalnum`` takes, as ``\w``
# does), "_" and "-".
_LABELS_MARKER = re.compile(r"\[\[(labels|entity-labels|radio-buttons|checkboxes):([\w-]+)\]\]")
_MAX_CHARS_MARKER = re.compile(r"\[\[max-chars:([\w-]+)\]\]")
_TEXT_MARKER = re.compile(r"\[\[(title|description)\]\]")
_PART_MARKER = re.compile(r"\[\[part:([a-z0-9-]+)\]\]")
#: Every marker filled from the definition, in one pattern: a template is read for them once, in one pass.
_FILLED_MARKER = re.compile("|".join(marker.pattern for marker in (_LABELS_MARKER, _MAX_CHARS_MARKER, _TEXT_MARKER)))
#: Parts of a page any template may take whole (``[[part:<name>]]``): ``ui_templates/parts/<name>.html``. Ground Truth
#: takes one self-contained template per workflow, so a part is written into each page that asks for it at synth.
PARTS_DIR = REPO_ROOT / "ui_templates" / "parts"
_ANY_MARKER = re.compile(r"\[\[[A-Za-z-]+:[^\]\s]*\]\]")  # a marker's shape, known form or not
#: The crowd element one label becomes for the markers that expand to markup, one element per label.
_LABEL_ELEMENTS = {"radio-buttons": "crowd-radio-button", "checkboxes": "crowd-checkbox"}
#: The crowd elements that give each kind of question its answer (docs/workflows.md's table); a page's own inputs,
#: which a script may fill, are not listed.
ASKED_WITH = {
    Classification.kind: ("crowd-classifier", "crowd-radio-button"),
    YesNo.kind: ("crowd-classifier", "crowd-radio-button"),
    Checkbox.kind: ("crowd-checkbox",),
    MultiSelect.kind: ("crowd-classifier-multi-select", "crowd-checkbox"),
    FreeText.kind: ("crowd-input", "crowd-text-area"),
    Spans.kind: ("crowd-entity-annotation",),
}


def check_workflow_name(name: object) -> str:
    """``name`` if it can name a workflow (``_NAME``), else a DefinitionError saying what a name is."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise DefinitionError(f"workflow name {name!r} must be 1-30 lower-case letters, digits or '_', "
                              "starting with a letter, with no '_' at the end or twice in a row")
    return name


def label_attribute_named_after(name: str) -> str:
    """The label attribute named after the workflow ``name``, its words joined by "-" (``ticket_triage`` ->
    ``ticket-triage``), as the scaffold names it. An ending Ground Truth reserves is refused as the name's fault,
    naming the workflow: the user gave the name, never the label attribute."""
    attribute = check_workflow_name(name).replace("_", "-")
    if attribute.endswith(job_settings.RESERVED_LABEL_SUFFIXES):  # (the definition checks the rest, as for any)
        endings = [suffix.replace("-", "_") for suffix in job_settings.RESERVED_LABEL_SUFFIXES]
        raise DefinitionError(f"workflow {name}: a workflow name can't end in {' or '.join(endings)}: Ground Truth "
                              f"reserves the endings {' and '.join(job_settings.RESERVED_LABEL_SUFFIXES)} of a label "
                              f"attribute, and the label attribute is named after the workflow ({attribute!r}): name "
                              "the workflow otherwise")
    return attribute


def liquid_free(text: str, what: str, workflow: str = "workflow") -> str:
    """``text`` (a label, the title or the description) unless the worker page's Liquid would run it."""
    # The page is a Liquid template (on AWS too): "{{ ... }}" in a label or title would be run, not shown.
    if "{{" in text or "{%" in text:
        raise DefinitionError(f"workflow {workflow}: {what} {text[:80]!r} holds '{{{{' or '{{%', which the worker "
                              "page's Liquid would run as template code rather than show: write it otherwise")
    return text


def pre_labeling_package(name: str) -> str:
    """The ``lambda_src/`` package of the workflow ``name``'s pre-labeling, unless its definition names another."""
    return f"{name}_pre_labeling"


class DefinitionError(ValueError):
    """A workflow definition that cannot be deployed; the message names the workflow and the problem."""


@dataclass(frozen=True, kw_only=True)
class LambdaPackage:
    """A Lambda function of the workflow: a package folder of ``lambda_src/`` and how it runs."""

    package: str
    handler: str = "handler.lambda_handler"
    memory_mb: int = 512
    timeout_seconds: int = 60
    environment: Mapping[str, str] = field(default_factory=dict)


#: The consolidation every workflow gets unless it plugs in its own: any mix of question types.
GENERIC_CONSOLIDATION = LambdaPackage(package="consolidation", memory_mb=1024, timeout_seconds=300)
#: The default ``WorkflowDefinition.span_text_input``: the task input key NER pre-labeling puts its text under.
DEFAULT_SPAN_TEXT_INPUT = "text"


@dataclass(frozen=True, kw_only=True)
class WorkflowDefinition:
    name: str  # lower case, digits, "_": "welding", "ticket_triage"
    title: str  # the task title workers see (Ground Truth's TaskTitle, 1-128 characters)
    description: str  # Ground Truth's TaskDescription (1-255 characters)
    label_attribute_name: str  # the key of the labels in the output manifest (LabelAttributeName: letters, digits, "-")
    questions: tuple[Question, ...]
    keywords: tuple[str, ...] = ()  # Ground Truth's TaskKeywords: at most 5, each 1-30 letters, digits and spaces
    pre_labeling: Optional[LambdaPackage] = None  # default: lambda_src/<name>_pre_labeling
    consolidation: LambdaPackage = GENERIC_CONSOLIDATION
    task_time_limit_seconds: int = 600
    data_prefix: Optional[str] = None  # default "<name>/"
    derived_data_prefix: str = DERIVED_DATA_PREFIX
    # The task input key (pre-labeling's ``taskInput``) holding the text a Spans question tags; the local
    # runner's simulated workers tag that text.
    span_text_input: str = DEFAULT_SPAN_TEXT_INPUT

    def __post_init__(self) -> None:
        check_workflow_name(self.name)
        try:
            object.__setattr__(self, "questions", check_questions(self.questions))
        except ValueError as error:
            raise DefinitionError(f"workflow {self.name}: {error}") from None
        # The job's settings, by the rules the job resource applies at deploy time (job_settings), named as here.
        try:
            for setting, check in (("title", job_settings.task_title), ("description", job_settings.task_description),
                                   ("label_attribute_name", job_settings.label_attribute_name),
                                   ("keywords", job_settings.task_keywords)):
                check(getattr(self, setting), setting)
        except job_settings.JobSettingError as error:
            raise DefinitionError(f"workflow {self.name}: {error}") from None
        # Refused here, not only when the template is filled in at synth: the scaffold, the local runner and the app
        # each learn of it when the definition is made, before anything is written or synthesized.
        liquid_free(self.title, "the title", self.name)
        liquid_free(self.description, "the description", self.name)
        for question in self.questions:
            for label in question.labels:
                liquid_free(label, f"question {question.name}'s label", self.name)
        object.__setattr__(self, "keywords", tuple(self.keywords))
        if self.pre_labeling is None:
            object.__setattr__(self, "pre_labeling", LambdaPackage(package=pre_labeling_package(self.name)))
        if self.data_prefix is None:
            object.__setattr__(self, "data_prefix", f"{self.name}/")
        own = {"its data prefix": self.data_prefix, "its derived_data_prefix": self.derived_data_prefix}
        shared = {"the output prefix": OUTPUT_PREFIX, "the template prefix": TEMPLATE_PREFIX,
                  "the review prefix": REVIEW_PREFIX, "the manifest": MANIFEST_KEY}  # the stack's, as constructed
        problems = overlapping({**own, **shared}, new=own)
        if problems:  # a deploy of its sample data (pruned) would delete the job's output, templates or manifest
            raise DefinitionError(f"workflow {self.name}: {'; '.join(problems)} overlap in its bucket: name the "
                                  "workflow otherwise, or set data_prefix")

    # -- where its parts are ------------------------------------------------------------------
    @property
    def stack_name(self) -> str:
        """``WeldingLabeling`` for ``welding``; the app adds ``-<environment>``."""
        return "".join(part.capitalize() for part in self.name.split("_")) + "Labeling"

    def deploys_as(self, other: "WorkflowDefinition") -> bool:
        """Whether the two would deploy as one stack, their names compared without case: the cloud assembly writes
        each stack's template as ``<stack name>.template.json``, and on a file system that ignores case (macOS's,
        Windows') one would overwrite the other."""
        return self.stack_name.lower() == other.stack_name.lower()

    @property
    def template_path(self) -> Path:
        return REPO_ROOT / "ui_templates" / f"{self.name}.liquid.html"

    @property
    def sample_data_dir(self) -> Path:
        return REPO_ROOT / "sample_data" / self.name

    @property
    def truth_path(self) -> Path:
        return self.sample_data_dir / TRUTH_FILE

    # -- the template ----------------------------------------------------------------------------
    def worker_template(self) -> str:
        """The template as deployed: every ``[[labels:<question>]]`` replaced by that question's labels
        (a JSON list, escaped for an HTML attribute), so the labels are written only in this definition.
        ``[[entity-labels:<question>]]`` gives the same labels as ``crowd-entity-annotation`` takes them,
        ``[{"label": ...}, ...]``; ``[[radio-buttons:<question>]]`` one ``crowd-radio-button`` per label
        (for a ``crowd-radio-group``) and ``[[checkboxes:<question>]]`` one ``crowd-checkbox`` per label,
        each named ``<question>:<label>`` (``button_name``: Ground Truth submits one object per button, keyed by
        its name), its value and text the label; ``[[max-chars:<question>]]`` a free-text
        question's ``max_chars`` (for its field's ``max-length``); ``[[title]]`` and ``[[description]]`` this
        definition's (escaped), so a page heading says what the portal's task list says; ``[[part:<name>]]`` the
        page part ``ui_templates/parts/<name>.html`` (the image viewer), written once for every page."""
        return inject_labels(self.template_path.read_text(encoding="utf-8"), self.questions, self.name, whole_page=True,
                             texts={"title": self.title, "description": self.description})


TRUTH_FILE = "truth.json"  # the sample data's known answers, per object and question: never uploaded
#: Hidden files in a data folder (``.DS_Store``, text extraction's ``.text-sources.json``) are never uploaded either.
HIDDEN_FILES = ".*"
MANIFEST_FILE = "manifest.jsonl"  # the sample data's input manifest, one JSON data object per line


def inject_labels(template: str, questions: tuple[Question, ...], workflow: str = "workflow",
                  whole_page: bool = False, texts: Optional[Mapping[str, str]] = None) -> str:
    """``template`` with its markers filled in (see ``WorkflowDefinition.worker_template``), checked: labels and
    lengths the questions refuse, buttons sharing a name, and (``whole_page``) a question no field asks."""
    by_name = {question.name: question for question in questions}

    def labels(match: re.Match) -> str:
        form, name = match.groups()
        question = by_name.get(name)
        if question is None or not question.labels:
            raise DefinitionError(f"workflow {workflow}: the template asks for the labels of {name!r}, "
                                  f"which is not a question with labels ({', '.join(by_name)})")
        for label in question.labels:
            liquid_free(label, f"question {name}'s label", workflow)
        if form in _LABEL_ELEMENTS:
            element = _LABEL_ELEMENTS[form]
            return "".join(f'<{element} name="{html.escape(button_name(name, label), quote=True)}" '
                           f'value="{html.escape(label, quote=True)}">{html.escape(label)}</{element}>'
                           for label in question.labels)
        value = [{"label": label} for label in question.labels] if form == "entity-labels" else list(question.labels)
        return html.escape(json.dumps(value, ensure_ascii=False), quote=True)

    def max_chars(match: re.Match) -> str:
        question = by_name.get(match.group(1))
        if not isinstance(question, FreeText):
            raise DefinitionError(f"workflow {workflow}: the template asks for the max_chars of {match.group(1)!r}, "
                                  "which is not a free-text question")
        return str(question.max_chars)

    def text(match: re.Match) -> str:
        if match.group(1) not in (texts or {}):
            raise DefinitionError(f"workflow {workflow}: the template asks for the {match.group(1)}, which only a "
                                  "workflow definition's template has")
        return html.escape(liquid_free(texts[match.group(1)], f"the {match.group(1)}", workflow), quote=True)

    template = _PART_MARKER.sub(lambda match: page_part(match.group(1), workflow), template)
    # Markers are read in the template only: a label or title that reads like one ("[[title]]") is text.
    unknown = sorted(set(_ANY_MARKER.findall(_FILLED_MARKER.sub("", template))))
    if unknown:  # a misspelt form would reach workers as text, and the question would get no labels
        raise DefinitionError(f"workflow {workflow}: the template has {', '.join(unknown)}, which is no marker; write "
                              "[[labels:Q]], [[entity-labels:Q]], [[radio-buttons:Q]], [[checkboxes:Q]], "
                              f"[[max-chars:Q]] or [[part:P]] (parts: {', '.join(page_parts()) or 'none'})")
    fills = ((_LABELS_MARKER, labels), (_MAX_CHARS_MARKER, max_chars), (_TEXT_MARKER, text))

    def fill(match: re.Match) -> str:  # one pass: what a marker puts in is never read for markers again
        return next(filler(marker) for pattern, filler in fills if (marker := pattern.fullmatch(match.group(0))))

    filled = _FILLED_MARKER.sub(fill, template)
    from local_ground_truth.form_rules import question_field, rules_of

    rules = rules_of(filled)  # the page's form, read once for every check
    if rules.shared_buttons:  # Ground Truth submits one object per button name: one would replace another's answer
        raise DefinitionError(f"workflow {workflow}: the template has more than one crowd-radio-button or crowd-checkbox "
                              f"named {', '.join(map(repr, rules.shared_buttons))}; Ground Truth submits one object per "
                              "button name, so all but one would be lost: name each <question>:<label>, as "
                              "[[radio-buttons:Q]] and [[checkboxes:Q]] do")
    if rules.entities_in_form:
        raise DefinitionError(f"workflow {workflow}: the template has crowd-entity-annotation "
                              f"{', '.join(map(repr, rules.entities_in_form))} inside crowd-form; it carries its own "
                              "form and Submit button, so the page could never be submitted: put it outside crowd-form")
    fields = rules.fields
    problems = element_problems(fields, questions)
    if problems:  # a worker could answer in a shape the question does not take (two boxes ticked for one label)
        raise DefinitionError(f"workflow {workflow}: the template asks {'; '.join(problems)}")
    unasked = [question.name for question in questions if question_field(fields, question.name) is None]
    if whole_page and unasked and not any("{{" in name or "{%" in name for name in fields):  # (Liquid names: unknown)
        # Every answer to such a question would be under another name or none: on AWS no object would get its label.
        raise DefinitionError(f"workflow {workflow}: the template has no field for {', '.join(unasked)} (fields: "
                              f"{', '.join(fields) or 'none'}): name the element that asks each question after it")
    problems = label_problems(fields, questions)
    if problems:  # the page would submit answers the server and consolidation refuse: a worker could never finish
        raise DefinitionError(f"workflow {workflow}: the template offers {'; '.join(problems)}: write a question's "
                              "labels only in the definition and let a marker put them in ([[radio-buttons:Q]], ...)")
    problems = length_problems(fields, questions)
    if problems:  # consolidation keeps max_chars of a text: what a worker wrote past it would be cut without a word
        raise DefinitionError(f"workflow {workflow}: the template lets workers write {'; '.join(problems)}: give the "
                              'field max-length="[[max-chars:Q]]"')
    return filled


def page_parts() -> list[str]:
    """The names ``[[part:<name>]]`` takes: the files of ``PARTS_DIR``."""
    return sorted(path.name[:-len(".html")] for path in PARTS_DIR.glob("*.html"))


def page_part(name: str, workflow: str = "workflow") -> str:
    """The text of the part ``name`` (``PARTS_DIR``), for a page that asks for it; a DefinitionError naming the parts
    there are for any other name."""
    path = PARTS_DIR / f"{name}.html"
    if not path.is_file():
        raise DefinitionError(f"workflow {workflow}: the template asks for the part {name!r}, which is not in "
                              f"ui_templates/parts/ (its parts: {', '.join(page_parts()) or 'none'})")
    return path.read_text(encoding="utf-8").rstrip("\n")


def element_problems(fields: Mapping[str, Any], questions: tuple[Question, ...]) -> list[str]:
    """Each question asked with a crowd element that does not give its kind of answer (a classification with
    checkboxes, a multi-select with radio buttons). A page's own inputs are not judged: a script may fill them with
    any shape. ``fields``: as for ``label_problems``."""
    from local_ground_truth.form_rules import CROWD_ELEMENTS, question_field

    problems = []
    for question in questions:
        rule = question_field(fields, question.name)
        allowed = ASKED_WITH.get(question.kind, ())
        if rule is not None and rule.element in CROWD_ELEMENTS and rule.element not in allowed:
            problems.append(f"question {question.name} ({question.kind}) with {rule.element}, which cannot give its "
                            f"answer: ask it with {' or '.join(allowed)}")
    return problems


def label_problems(fields: Mapping[str, Any], questions: tuple[Question, ...]) -> list[str]:
    """Each value a template's element would submit for a question with labels that is not one of them (values
    and categories written in the page, not computed by it with Liquid). ``fields``: the page's
    (``form_rules.rules_of(page).fields``)."""
    from local_ground_truth.form_rules import question_field

    problems = []
    for question in questions:
        rule = question_field(fields, question.name)
        if rule is None or not question.labels:
            continue
        allowed = (question.value,) if isinstance(question, Checkbox) else question.labels
        offered = [*rule.values, *(rule.labels or ())]
        if rule.element.startswith("input:") or rule.element == "select":
            offered = []  # a native input's value is read from the submitted form as it is; the server checks it
        for value in offered:
            if value not in allowed and "{{" not in value and "{%" not in value:
                problems.append(f"{value!r} for question {question.name}, which is not one of its labels "
                                f"({', '.join(allowed)})")
    return problems


def length_problems(fields: Mapping[str, Any], questions: tuple[Question, ...]) -> list[str]:
    """Each free-text question whose text field (written in the page, not by its script) takes more characters
    than the question keeps (``max_chars``), or any number. ``fields``: as for ``label_problems``."""
    from local_ground_truth.form_rules import TEXT_FIELDS

    problems = []
    for question in questions:
        rule = fields.get(question.name)
        if not isinstance(question, FreeText) or rule is None or rule.element not in TEXT_FIELDS:
            continue
        if rule.max_length is None or rule.max_length > question.max_chars:
            room = "any number of" if rule.max_length is None else f"{rule.max_length:,}"
            problems.append(f"{room} characters in {question.name}, which keeps {question.max_chars:,} (max_chars)")
    return problems


def truth_key(manifest_line: Mapping[str, Any], index: int) -> str:
    """How truth.json names a data object: the file name (without extension) of its ``source-ref`` or
    ``source`` when that is an S3 URI, else its ``id`` field, else its line number (from 0)."""
    for key in SOURCE_FIELDS:
        value = manifest_line.get(key)
        if isinstance(value, str) and value.startswith("s3://"):
            return value.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if isinstance(manifest_line.get("id"), (str, int)):
        return str(manifest_line["id"])
    return str(index)
