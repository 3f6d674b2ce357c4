"""A job's labels as CSV: one row per object, a question's cells by its type, the review's provenance, what workers
typed never read as a formula, and the requester's page serving it."""
from __future__ import annotations

import csv
import io
import json

import pytest

from local_ground_truth import labels_csv
from local_ground_truth.labels_csv import ManifestError, as_cell, read_manifest, write_csv

LABEL = "ticket"
META = {"type": "groundtruth/custom", "job-name": "j", "human-annotated": "yes"}
LINES = [
    {"source": "Printer on fire", LABEL: {
        "priority": {"label": "High", "confidence": 0.93, "votes": {"High": 3}, "gold": "Medium", "gold-miss": True},
        "topics": {"labels": ["hardware", "safety"], "confidence": {"hardware": 0.97, "safety": 0.81, "billing": 0.02},
                   "votes": {"hardware": 3, "safety": 2}},
        "spans": {"entities": [{"label": "Device", "startOffset": 0, "endOffset": 7, "confidence": 1.0}]},
        "notes": [{"workerId": "ana", "text": "=HYPERLINK(\"http://evil.example\",\"click\")"},
                  {"workerId": "bo", "text": "smoke, \"lots\"\nof it"}],
        "workers": 3}, f"{LABEL}-metadata": META},
    {"source-ref": "s3://bucket/tickets/2.txt"},  # not labeled (skipped, failed or not consolidated yet)
    {"source": "-1 refund", LABEL: {"priority": {"label": "Low", "votes": {"High": 1, "Medium": 1}}, "workers": 2},
     f"{LABEL}-metadata": {**META, "decided-by": "reviewer", "reviewer": "Dr. Okafor",
                           "review-reasons": ["low-confidence", "abstained"],
                           "crowd": {"priority": {"label": "High", "confidence": 0.51}}}},
]


def table(lines, **options) -> list[dict[str, str]]:
    out = io.StringIO()
    write_csv(lines, out, **options)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_a_row_per_object_with_each_question_by_its_type_and_the_reviews_provenance():
    rows = table(LINES)
    assert list(rows[0]) == ["object", "source", "priority", "priority confidence", "priority gold",
                             "priority gold missed", "topics", "topics: hardware",
                             "topics: safety", "topics: billing", "spans", "notes", "workers", "decided by",
                             "reviewer", "review reasons", "priority (crowd)", "priority (crowd confidence)"]
    first, unlabeled, reviewed = rows
    assert first["priority"] == "High" and first["priority confidence"] == "0.93"
    assert first["priority gold"] == "Medium" and first["priority gold missed"] == "yes"  # a gold object the crowd missed
    assert all(row["priority gold"] == row["priority gold missed"] == "" for row in rows[1:])  # not gold objects
    assert first["topics"] == "hardware; safety" and first["topics: billing"] == "0.02"
    assert json.loads(first["spans"]) == [["Device", 0, 7]]
    assert json.loads(first["notes"]) == ["=HYPERLINK(\"http://evil.example\",\"click\")", "smoke, \"lots\"\nof it"]
    assert first["workers"] == "3" and first["decided by"] == ""
    assert unlabeled == {**{column: "" for column in unlabeled}, "object": "1", "source": "s3://bucket/tickets/2.txt"}
    assert reviewed["priority"] == "Low" and reviewed["priority confidence"] == ""  # an expert's answer: no model's
    assert reviewed["decided by"] == "reviewer" and reviewed["reviewer"] == "Dr. Okafor"
    assert reviewed["review reasons"] == "low-confidence; abstained"
    assert reviewed["priority (crowd)"] == "High" and reviewed["priority (crowd confidence)"] == "0.51"


@pytest.mark.parametrize("value, shown", [
    ("=1+1", "'=1+1"), ("+44 20", "'+44 20"), ("-1 refund", "'-1 refund"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("fine", "fine"), ("", ""), (0.5, 0.5), (-3, -3),
])
def test_text_a_spreadsheet_would_run_is_quoted_and_numbers_stay_numbers(value, shown):
    assert as_cell(value) == shown


@pytest.mark.parametrize("value, shown", [
    ("\x1b]0;owned\x07red", "\u241b]0;owned\u2407red"), ("a\x00b", "a\u2400b"), ("del\x7f", "del\u2421"),
    ("csi\x9b31m", "csi\ufffd31m"), ("two\nlines\tand a tab\r\n", "two\nlines\tand a tab\r\n"),
    ("\x1b=1", "\u241b=1"), ("=\x00", "'=\u2400"),
    ("photo\u202egpj.exe", "photo[U+202E]gpj.exe"), ("\u2066=1", "[U+2066]=1"),
    ("cut \ud83d", "cut \ufffd"), ("\udc00x", "\ufffdx"), ("whole \U0001F600", "whole \U0001F600"),  # half an emoji
])
def test_control_characters_are_shown_as_symbols_and_line_breaks_stay(value, shown):
    """Typed escape sequences would drive the terminal a CSV is printed in; tabs and line breaks are the text's."""
    assert as_cell(value) == shown


def test_what_workers_typed_never_reaches_a_cell_as_a_formula():
    rows = table(LINES)
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(labels_csv.FORMULA_STARTS), (column, cell)
    assert rows[2]["source"] == "'-1 refund"  # a source is data too


def test_half_an_emoji_in_a_manifest_is_written_as_a_replacement_character(tmp_path):
    """A lone surrogate escape ("\\ud83d") made the command fail after it had opened the output: labels.csv, the
    requester's table of a week, was left empty."""
    manifest = tmp_path / "output.manifest"
    line = {**LINES[0], "source": "ticket \ud83d"}
    manifest.write_text(json.dumps(line) + "\n", encoding="utf-8")  # ensure_ascii: the escape, as a manifest holds it
    assert labels_csv.main([str(manifest), "-o", str(tmp_path / "labels.csv")]) == 0
    assert "ticket \ufffd" in (tmp_path / "labels.csv").read_text(encoding="utf-8-sig")


def test_the_label_attribute_is_found_or_named():
    other = {**LINES[0], "other": {"x": {"label": "a"}}, "other-metadata": META}
    with pytest.raises(ManifestError, match="several labels \\(other, ticket\\)"):
        table([other])
    assert table([other], label_attribute=LABEL)[0]["priority"] == "High"
    with pytest.raises(ManifestError, match="no line carries a label"):
        table([{"source": "x"}])


def test_the_command_writes_a_file_a_spreadsheet_reads_as_utf8_and_names_a_bad_line(tmp_path, capsys):
    manifest = tmp_path / "output.manifest"
    manifest.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in LINES) + "\n\n", encoding="utf-8")
    assert labels_csv.main([str(manifest), "-o", str(tmp_path / "labels.csv")]) == 0
    assert "3 objects written to" in capsys.readouterr().err
    written = (tmp_path / "labels.csv").read_bytes()
    assert written.startswith(b"\xef\xbb\xbf") and b"\r\n" in written
    manifest.write_text(json.dumps(LINES[0]) + "\n{\"source\": \n")
    with pytest.raises(SystemExit) as exited:
        labels_csv.main([str(manifest), "-o", str(tmp_path / "labels.csv")])
    assert exited.value.code == 2 and f"{manifest} line 2:" in capsys.readouterr().err
    assert (tmp_path / "labels.csv").read_bytes() == written  # a bad line writes nothing over the last table
    for bad, said in ((b"[1]\n", "line 1: not a JSON object"), (b'{"a": NaN}\n', "NaN is not a JSON number")):
        with pytest.raises(ManifestError, match=said):
            list(read_manifest(bad, "m"))
