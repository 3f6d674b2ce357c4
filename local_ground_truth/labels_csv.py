"""A job's labels as a table: an output (or final) manifest written as CSV, one row per object, for a spreadsheet.

    ./scripts/labels_csv.sh output.manifest [-o labels.csv] [--label-attribute NAME]

Works on any output manifest of a custom workflow: a local job's, or one a labeling job on AWS wrote (downloaded).
Columns: ``object`` (the line's number in the manifest from 0: the runner's object id), ``source`` (its
``source-ref`` or ``source``), then per question, in the order the manifest first shows them
(``gt_common.workflow_consolidation`` has each type's value):

- a choice (Classification, YesNo, Checkbox): ``<question>`` the label, ``<question> confidence`` the probability that
  it is right;
- a MultiSelect: ``<question>`` the chosen choices joined by ``"; "``, and ``<question>: <choice>`` the probability
  that each applies;
- Spans: ``<question>`` the entities as JSON (``[[label, start, end], ...]``, offsets into the text);
- FreeText: ``<question>`` the workers' texts as JSON (a list);
- on a gold object (known answers in its manifest line): ``<question> gold`` the known answer and
  ``<question> gold missed`` ``yes`` or ``no``;

then ``workers`` (how many answered), and from a final manifest (expert review) ``decided by`` (``crowd`` or
``reviewer``), ``reviewer``, ``review reasons`` and, per question an expert decided, what the crowd had said
(``<question> (crowd)``, ``<question> (crowd confidence)``). A line without labels (skipped, failed, not consolidated yet) is a
row with its source alone.

What workers typed is data, not a formula: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a leading ``'``, so a spreadsheet shows it instead of running it (OWASP's CSV injection advice). A
control character other than a tab or a line break (an escape sequence that would drive a terminal the file is printed
in, a NUL) is written as its symbol from Unicode's Control Pictures (ESC as U+241B, NUL as U+2400; DEL as U+2421), and
one of the C1 range (U+0080-U+009F, which no keyboard types) or a lone surrogate (half an emoji, which no file can
hold) as U+FFFD, and a bidirectional override or isolate as its code ("[U+202E]"): the answer files keep what was
sent.
Numbers are written as they are.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional

from gt_common.gold import GOLD_KEY, GOLD_MISS_KEY
from gt_common.output_layout import METADATA_SUFFIX, metadata_key
from gt_common.review import CROWD_KEY, DECIDED_BY, REASONS_KEY, REVIEWER_KEY
from gt_common.questions import WORKERS_KEY
from gt_common.shown_text import BIDI_CONTROLS
from gt_common.task_record import source_of
from local_ground_truth.wording import counted

#: What a spreadsheet would read as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Control characters a cell shows as symbols: C0 but tab, line feed and carriage return (which CSV quotes), DEL, C1;
#: and lone surrogates (half an emoji, from a "\ud83d" in JSON), which no file can hold: as U+FFFD, as C1.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class ManifestError(ValueError):
    """A manifest that cannot be tabled; the message names the line and the problem."""


def labels_of(line: Mapping[str, Any]) -> set[str]:
    """The label attributes a line carries (``<name>`` beside ``<name>-metadata``)."""
    return {key.removesuffix(METADATA_SUFFIX) for key in line
            if key.endswith(METADATA_SUFFIX) and key.removesuffix(METADATA_SUFFIX) in line}


def rows(lines: Iterable[Mapping[str, Any]], label_attribute: Optional[str] = None
         ) -> tuple[list[str], list[dict[str, Any]]]:
    """The table's columns and its rows (a dict per object, its cells only: a line is not kept once read).
    ``label_attribute``: the label to table; by default the one the lines carry (ManifestError if several or none)."""
    columns = ["object", "source"]
    table = []
    found: set[str] = set()
    for number, line in enumerate(lines):
        if label_attribute is None:
            found |= labels_of(line)
            if len(found) > 1:
                raise ManifestError(f"the lines carry several labels ({', '.join(sorted(found))}): name one "
                                    "(--label-attribute)")
        attribute = label_attribute or next(iter(found), None)
        row: dict[str, Any] = {"object": number, "source": _source(line)}
        labels = line.get(attribute) if attribute is not None else None
        if isinstance(labels, Mapping):
            for question, value in labels.items():
                if question != WORKERS_KEY:
                    row.update(_cells(question, value))
                    if isinstance(value, Mapping) and GOLD_KEY in value:  # a gold object: its known answer
                        known = value[GOLD_KEY]
                        row[f"{question} gold"] = "; ".join(map(str, known)) if isinstance(known, list) else known
                        row[f"{question} gold missed"] = "yes" if value.get(GOLD_MISS_KEY) else "no"
            if WORKERS_KEY in labels:
                row["workers"] = labels[WORKERS_KEY]
            metadata = line.get(metadata_key(attribute))
            if isinstance(metadata, Mapping) and DECIDED_BY in metadata:
                row["decided by"] = metadata[DECIDED_BY]
                row["reviewer"] = metadata.get(REVIEWER_KEY, "")
                row["review reasons"] = "; ".join(metadata.get(REASONS_KEY) or [])
                crowd = metadata.get(CROWD_KEY)
                for question, value in (crowd.items() if isinstance(crowd, Mapping) else []):
                    if isinstance(value, Mapping):  # what the crowd had said where an expert decided
                        said = value.get("labels", value.get("label"))
                        row[f"{question} (crowd)"] = "; ".join(map(str, said)) if isinstance(said, list) else (
                            "" if said is None else said)
                        row[f"{question} (crowd confidence)"] = (
                            "" if isinstance(value.get("confidence"), Mapping) else value.get("confidence", ""))
        for column in row:
            if column not in columns:
                columns.append(column)
        table.append(row)
    if label_attribute is None and not found:
        raise ManifestError("no line carries a label (a <name> beside its <name>-metadata)")
    trailing = [name for name in columns if name in ("workers", "decided by", "reviewer", "review reasons")
                or name.endswith((" (crowd)", " (crowd confidence)"))]
    return [name for name in columns if name not in trailing] + trailing, table


def _source(line: Mapping[str, Any]) -> str:
    source = source_of(line, "")
    return source if isinstance(source, str) else json.dumps(source, ensure_ascii=False)


def _cells(question: str, value: Any) -> dict[str, Any]:
    """One question's cells, by the shape of its consolidated value."""
    if isinstance(value, list):  # FreeText
        return {question: json.dumps([entry.get("text") if isinstance(entry, Mapping) else entry for entry in value],
                                     ensure_ascii=False)}
    if not isinstance(value, Mapping):
        return {question: json.dumps(value, ensure_ascii=False)}
    if "entities" in value:  # Spans
        return {question: json.dumps([[entity.get("label"), entity.get("startOffset"), entity.get("endOffset")]
                                      for entity in value.get("entities") or [] if isinstance(entity, Mapping)],
                                     ensure_ascii=False)}
    if "labels" in value:  # MultiSelect
        cells: dict[str, Any] = {question: "; ".join(str(label) for label in value.get("labels") or [])}
        confidence = value.get("confidence")
        for choice, p in (confidence.items() if isinstance(confidence, Mapping) else []):
            cells[f"{question}: {choice}"] = p
        return cells
    return {question: "" if value.get("label") is None else value.get("label"),  # a choice
            f"{question} confidence": value.get("confidence", "")}


