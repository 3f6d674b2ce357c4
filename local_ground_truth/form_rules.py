"""What a worker page's form requires, read from the rendered template, and checks of a submitted answer.

Ground Truth's ``crowd-form`` will not submit while a ``crowd-classifier`` has no category chosen or a
field marked ``required`` is empty. The local server applies the same rules again to what arrives
(a page can be bypassed), taken from the very page the worker was shown, and checks that each crowd
element's answer has the shape that element submits (``static/crowd-html-elements.js``):

- ``<crowd-classifier name="X" categories='[...]'>``: ``X`` must be ``{"label": <one of the categories>}``;
- ``<crowd-classifier-multi-select name="X" categories='[...]'>``: ``{"labels": [<categories>]}``, at least one;
- ``<crowd-checkbox name="X" value="V">`` (``V`` defaults to "on"): ``{"V": true | false}``, and ``true`` for a
  box marked ``required``;
- ``<crowd-radio-button name="X" value="V">`` (in or out of a ``crowd-radio-group``): ``{"V": true | false}``;
  Ground Truth submits one object per button name, so buttons sharing a name lose answers (``shared_buttons``
  names them; synth refuses them). A question's buttons are named ``<question>:<label>``
  (``questions.button_name``) and ``question_field`` gathers them as the question's field;
- ``<crowd-input name="X">``, ``<crowd-text-area name="X">``: text, when given, of at most its ``max-length``;
- ``<crowd-entity-annotation name="X" labels='[{"label": ...}]' text="...">``:
  ``{"entities": [{"label", "startOffset", "endOffset"}]}`` with labels of the page, code-point offsets
  inside the text (``0 <= start < end <= length``) and no two entities overlapping;
- any element with a ``name`` and the ``required`` attribute (``crowd-input``, ``crowd-text-area``,
  ``input``, ``textarea``, ``select``, also a hidden ``input`` a page's script fills): the answer must
  hold a non-empty value under that name.

A value wrapped in a one-item list (the element pages' examples) is read as the value itself.
``element`` of each field is also how the headless mode's simulated workers shape their answers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Optional

from gt_common.questions import BUTTON_DEFAULT_VALUE, button_label, is_button_of

CLASSIFIER = "crowd-classifier"
MULTI_SELECT = "crowd-classifier-multi-select"
CHECKBOX = "crowd-checkbox"
RADIO_BUTTON = "crowd-radio-button"
INPUT = "crowd-input"
TEXT_AREA = "crowd-text-area"
ENTITY_ANNOTATION = "crowd-entity-annotation"
CROWD_ELEMENTS = (CLASSIFIER, MULTI_SELECT, CHECKBOX, RADIO_BUTTON, INPUT, TEXT_AREA, ENTITY_ANNOTATION)
FORM = "crowd-form"
#: The fields a worker types text into (their ``max-length`` / ``maxlength`` is how much they take).
TEXT_FIELDS = (INPUT, TEXT_AREA, "textarea", "input:text")
_ON = BUTTON_DEFAULT_VALUE  # the value of a crowd-checkbox / crowd-radio-button without one


@dataclass
class Field:
    """One named answer of the page: the element that gives it and what that element allows."""

    name: str
    element: str  # a crowd element above, or "input:<type>", "textarea", "select"
    labels: Optional[tuple[str, ...]] = None  # categories / entity labels; None when the page computes them
    values: list[str] = field(default_factory=list)  # crowd-checkbox / crowd-radio-button values under the name
    #: A question's buttons gathered by ``question_field``: label -> (the button's name, the value it submits).
    buttons: dict[str, tuple[str, str]] = field(default_factory=dict)
    required_values: list[str] = field(default_factory=list)  # crowd-checkbox values marked required
    required: bool = False
    text_length: Optional[int] = None  # crowd-entity-annotation: code points of its text
    max_length: Optional[int] = None  # a text field's max-length (maxlength), when the page writes a number


@dataclass
class FormRules:
    fields: dict[str, Field] = field(default_factory=dict)
    #: Names that more than one crowd-checkbox or crowd-radio-button has (all but one answer would be lost).
    shared_buttons: list[str] = field(default_factory=list)
    #: Names of crowd-entity-annotations inside a crowd-form: the element carries its own form and Submit, so the
    #: page can never be submitted (Ground Truth's element page, and the offline elements, refuse it).
    entities_in_form: list[str] = field(default_factory=list)

    @property
    def classifiers(self) -> dict[str, Optional[tuple[str, ...]]]:
        """name -> categories of every crowd-classifier."""
        return {name: f.labels for name, f in self.fields.items() if f.element == CLASSIFIER}

    @property
    def required(self) -> list[str]:
        """Names of the fields (other than classifiers, which always need a choice) marked required."""
        return [name for name, f in self.fields.items() if f.required and f.element != CLASSIFIER]

    def problems(self, answer: dict[str, Any]) -> list[str]:
        """Why ``answer`` cannot be accepted (empty when it can), one sentence per problem."""
        found = self.unknown_fields(answer)
        for name, categories in self.classifiers.items():
            value = _unwrapped(answer.get(name))
            label = value.get("label") if isinstance(value, dict) else None
            if not isinstance(label, str) or not label:
                found.append(f"no category is chosen for {name}")
            elif extra := _extra_keys(value, CLASSIFIER_KEYS):
                found.append(f"{name} holds {extra} beside its label")
            elif categories is not None and label not in categories:
                found.append(f"{label[:80]!r} is not one of the categories of {name}")
        for name, rule in self.fields.items():
            if name in answer:
                found += _shape_problems(rule, _unwrapped(answer[name]))
        for name in self.required:
            value = answer.get(name)
            if value is None or value == "" or value == {} or value == []:
                found.append(f"{name} is required")
        for name, rule in self.fields.items():
            value = _unwrapped(answer.get(name))
            for box in rule.required_values:
                if rule.element == CHECKBOX and not (isinstance(value, dict) and value.get(box) is True):
                    found.append(f"{name} ({box[:40]}) must be checked")
        return list(dict.fromkeys(found))

    def unknown_fields(self, answer: dict[str, Any]) -> list[str]:
        """Fields of ``answer`` that no element of the page has: an answer holds the page's fields only (a worker
        posting 125,000 keys of their own made the answers table as many columns, past what a spreadsheet shows).
        A field a page's script fills must be in its markup (a hidden input), as the page's required fields are."""
        unknown = [name for name in answer if name not in self.fields]
        if not unknown:
            return []
        named = ", ".join(repr(name[:40]) for name in unknown[:UNKNOWN_FIELDS_NAMED])
        more = f" and {len(unknown) - UNKNOWN_FIELDS_NAMED:,} more" if len(unknown) > UNKNOWN_FIELDS_NAMED else ""
        return [f"the page has no field {named}{more}: an answer holds only the page's fields"]


#: How many of an answer's unknown fields a refusal names (a hostile answer may hold thousands).
UNKNOWN_FIELDS_NAMED = 5


#: What each crowd element's answer holds (Ground Truth's shapes; the offline elements submit the same): anything
#: more is refused, else a worker could store megabytes inside a classifier's value, past what a table cell holds.
CLASSIFIER_KEYS = frozenset({"label"})
MULTI_SELECT_KEYS = frozenset({"labels"})
ENTITIES_KEYS = frozenset({"entities"})
ENTITY_KEYS = frozenset({"label", "startOffset", "endOffset"})


def _extra_keys(value: dict[str, Any], allowed: frozenset) -> str:
    """The keys of ``value`` beyond ``allowed``, named as a refusal says them ("" when none)."""
    extra = [key for key in value if key not in allowed]
    if not extra:
        return ""
    named = ", ".join(repr(str(key)[:40]) for key in extra[:UNKNOWN_FIELDS_NAMED])
    more = f" and {len(extra) - UNKNOWN_FIELDS_NAMED:,} more" if len(extra) > UNKNOWN_FIELDS_NAMED else ""
    return ("the key " if len(extra) == 1 else "the keys ") + named + more


def _unwrapped(value: Any) -> Any:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _shape_problems(rule: Field, value: Any) -> list[str]:
    """Why ``value`` is not what ``rule.element`` submits (classifiers are checked by ``problems``)."""
    name = rule.name
    if rule.element == MULTI_SELECT:
        labels = value.get("labels") if isinstance(value, dict) else None
        if not isinstance(labels, list) or not labels or not all(isinstance(label, str) for label in labels):
            return [f"no category is chosen for {name}"]
        if extra := _extra_keys(value, MULTI_SELECT_KEYS):
            return [f"{name} holds {extra} beside its labels"]
        return [f"{label[:80]!r} is not one of the categories of {name}"
                for label in labels if rule.labels is not None and label not in rule.labels]
    if rule.element in (CHECKBOX, RADIO_BUTTON):
        if not isinstance(value, dict) or not all(isinstance(v, bool) for v in value.values()):
            return [f"{name} must be an object of true/false per {rule.element} value"]
        return [f"{str(key)[:80]!r} is not a value of {name}'s {rule.element}" for key in value if key not in rule.values]
    if rule.element in (INPUT, TEXT_AREA):
        if not isinstance(value, str):
            return [f"{name} must be text"]
        if rule.max_length is not None and len(value) > rule.max_length:
            return [f"{name} is {len(value):,} characters, over the page's {rule.max_length:,}"]
        return []
    if rule.element == ENTITY_ANNOTATION:
        return _entity_problems(rule, value)
    return []


def _entity_problems(rule: Field, value: Any) -> list[str]:
    name = rule.name
    entities = value.get("entities") if isinstance(value, dict) else None
    if not isinstance(entities, list):
        return [f"{name} must be {{\"entities\": [...]}}"]
    found, spans = [], []
    if extra := _extra_keys(value, ENTITIES_KEYS):
        found.append(f"{name} holds {extra} beside its entities")
    for index, entity in enumerate(entities):
        where = f"{name} entity {index + 1}"
        if not isinstance(entity, dict):
            found.append(f"{where} is not an object")
            continue
        if extra := _extra_keys(entity, ENTITY_KEYS):
            found.append(f"{where} holds {extra} beside its label and offsets")
        label, start, end = entity.get("label"), entity.get("startOffset"), entity.get("endOffset")
        if not isinstance(label, str) or (rule.labels is not None and label not in rule.labels):
            found.append(f"{where}: {str(label)[:80]!r} is not one of the labels of {name}")
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)) or not 0 <= start < end:
            found.append(f"{where}: offsets {start!r}-{end!r} are not 0 <= start < end")
            continue
        if rule.text_length is not None and end > rule.text_length:
            found.append(f"{where}: ends at {end}, after the text's {rule.text_length} characters")
        spans.append((start, end, index + 1))
    spans.sort()
    found += [f"{name} entities {a[2]} and {b[2]} overlap" for a, b in zip(spans, spans[1:]) if b[0] < a[1]]
    return found


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rules = FormRules()
        self._forms_open = 0  # crowd-forms the parser is inside

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        attributes = dict(attrs)
        if tag == FORM:
            self._forms_open += 1
        name = attributes.get("name")
        if tag == ENTITY_ANNOTATION and self._forms_open:
            self.rules.entities_in_form.append(name or "(no name)")
        if not name:
            return
        element = tag if tag in CROWD_ELEMENTS else f"input:{(attributes.get('type') or 'text').lower()}" \
            if tag == "input" else tag
        rule = self.rules.fields.get(name)
        if rule is None:
            rule = self.rules.fields[name] = Field(name=name, element=element)
        required = "required" in attributes
        if tag in (CLASSIFIER, MULTI_SELECT):
            rule.labels = parse_labels(attributes.get("categories"))
        elif tag == ENTITY_ANNOTATION:
            labels = parse_labels(attributes.get("labels"), key="label")
            rule.labels = labels
            rule.text_length = len(attributes.get("text") or "")
        elif tag in (CHECKBOX, RADIO_BUTTON):
            value = attributes.get("value") or _ON
            if rule.values and name not in self.rules.shared_buttons:
                self.rules.shared_buttons.append(name)
            if value not in rule.values:
                rule.values.append(value)
            if required and tag == CHECKBOX:
                rule.required_values.append(value)
            return
        rule.required = rule.required or required
        if element in TEXT_FIELDS:
            limit = attributes.get("max-length" if tag in CROWD_ELEMENTS else "maxlength") or ""
            rule.max_length = int(limit) if limit.isascii() and limit.isdigit() else rule.max_length

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == FORM:  # <crowd-form/> opens nothing
            self._forms_open -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag == FORM and self._forms_open:
            self._forms_open -= 1


def question_field(fields: dict[str, Field], name: str) -> Optional[Field]:
    """The field that answers question ``name``: its own, or its crowd-radio-buttons or crowd-checkboxes named
    ``<name>:<label>`` gathered as one (``values``: the labels; ``buttons``: each label's button). None: none."""
    if name in fields:
        return fields[name]
    buttons = [rule for key, rule in fields.items() if is_button_of(name, key) and rule.element in (CHECKBOX, RADIO_BUTTON)]
    if not buttons:
        return None
    gathered = Field(name=name, element=buttons[0].element)
    for button in buttons:
        for value in button.values:
            label = button_label(name, button.name, value)
            gathered.values.append(label)
            gathered.buttons[label] = (button.name, value)
            if value in button.required_values:
                gathered.required_values.append(label)
    return gathered


def parse_labels(raw: Optional[str], key: Optional[str] = None) -> Optional[tuple[str, ...]]:
    """A JSON list attribute (of strings, or with ``key`` of objects holding ``key``), as the offline
    elements read it; the element pages' single-quoted examples (``"['a', 'b']"``) are read too. None
    when it is not such a list (e.g. categories the page computes): then only a choice is required."""
    for text in (raw or "", (raw or "").replace("'", '"')):
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if not isinstance(value, list):
            return None
        items = [item.get(key) if key and isinstance(item, dict) else item for item in value]
        return tuple(items) if all(isinstance(item, str) for item in items) else None
    return None


def rules_of(page: str) -> FormRules:
    """The form rules of a rendered worker page."""
    collector = _Collector()
    collector.feed(page)
    collector.close()
    return collector.rules
