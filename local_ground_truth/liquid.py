"""A python-liquid 2 environment that renders worker templates the way Ground Truth does.

Ground Truth renders with autoescaping on and offers the filters ``grant_read_access``,
``to_json``, ``escape``, ``escape_once`` and ``skip_autoescape``. Undefined variables are
errors here (StrictUndefined) by default: a template that reads a task.input key the pre-labeling
Lambda does not send should fail in tests, not show workers an empty image. The worker server
renders them empty as Ground Truth does (``on_undefined`` is told of each), so one object whose
task input lacks a key its template reads is shown as on AWS rather than stopping the job.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

from liquid import Environment, Markup, StrictUndefined, Undefined
from liquid.builtin.filters.string import escape, escape_once
from liquid.exceptions import FilterValueError

from gt_common.s3uri import S3_SCHEME

GrantReadAccess = Callable[[str], str]


def grant_read_access_filter(grant: GrantReadAccess) -> Callable[[object], str]:
    """Wrap ``grant`` (s3:// URI -> URL) as a filter.

    The URL is returned as a plain string, so autoescape still escapes it (``&`` -> ``&amp;``,
    which browsers decode in attributes). Only http(s) results are accepted so a misbehaving
    callable cannot put a ``javascript:`` URL into an ``src``.
    """

    def grant_read_access(value: object) -> str:
        if not isinstance(value, str) or not value.startswith(S3_SCHEME):
            raise FilterValueError(f"grant_read_access expects an s3:// URI, got {value!r}", token=None)
        url = grant(value)
        if urlsplit(url).scheme not in ("http", "https"):
            raise FilterValueError(f"grant_read_access produced a non-http(s) URL for {value}", token=None)
        return url

    return grant_read_access


def to_json(value: object) -> Markup:
    """JSON for a ``<script>`` block or a single-quoted attribute, exempt from autoescape.

    HTML does not decode entities inside ``<script>``, so the JSON must not be HTML-escaped;
    instead the sequences that could end the context are written as equivalent JSON escapes:
    ``</`` -> ``<\\/`` (cannot close the script), ``<!--`` -> ``\\u003c!--`` and ``'`` ->
    ``\\u0027`` (cannot leave a single-quoted attribute). In a double-quoted attribute, use
    ``| to_json | escape`` instead.
    """
    text = json.dumps(value)
    text = text.replace("</", "<\\/").replace("<!--", "\\u003c!--").replace("'", "\\u0027")
    return Markup(text)


def skip_autoescape(value: object) -> Markup:
    """Output ``value`` unescaped. XSS RISK: never apply it to worker- or data-supplied text."""
    return Markup("" if value is None else str(value))


def make_environment(grant_read_access: GrantReadAccess,
                     on_undefined: Optional[Callable[[str], None]] = None) -> Environment:
    """An environment with Ground Truth's autoescaping and filters. An undefined variable is an error, or with
    ``on_undefined`` output empty as Ground Truth outputs it, and ``on_undefined`` told what it was
    ("task.input.metadata.Title is undefined")."""
    undefined: type[Undefined] = StrictUndefined
    if on_undefined is not None:
        class ShownEmpty(Undefined):
            def __str__(self) -> str:
                on_undefined(self.hint or f"{self.name} is undefined")
                return ""

        undefined = ShownEmpty
    env = Environment(autoescape=True, undefined=undefined, strict_filters=True)
    env.filters["grant_read_access"] = grant_read_access_filter(grant_read_access)
    env.filters["to_json"] = to_json
    env.filters["skip_autoescape"] = skip_autoescape
    # Liquid's own escape filters already have Ground Truth's meaning under autoescape;
    # registered explicitly so the whole Ground Truth filter set is visible in one place.
    env.filters["escape"] = escape
    env.filters["escape_once"] = escape_once
    return env


def render_template(path: str | Path, task_input: Mapping[str, Any], grant_read_access: GrantReadAccess) -> str:
    """Render a worker template file with ``task.input`` bound to ``task_input``."""
    return render_source(Path(path).read_text(encoding="utf-8"), task_input, grant_read_access)


def render_source(source: str, task_input: Mapping[str, Any], grant_read_access: GrantReadAccess) -> str:
    """Render a worker template's text (e.g. ``definition.worker_template()``) with ``task.input``."""
    return make_environment(grant_read_access).from_string(source).render(task={"input": task_input})
