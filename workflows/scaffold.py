"""`python -m workflows.scaffold NAME --question KIND:FIELD[=LABEL,...] ...`: a new workflow, ready to run.

Writes every file of a workflow (``workflows.model`` says what each is for):

    workflows/<name>.py                        the definition: title, description, questions
    lambda_src/<name>_pre_labeling/handler.py  pre-labeling: a manifest line -> the task input
    tests/test_<name>_pre_labeling.py          a test of that handler on the sample data in a local S3 endpoint
    ui_templates/<name>.liquid.html            the worker template: the text and one block per question
    sample_data/<name>/manifest.jsonl          a few data objects (inline text, one of them empty; or images)
    sample_data/<name>/images/                 with --data image: the images the manifest names (PNG)
    sample_data/<name>/truth.json              their known answers, per question (never uploaded)

and records the new stack's snapshot (``tests/__snapshots__/test_workflow_stacks.ambr``). Nothing
else: the workflow is registered by existing, and the app, the local runner and the tests every
workflow gets take it from the definition. It synthesizes, passes the test suite and
runs in the local runner before a line is written by hand. Then a fork fills in its own
pre-labeling (what a worker is shown), template markup and sample data.

``python -m workflows.scaffold NAME --remove`` takes a workflow away again: those files (its whole
pre-labeling package and sample data folder, unless another workflow runs that package) and its stack
snapshots, found by name: a definition edited into one that does not hold is removed too.

``--data`` says what a data object is: ``text`` (the default: inline text in ``source``, or a text file at
``source-ref``) or ``image`` (an image file at ``source-ref``, checked by pre-labeling and shown to the worker
through ``grant_read_access``).

Question kinds: classification (LABEL,... required), yes-no, checkbox, multi-select (LABEL,...
required), free-text. ``--abstain FIELD=LABEL`` makes one of a classification's labels its abstain label
("Not sure": no evidence for any class; ``gt_common.choices``). Span tagging needs a page of its own (``crowd-entity-annotation`` cannot share
a form with other questions, and the NER workflow's template shows how to build one): add a Spans
question to the definition by hand.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Sequence

from local_ground_truth.folder_manifest import source_ref
from stacks.node_runtime import QUIET_NODE
from gt_common.image_header import PNG_SIGNATURE
from gt_common.questions import (
    QUESTION_TYPES, Checkbox, Classification, FreeText, MultiSelect, Question, QuestionError, Spans,
)
from workflows.model import (
    MANIFEST_FILE, REPO_ROOT, TRUTH_FILE, DefinitionError, WorkflowDefinition, label_attribute_named_after,
    pre_labeling_package,
)

#: The question kinds a workflow is scaffolded with, by the names the definitions give them: every kind but Spans,
#: which needs a page of its own (the module's docstring).
KINDS = {kind: question_type for kind, question_type in QUESTION_TYPES.items() if question_type is not Spans}
SAMPLE_TEXTS = (
    "The export button does nothing since this morning's update. We need the quarterly report by Friday.",
    "How do I change the e-mail address on my account? I could not find it in the settings.",
    "",  # an empty data object: pre-labeling skips it (isHumanAnnotationRequired false)
    "Your invoice for March was charged twice. Please refund the second charge.",
)
#: What a data object can be, and what a worker is told to do with it (the description's default).
DATA_KINDS = {"text": "Read the text and answer each question.",
              "image": "Look at the image and answer each question."}
SAMPLE_IMAGES = 4


class ScaffoldError(ValueError):
    """Why the workflow cannot be scaffolded (a bad name or question, or a file that already exists)."""


@dataclass(frozen=True)
class Scaffold:
    definition: WorkflowDefinition
    root: Path
    data: str = "text"  # one of DATA_KINDS

    # -- what gets written ----------------------------------------------------------------------
    def files(self) -> dict[Path, str | bytes]:
        d = self.definition
        package = self.root / "lambda_src" / d.pre_labeling.package
        files: dict[Path, str | bytes] = {
            self.root / "workflows" / f"{d.name}.py": self.definition_module(),
            package / "__init__.py": f'"""Pre-labeling of the {d.name} workflow."""\n',
            package / "handler.py": self.pre_labeling_handler(),
            self.root / "tests" / f"test_{d.name}_pre_labeling.py": self.pre_labeling_test(),
            self.root / "ui_templates" / f"{d.name}.liquid.html": self.template(),
            self.root / "sample_data" / d.name / MANIFEST_FILE: self.manifest(),
            self.root / "sample_data" / d.name / TRUTH_FILE: self.truth(),
        }
        if self.data == "image":
            for n in range(SAMPLE_IMAGES):
                files[self.root / "sample_data" / d.name / self.image_key(n)] = sample_image(n)
        return files

    def object_id(self, n: int) -> str:
        return f"{self.definition.name}-{n + 1:02d}"

    def image_key(self, n: int) -> str:
        return f"images/{self.object_id(n)}.png"

    def write(self) -> list[Path]:
        files = self.files()
        existing = [path for path in files if path.exists()]
        if existing:
            name = self.definition.name
            whose = (f"a workflow named {name} has them, perhaps left by an interrupted scaffold: "
                     f"./scripts/new_workflow.sh {name} --remove takes it away"
                     if (self.root / "workflows" / f"{name}.py").exists()
                     else f"they are the project's own, so {name} cannot name a workflow")
            raise ScaffoldError(f"these files exist already ({whose}; nothing was written): "
                                + ", ".join(str(path.relative_to(self.root)) for path in existing))
        written: list[Path] = []
        try:
            for path, text in files.items():
                written.append(path)
                path.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(text, bytes):
                    path.write_bytes(text)
                else:
                    path.write_text(text, encoding="utf-8")
        except BaseException:  # Ctrl-C or TERM (main), a full disk: no half a workflow
            remove(written, self.root)
            raise
        return written

    # -- the definition --------------------------------------------------------------------------
    def definition_module(self) -> str:
        d = self.definition
        kinds = sorted({type(q).__name__ for q in d.questions} | {"WorkflowDefinition"})
        questions = "\n".join(f"        {_question_source(q)}," for q in d.questions)
        # The title and description as a docstring's text: a quote or a backslash in them is not the string's end.
        doc = f"{d.title}: {d.description}".replace("\\", "\\\\").replace('"', '\\"')
        return (
            f'"""{doc}"""\n'
            f"from workflows import {', '.join(kinds)}\n\n"
            "WORKFLOW = WorkflowDefinition(\n"
            f"    name={d.name!r},\n"
            f"    title={d.title!r},\n"
            f"    description={d.description!r},\n"
            f"    label_attribute_name={d.label_attribute_name!r},\n"
            "    questions=(\n"
            f"{questions}\n"
            "    ),\n"
            ")\n"
        )

    # -- pre-labeling ------------------------------------------------------------------------------
    def pre_labeling_handler(self) -> str:
        if self.data == "image":
            return self.image_pre_labeling_handler()
        return textwrap.dedent(f'''\
            """Pre-labeling of the {self.definition.name} workflow: one manifest line -> what the worker is shown.

            Event: ``{{"version", "labelingJobArn", "dataObject": <the manifest line>}}``. The line holds the
            text to label inline in ``source`` (Ground Truth's convention for text), or the S3 URI of a
            UTF-8 text file in ``source-ref``. Response: ``{{"taskInput": {{"text": <the text>}},
            "isHumanAnnotationRequired": "true"}}``; an empty text has nothing to label, so it is skipped
            (``"false"``: Ground Truth sends it to no worker). ``taskInput`` is ``task.input`` in the
            template: change both together. Bad input raises ``InputError`` naming the object and the problem.
            """
            from __future__ import annotations

            from functools import lru_cache
            from typing import Any

            import boto3

            from gt_common.labeling_job import data_object_of_event
            from gt_common.limits import MAX_TEXT_BYTES
            from gt_common.s3uri import InputError, parse_s3_uri, read_object


            @lru_cache(maxsize=1)
            def s3_client():
                return boto3.client("s3")


            def text_of(data_object: dict[str, Any]) -> str:
                """The text a data object names: inline ``source``, or a text file at ``source-ref``."""
                if isinstance(data_object.get("source"), str):
                    text = data_object["source"]
                    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
                        raise InputError(f"dataObject.source is over the {{MAX_TEXT_BYTES}}-byte limit")
                    return text
                if "source-ref" in data_object:
                    location = parse_s3_uri(data_object["source-ref"], what="dataObject.source-ref")
                    body = read_object(s3_client(), location, what="text file", max_bytes=MAX_TEXT_BYTES)
                    try:
                        return body.decode("utf-8")
                    except UnicodeDecodeError as error:
                        raise InputError(f"text file {{location.uri}} is not UTF-8 text: {{error}}") from None
                raise InputError(f"dataObject has neither a text 'source' nor a 'source-ref' (keys: {{sorted(data_object)}})")


            def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
                text = text_of(data_object_of_event(event))
                if not text.strip():
                    return {{"taskInput": {{"text": ""}}, "isHumanAnnotationRequired": "false"}}
                return {{"taskInput": {{"text": text}}, "isHumanAnnotationRequired": "true"}}
            ''')

    def image_pre_labeling_handler(self) -> str:
        return textwrap.dedent(f'''\
            """Pre-labeling of the {self.definition.name} workflow: one manifest line -> what the worker is shown.

            Event: ``{{"version", "labelingJobArn", "dataObject": <the manifest line>}}``. The line names an
            image in ``source-ref`` (Ground Truth's convention for images): the S3 URI of a JPEG, PNG, GIF,
            WebP or AVIF file. Response: ``{{"taskInput": {{"image": <that URI>}}, "isHumanAnnotationRequired":
            "true"}}``; the template shows it through ``grant_read_access`` (a link signed for the worker).
            The image is checked first (``gt_common.images``: two ranged reads, never the whole file), so a
            missing, empty, cut-short or non-image object fails this object alone, with an error naming it,
            instead of putting a broken image before a worker. ``taskInput`` is ``task.input`` in the
            template: change both together. Bad input raises ``InputError`` naming the object and the problem.
            """
            from __future__ import annotations

            from functools import lru_cache
            from typing import Any

            import boto3

            from gt_common.images import check_image
            from gt_common.labeling_job import data_object_of_event
            from gt_common.s3uri import InputError, parse_s3_uri


            @lru_cache(maxsize=1)
            def s3_client():
                return boto3.client("s3")


            def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
                data_object = data_object_of_event(event)
                if "source-ref" not in data_object:
                    raise InputError(f"dataObject has no image 'source-ref' (keys: {{sorted(data_object)}})")
                image = parse_s3_uri(data_object["source-ref"], what="dataObject.source-ref")
                check_image(s3_client(), image, what="image")
                return {{"taskInput": {{"image": image.uri}}, "isHumanAnnotationRequired": "true"}}
            ''')

    def pre_labeling_test(self) -> str:
        return self._pre_labeling_test_head() + (IMAGE_TESTS if self.data == "image" else "")

    def _pre_labeling_test_head(self) -> str:
        d = self.definition
        return textwrap.dedent(f'''\
            """The {d.name} workflow's pre-labeling Lambda on its sample data (extend it with your own cases).

            The sample folder is uploaded to a bucket of a real S3 endpoint on 127.0.0.1, as the stack deploys it
            (its manifest's ${{DATA_PREFIX_URI}} pointing there), so a line's ``source-ref`` is read as in the job.
            Every workflow also gets tests/test_every_workflow.py (its template renders with what this
            handler returns and submits what consolidation reads) and the stack tests, from its definition.
            """
            from __future__ import annotations

            import pytest

            from gt_common.s3uri import InputError
            from {d.pre_labeling.package}.handler import lambda_handler
            from tests.sample_data import upload_sample_data
            from workflows import definition

            WORKFLOW = definition({d.name!r})


            @pytest.fixture
            def lines(s3, bucket):
                return upload_sample_data(s3, bucket, WORKFLOW)


            def event(data_object):
                return {{"version": "2018-10-06", "labelingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:"
                        "labeling-job/test", "dataObject": data_object}}


            def test_every_sample_object_becomes_a_task_input_and_a_decision(lines):
                for line in lines:
                    response = lambda_handler(event(line))
                    assert isinstance(response["taskInput"], dict), line
                    assert str(response["isHumanAnnotationRequired"]).lower() in ("true", "false"), line


            def test_some_sample_objects_go_to_workers(lines):
                assert any(str(lambda_handler(event(line))["isHumanAnnotationRequired"]).lower() == "true" for line in lines)


            @pytest.mark.parametrize("data_object", [None, "a string", 42])
            def test_a_data_object_that_is_not_an_object_is_named(data_object):
                with pytest.raises(InputError, match="dataObject"):
                    lambda_handler(event(data_object))
            ''')

    # -- the worker template ----------------------------------------------------------------------
    def template(self) -> str:
        d = self.definition
        head = textwrap.dedent(f"""\
            <!--
              The {d.name} workflow's worker page: one data object per task.
              task.input comes from lambda_src/{d.pre_labeling.package}/handler.py: {{"{self.task_input_field()}": "..."}}.
              Labels, the title and the description are never written here: the markers below are filled in
              from workflows/{d.name}.py at synth (workflows/model.py, WorkflowDefinition.worker_template).
              Autoescape is on: every task.input value below is escaped; every attribute is quoted.
            -->
            <script src="https://assets.crowd.aws/crowd-html-elements.js"></script>

            <style>
              {_continued(self.item_style())}
              .question {{ margin: 14px 0; border: 0; padding: 0; min-width: 0; }}
              .question legend {{ font-weight: bold; margin-bottom: 4px; }}
              .question crowd-radio-button, .question crowd-checkbox {{ margin-right: 16px; max-width: 100%;
                overflow-wrap: anywhere; }}
            </style>

            <crowd-form>
              <h2>[[title]]</h2>
              <p>[[description]]</p>
              {_continued(self.item_markup())}
            """)
        blocks = "\n".join(textwrap.indent(_question_markup(question), "  ") + "\n" for question in d.questions)
        viewer = "\n[[part:image-viewer]]\n" if self.data == "image" else ""  # ui_templates/parts/image-viewer.html
        return (head + "\n" + blocks + '  <p id="unanswered" role="alert"></p>\n</crowd-form>\n' + REQUIRE_A_CHOICE
                + viewer)

    def task_input_field(self) -> str:
        return "image" if self.data == "image" else "text"

    def item_markup(self) -> str:
        """What the worker labels, as the template shows it (escaped: autoescape is on)."""
        if self.data == "image":  # shown to fit the window; a click opens it large, to zoom and pan (the image viewer)
            return ('<div class="item" id="item-image" data-zoomable>'
                    '<img src="{{ task.input.image | grant_read_access }}" alt="The image to label"></div>\n'
                    '<p class="zoom-hint"><span class="iv-desk">Click the image (or Tab to it and press Enter)</span>'
                    '<span class="iv-touch">Tap the image</span> to see it large and zoom.</p>')
        return '<div class="item" id="item-text">{{ task.input.text }}</div>'

    def item_style(self) -> str:
        if self.data == "image":
            return (".item img { display: block; max-width: 100%; max-height: 70vh; border: 1px solid #ccc; "
                    "background: #fff; }\n.zoom-hint { margin: 6px 0 0; font-size: 13px; color: #555; }")
        return (".item { white-space: pre-wrap; overflow-wrap: anywhere; border: 1px solid #ccc; background: #fff; "
                "padding: 10px 12px; font-size: 16px; }")  # a long unbroken run (a URL) wraps: the page keeps its width

    # -- sample data -------------------------------------------------------------------------------
    def sample_objects(self) -> list[dict]:
        """The manifest's lines: inline texts (one empty: pre-labeling skips it), or images in the data folder
        (``${DATA_PREFIX_URI}`` is where the stack deploys that folder)."""
        if self.data == "image":
            return [{"source-ref": source_ref(self.image_key(n)), "id": self.object_id(n)}
                    for n in range(SAMPLE_IMAGES)]
        return [{"source": text, "id": self.object_id(n)} for n, text in enumerate(SAMPLE_TEXTS)]

    def manifest(self) -> str:
        return "".join(json.dumps(line) + "\n" for line in self.sample_objects())

    def truth(self) -> str:
        """Known answers of the sample objects workers see, one per question (free text is not simulated)."""
        truth = {}
        for n, line in enumerate(self.sample_objects()):
            if not _skipped(line):
                truth[line["id"]] = {
                    q.name: _truth_value(q, n) for q in self.definition.questions if not isinstance(q, FreeText)}
        return json.dumps(truth, indent=2, ensure_ascii=False) + "\n"


#: The image workflow's own tests, after those every scaffolded workflow's pre-labeling gets.
IMAGE_TESTS = textwrap.dedent('''\


    def test_each_sample_image_is_handed_on_by_its_uri(lines):
        for line in lines:
            assert lambda_handler(event(line))["taskInput"] == {"image": line["source-ref"]}


    def test_an_object_that_is_not_a_whole_image_is_named(s3, bucket):
        s3.put_object(Bucket=bucket, Key="notes.txt", Body=b"not an image")
        with pytest.raises(InputError, match=f"image s3://{bucket}/notes.txt is not an image"):
            lambda_handler(event({"source-ref": f"s3://{bucket}/notes.txt"}))
        with pytest.raises(InputError, match=f"s3://{bucket}/missing.png"):
            lambda_handler(event({"source-ref": f"s3://{bucket}/missing.png"}))


    def test_a_line_without_an_image_is_named():
        with pytest.raises(InputError, match="no image 'source-ref'"):
            lambda_handler(event({"source": "inline text"}))
    ''')


def sample_image(n: int, width: int = 480, height: int = 320) -> bytes:
    """Sample image ``n``, a PNG: a sky, a horizon and a sun, placed and coloured by ``n`` so each looks different.
    The stand-in for a fork's own images (stdlib only, so the scaffold needs no imaging library)."""
    horizon, sun_x, sun_y, radius = height * (55 + 7 * n) // 100, width * (20 + 19 * n) // 100, height // 4, 34
    sky_top, sky_low = (40 + 50 * n % 160, 90 + 30 * n % 100, 200), (200, 220, 250 - 20 * n)
    ground = (70 + 40 * n % 120, 130 - 15 * n, 60 + 20 * n)
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # PNG filter type: none
        t = y / horizon if y < horizon else 0
        row_colour = (tuple(round(a + (b - a) * t) for a, b in zip(sky_top, sky_low)) if y < horizon else
                      tuple(max(0, c - (y - horizon) // 4) for c in ground))
        for x in range(width):
            inside = y < horizon and (x - sun_x) ** 2 + (y - sun_y) ** 2 <= radius ** 2
            rows.extend((255, 214, 90) if inside else row_colour)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
            + chunk(b"IEND", b""))


def _skipped(line: dict) -> bool:
    """Whether a sample line is one the scaffold's pre-labeling skips: an empty inline text."""
    return isinstance(line.get("source"), str) and not line["source"].strip()


def _truth_value(question: Question, n: int):
    if isinstance(question, Checkbox):
        return n % 2 == 0
    if isinstance(question, MultiSelect):
        return [question.labels[n % len(question.labels)]]
    choices = [label for label in question.labels if label != getattr(question, "abstain", None)]
    return choices[n % len(choices)]


def _continued(text: str) -> str:
    """``text`` put into ``Scaffold.template``'s page at its indentation (14 columns in the source, 2 once
    dedented): its lines after the first indented to match, or dedenting would keep the source's indentation."""
    return text.replace("\n", "\n" + " " * 14)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _question_source(question: Question) -> str:
    name = type(question).__name__
    args = [f"name={question.name!r}"]
    if isinstance(question, (Classification, MultiSelect)):
        args.append(f"choices={tuple(question.labels)!r}")
    if isinstance(question, Classification) and question.abstain is not None:
        args.append(f"abstain={question.abstain!r}")
    if isinstance(question, Checkbox) and question.value != "checked":
        args.append(f"value={question.value!r}")
    return f"{name}({', '.join(args)})"


def _question_markup(question: Question) -> str:
    """One question's block, in crowd elements; its labels come in from the definition at synth."""
    title = _html(question.name.replace("_", " ").replace("-", " ").capitalize())
    if isinstance(question, Checkbox):
        return f'<crowd-checkbox name="{question.name}" value="{_html(question.value)}">{title}</crowd-checkbox>'
    if isinstance(question, FreeText):
        required = " required" if question.required else ""
        return (f'<crowd-text-area name="{question.name}" label="{title}" rows="3" '
                f'max-length="[[max-chars:{question.name}]]"{required}></crowd-text-area>')
    if isinstance(question, MultiSelect):  # one crowd-checkbox per choice, each named <question>:<choice>
        return (f'<fieldset class="question">\n  <legend>{title}</legend>\n'
                f"  [[checkboxes:{question.name}]]\n</fieldset>")
    # one crowd-radio-button per label, each named <question>:<label>; exactly one on (REQUIRE_A_CHOICE)
    required = f' data-question="{title}"' if question.required else ""
    return (f'<fieldset class="question">\n  <legend>{title}</legend>\n'
            f"  <crowd-radio-group{required}>[[radio-buttons:{question.name}]]</crowd-radio-group>\n</fieldset>")


#: Ground Truth's crowd-radio-group lets a form be sent with no button chosen (the answer would then have no label
#: for the question, and consolidation would leave it out): the page asks for a choice itself, on crowd-form's
#: cancelable "submit" (the local runner's stand-in fires it as the real crowd-form does).
REQUIRE_A_CHOICE = textwrap.dedent("""\

    <script>
      document.querySelector("crowd-form").addEventListener("submit", function (event) {
        var unanswered = Array.prototype.filter.call(document.querySelectorAll("crowd-radio-group[data-question]"),
          function (group) {
            return !Array.prototype.some.call(group.querySelectorAll("crowd-radio-button"), function (button) {
              return button.checked;
            });
          });
        document.getElementById("unanswered").textContent = unanswered.length ? "Answer " + unanswered.map(
          function (group) { return group.getAttribute("data-question"); }).join(", ") + " before you submit." : "";
        if (unanswered.length) event.preventDefault();
      });
    </script>
    """)


def parse_question(spec: str) -> Question:
    """``KIND:FIELD`` or ``KIND:FIELD=LABEL,LABEL``, e.g. ``classification:priority=Low,Medium,High``."""
    kind, _, rest = spec.partition(":")
    if kind not in KINDS or not rest:
        raise ScaffoldError(f"question {spec!r}: write KIND:FIELD[=LABEL,...] with KIND one of {', '.join(KINDS)}")
    name, _, labels = rest.partition("=")
    choices = tuple(label.strip() for label in labels.split(",")) if labels else ()
    if "" in choices:  # "A,,B" or "A,B,": a label forgotten, or a comma meant inside one (the README says where)
        raise ScaffoldError(f"question {spec!r}: label {choices.index('') + 1} of {name} is empty (labels are "
                            "separated by single commas; one with a comma in it is written into the definition by hand)")
    try:
        if KINDS[kind] in (Classification, MultiSelect):
            return KINDS[kind](name=name, choices=choices)
        if choices:
            raise ScaffoldError(f"question {spec!r}: a {kind} question takes no labels")
        return KINDS[kind](name=name)
    except QuestionError as error:
        raise ScaffoldError(f"question {spec!r}: {error}") from None


def with_abstain_labels(questions: Sequence[Question], abstain: Sequence[str]) -> tuple[Question, ...]:
    """``questions`` with each ``FIELD=LABEL`` of ``abstain`` made that classification's abstain label."""
    by_name = {question.name: question for question in questions}
    given: dict[str, str] = {}
    for spec in abstain:
        name, _, label = spec.partition("=")
        if name in given:
            raise ScaffoldError(f"--abstain {spec!r}: question {name} has an abstain label already "
                                f"({given[name]!r}); a question has one")
        given[name] = label.strip()
        question = by_name.get(name)
        if not isinstance(question, Classification) or not label:
            raise ScaffoldError(f"--abstain {spec!r}: write FIELD=LABEL with FIELD a classification question "
                                f"({', '.join(q.name for q in questions if isinstance(q, Classification)) or 'none'}) "
                                "and LABEL one of its labels")
        try:
            by_name[name] = replace(question, abstain=label.strip())
        except QuestionError as error:
            raise ScaffoldError(f"--abstain {spec!r}: {error}") from None
    return tuple(by_name[question.name] for question in questions)


STACK_TESTS = "tests/test_workflow_stacks.py"
#: The tests every workflow gets from its definition, beside its own pre-labeling test.
EVERY_WORKFLOW_TESTS = (STACK_TESTS, "tests/test_every_workflow.py", "tests/test_consolidation_every_workflow.py")


def snapshot_tests(name: str) -> list[str]:
    """The node ids of the workflow ``name``'s stack snapshots, one per environment test_snapshot is parametrized
    with, and no other: ``-k`` matches any part of an id, so a workflow named ``prod`` (or ``test``, ``stacks``)
    selected ``test_snapshot[prod-welding]`` too, and recorded it unreviewed."""
    from tests.conftest import STACK_TEST_ENVIRONMENTS  # where test_snapshot takes its environments from

    return [f"{STACK_TESTS}::test_snapshot[{env}-{name}]" for env in STACK_TEST_ENVIRONMENTS]


def workflow_tests(name: str) -> list[str]:
    """pytest's arguments for the workflow ``name``'s tests: its pre-labeling test, and those every workflow gets
    selected by the whole ids its name makes in them (alone, after an environment, before a consolidation method),
    so that ``weld`` runs none of ``welding``'s and ``prod`` none of another workflow's ``[prod-...]`` (a workflow
    named like an environment does run that environment's few tests of the whole app, ``[prod]``: its stack's too)."""
    from gt_common.questions import METHODS  # test_consolidation_every_workflow's methods
    from tests.conftest import STACK_TEST_ENVIRONMENTS

    own = f"test_{name}_pre_labeling.py"
    ids = [f"[{name}]", *(f"[{env}-{name}]" for env in STACK_TEST_ENVIRONMENTS),
           *(f"[{name}-{method}]" for method in METHODS)]
    return [f"tests/{own}", *EVERY_WORKFLOW_TESTS, "-k", " or ".join([own, *ids])]


def failure_lines(output: str, most: int = 12) -> list[str]:
    """What a pytest run's report says went wrong: its ``E`` lines (the exception and its message), each once (a
    session fixture's error is reported for every test that used it), without the traceback around them."""
    lines: list[str] = []
    for line in output.splitlines():
        text = line[1:].strip() if line.startswith("E ") else ""
        if text and text not in lines:
            lines.append(text)
    return lines[:most]


def record_stack_snapshot(name: str, root: Path = REPO_ROOT) -> None:
    """Record the new workflow stack's snapshot (tests/test_workflow_stacks.py keeps one per workflow
    and environment), so the suite passes at once; later changes to the stack show up in its diff."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *snapshot_tests(name), "--snapshot-update"],
        cwd=root, capture_output=True, text=True,
        env={**os.environ, **QUIET_NODE})
    if result.returncode != 0:
        errors = failure_lines(result.stdout)
        shown = "\n".join(f"  {line}" for line in errors) if errors else (result.stdout + result.stderr)[-3000:]
        raise ScaffoldError(f"the {name} stack did not synthesize for its snapshot:\n{shown}")


def scaffold(name: str, questions: Sequence[str], title: Optional[str] = None, description: Optional[str] = None,
             root: Path = REPO_ROOT, abstain: Sequence[str] = (), data: str = "text") -> list[Path]:
    """Write a new workflow's files under ``root``; the paths written. ``abstain``: ``FIELD=LABEL`` each, the
    label of a classification question that means "cannot tell" (not a class: see ``gt_common.choices``)."""
    if not questions:
        raise ScaffoldError("give at least one --question")
    _refuse_undecodable([("the name", name), *(("--question", q) for q in questions), *(("--abstain", a) for a in abstain),
                         ("--title", title or ""), ("--description", description or "")])
    if data not in DATA_KINDS:
        raise ScaffoldError(f"data {data!r}: a data object is one of {', '.join(DATA_KINDS)}")
    from workflows import NOT_WORKFLOWS
    if name in NOT_WORKFLOWS:
        raise ScaffoldError(f"{name!r} is a module of the workflows package ({', '.join(sorted(NOT_WORKFLOWS))}), not "
                            "a workflow: choose another name (nothing was written)")
    readable = name.replace("_", " ")
    try:
        definition = WorkflowDefinition(
            name=name,
            title=title or readable.capitalize()[:128],
            description=description or DATA_KINDS[data],
            label_attribute_name=label_attribute_named_after(name),
            questions=with_abstain_labels([parse_question(spec) for spec in questions], abstain),
        )
    except DefinitionError as error:
        raise ScaffoldError(str(error)) from None
    from workflows import definitions
    try:
        others = definitions()
    except DefinitionError as error:  # the app could not synthesize the new workflow's stack beside it either
        raise ScaffoldError(f"{error}: fix that file, or remove its workflow (--remove), first (nothing was written)") from None
    if name in others:
        raise ScaffoldError(f"a workflow named {name!r} exists already (workflows/{name}.py): choose another name "
                            "(nothing was written). To write it anew instead, remove it first: "
                            f"./scripts/new_workflow.sh {name} --remove deletes its files")
    for other in others.values():
        if other.name != name and other.deploys_as(definition):
            # deploys_as compares without case: "TickettriageLabeling, as 'ticket_triage' does" read as a contradiction
            clash = (f"as {other.name!r} does" if other.stack_name == definition.stack_name else
                     f"whose name differs only in case from {other.stack_name}-<env>, the stack of {other.name!r}, "
                     "and their templates would be one file in cdk.out where the file system ignores case (macOS, "
                     "Windows)")
            raise ScaffoldError(f"workflow {name!r} would deploy as the stack {definition.stack_name}-<env>, {clash}: "
                                "choose another name (nothing was written)")
    return Scaffold(definition, Path(root), data).write()


def _refuse_undecodable(arguments: Sequence[tuple[str, str]]) -> None:
    """Refuse an argument that is not UTF-8: Python carries its bytes as lone surrogates, which no file can hold
    (writing the definition failed with a traceback)."""
    for what, text in arguments:
        if any("\ud800" <= character <= "\udfff" for character in text):
            shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            raise ScaffoldError(f"{what} {shown!r} is not UTF-8 text (\ufffd marks a byte that is not): type "
                                "it again in a UTF-8 terminal (nothing was written)")


def remove(written: Sequence[Path], root: Path = REPO_ROOT) -> None:
    """Take back the files ``scaffold`` wrote, and the folders it made for them that are now empty."""
    for path in written:
        path.unlink(missing_ok=True)
    folders = {parent for path in written for parent in path.parents if parent.is_relative_to(root) and parent != root}
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):  # the deepest first
        if folder.exists() and not any(folder.iterdir()):
            folder.rmdir()


SNAPSHOTS = Path("tests") / "__snapshots__" / "test_workflow_stacks.ambr"


def workflow_files(name: str, module: Path, root: Path, others: Sequence[WorkflowDefinition],
                   pre_labeling: Optional[str] = None) -> list[Path]:
    """What the workflow ``name`` is on disk: its definition module, template, pre-labeling test, and its own folders
    (its ``pre_labeling`` package, by default the one named after it, unless another workflow runs it too, and its
    sample data), each that exists. Found by name: a definition that does not hold is no obstacle."""
    package = pre_labeling or pre_labeling_package(name)
    shared = {other.pre_labeling.package for other in others} | {other.consolidation.package for other in others}
    paths = [module, root / "ui_templates" / f"{name}.liquid.html", root / "tests" / f"test_{name}_pre_labeling.py",
             root / "sample_data" / name]
    if package not in shared:
        paths.append(root / "lambda_src" / package)
    return [path for path in paths if path.exists()]


def remove_snapshots(name: str, root: Path) -> int:
    """Take the workflow's stack snapshots (one per environment) out of the recorded ones; how many there were."""
    path = root / SNAPSHOTS
    if not path.exists():
        return 0
    kept, removed, skipping = [], 0, False
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("# name: "):
            skipping = re.fullmatch(rf"# name: test_snapshot\[[^\]-]+-{re.escape(name)}\]\n?", line) is not None
            removed += skipping
        if not skipping:
            kept.append(line)
        elif line.startswith("# ---"):
            skipping = False
    path.write_text("".join(kept), encoding="utf-8")
    return removed


def remove_workflow(name: str, module: Path, root: Path, others: Sequence[WorkflowDefinition],
                    pre_labeling: Optional[str] = None) -> list[Path]:
    """Remove the workflow ``name`` from ``root``: its files (``workflow_files``) and its stack snapshots; the paths
    removed."""
    import shutil

    removed = workflow_files(name, module, root, others, pre_labeling)
    for path in removed:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    remove_snapshots(name, root)
    return removed


def _remove_command(name: str, root: Path) -> int:
    """``NAME --remove``. The workflow most worth removing may be one whose definition does not hold: its files are
    found by name, and only the other workflows' definitions must be read (the pre-labeling packages they run)."""
    import workflows

    try:
        defined = {module: workflows.workflow_of(module) for module in workflows.workflow_modules() if module != name}
    except DefinitionError as error:
        print(f"workflows.scaffold: {error}: fix that file, or remove its workflow, first (nothing was removed)",
              file=sys.stderr)
        return 2
    modules = {definition.name: module for module, definition in defined.items() if definition is not None}
    module = modules.pop(name, name)  # workflows/<name>.py, unless a module of another name defines it
    path, definition, problem = root / "workflows" / f"{module}.py", defined.get(module), None
    if module == name and path.exists():
        try:
            definition = workflows.workflow_of(name)
        except DefinitionError as error:  # removed by name all the same
            problem = error
    if not path.exists() or not (problem or (definition and definition.name == name)):
        print(f"workflows.scaffold: no workflow is named {name!r} (the workflows: {', '.join(sorted(modules))})",
              file=sys.stderr)
        return 2
    others = [other for other_module, other in defined.items() if other is not None and other_module != module]
    package = definition.pre_labeling.package if definition else None
    shown = [f"{file.relative_to(root)}{'/' if file.is_dir() else ''}"
             for file in workflow_files(name, path, root, others, package)]
    remove_workflow(name, path, root, others, package)
    if problem:
        print(f"its definition does not hold ({problem}): its files were found by name", file=sys.stderr)
    print("removed:\n" + "\n".join(f"  {file}" for file in shown) + f"\n  and its stack snapshots in {SNAPSHOTS}")
    return 0


def main(argv: Optional[list[str]] = None, root: Path = REPO_ROOT) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflows.scaffold", description=__doc__.splitlines()[0],
                                     epilog="example: python -m workflows.scaffold ticket_triage "
                                            "--question classification:priority=Low,Medium,High "
                                            "--question checkbox:needs_reply --question free-text:summary")
    parser.add_argument("name", help="the workflow's name: lower-case letters and digits starting with a letter, "
                                     "words joined by single _ (e.g. ticket_triage)")
    parser.add_argument("--question", action="append", default=[], metavar="KIND:FIELD[=LABEL,...]",
                        help=f"a question (repeat for each); KIND: {', '.join(KINDS)}")
    parser.add_argument("--abstain", action="append", default=[], metavar="FIELD=LABEL",
                        help="a classification question's label that means the worker cannot tell (e.g. "
                             "'verdict=Not sure'): it lowers confidence instead of counting as a class")
    parser.add_argument("--remove", action="store_true",
                        help="remove the workflow NAME instead: its definition, template, pre-labeling package and "
                             "test, sample data and stack snapshots (what git holds of them can be restored from git)")
    parser.add_argument("--title", help="the task title workers see")
    parser.add_argument("--description", help="the task description workers see")
    parser.add_argument("--data", choices=sorted(DATA_KINDS), default="text",
                        help="what each data object is: text (inline, or a text file) or an image file (default: text)")
    args = parser.parse_args(argv)
    if args.remove:
        if args.question or args.abstain or args.title or args.description or args.data != "text":
            parser.error("--remove takes only the workflow's name")
        return _remove_command(args.name, root)
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # TERM as Ctrl-C: nothing is left
    try:
        return _scaffold_command(args, root)
    except KeyboardInterrupt:
        print("workflows.scaffold: interrupted; what was written was removed again", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def _scaffold_command(args: argparse.Namespace, root: Path) -> int:
    try:
        written = scaffold(args.name, args.question, args.title, args.description, root, args.abstain, args.data)
    except ScaffoldError as error:
        print(f"workflows.scaffold: {error}", file=sys.stderr)
        return 2
    print(f"synthesizing the {args.name} stack to record its snapshot ...", file=sys.stderr)
    try:
        record_stack_snapshot(args.name, root)
    except BaseException as error:  # a stack that does not synthesize, or Ctrl-C or TERM during its ~17 s
        remove(written, root)  # half a workflow would break every synth, every workflow's included
        remove_snapshots(args.name, root)  # (recorded already if the interruption came after the synth)
        if not isinstance(error, ScaffoldError):
            raise
        print(f"workflows.scaffold: {error}\nthe files written were removed again", file=sys.stderr)
        return 2
    print("wrote:\n" + "\n".join(f"  {path.relative_to(root)}" for path in written))
    tests = shlex.join(workflow_tests(args.name))
    print(f"\nnext: ./scripts/run_local.sh --workflow {args.name}    # see it in the browser\n"
          f"      ./scripts/test.sh {tests}    # its tests (a minute; ./scripts/test.sh alone: all, several minutes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
