"""What a worker page's form requires, read from the rendered template, and checks of a submitted answer.

Ground Truth's ``crowd-form`` will not submit while a ``crowd-classifier`` has no category chosen or a
field marked ``required`` is empty. The local server applies the same rules again to what arrives
(a page can be bypassed), taken from the very page the worker was shown:

- ``<crowd-classifier name="X" categories='[...]'>``: ``X`` must be ``{"label": <one of the categories>}``;
- any element with a ``name`` and the ``required`` attribute (``crowd-input``, ``crowd-text-area``,
  ``input``, ``textarea``, ``select``, also a hidden ``input`` a page's script fills): the answer must
  hold a non-empty value under that name.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Optional


@dataclass
class FormRules:
    classifiers: dict[str, Optional[tuple[str, ...]]] = field(default_factory=dict)  # name -> categories
    required: list[str] = field(default_factory=list)

    def problems(self, answer: dict[str, Any]) -> list[str]:
        """Why ``answer`` cannot be accepted (empty when it can), one sentence per problem."""
        found = []
        for name, categories in self.classifiers.items():
            value = answer.get(name)
            if isinstance(value, list) and len(value) == 1:  # the element pages' one-item-list shape
                value = value[0]
            label = value.get("label") if isinstance(value, dict) else None
            if not isinstance(label, str) or not label:
                found.append(f"no category is chosen for {name}")
            elif categories is not None and label not in categories:
                found.append(f"{label[:80]!r} is not one of the categories of {name}")
        for name in self.required:
            if name in self.classifiers:
                continue
            value = answer.get(name)
            if value is None or value == "" or value == {} or value == []:
                found.append(f"{name} is required")
        return found


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rules = FormRules()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        attributes = dict(attrs)
        name = attributes.get("name")
        if not name:
            return
        if tag == "crowd-classifier":
            self.rules.classifiers[name] = _categories(attributes.get("categories"))
        elif "required" in attributes and name not in self.rules.required:
            self.rules.required.append(name)

    handle_startendtag = handle_starttag


def _categories(raw: Optional[str]) -> Optional[tuple[str, ...]]:
    try:
        value = json.loads(raw or "")
    except ValueError:
        return None  # categories the page computes itself: only require that one is chosen
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def rules_of(page: str) -> FormRules:
    """The form rules of a rendered worker page."""
    collector = _Collector()
    collector.feed(page)
    collector.close()
    return collector.rules
