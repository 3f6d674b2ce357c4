"""The NER (abstract sections) worker template, rendered with the local Ground Truth Liquid environment.

Every abstract in sample_data/ner/ (manifest.jsonl + abstracts/abstract-NN.txt) is rendered, plus
inline abstracts (one non-ASCII, several hostile) so the checks never depend on the sample data alone.
Each is rendered twice: with the project's ``to_json`` (which escapes ``</``) and with a plain
``json.dumps`` one, since AWS does not document what Ground Truth's ``to_json`` does with ``</``;
the page must be the same, and safe, either way.
"""
from __future__ import annotations

import html as html_lib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from liquid import Markup
from liquid.exceptions import UndefinedError

import workflows
from local_ground_truth.liquid import make_environment, to_json

NER = workflows.definition("ner")
TEMPLATE = NER.template_path
SOURCE = NER.worker_template()  # as deployed: the labels written in from the definition
OWN_SCRIPTS = SOURCE.count("<script")  # the crowd elements and the template's own inline scripts
SAMPLE_DIR = NER.sample_data_dir
DATA_PREFIX_URI = "s3://bucket/ner"
LABELS = list(NER.questions[0].labels)
PRESIGNED = "https://presigned.example/{key}?sig=1&x=2"
TEXT_ATTRIBUTE_OPEN = '<div id="abstract-text" hidden data-text="'

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(1)</script>",
    "{{ 7*7 }}",
    "</SCRIPT ><script>alert(2)</script>",
    "<!-- <script>alert(3)</script>",
    "' onmouseover='alert(1)\" x=\"",
]


def fake_presign(uri: str) -> str:
    """Like a presigned URL: https, with '&' in the query that must survive escaping."""
    return PRESIGNED.format(key=uri[len("s3://"):])


def metadata(title: str = "A study", author: str = "A. Author", n: int = 1) -> dict:
    return {"Title": title, "Author": author, "ISBN": "978-0-00-000000-0",
            "text_file_s3_uri": f"{DATA_PREFIX_URI}/abstracts/abstract-{n:02d}.txt"}


def make_input(text: str, title: str = "A study", author: str = "A. Author", n: int = 1) -> dict:
    return {"taskObject": f"{DATA_PREFIX_URI}/pages/abstract-{n:02d}.jpg", "text": text,
            "metadata": metadata(title, author, n)}


INLINE_ABSTRACTS = {
    "ascii": make_input(
        "Background: Corrosion limits bridge life. Objectives: We measured it. Methods: 40 bridges were "
        "sampled. Results: Rates doubled near the coast. Limitations: One climate zone only. "
        "Conclusions: Coastal bridges need coatings.", n=1),
    "non-ascii": make_input(
        "Hintergrund: Größere Flüsse führen mehr Sediment 🌊. Méthodes: données de 12 stations, "
        "δ¹⁸O-Isotope und 水文 Daten. Résultats: 𝔼[X] ≈ 3,5 mm/a. Conclusions: «Ça marche».\n\tTab & newline.",
        title="Über Flüsse — rivières & 河流", author="Zoë Ørsted-Ñúñez", n=2),
    **{f"hostile-{i}": make_input(f"Background: {h} Results: ok {h}", n=10 + i) for i, h in enumerate(HOSTILE)},
}


def _local_path(uri: str) -> Path:
    """A manifest URI under ${DATA_PREFIX_URI} -> the file under sample_data/ner/."""
    return SAMPLE_DIR / uri.replace("${DATA_PREFIX_URI}", "").lstrip("/")


def sample_inputs() -> dict[str, dict]:
    """task.input for every line of sample_data/ner/manifest.jsonl (empty if not generated yet)."""
    manifest = SAMPLE_DIR / "manifest.jsonl"
    if not manifest.exists():
        return {}
    cases = {}
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        source_ref = row["source-ref"]
        meta = dict(row.get("metadata") or {})
        text_uri = meta.get("text_file_s3_uri") or row.get("text-file-ref") or row.get("text_file_s3_uri")
        if text_uri:
            text_file = _local_path(text_uri)
        else:  # pages/abstract-NN.jpg <-> abstracts/abstract-NN.txt
            text_file = SAMPLE_DIR / "abstracts" / (Path(source_ref).stem + ".txt")
            text_uri = "${DATA_PREFIX_URI}/abstracts/" + text_file.name
        meta["text_file_s3_uri"] = text_uri.replace("${DATA_PREFIX_URI}", DATA_PREFIX_URI)
        cases[f"sample-{number:02d}-{text_file.stem}"] = {
            "taskObject": source_ref.replace("${DATA_PREFIX_URI}", DATA_PREFIX_URI),
            "text": text_file.read_text(encoding="utf-8"),
            "metadata": meta,
        }
    return cases