def as_cell(value: Any) -> Any:
    """A value as a spreadsheet (or a terminal) may be given it: text that would start a formula is quoted with a
    leading "'", control characters are shown as symbols."""
    if not isinstance(value, str):
        return value
    value = CONTROL_CHARACTERS.sub(_control_picture, value)
    # A bidirectional override shows as its code, as the review page shows it: "photo\u202egpj.exe" reads as
    # "photoexe.jpg" in a cell otherwise.
    value = BIDI_CONTROLS.sub(lambda control: f"[U+{ord(control.group()):04X}]", value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _control_picture(match: re.Match) -> str:
    code = ord(match.group())
    return chr(0x2400 + code) if code < 0x20 else "\u2421" if code == 0x7F else "\ufffd"


def write_csv(lines: Iterable[Mapping[str, Any]], out: io.TextIOBase, label_attribute: Optional[str] = None) -> int:
    """Write the table; the number of rows."""
    return write_table(*rows(lines, label_attribute), out)


def write_table(columns: list[str], table: list[dict[str, Any]], out: io.TextIOBase) -> int:
    """Write ``table`` (a dict of cells per row) under ``columns``, every cell ``as_cell``; the number of rows."""
    writer = csv.DictWriter(out, fieldnames=[as_cell(column) for column in columns], restval="", lineterminator="\r\n")
    writer.writeheader()
    for row in table:
        writer.writerow({as_cell(column): as_cell(value) for column, value in row.items()})
    return len(table)


def read_manifest(body: bytes, where: str) -> Iterator[Mapping[str, Any]]:
    """A manifest's lines, one at a time (JSON objects; blank lines skipped); ManifestError naming a bad one."""
    for number, text in enumerate(body.decode("utf-8-sig", errors="strict").split("\n"), 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text, parse_constant=_no_constant)  # the C parser: a 100,000-line manifest in ~1 s
        except ValueError as error:
            raise ManifestError(f"{where} line {number}: {error}") from None
        if not isinstance(line, dict):
            raise ManifestError(f"{where} line {number}: not a JSON object")
        yield line


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="./scripts/labels_csv.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest", type=Path, help="an output manifest (output.manifest, or final.manifest with review)")
    parser.add_argument("-o", "--output", type=Path, help="the CSV file to write (default: standard output)")
    parser.add_argument("--label-attribute", help="the label to table, when the lines carry several")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        lines = read_manifest(args.manifest.read_bytes(), str(args.manifest))  # read as the table is made
        table = io.StringIO()
        count = write_csv(lines, table, args.label_attribute)  # whole before a file is touched: a bad line writes none
        if args.output is None:
            sys.stdout.write(table.getvalue())
        else:
            with args.output.open("w", encoding="utf-8-sig", newline="") as out:  # the BOM: Excel reads it as UTF-8
                out.write(table.getvalue())
    except (OSError, UnicodeDecodeError, ManifestError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    if args.output is not None:
        print(f"{counted(count, 'object')} written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
