"""The generated NER sample data: deterministic, consistent, and with truth spans that are sentences."""
from __future__ import annotations

import filecmp
import importlib.util
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

import workflows
from gt_common.limits import MAX_MANIFEST_LINE_BYTES
from gt_common.questions import Spans, YesNo
from local_ground_truth.truth import checked_truth
from workflows.model import truth_key

REPO = Path(__file__).resolve().parent.parent
NER = workflows.definition("ner")
DATA = NER.sample_data_dir
PLACEHOLDER = "${DATA_PREFIX_URI}"
[SECTIONS] = [q for q in NER.questions if isinstance(q, Spans)]
[JUDGEMENT] = [q for q in NER.questions if isinstance(q, YesNo)]
LABELS = set(SECTIONS.span_labels)


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_ner_data", REPO / "scripts" / "generate_ner_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator():
    return load_generator()


@pytest.fixture(scope="module")
def truth():
    return json.loads((DATA / "truth.json").read_text(encoding="utf-8"))


def manifest_lines():
    return (DATA / "manifest.jsonl").read_text(encoding="utf-8").splitlines()


def test_generator_reproduces_the_committed_data_byte_for_byte(generator, tmp_path):
    generator.generate(tmp_path)
    files = sorted(p.relative_to(DATA) for p in DATA.rglob("*") if p.is_file())
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()) == files
    for relative in files:
        assert (tmp_path / relative).read_bytes() == (DATA / relative).read_bytes(), relative
    comparison = filecmp.dircmp(tmp_path, DATA)
    assert not comparison.left_only and not comparison.right_only


def test_at_least_ten_abstracts_with_good_and_poor_ones(truth):
    assert len(truth) >= 10
    assert len(manifest_lines()) == len(truth)
    judged = [entry[JUDGEMENT.name] for entry in truth.values()]
    assert set(judged) == {"Yes", "No"} and 1 <= judged.count("No") <= 3


def test_every_span_is_a_sentence_in_order_without_overlap(generator, truth):
    for number, (name, entry) in enumerate(sorted(truth.items()), start=1):
        assert name == f"abstract-{number:02d}"
        text = (DATA / "abstracts" / f"{name}.txt").read_bytes().decode("utf-8")
        assert text == text.strip() and "  " not in text
        sentences = generator.ABSTRACTS[number - 1]["sentences"]
        assert 5 <= len(sentences) <= 9
        entities = entry[SECTIONS.name]
        assert [(e["label"], text[e["startOffset"]:e["endOffset"]]) for e in entities] == list(sentences)
        previous_end = 0
        for entity in entities:
            assert entity["label"] in LABELS
            assert previous_end <= entity["startOffset"] < entity["endOffset"] <= len(text)
            previous_end = entity["endOffset"]
        # The sentences, joined by single spaces, make up the whole text.
        assert " ".join(text[e["startOffset"]:e["endOffset"]] for e in entities) == text
        assert len({e["label"] for e in entities}) >= 3, name


def test_all_six_labels_occur_and_offsets_are_code_points(truth):
    assert {e["label"] for entry in truth.values() for e in entry[SECTIONS.name]} == LABELS
    texts = [(DATA / "abstracts" / f"{name}.txt").read_text(encoding="utf-8") for name in truth]
    non_ascii = [t for t in texts if not t.isascii()]
    assert non_ascii, "at least one abstract must contain non-ASCII characters"
    # Code-point offsets differ from byte offsets there: the last span still ends at len(text).
    name = next(n for n, t in zip(truth, texts) if not t.isascii())
    text = (DATA / "abstracts" / f"{name}.txt").read_text(encoding="utf-8")
    assert truth[name][SECTIONS.name][-1]["endOffset"] == len(text) < len(text.encode("utf-8"))


def test_truth_is_keyed_as_the_runner_names_objects_and_fits_the_questions(truth):
    lines = [json.loads(line) for line in manifest_lines()]
    names = {str(i): truth_key({k: v.replace(PLACEHOLDER, "s3://b/ner") if isinstance(v, str) else v
                                for k, v in line.items()}, i) for i, line in enumerate(lines)}
    assert sorted(names.values()) == sorted(truth)
    checked = checked_truth(NER.questions, truth, names)
    assert set(checked["0"]) == {SECTIONS.name, JUDGEMENT.name}  # free text has no truth


def test_manifest_is_jsonl_pointing_at_existing_files():
    lines = manifest_lines()
    assert lines and all(line.strip() for line in lines)
    assert (DATA / "manifest.jsonl").read_bytes().endswith(b"\n")
    for number, line in enumerate(lines, start=1):
        entry = json.loads(line)
        name = f"abstract-{number:02d}"
        assert entry["source-ref"] == f"{PLACEHOLDER}/pages/{name}.jpg"
        assert entry["text-file-s3-uri"] == f"{PLACEHOLDER}/abstracts/{name}.txt"
        for key in ("source-ref", "text-file-s3-uri"):
            assert (DATA / entry[key].removeprefix(PLACEHOLDER + "/")).is_file()
        metadata = entry["metadata"]
        assert set(metadata) == {"Title", "Author", "ISBN"} and all(isinstance(v, str) and v for v in metadata.values())
        digits = [int(c) for c in metadata["ISBN"] if c.isdigit()]
        assert len(digits) == 13 and sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0
        assert len(line.encode("utf-8")) <= MAX_MANIFEST_LINE_BYTES


def test_pages_are_small_jpegs():
    pages = sorted((DATA / "pages").glob("*.jpg"))
    assert len(pages) == len(manifest_lines())
    for page in pages:
        body = page.read_bytes()
        assert body.startswith(b"\xff\xd8") and len(body) < 150_000, page.name
        with Image.open(page) as image:
            assert image.format == "JPEG" and image.size == (850, 1100)