SAMPLES = sample_inputs()
ALL_CASES = {**INLINE_ABSTRACTS, **SAMPLES}


class Collector(HTMLParser):
    """Start tags with decoded attributes, nesting errors, text, and each script's raw content."""

    VOID = {"img", "br", "hr", "meta", "link", "input"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self.scripts.append((dict(attrs), ""))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "script":
            attrs, body = self.scripts[-1]
            self.scripts[-1] = (attrs, body + data)
        else:
            self.text.append(data)

    def of(self, tag):
        return [attrs for name, attrs in self.tags if name == tag]


def parse(html: str) -> Collector:
    parser = Collector()
    parser.feed(html)
    parser.close()
    return parser


def to_json_plain(value: object) -> Markup:
    """A ``to_json`` that leaves ``</``, ``<!--`` and quotes as they are (test-only variant)."""
    return Markup(json.dumps(value))


TO_JSON_VARIANTS = {"to_json-escapes": to_json, "to_json-plain": to_json_plain}


def render(task_input: dict, to_json_filter=to_json) -> str:
    environment = make_environment(fake_presign)
    environment.filters["to_json"] = to_json_filter
    return environment.from_string(SOURCE).render(task={"input": task_input})


def split_text_attribute(html: str) -> tuple[str, str]:
    """(the data-text attribute's raw value, the rest of the page), cut at the first '"' after the
    attribute opens, which is exactly where a browser ends a double-quoted attribute value."""
    start = html.index(TEXT_ATTRIBUTE_OPEN) + len(TEXT_ATTRIBUTE_OPEN)
    end = html.index('"', start)
    assert html[end:end + 2] == '">', "the text attribute is not closed by its own quote"
    return html[start:end], html[:start] + html[end:]


def test_sample_data_or_inline_cases_present():
    assert len(INLINE_ABSTRACTS) >= 2
    assert any(any(ord(c) > 127 for c in case["text"]) for case in INLINE_ABSTRACTS.values())
    if SAMPLE_DIR.exists():
        txts = sorted((SAMPLE_DIR / "abstracts").glob("abstract-*.txt"))
        assert SAMPLES, "sample_data/ner exists but manifest.jsonl has no lines"
        assert len(SAMPLES) == len(txts), "every abstracts/abstract-NN.txt should have one manifest line"


@pytest.mark.parametrize("variant", list(TO_JSON_VARIANTS))
@pytest.mark.parametrize("name", list(ALL_CASES))
def test_renders_every_abstract(name, variant):
    task_input = ALL_CASES[name]
    html = render(task_input, TO_JSON_VARIANTS[variant])
    assert html == render(task_input, to_json)  # the page does not depend on what to_json does
    doc = parse(html)
    assert doc.errors == [] and doc.stack == []

    # Only the crowd elements script is loaded from elsewhere; the rest is inline.
    srcs = [attrs.get("src") for attrs, _ in doc.scripts if attrs.get("src")]
    assert srcs == ["https://assets.crowd.aws/crowd-html-elements.js"]
    assert not doc.of("link")
    assert len(doc.of("crowd-form")) == 1

    # The text comes back exactly, as the value of one autoescaped attribute.
    [holder] = [attrs for attrs in doc.of("div") if attrs.get("id") == "abstract-text"]
    assert holder["data-text"] == task_input["text"] and "hidden" in holder
    raw, _ = split_text_attribute(html)
    assert html_lib.unescape(raw) == task_input["text"] and not any(c in raw for c in "<>\"'")

    # The page image is the presigned URL (attribute decoding turns &amp; back into &).
    [img] = doc.of("img")
    assert img["src"] == fake_presign(task_input["taskObject"])
    assert img["alt"] == "First page of the paper"

    # Yes/No radios with no default; hidden answer inputs present.
    radios = [attrs for attrs in doc.of("input") if attrs.get("type") == "radio"]
    assert sorted(r["value"] for r in radios) == ["No", "Yes"]
    assert all("checked" not in r for r in radios)
    hidden = {attrs["name"]: attrs.get("value") for attrs in doc.of("input") if attrs.get("type") == "hidden"}
    assert set(hidden) == {"abstract", "isGoodAbstract"}
    assert json.loads(hidden["abstract"]) == {"entities": []}
    assert [a for a in doc.of("crowd-text-area") if a.get("name") == "notes"]

    # The labels, as data for the script that builds the buttons (no button is written in the page), and
    # each described in the help; the metadata shown as text.
    [toolbar] = [attrs for attrs in doc.of("div") if attrs.get("id") == "label-buttons"]
    assert json.loads(toolbar["data-labels"]) == LABELS and not doc.of("button")
    page_text = "".join(doc.text)
    assert "Is this a good abstract?" in page_text
    assert task_input["metadata"]["Title"] in page_text
    assert task_input["metadata"]["Author"] in page_text


@pytest.mark.parametrize("variant", list(TO_JSON_VARIANTS))
@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_stays_data(hostile, variant):
    task_input = make_input(f"Methods: {hostile} and more {hostile}")
    html = render(task_input, TO_JSON_VARIANTS[variant])
    raw, rest = split_text_attribute(html)
    assert html_lib.unescape(raw) == task_input["text"]
    assert hostile not in rest
    assert "alert(" not in rest and "onerror" not in rest
    assert "49" not in raw and "49" not in rest  # Liquid never evaluates the data
    doc = parse(html)
    assert doc.errors == [] and doc.stack == []
    assert len(doc.of("img")) == 1 and len(doc.scripts) == OWN_SCRIPTS
    assert not any(name.startswith("on") for _, attrs in doc.tags for name in attrs)


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("field", ["Title", "Author"])
def test_hostile_metadata_is_escaped(field, hostile):
    task_input = make_input("Background: fine.")
    task_input["metadata"][field] = hostile
    html = render(task_input)
    if any(c in hostile for c in "<>\"'&"):
        assert hostile not in html
    doc = parse(html)
    assert doc.errors == [] and doc.stack == []
    assert len(doc.of("img")) == 1 and len(doc.scripts) == OWN_SCRIPTS
    assert not any(name.startswith("on") for _, attrs in doc.tags for name in attrs)
    assert hostile in "".join(doc.text)  # shown verbatim, as text


def test_the_labels_are_written_only_in_the_definition_and_the_help_describes_each():
    raw = TEMPLATE.read_text(encoding="utf-8")
    assert "data-labels='[[labels:abstract]]'" in raw
    assert not re.search(r'\[\s*"(' + "|".join(map(re.escape, LABELS)) + ')"', raw) and "lbl-" not in raw  # no label list, no per-label style
    terms = re.findall(r"<dt>([^<]+)</dt>", raw.split('id="section-help"')[1].split("</dl>")[0])
    assert sorted(terms) == sorted(LABELS)


def test_script_never_uses_inner_html_for_task_data():
    source = TEMPLATE.read_text(encoding="utf-8")
    assert "skip_autoescape" not in source
    doc = parse(render(make_input("Background: x.")))
    code = "\n".join(body for attrs, body in doc.scripts if not attrs.get("src") and not attrs.get("type"))
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function("):
        assert sink not in code, sink
    assert 'document.getElementById("abstract-text").getAttribute("data-text")' in code


def test_task_data_never_passes_through_to_json_or_a_script_block():
    """Only plain autoescaped output carries task data: nothing depends on what to_json does."""
    source = SOURCE
    outputs = re.findall(r"{{(.*?)}}", source)
    assert outputs and all("|" not in output or "| grant_read_access" in output for output in outputs), outputs
    assert '<script type="application/json"' not in source


@pytest.mark.parametrize("missing", ["text", "taskObject", "metadata"])
def test_missing_task_input_key_is_an_error(missing):
    task_input = make_input("Background: x.")
    del task_input[missing]
    with pytest.raises(UndefinedError):
        render(task_input)


def test_a_line_without_a_title_or_author_shows_no_such_row():
    """Pre-labeling sends a line's metadata as it is, and each key is optional (a line may have none): such a page
    rendered empty rows on Ground Truth and stopped the local job here."""
    task_input = make_input("Background: x.")
    del task_input["metadata"]["Title"]
    page = render(task_input)
    assert 'id="meta-title"' not in page and 'id="meta-author"' in page
    task_input["metadata"] = {"text_file_s3_uri": "s3://b/a.txt"}  # what pre-labeling sends for a line without any
    page = render(task_input)
    assert 'id="meta-author"' not in page and "Background: x." in page
