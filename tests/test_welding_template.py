"""The welding worker template as deployed (``definition.worker_template()``: its labels written in from the
definition), rendered with the local Ground Truth Liquid environment."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from liquid.exceptions import LiquidError, UndefinedError

import workflows
from local_ground_truth.liquid import make_environment, render_source

WELDING = workflows.definition("welding")
TEMPLATE = WELDING.template_path
SOURCE = WELDING.worker_template()
OWN_SCRIPTS = SOURCE.count("<script")  # the crowd elements and the template's own inline scripts
CATEGORIES = list(WELDING.questions[0].labels)
XSS_TITLES = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "' onmouseover='alert(1)"]


def render_template(task_input: dict, grant) -> str:
    return render_source(SOURCE, task_input, grant)


def fake_presign(uri: str) -> str:
    """Like a presigned URL: https, with a query string holding '&' that must survive escaping."""
    bucket, _, key = uri[len("s3://"):].partition("/")
    return f"https://{bucket}.s3.amazonaws.com/{quote(key)}?X-Amz-Signature=abc&X-Amz-Expires=3600"


def task_input(dataset: str, titles: dict[str, str] | None = None) -> dict:
    """The shape the pre-labeling Lambda returns for one weld."""
    titles = {"image": "Camera image", "current": "Current (A)", "electrode": "Electrode position (mm)",
              "voltage": "Voltage (V)", **(titles or {})}
    return {name: {"file": f"s3://welds/{dataset}/{name}.png", "title": title} for name, title in titles.items()}


class Collector(HTMLParser):
    """Records start tags with their (entity-decoded) attributes and checks nesting."""

    VOID = {"img", "br", "hr", "meta", "link", "input"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)

    def of(self, tag):
        return [attrs for name, attrs in self.tags if name == tag]


def parse(html: str) -> Collector:
    parser = Collector()
    parser.feed(html)
    parser.close()
    return parser


@pytest.mark.parametrize("dataset", ["weld-001", "weld 002/run#3"])
def test_renders_classifier_and_four_presigned_images(dataset):
    html = render_template(task_input(dataset), fake_presign)
    doc = parse(html)
    assert doc.errors == [] and doc.stack == []

    scripts = doc.of("script")
    assert [s["src"] for s in scripts if "src" in s] == ["https://assets.crowd.aws/crowd-html-elements.js"]
    assert len(scripts) == OWN_SCRIPTS
    assert len(doc.of("crowd-form")) == 1
    [classifier] = doc.of("crowd-classifier")
    assert classifier["name"] == "WeldingClassification"
    assert json.loads(classifier["categories"]) == CATEGORIES
    assert classifier["header"]
    for region in ("classification-target", "full-instructions", "short-instructions"):
        assert len(doc.of(region)) == 1, region

    images = doc.of("img")
    assert [img["src"] for img in images] == [
        fake_presign(f"s3://welds/{dataset}/{name}.png") for name in ("image", "current", "electrode", "voltage")]
    alts = [img["alt"] for img in images]
    assert all(alts) and len(set(alts)) == 4
    assert "Current (A)" in alts[1] and "Voltage (V)" in alts[3]
    assert "Electrode position (mm)" in "".join(doc.text)


def test_the_categories_are_written_only_in_the_definition():
    raw = TEMPLATE.read_text(encoding="utf-8")
    assert "categories='[[labels:WeldingClassification]]'" in raw
    assert not re.search(r'\[\s*"(' + "|".join(map(re.escape, CATEGORIES)) + ')"', raw)  # no list of labels in the template
    doc = parse(render_template(task_input("x"), fake_presign))
    assert json.loads(doc.of("crowd-classifier")[0]["categories"]) == CATEGORIES


def test_full_instructions_describe_every_class():
    doc = parse(render_template(task_input("x"), fake_presign))
    headings = [text.strip() for text in doc.text]
    for category in CATEGORIES:
        assert category in headings, category


@pytest.mark.parametrize("title", XSS_TITLES)
@pytest.mark.parametrize("field", ["image", "current", "electrode", "voltage"])
def test_hostile_titles_come_out_escaped(field, title):
    html = render_template(task_input("x", {field: title}), fake_presign)
    assert title not in html
    doc = parse(html)
    assert doc.errors == []
    # Exactly the template's own tags: nothing injected, no event-handler attributes.
    assert len(doc.of("img")) == 4 and len(doc.of("script")) == OWN_SCRIPTS
    assert not any(name.startswith("on") for _, attrs in doc.tags for name in attrs)
    # ...and the worker still sees the title verbatim, as text.
    assert title in "".join(doc.text)
    assert any(title in img["alt"] for img in doc.of("img"))


@pytest.mark.parametrize("missing", ["image", "voltage"])
def test_missing_task_input_key_is_an_error(missing):
    data = task_input("x")
    del data[missing]
    with pytest.raises(UndefinedError, match=missing):
        render_template(data, fake_presign)


def test_missing_title_is_an_error():
    data = task_input("x")
    del data["current"]["title"]
    with pytest.raises(UndefinedError):
        render_template(data, fake_presign)


# --- the environment's filters -------------------------------------------------------------

@pytest.fixture
def env():
    return make_environment(fake_presign)


def render(env, source, **data):
    return env.from_string(source).render(**data)


def test_autoescape_is_on(env):
    assert render(env, "{{ v }}", v='<b a="1">&') == "&lt;b a=&#34;1&#34;&gt;&amp;"


def test_to_json_cannot_close_a_script_or_quote(env):
    value = {"title": "</script><script>alert(1)</script>", "note": "<!-- it's"}
    out = render(env, "<script>var x = {{ v | to_json }};</script>", v=value)
    body = out[len("<script>var x = "):-len(";</script>")]
    assert "</" not in body and "<!--" not in body and "'" not in body
    assert "<\\/script>" in body
    # Not HTML-escaped (a script body is not entity-decoded) and still the same JSON.
    assert "&lt;" not in body and json.loads(body) == value


def test_to_json_then_escape_for_double_quoted_attributes(env):
    out = render(env, '<x data-v="{{ v | to_json | escape }}">', v=["a\"b"])
    assert '"' not in out[len('<x data-v="'):-2]
    [(_, attrs)] = parse(out).tags
    assert json.loads(attrs["data-v"]) == ['a"b']


def test_skip_autoescape_passes_markup_through(env):
    assert render(env, "{{ v | skip_autoescape }}", v="<b>bold</b>") == "<b>bold</b>"


def test_escape_and_escape_once(env):
    assert render(env, "{{ v | escape }}", v="<a>") == "&lt;a&gt;"  # escaped once, not twice
    assert render(env, "{{ v | escape_once }}", v="&amp; <") == "&amp; &lt;"


def test_grant_read_access_calls_the_callable(env):
    calls = []
    environment = make_environment(lambda uri: calls.append(uri) or "https://signed.example/k?a=1&b=2")
    out = render(environment, '<img src="{{ u | grant_read_access }}">', u="s3://bucket/key.png")
    assert calls == ["s3://bucket/key.png"]
    assert parse(out).of("img")[0]["src"] == "https://signed.example/k?a=1&b=2"


@pytest.mark.parametrize("value", ["https://example.com/x.png", "javascript:alert(1)", 42])
def test_grant_read_access_rejects_non_s3_input(env, value):
    with pytest.raises(LiquidError, match="s3:// URI"):
        render(env, "{{ u | grant_read_access }}", u=value)


def test_grant_read_access_rejects_non_http_urls():
    environment = make_environment(lambda uri: "javascript:alert(1)")
    with pytest.raises(LiquidError, match="non-http"):
        render(environment, "{{ u | grant_read_access }}", u="s3://b/k")


def test_unknown_variables_and_filters_are_errors(env):
    with pytest.raises(UndefinedError):
        render(env, "{{ nothing }}")
    with pytest.raises(LiquidError):
        render(env, "{{ 'x' | no_such_filter }}")


@pytest.mark.parametrize("title", XSS_TITLES + ["</script><script>alert(1)</script>", "<!-- x"])
def test_page_is_the_same_whatever_to_json_does(title):
    """AWS does not document whether Ground Truth's to_json escapes "</": task data never goes through it."""
    from liquid import Markup

    source = SOURCE
    assert not [output for output in re.findall(r"{{(.*?)}}", source) if "task" in output and "to_json" in output]
    pages = []
    for to_json_filter in (None, lambda value: Markup(json.dumps(value))):  # the project's, and a plain one
        environment = make_environment(fake_presign)
        if to_json_filter is not None:
            environment.filters["to_json"] = to_json_filter
        pages.append(environment.from_string(source).render(task={"input": task_input("x", {"current": title})}))
    assert pages[0] == pages[1]
    doc = parse(pages[0])
    assert len(doc.of("script")) == OWN_SCRIPTS and not any(name.startswith("on") for _, attrs in doc.tags for name in attrs)
